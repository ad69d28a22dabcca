package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;
import io.flowsec.dataplane.testing.MemorySiteQueue;
import io.netty.channel.IoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A lane's readiness on io_uring, with a real socket on loopback. */
class LaneIoTest {
    /** A lane socket that counts how often the lane tries to receive. */
    private static final class CountingSocket implements TunnelSocket {
        final UdpTunnelSocket socket;
        final AtomicInteger receives = new AtomicInteger();

        CountingSocket(UdpTunnelSocket socket) {
            this.socket = socket;
        }

        @Override
        public int fd() {
            return socket.fd();
        }

        @Override
        public int receive(Packet[] slots, int from, int count) {
            receives.incrementAndGet();
            return socket.receive(slots, from, count);
        }

        @Override
        public void send(Packet[] packets, MemorySegment[] destinations, int count, long[] results) {
            socket.send(packets, destinations, count, results);
        }
    }

    @Test
    void shouldKeepOnePollPerDescriptorHoweverOftenTheLaneIsPausedAndResumed() throws Exception {
        assumeTrue(IoUring.isAvailable(), "io_uring is unavailable here");
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, IoUringIoHandler.newFactory());
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (UdpSocket receiver = UdpSocket.bind(loopback, 0, false); UdpSocket sender = UdpSocket.bind(loopback, 0, false);
             Arena arena = Arena.ofConfined()) {
            CountingSocket socket = new CountingSocket(new UdpTunnelSocket(receiver));
            Lane lane = new Lane(0, new MemorySiteQueue(), new TunnelSocket[] {socket}, null,
                    new EspProcessor(new SecurityPolicyDatabase(), new SecurityAssociationDatabase(), EspProcessor.Framing.ESP));
            LaneIo laneIo = LaneIo.attach(lane, (IoEventLoop) group.next());
            MemorySegment destination = SocketAddress.of(arena, loopback, receiver.localPort());
            MemorySegment datagram = arena.allocate(64);
            for (int i = 0; i < 50; i++) {
                laneIo.pause().sync();
                laneIo.resume().sync();
            }
            Thread.sleep(200);
            int before = socket.receives.get();
            sender.send(new Errno(), datagram, 64, destination);
            long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (lane.ioCounter(IoCounter.TUNNEL_DATAGRAMS_RECEIVED) < 1 && System.nanoTime() < deadlineNs) {
                Thread.sleep(5);
            }
            Thread.sleep(200);
            assertEquals(1, lane.ioCounter(IoCounter.TUNNEL_DATAGRAMS_RECEIVED));
            assertEquals(1, socket.receives.get() - before,
                    "one wake-up for one datagram, not one per pause and resume the lane went through");
            laneIo.close();
        } catch (NativeException e) {
            throw new AssertionError(e);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
