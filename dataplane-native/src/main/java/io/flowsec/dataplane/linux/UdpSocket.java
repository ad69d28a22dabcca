package io.flowsec.dataplane.linux;

import java.io.Closeable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * A non-blocking UDP socket for one lane: bound with {@code SO_REUSEPORT}, so every lane binds the same tunnel port
 * and the kernel (or a steering program, {@link #attachSteering}) spreads arriving datagrams over the lanes.
 */
public final class UdpSocket implements Closeable {
    private final int fd;
    private final int family;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment sourceAddress;
    private final MemorySegment sourceAddressLength;
    private boolean closed;

    private UdpSocket(int fd, int family) {
        this.fd = fd;
        this.family = family;
        this.sourceAddress = arena.allocate(SocketAddress.SOCKADDR_IN6_LENGTH);
        this.sourceAddressLength = arena.allocate(4);
    }

    /** Opens a socket bound to {@code address:port} with SO_REUSEPORT (port 0: any free port). */
    public static UdpSocket bind(InetAddress address, int port, boolean reusePort) throws NativeException {
        int family = address instanceof Inet4Address ? Syscalls.AF_INET : Syscalls.AF_INET6;
        int fd = Syscalls.socket(family, Syscalls.SOCK_DGRAM | Syscalls.SOCK_NONBLOCK | Syscalls.SOCK_CLOEXEC);
        try {
            if (reusePort) {
                Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_REUSEPORT, 1, "SO_REUSEPORT");
            }
            try (Arena scratch = Arena.ofConfined()) {
                Syscalls.bind(fd, SocketAddress.of(scratch, address, port), address.getHostAddress() + ":" + port);
            }
        } catch (NativeException e) {
            Syscalls.close(fd);
            throw e;
        }
        return new UdpSocket(fd, family);
    }

    public int fd() {
        return fd;
    }

    public int family() {
        return family;
    }

    public int localPort() throws NativeException {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment address = scratch.allocate(SocketAddress.SOCKADDR_IN6_LENGTH);
            Syscalls.getsockname(fd, address);
            return SocketAddress.port(address);
        }
    }

    /** Sets the receive buffer, beyond net.core.rmem_max when allowed (root: SO_RCVBUFFORCE). */
    public void receiveBufferBytes(int bytes) throws NativeException {
        try {
            Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVBUFFORCE, bytes, "SO_RCVBUFFORCE");
        } catch (NativeException notPrivileged) {
            Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVBUF, bytes, "SO_RCVBUF");
        }
    }

    /** Attaches a classic-BPF program choosing the socket of this port's reuseport group for each datagram. */
    public void attachSteering(CbpfProgram program) throws NativeException {
        try (Arena scratch = Arena.ofConfined()) {
            Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_ATTACH_REUSEPORT_CBPF, program.toSockFprog(scratch),
                    "SO_ATTACH_REUSEPORT_CBPF");
        }
    }

    /** Removes the steering program of this socket's reuseport group: the kernel's 4-tuple hash applies again. */
    public void detachSteering() throws NativeException {
        Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_DETACH_REUSEPORT_BPF, 0, "SO_DETACH_REUSEPORT_BPF");
    }

    /** Receives one datagram into {@code buffer} without blocking: its length, or -errno (-EAGAIN: none waiting). */
    public long receive(Errno errno, MemorySegment buffer) {
        return Syscalls.recv(errno, fd, buffer, sourceAddress, sourceAddressLength);
    }

    /** The sender of the datagram last received (native sockaddr, valid until the next receive). */
    public MemorySegment lastSource() {
        return sourceAddress;
    }

    /** Sends one datagram to a native sockaddr: its length, or -errno. */
    public long send(Errno errno, MemorySegment buffer, MemorySegment destination) {
        return Syscalls.send(errno, fd, buffer, destination);
    }

    /** Sends the first {@code length} bytes of {@code buffer} as one datagram: its length, or -errno. */
    public long send(Errno errno, MemorySegment buffer, int length, MemorySegment destination) {
        return Syscalls.send(errno, fd, buffer, length, destination);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Syscalls.close(fd);
            arena.close();
        }
    }
}
