package io.flowsec.dataplane.linux;

import java.io.Closeable;
import java.lang.foreign.MemorySegment;

/**
 * A raw IP socket that sends whole IP packets as they are ({@code IPPROTO_RAW}: the header is the caller's). The
 * kernel routes each one by the address given to {@code sendto}, not by the packet's own destination, so a packet
 * for a remote site can be handed to a chosen next hop on the tunnel link without the route that would lead it
 * back into the TUN device. Needs CAP_NET_RAW.
 */
public final class RawIpSocket implements Closeable {
    static final int SOCK_RAW = 3;
    static final int IPPROTO_RAW = 255;

    private final int fd;
    private boolean closed;

    private RawIpSocket(int fd) {
        this.fd = fd;
    }

    /** A non-blocking raw socket of {@code family} ({@link Syscalls#AF_INET} or {@link Syscalls#AF_INET6}). */
    public static RawIpSocket open(int family) throws NativeException {
        return new RawIpSocket(Syscalls.socket(family, SOCK_RAW | Syscalls.SOCK_NONBLOCK | Syscalls.SOCK_CLOEXEC, IPPROTO_RAW));
    }

    /** Sends the IP packet in the first {@code length} bytes of {@code packet} towards {@code nextHop}: length or -errno. */
    public long send(Errno errno, MemorySegment packet, int length, MemorySegment nextHop) {
        return Syscalls.send(errno, fd, packet, length, nextHop);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Syscalls.close(fd);
        }
    }
}
