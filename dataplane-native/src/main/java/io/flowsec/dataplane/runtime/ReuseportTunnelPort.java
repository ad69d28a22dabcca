package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.lane.TunnelSocket;
import io.flowsec.dataplane.lane.UdpTunnelSocket;
import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.SteeringPrograms;
import io.flowsec.dataplane.linux.UdpSocket;

import java.io.Closeable;
import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * A tunnel endpoint as a reuseport group: lane i's socket is member i of the group, and steering is a classic-BPF
 * program attached to the group (none at all for the kernel's hash, the RSS analogue).
 */
public final class ReuseportTunnelPort implements TunnelPort, Closeable {
    private static final int ENOENT = 2;

    private final InetAddress address;
    private final int port;
    private final UdpTunnelSocket[] sockets;

    private ReuseportTunnelPort(InetAddress address, int port, UdpTunnelSocket[] sockets) {
        this.address = address;
        this.port = port;
        this.sockets = sockets;
    }

    /** Binds one socket per lane, in lane order, each with {@code receiveBufferBytes} of receive buffer. */
    public static ReuseportTunnelPort bind(InetAddress address, int port, int lanes, int receiveBufferBytes)
            throws NativeException {
        UdpTunnelSocket[] sockets = new UdpTunnelSocket[lanes];
        try {
            for (int lane = 0; lane < lanes; lane++) {
                UdpSocket socket = UdpSocket.bind(address, port, true);
                sockets[lane] = new UdpTunnelSocket(socket);
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

    @Override
    public void steer(SteeringPlan plan) throws NativeException {
        UdpSocket group = sockets[0].socket();
        switch (plan.field()) {
            case NONE -> group.attachSteering(SteeringPrograms.single());
            case SPI -> group.attachSteering(SteeringPrograms.bySpi(plan.laneByKey(), 0));
            case UDP_SOURCE_PORT -> group.attachSteering(
                    SteeringPrograms.byUdpSourcePort(plan.laneByKey(), 0, !(address instanceof Inet4Address)));
            case OUTER_SOURCE_ADDRESS -> group.attachSteering(SteeringPrograms.byIpv4SourceAddress(plan.laneByKey(), 0));
            case HASH -> {
                try {
                    group.detachSteering();   // the kernel's 4-tuple hash
                } catch (NativeException e) {
                    if (e.errno() != ENOENT) {   // nothing attached: already hashing
                        throw e;
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        for (UdpTunnelSocket socket : sockets) {
            socket.socket().close();
        }
    }
}
