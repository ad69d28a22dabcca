package io.flowsec.dataplane.testing;

import io.flowsec.dataplane.lane.TunnelSocket;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.packet.HandOverMarker;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.runtime.SteeringPlan;
import io.flowsec.dataplane.runtime.TunnelPort;


import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An in-memory link between data planes (wireguard-go's {@code bindtest}): tunnel ports registered by address and
 * port, datagrams delivered to the lane the destination port's steering plan picks, and every datagram on the wire
 * recorded with the lane that sent it, so tests can check which lane used which SA and in what order.
 */
public final class MemoryNetwork {
    /** One ESP-in-UDP datagram as it crossed the link. */
    public record Datagram(InetSocketAddress from, InetSocketAddress to, int sendingLane, int spi, long sequence) {
    }

    private final Map<InetSocketAddress, Port> ports = new ConcurrentHashMap<>();

    /** The port registered for {@code address:port}. */
    public Port port(InetSocketAddress endpoint) {
        return ports.get(endpoint);
    }
    /** Appended to by every sending lane: a copy-on-write list would copy it whole per datagram. */
    private final ConcurrentLinkedQueue<Datagram> wire = new ConcurrentLinkedQueue<>();
    private volatile boolean recording = true;

    /** A port with one socket per lane, reachable from the other ports of this network. */
    public Port port(InetAddress address, int port, int lanes) {
        return register(new Port(new InetSocketAddress(address, port), address, lanes));
    }

    /**
     * A port listening on every address of {@code hostAddress}'s family: it takes what comes to any address at its
     * port that no port is bound to, and its datagrams leave from {@code hostAddress}, as the kernel picks a wildcard
     * socket's source address from its routes.
     */
    public Port portOnEveryAddress(InetAddress hostAddress, int port, int lanes) {
        return register(new Port(new InetSocketAddress(anyAddressLike(hostAddress), port), hostAddress, lanes));
    }

    private Port register(Port created) {
        if (ports.putIfAbsent(created.endpoint, created) != null) {
            throw new IllegalArgumentException(created.endpoint + " is taken");
        }
        return created;
    }

    public List<Datagram> wire() {
        return List.copyOf(wire);
    }

    /** Stops recording the wire (long runs). */
    public void recording(boolean on) {
        recording = on;
    }

    private void route(Port source, int lane, byte[] payload, InetSocketAddress destination) {
        InetSocketAddress from = new InetSocketAddress(source.sourceAddress, source.endpoint.getPort());
        if (recording && payload.length >= 8) {
            wire.add(new Datagram(from, destination, lane, TestPackets.get32(payload, 0),
                    TestPackets.get32(payload, 4) & 0xFFFF_FFFFL));
        }
        Port target = ports.get(destination);
        if (target == null) {
            target = ports.get(new InetSocketAddress(anyAddressLike(destination.getAddress()), destination.getPort()));
        }
        if (target != null) {
            target.arrive(payload, from);
        }
    }

    private static InetAddress anyAddressLike(InetAddress address) {
        try {
            return InetAddress.getByAddress(new byte[address.getAddress().length]);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);   // 4 or 16 bytes: never
        }
    }

    public final class Port implements TunnelPort {
        private final InetSocketAddress endpoint;
        /** Where its datagrams come from: its address, or the host's for a port on every address. */
        private final InetAddress sourceAddress;
        private final Socket[] sockets;
        private volatile SteeringPlan plan = SteeringPlan.LANE_ZERO;
        private volatile boolean failNextSteer;

        private Port(InetSocketAddress endpoint, InetAddress sourceAddress, int lanes) {
            this.endpoint = endpoint;
            this.sourceAddress = sourceAddress;
            this.sockets = new Socket[lanes];
            for (int lane = 0; lane < lanes; lane++) {
                sockets[lane] = new Socket(this, lane);
            }
        }

        @Override
        public InetAddress address() {
            return endpoint.getAddress();
        }

        @Override
        public int port() {
            return endpoint.getPort();
        }

        @Override
        public TunnelSocket socket(int lane) {
            return sockets[lane];
        }

        @Override
        public String steer(SteeringPlan plan) throws IOException {
            if (failNextSteer) {
                failNextSteer = false;
                throw new IOException("steering program refused (injected)");
            }
            this.plan = plan;
            return "in memory, " + plan.laneByKey().size() + " entries";
        }

        @Override
        public boolean sendMarker(int lane, long token) {
            arrive(HandOverMarker.encode(lane, token), endpoint);
            return true;
        }

        /** The next steering change fails, as attaching a too-long program would. */
        public void failNextSteer() {
            failNextSteer = true;
        }

        public SteeringPlan plan() {
            return plan;
        }

        /**
         * Bounds each of the port's sockets to {@code bytes} of waiting payload, as a kernel receive buffer does: an
         * arrival that does not fit is dropped and counted in {@link TunnelSocket#receiveQueue}. 0: unbounded (the
         * default).
         */
        public void receiveBufferBytes(long bytes) {
            for (Socket socket : sockets) {
                socket.bufferBytes = bytes;
            }
        }

        /** Steering, as the kernel would run the plan's program for the datagram. */
        private void arrive(byte[] payload, InetSocketAddress source) {
            SteeringPlan current = plan;
            if (current.field().isExact() && payload.length >= 8 && TestPackets.get32(payload, 0) == HandOverMarker.SPI) {
                sockets[TestPackets.get32(payload, HandOverMarker.LANE_OFFSET)].arrive(payload);   // as the programs do
                return;
            }
            int lane = switch (current.field()) {
                case NONE -> 0;
                // a fixed function of the source port, standing in for the kernel's 4-tuple hash; with consecutive
                // ports it maps SAs unlike director's round robin, so a steering change moves SAs both ways
                case HASH -> Math.floorMod(source.getPort() >> 1, sockets.length);
                case SPI -> current.laneFor(TestPackets.get32(payload, 0));
                case UDP_SOURCE_PORT -> current.laneFor(source.getPort());
                case OUTER_SOURCE_ADDRESS -> current.laneFor(TestPackets.get32(source.getAddress().getAddress(), 0));
            };
            sockets[lane].arrive(payload);
        }
    }

    private final class Socket implements TunnelSocket {
        private final Port port;
        private final int lane;
        private final ConcurrentLinkedQueue<byte[]> received = new ConcurrentLinkedQueue<>();
        private final AtomicLong queuedBytes = new AtomicLong();
        private final AtomicLong drops = new AtomicLong();
        private volatile long bufferBytes;
        private volatile Runnable wake = () -> {
        };

        Socket(Port port, int lane) {
            this.port = port;
            this.lane = lane;
        }

        /** One arrival; with a bound, one that would overflow it is dropped here, as the kernel drops it. */
        void arrive(byte[] payload) {
            long bound = bufferBytes;
            if (bound > 0 && queuedBytes.addAndGet(payload.length) > bound) {
                queuedBytes.addAndGet(-payload.length);
                drops.incrementAndGet();
                return;
            }
            if (bound <= 0) {
                queuedBytes.addAndGet(payload.length);
            }
            received.add(payload);
            wake.run();
        }

        @Override
        public ReceiveQueue receiveQueue() {
            return new ReceiveQueue(Math.max(0, queuedBytes.get()), bufferBytes, drops.get());
        }

        @Override
        public int fd() {
            return -1;
        }

        @Override
        public boolean hasPending() {
            return !received.isEmpty();
        }

        @Override
        public void whenReadable(Runnable wake) {
            this.wake = wake;
        }

        @Override
        public int receive(Packet[] slots, int from, int count) {
            int n = 0;
            while (n < count) {
                byte[] payload = received.poll();
                if (payload == null) {
                    break;
                }
                queuedBytes.addAndGet(-payload.length);
                slots[from + n].load(payload, 0, payload.length);
                n++;
            }
            return n;
        }

        @Override
        public void send(Packet[] packets, MemorySegment[] destinations, int count, long[] results) {
            for (int i = 0; i < count; i++) {
                InetSocketAddress destination = new InetSocketAddress(SocketAddress.address(destinations[i]),
                        SocketAddress.port(destinations[i]));
                route(port, lane, packets[i].toByteArray(), destination);
                results[i] = packets[i].length();
            }
        }
    }
}
