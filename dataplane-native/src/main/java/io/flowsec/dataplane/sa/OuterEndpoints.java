package io.flowsec.dataplane.sa;

import io.flowsec.dataplane.packet.IpProtocol;

import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * The outer header of an SA's packets: local and remote tunnel addresses and, for ESP-in-UDP (RFC 3948), the ports.
 * Addresses are kept pre-split into longs so the packet path writes them without allocating.
 */
public final class OuterEndpoints {
    private final InetAddress local;
    private final InetAddress remote;
    private final boolean udp;
    private final int localPort;
    private final int remotePort;
    private final int family;
    private final long localHigh;
    private final long localLow;
    private final long remoteHigh;
    private final long remoteLow;

    public OuterEndpoints(InetAddress local, InetAddress remote, boolean udp, int localPort, int remotePort) {
        if ((local instanceof Inet4Address) != (remote instanceof Inet4Address)) {
            throw new IllegalArgumentException("tunnel addresses " + local.getHostAddress() + " and "
                    + remote.getHostAddress() + " are of different families");
        }
        if (udp && (localPort < 1 || localPort > 65535 || remotePort < 1 || remotePort > 65535)) {
            throw new IllegalArgumentException("UDP ports must be 1-65535");
        }
        this.local = local;
        this.remote = remote;
        this.udp = udp;
        this.localPort = localPort;
        this.remotePort = remotePort;
        this.family = local instanceof Inet4Address ? 4 : 6;
        byte[] l = local.getAddress();
        byte[] r = remote.getAddress();
        this.localHigh = family == 6 ? longAt(l, 0) : 0;
        this.localLow = family == 6 ? longAt(l, 8) : intAt(l) & 0xFFFF_FFFFL;
        this.remoteHigh = family == 6 ? longAt(r, 0) : 0;
        this.remoteLow = family == 6 ? longAt(r, 8) : intAt(r) & 0xFFFF_FFFFL;
    }

    public static OuterEndpoints udp(InetAddress local, InetAddress remote, int localPort, int remotePort) {
        return new OuterEndpoints(local, remote, true, localPort, remotePort);
    }

    public static OuterEndpoints esp(InetAddress local, InetAddress remote) {
        return new OuterEndpoints(local, remote, false, 0, 0);
    }

    private static long longAt(byte[] bytes, int offset) {
        long value = 0;
        for (int i = 0; i < 8; i++) {
            value = (value << 8) | (bytes[offset + i] & 0xFF);
        }
        return value;
    }

    private static int intAt(byte[] bytes) {
        return ((bytes[0] & 0xFF) << 24) | ((bytes[1] & 0xFF) << 16) | ((bytes[2] & 0xFF) << 8) | (bytes[3] & 0xFF);
    }

    public InetAddress local() {
        return local;
    }

    public InetAddress remote() {
        return remote;
    }

    public boolean isUdp() {
        return udp;
    }

    public int localPort() {
        return localPort;
    }

    public int remotePort() {
        return remotePort;
    }

    /** 4 or 6. */
    public int family() {
        return family;
    }

    public long localHigh() {
        return localHigh;
    }

    public long localLow() {
        return localLow;
    }

    public long remoteHigh() {
        return remoteHigh;
    }

    public long remoteLow() {
        return remoteLow;
    }

    /** Outer IP (+UDP) header length. */
    public int headerLength() {
        return (family == 4 ? 20 : 40) + (udp ? 8 : 0);
    }

    public int ipProtocol() {
        return udp ? IpProtocol.UDP : IpProtocol.ESP;
    }

    @Override
    public String toString() {
        return local.getHostAddress() + (udp ? ":" + localPort : "") + " -> " + remote.getHostAddress()
                + (udp ? ":" + remotePort + " (udp)" : " (esp)");
    }
}
