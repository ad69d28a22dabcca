package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The Linux system calls the data plane needs, bound with FFM. Packet-path calls ({@link #read}, {@link #write},
 * {@link #send}, {@link #recv}) are "critical": they take heap segments directly, so a packet is read into or
 * written from its heap buffer without a copy, and they return -errno instead of throwing. {@link #sendmsg} and
 * {@link #recvmsg} return -errno too but take a native {@code struct msghdr}, whose pointers can only name native
 * memory ({@link MessageHeader}). Control-path calls throw {@link NativeException}.
 */
public final class Syscalls {
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int AF_UNIX = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_NONBLOCK = 0x800;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_REUSEADDR = 2;
    public static final int SO_RCVBUF = 8;
    public static final int SO_SNDBUF = 7;
    public static final int SO_REUSEPORT = 15;
    public static final int SO_RCVTIMEO = 20;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int SO_ATTACH_REUSEPORT_CBPF = 51;
    /** The socket's memory use (linux/sock_diag.h): SK_MEMINFO_VARS u32 values, read with getsockopt. */
    public static final int SO_MEMINFO = 55;
    public static final int SO_ATTACH_REUSEPORT_EBPF = 52;
    public static final int SO_DETACH_REUSEPORT_BPF = 68;
    public static final int O_RDWR = 2;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_CTRUNC = 0x8;
    public static final int MSG_TRUNC = 0x20;
    /** IPv4 socket options and control messages (linux/in.h): the outer TOS byte, per datagram. */
    public static final int SOL_IP = 0;
    public static final int IP_TOS = 1;
    public static final int IP_RECVTOS = 13;
    /** IPv6 socket options and control messages (linux/in6.h, linux/ipv6.h): traffic class and flow label. */
    /** UDP segmentation offload (GSO) on send and receive coalescing (GRO), Linux 4.18 / 5.0 on. */
    public static final int SOL_UDP = 17;
    public static final int UDP_SEGMENT = 103;
    public static final int UDP_GRO = 104;

    public static final int SOL_IPV6 = 41;
    public static final int IPV6_FLOWINFO = 11;
    public static final int IPV6_FLOWLABEL_MGR = 32;
    public static final int IPV6_FLOWINFO_SEND = 33;
    public static final int IPV6_RECVTCLASS = 66;
    public static final int IPV6_TCLASS = 67;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final Linker.Option CRITICAL = Linker.Option.critical(true);
    /** Critical without heap access: for calls whose arguments point at native structures only (msghdr). */
    private static final Linker.Option CRITICAL_NATIVE = Linker.Option.critical(false);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final java.lang.foreign.AddressLayout POINTER = ValueLayout.ADDRESS;

    private static final MethodHandle OPEN = handle("open", FunctionDescriptor.of(INT, POINTER, INT), ERRNO);
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(INT, INT), ERRNO);
    private static final MethodHandle IOCTL = handle("ioctl", FunctionDescriptor.of(INT, INT, LONG, POINTER), ERRNO);
    private static final MethodHandle READ = handle("read", FunctionDescriptor.of(LONG, INT, POINTER, LONG), ERRNO, CRITICAL);
    private static final MethodHandle WRITE = handle("write", FunctionDescriptor.of(LONG, INT, POINTER, LONG), ERRNO, CRITICAL);
    private static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(INT, INT, INT, INT), ERRNO);
    private static final MethodHandle SOCKETPAIR = handle("socketpair", FunctionDescriptor.of(INT, INT, INT, INT, POINTER), ERRNO);
    private static final MethodHandle SETSOCKOPT = handle("setsockopt", FunctionDescriptor.of(INT, INT, INT, INT, POINTER, INT), ERRNO);
    private static final MethodHandle GETSOCKOPT = handle("getsockopt", FunctionDescriptor.of(INT, INT, INT, INT, POINTER, POINTER), ERRNO);
    private static final MethodHandle BIND = handle("bind", FunctionDescriptor.of(INT, INT, POINTER, INT), ERRNO);
    private static final MethodHandle GETSOCKNAME = handle("getsockname", FunctionDescriptor.of(INT, INT, POINTER, POINTER), ERRNO);
    private static final MethodHandle SENDTO = handle("sendto",
            FunctionDescriptor.of(LONG, INT, POINTER, LONG, INT, POINTER, INT), ERRNO, CRITICAL);
    private static final MethodHandle RECVFROM = handle("recvfrom",
            FunctionDescriptor.of(LONG, INT, POINTER, LONG, INT, POINTER, POINTER), ERRNO, CRITICAL);
    private static final MethodHandle SENDMSG = handle("sendmsg", FunctionDescriptor.of(LONG, INT, POINTER, INT), ERRNO, CRITICAL_NATIVE);
    private static final MethodHandle RECVMSG = handle("recvmsg", FunctionDescriptor.of(LONG, INT, POINTER, INT), ERRNO, CRITICAL_NATIVE);
    private static final MethodHandle SENDMMSG = handle("sendmmsg", FunctionDescriptor.of(INT, INT, POINTER, INT, INT), ERRNO, CRITICAL_NATIVE);
    /** The timeout pointer passed as a plain 0 (NULL): a MemorySegment.NULL argument allocated on every call. */
    private static final MethodHandle RECVMMSG = handle("recvmmsg",
            FunctionDescriptor.of(INT, INT, POINTER, INT, INT, LONG), ERRNO, CRITICAL_NATIVE);
    /** ioctl(2) whose argument is a value, not a pointer (TUNSETOFFLOAD). */
    private static final MethodHandle IOCTL_VALUE = handle("ioctl", FunctionDescriptor.of(INT, INT, LONG, LONG), ERRNO);
    private static final MethodHandle SCHED_SETAFFINITY = handle("sched_setaffinity", FunctionDescriptor.of(INT, INT, LONG, POINTER), ERRNO);
    private static final MethodHandle SETNS = handle("setns", FunctionDescriptor.of(INT, INT, INT), ERRNO);
    private static final MethodHandle SETPRIORITY = handle("setpriority", FunctionDescriptor.of(INT, INT, INT, INT), ERRNO);
    private static final MethodHandle STRERROR = handle("strerror", FunctionDescriptor.of(POINTER, INT));

    private Syscalls() {
    }

    private static MethodHandle handle(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new IllegalStateException("libc lacks " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    // ---- control path: throw on failure --------------------------------------------------------------------------

    public static int open(String path, int flags) throws NativeException {
        Errno errno = new Errno();
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) OPEN.invokeExact(errno.state, arena.allocateFrom(path), flags);
            if (fd < 0) {
                throw new NativeException("open(" + path + ")", errno.value());
            }
            return fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(new Errno().state, fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void ioctl(int fd, long request, MemorySegment argument, String what) throws NativeException {
        Errno errno = new Errno();
        try {
            int result = (int) IOCTL.invokeExact(errno.state, fd, request, argument);
            if (result < 0) {
                throw new NativeException(what, errno.value());
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** ioctl(2) with a plain value as its argument (TUNSETOFFLOAD takes the flags so). */
    public static void ioctlValue(int fd, long request, long value, String what) throws NativeException {
        Errno errno = new Errno();
        try {
            int result = (int) IOCTL_VALUE.invokeExact(errno.state, fd, request, value);
            if (result < 0) {
                throw new NativeException(what, errno.value());
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static int socket(int family, int type) throws NativeException {
        return socket(family, type, 0);
    }

    public static int socket(int family, int type, int protocol) throws NativeException {
        Errno errno = new Errno();
        try {
            int fd = (int) SOCKET.invokeExact(errno.state, family, type, protocol);
            if (fd < 0) {
                throw new NativeException("socket", errno.value());
            }
            return fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** socketpair(2): two connected sockets of {@code family} and {@code type}, as {fd0, fd1}. */
    public static int[] socketpair(int family, int type) throws NativeException {
        Errno errno = new Errno();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(INT, 2);
            int result = (int) SOCKETPAIR.invokeExact(errno.state, family, type, 0, fds);
            if (result < 0) {
                throw new NativeException("socketpair", errno.value());
            }
            return new int[] {fds.getAtIndex(INT, 0), fds.getAtIndex(INT, 1)};
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void setsockopt(int fd, int level, int option, MemorySegment value, String what) throws NativeException {
        Errno errno = new Errno();
        try {
            int result = (int) SETSOCKOPT.invokeExact(errno.state, fd, level, option, value, (int) value.byteSize());
            if (result < 0) {
                throw new NativeException("setsockopt(" + what + ")", errno.value());
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void setsockopt(int fd, int level, int option, int value, String what) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            setsockopt(fd, level, option, arena.allocateFrom(INT, value), what);
        }
    }

    /** Reads a socket option into {@code value}; returns the length the kernel wrote (at most its size). */
    public static int getsockopt(int fd, int level, int option, MemorySegment value, String what) throws NativeException {
        Errno errno = new Errno();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment length = arena.allocateFrom(INT, (int) value.byteSize());
            int result = (int) GETSOCKOPT.invokeExact(errno.state, fd, level, option, value, length);
            if (result < 0) {
                throw new NativeException("getsockopt(" + what + ")", errno.value());
            }
            return length.get(INT, 0);
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void bind(int fd, MemorySegment address, String what) throws NativeException {
        Errno errno = new Errno();
        try {
            int result = (int) BIND.invokeExact(errno.state, fd, address, (int) address.byteSize());
            if (result < 0) {
                throw new NativeException("bind(" + what + ")", errno.value());
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The bound address into {@code address} (sized for sockaddr_in6). */
    public static void getsockname(int fd, MemorySegment address) throws NativeException {
        Errno errno = new Errno();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment length = arena.allocateFrom(INT, (int) address.byteSize());
            int result = (int) GETSOCKNAME.invokeExact(errno.state, fd, address, length);
            if (result < 0) {
                throw new NativeException("getsockname", errno.value());
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Pins the calling thread to one CPU. */
    public static void pinCurrentThread(int cpu) throws NativeException {
        Errno errno = new Errno();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(128);
            mask.set(ValueLayout.JAVA_BYTE, cpu / 8, (byte) (1 << (cpu % 8)));
            int result = (int) SCHED_SETAFFINITY.invokeExact(errno.state, 0, 128L, mask);
            if (result < 0) {
                throw new NativeException("sched_setaffinity(cpu " + cpu + ")", errno.value());
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Sets the calling thread's nice value (Linux keeps it per thread: PRIO_PROCESS with who 0 is the caller only).
     * The control plane runs its threads at a high nice value, so under contention the lanes get the CPU first.
     */
    public static void niceCurrentThread(int nice) throws NativeException {
        Errno errno = new Errno();
        try {
            int result = (int) SETPRIORITY.invokeExact(errno.state, 0, 0, nice);
            if (result < 0) {
                throw new NativeException("setpriority(" + nice + ")", errno.value());
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Moves the calling thread into another network namespace (setns(2) with CLONE_NEWNET). */
    public static void enterNetworkNamespace(int namespaceFd, String what) throws NativeException {
        Errno errno = new Errno();
        try {
            int result = (int) SETNS.invokeExact(errno.state, namespaceFd, 0x40000000);
            if (result < 0) {
                throw new NativeException("setns(" + what + ")", errno.value());
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    // ---- packet path: -errno on failure, nothing thrown, heap buffers passed directly -----------------------------

    /** read(2) into {@code buffer}; returns the length or -errno. */
    public static long read(Errno errno, int fd, MemorySegment buffer) {
        try {
            long result = (long) READ.invokeExact(errno.state, fd, buffer, buffer.byteSize());
            return result < 0 ? -errno.value() : result;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** write(2) of {@code buffer}; returns the length written or -errno. */
    public static long write(Errno errno, int fd, MemorySegment buffer) {
        return write(errno, fd, buffer, buffer.byteSize());
    }

    /** write(2) of the first {@code length} bytes of {@code buffer}; returns the length written or -errno. */
    public static long write(Errno errno, int fd, MemorySegment buffer, long length) {
        try {
            long result = (long) WRITE.invokeExact(errno.state, fd, buffer, length);
            return result < 0 ? -errno.value() : result;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** sendto(2) a datagram; {@code address} is a native sockaddr. Returns the length or -errno. */
    public static long send(Errno errno, int fd, MemorySegment buffer, MemorySegment address) {
        return send(errno, fd, buffer, buffer.byteSize(), address);
    }

    /** sendto(2) of the first {@code length} bytes of {@code buffer}. Returns the length or -errno. */
    public static long send(Errno errno, int fd, MemorySegment buffer, long length, MemorySegment address) {
        try {
            long result = (long) SENDTO.invokeExact(errno.state, fd, buffer, length, 0, address, (int) address.byteSize());
            return result < 0 ? -errno.value() : result;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * recvfrom(2) one datagram without blocking; the sender's sockaddr goes to {@code source} and its length to
     * {@code sourceLength} (both native, owned by the caller). Returns the length or -errno.
     */
    public static long recv(Errno errno, int fd, MemorySegment buffer, MemorySegment source, MemorySegment sourceLength) {
        try {
            sourceLength.set(INT, 0, (int) source.byteSize());
            long result = (long) RECVFROM.invokeExact(errno.state, fd, buffer, buffer.byteSize(), MSG_DONTWAIT, source, sourceLength);
            return result < 0 ? -errno.value() : result;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * sendmsg(2) of the native {@code struct msghdr} at {@code header} (its iovec, name and control buffer native
     * too: a msghdr holds raw pointers, which a heap segment cannot give). Returns the length or -errno.
     */
    public static long sendmsg(Errno errno, int fd, MemorySegment header, int flags) {
        try {
            long result = (long) SENDMSG.invokeExact(errno.state, fd, header, flags);
            return result < 0 ? -errno.value() : result;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** recvmsg(2) into the native {@code struct msghdr} at {@code header}. Returns the length or -errno. */
    public static long recvmsg(Errno errno, int fd, MemorySegment header, int flags) {
        try {
            long result = (long) RECVMSG.invokeExact(errno.state, fd, header, flags);
            return result < 0 ? -errno.value() : result;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * sendmmsg(2) of {@code count} native {@code struct mmsghdr}s at {@code messages}: how many were sent (each
     * message's {@code msg_len} then holds its bytes), or -errno when the first failed.
     */
    public static int sendmmsg(Errno errno, int fd, MemorySegment messages, int count, int flags) {
        try {
            int result = (int) SENDMMSG.invokeExact(errno.state, fd, messages, count, flags);
            return result < 0 ? -errno.value() : result;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** recvmmsg(2) into {@code count} native {@code struct mmsghdr}s, no timeout: how many arrived, or -errno. */
    public static int recvmmsg(Errno errno, int fd, MemorySegment messages, int count, int flags) {
        try {
            int result = (int) RECVMMSG.invokeExact(errno.state, fd, messages, count, flags, 0L);
            return result < 0 ? -errno.value() : result;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
