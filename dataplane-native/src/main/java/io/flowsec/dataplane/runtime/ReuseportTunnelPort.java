package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.lane.TunnelSocket;
import io.flowsec.dataplane.lane.UdpTunnelSocket;
import io.flowsec.dataplane.linux.Bpf;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.SteeringPrograms;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.HandOverMarker;

import java.io.Closeable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * A tunnel endpoint as a reuseport group: lane i's socket is member i of the group, and steering is a BPF program
 * attached to the group (none at all for the kernel's hash, the RSS analogue).
 */
public final class ReuseportTunnelPort implements TunnelPort, Closeable {
    private static final int ENOENT = 2;

    private final InetAddress address;
    private final int port;
    private final UdpTunnelSocket[] sockets;
    /** The hand-overs' marker sender (control plane, one command at a time): opened at the first hand-over. */
    private final Arena markerArena = Arena.ofShared();
    private final Errno markerErrno = new Errno();
    private UdpSocket markerSender;
    private MemorySegment markerDestination;

    private ReuseportTunnelPort(InetAddress address, int port, UdpTunnelSocket[] sockets) {
        this.address = address;
        this.port = port;
        this.sockets = sockets;
    }

    /** Binds one socket per lane, in lane order, each with {@code receiveBufferBytes} of receive buffer. */
    public static ReuseportTunnelPort bind(InetAddress address, int port, int lanes, int receiveBufferBytes)
            throws NativeException {
        return bind(address, port, lanes, receiveBufferBytes, UdpTunnelSocket.Paths.ALL);
    }

    /** As above, each socket with the batching and offload {@code paths} asked for. */
    public static ReuseportTunnelPort bind(InetAddress address, int port, int lanes, int receiveBufferBytes,
                                           UdpTunnelSocket.Paths paths) throws NativeException {
        UdpTunnelSocket[] sockets = new UdpTunnelSocket[lanes];
        try {
            for (int lane = 0; lane < lanes; lane++) {
                UdpSocket socket = UdpSocket.bind(address, port, true);
                sockets[lane] = new UdpTunnelSocket(socket, paths);
                socket.receiveBufferBytes(receiveBufferBytes);
            }
        } catch (NativeException e) {
            for (UdpTunnelSocket socket : sockets) {
                if (socket != null) {
                    socket.socket().close();
                }
            }
            throw e;
        }
        return new ReuseportTunnelPort(address, port, sockets);
    }

    @Override
    public InetAddress address() {
        return address;
    }

    @Override
    public int port() {
        return port;
    }

    @Override
    public TunnelSocket socket(int lane) {
        return sockets[lane];
    }

    /**
     * Attaches the program for {@code plan}. An exact plan becomes an eBPF lookup in a hash map of its own (any size);
     * where eBPF may not be loaded (EPERM: no CAP_BPF) it becomes a classic compare chain, which holds at most
     * {@link SteeringPrograms#CLASSIC_MAX_ENTRIES} entries. Attaching replaces the group's program in one step, so a
     * failure anywhere before it leaves the program before it in effect.
     */
    @Override
    public String steer(SteeringPlan plan) throws NativeException {
        UdpSocket group = sockets[0].socket();
        SteeringPrograms.Key key;
        switch (plan.field()) {
            case NONE -> {
                group.attachSteering(SteeringPrograms.single());
                return "classic BPF, constant";
            }
            case HASH -> {
                try {
                    group.detachSteering();   // the kernel's 4-tuple hash
                } catch (NativeException e) {
                    if (e.errno() != ENOENT) {   // nothing attached: already hashing
                        throw e;
                    }
                }
                return "none, kernel hash";
            }
            case SPI -> key = SteeringPrograms.Key.SPI;
            case UDP_SOURCE_PORT -> key = address instanceof Inet4Address
                    ? SteeringPrograms.Key.IPV4_UDP_SOURCE_PORT : SteeringPrograms.Key.IPV6_UDP_SOURCE_PORT;
            case OUTER_SOURCE_ADDRESS -> key = SteeringPrograms.Key.IPV4_SOURCE_ADDRESS;
            default -> throw new IllegalArgumentException("no steering program for " + plan.field());
        }
        int entries = plan.laneByKey().size();
        try {
            group.attachSteering(key, plan.laneByKey());
            return "eBPF map, " + entries + (entries == 1 ? " entry" : " entries");
        } catch (NativeException e) {
            if (e.errno() != Bpf.EPERM && e.errno() != Bpf.ENOSYS) {
                throw e;
            }
            if (entries > SteeringPrograms.CLASSIC_MAX_ENTRIES) {
                throw new NativeException("steering " + entries + " inbound SAs needs eBPF (classic BPF holds "
                        + SteeringPrograms.CLASSIC_MAX_ENTRIES + "; give the appliance CAP_BPF): bpf", e.errno());
            }
            group.attachSteering(SteeringPrograms.chain(key, plan.laneByKey(), 0));
            return "classic BPF, " + entries + (entries == 1 ? " entry" : " entries") + " (eBPF not permitted)";
        }
    }

    /**
     * Sends the marker from a socket of the appliance's own, to the endpoint's address (the loopback address when the
     * endpoint listens on every address), so it enters the reuseport group as any arriving datagram does.
     */
    @Override
    public synchronized boolean sendMarker(int lane, long token) {
        try {
            if (markerSender == null) {
                InetAddress target = address;
                if (target.isAnyLocalAddress()) {
                    target = address instanceof Inet6Address ? InetAddress.getByName("::1") : InetAddress.getByName("127.0.0.1");
                }
                markerSender = UdpSocket.bind(target, 0, false);
                markerDestination = SocketAddress.of(markerArena, target, port);
            }
        } catch (NativeException | java.net.UnknownHostException e) {
            return false;
        }
        byte[] marker = HandOverMarker.encode(lane, token);
        return markerSender.send(markerErrno, MemorySegment.ofArray(marker), markerDestination) == marker.length;
    }

    @Override
    public synchronized void close() {
        for (UdpTunnelSocket socket : sockets) {
            socket.socket().close();
        }
        if (markerSender != null) {
            markerSender.close();
        }
        markerArena.close();
    }
}
