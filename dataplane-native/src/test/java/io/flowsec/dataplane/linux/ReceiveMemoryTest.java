package io.flowsec.dataplane.linux;

import io.flowsec.dataplane.lane.TunnelSocket;
import io.flowsec.dataplane.lane.UdpTunnelSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SO_MEMINFO on real sockets over loopback: a receiver nobody reads fills its small buffer, the kernel drops what does
 * not fit, and {@link UdpSocket#receiveMemory} shows both; reading empties the queue, the drops stay counted.
 */
class ReceiveMemoryTest {
    private static final int DATAGRAM_BYTES = 1000;
    /** Far more than a 16 KiB buffer holds, whatever overhead each datagram carries. */
    private static final int SENT = 200;

    private final List<UdpSocket> opened = new ArrayList<>();
    private final Errno errno = new Errno();
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void closeSockets() {
        opened.forEach(UdpSocket::close);
        arena.close();
    }

    private UdpSocket open(InetAddress address) throws NativeException {
        UdpSocket socket = UdpSocket.bind(address, 0, false);
        opened.add(socket);
        return socket;
    }

    @Test
    void shouldShowTheQueueFillingAndCountTheDatagramsTheKernelDroppedWhenItWasFull() throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        UdpSocket sender = open(loopback);
        UdpSocket receiver = open(loopback);
        receiver.receiveBufferBytes(16 * 1024);
        UdpSocket.ReceiveMemory empty = receiver.receiveMemory();
        assertEquals(0, empty.queuedBytes());
        assertEquals(0, empty.drops());
        assertTrue(empty.bufferBytes() >= 16 * 1024, "the kernel doubles what was set: " + empty.bufferBytes());

        MemorySegment destination = SocketAddress.of(arena, loopback, receiver.localPort());
        MemorySegment payload = arena.allocate(DATAGRAM_BYTES);
        for (int i = 0; i < SENT; i++) {
            assertEquals(DATAGRAM_BYTES, sender.send(errno, payload, destination), "loopback send " + i);
        }
        UdpSocket.ReceiveMemory full = receiver.receiveMemory();
        assertTrue(full.queuedBytes() > 0 && full.queuedBytes() <= full.bufferBytes() + 64 * 1024,
                "queued " + full.queuedBytes() + " of " + full.bufferBytes());
        assertTrue(full.drops() > 0, "a full buffer drops");

        MemorySegment buffer = arena.allocate(2048);
        int read = 0;
        while (receiver.receive(errno, buffer) == DATAGRAM_BYTES) {
            read++;
        }
        assertEquals(SENT, read + full.drops(), "every datagram was either queued or dropped, and counted");
        UdpSocket.ReceiveMemory drained = receiver.receiveMemory();
        assertEquals(0, drained.queuedBytes(), "read: nothing waits");
        assertEquals(full.drops(), drained.drops(), "drops are cumulative");
    }

    @Test
    void shouldReportTheSameThroughTheLanesTunnelSocketAndRefuseAClosedOne() throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        UdpSocket sender = open(loopback);
        UdpSocket receiver = open(loopback);
        receiver.receiveBufferBytes(8 * 1024);
        UdpTunnelSocket tunnel = new UdpTunnelSocket(receiver);
        MemorySegment destination = SocketAddress.of(arena, loopback, receiver.localPort());
        MemorySegment payload = arena.allocate(DATAGRAM_BYTES);
        for (int i = 0; i < SENT; i++) {
            sender.send(errno, payload, destination);
        }
        UdpSocket.ReceiveMemory direct = receiver.receiveMemory();
        TunnelSocket.ReceiveQueue queue = tunnel.receiveQueue();
        assertEquals(new TunnelSocket.ReceiveQueue(direct.queuedBytes(), direct.bufferBytes(), direct.drops()), queue);
        assertTrue(queue.drops() > 0);

        receiver.close();
        assertThrows(NativeException.class, receiver::receiveMemory);
        assertEquals(queue, tunnel.receiveQueue(), "a closed socket repeats the last figures: drops never go back");
    }
}
