package io.flowsec.dataplane.linux;

import java.io.Closeable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * A non-blocking UDP socket for one lane: bound with {@code SO_REUSEPORT}, so every lane binds the same tunnel port
 * and the kernel (or a steering program, {@link #attachSteering}) spreads arriving datagrams over the lanes.
 * <p>
 * The kernel writes the outer IP header, so the DSCP/ECN and the IPv6 flow label that ESP computes for it
 * (RFC 4301 §5.1.2, RFC 6040, RFC 6438) reach the wire only through {@link #sendWithTrafficClass}, and the outer
 * ECN that RFC 6040 decapsulation needs reaches the receiver only through {@link #receiveWithTrafficClass}. Those
 * two use sendmsg(2)/recvmsg(2) with control messages; their {@code struct msghdr}s are allocated once per socket
 * ({@link MessageHeader}), so each socket serves one sending thread and one receiving thread (its lane).
 */
public final class UdpSocket implements Closeable {
    /** {@link #lastTrafficClass} / {@link #lastFlowLabel} when the datagram carried no such control message. */
    public static final int NONE = -1;
    /** The 8-bit IPv4 TOS / IPv6 Traffic Class (DSCP in the upper six bits, ECN in the lower two). */
    public static final int TRAFFIC_CLASS_MASK = 0xFF;
    /** The 20-bit IPv6 flow label (RFC 6437). */
    public static final int FLOW_LABEL_MASK = 0xFFFFF;

    /** sockaddr_in6.sin6_flowinfo: network byte order, label in the low 20 bits. */
    private static final long SIN6_FLOWINFO_OFFSET = 4;
    private static final long SIN6_ADDR_OFFSET = 8;
    /** Bytes 8-11 of an IPv4-mapped IPv6 address: 00 00 ff ff. */
    private static final int IPV4_MAPPED_PREFIX_WORD = 0x0000FFFF;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    /** IP_TOS / IPV6_TCLASS on sendmsg: an int (the kernel also takes one byte for IP_TOS, but only an int for IPv6). */
    private static final int TRAFFIC_CLASS_DATA_LENGTH = Integer.BYTES;
    /** Room for IP_TOS, IPV6_TCLASS and IPV6_FLOWINFO together, with space to spare for options enabled elsewhere. */
    private static final int RECEIVE_CONTROL_CAPACITY = 128;
    /** SK_MEMINFO_VARS: the u32 values SO_MEMINFO writes (linux/sock_diag.h), and the ones read here. */
    private static final int SK_MEMINFO_VARS = 9;
    private static final int SK_MEMINFO_RMEM_ALLOC = 0;
    private static final int SK_MEMINFO_RCVBUF = 1;
    private static final int SK_MEMINFO_DROPS = 8;

    private final int fd;
    private final int family;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment sourceAddress;
    private final MemorySegment sourceAddressLength;
    private final MessageHeader sendMessage;
    private final MessageHeader receiveMessage;
    private boolean flowLabelSendEnabled;
    private boolean flowLabelReceiveEnabled;
    private int lastTrafficClass = NONE;
    private int lastFlowLabel = NONE;
    private boolean closed;

    private UdpSocket(int fd, int family) {
        this.fd = fd;
        this.family = family;
        this.sourceAddress = arena.allocate(SocketAddress.SOCKADDR_IN6_LENGTH);
        this.sourceAddressLength = arena.allocate(4);
        this.sendMessage = new MessageHeader(arena, arena.allocate(SocketAddress.SOCKADDR_IN6_LENGTH, 8),
                MessageHeader.cmsgSpace(TRAFFIC_CLASS_DATA_LENGTH));
        if (family == Syscalls.AF_INET) {
            sendMessage.controlMessage(0, Syscalls.SOL_IP, Syscalls.IP_TOS, TRAFFIC_CLASS_DATA_LENGTH);
        } else {
            sendMessage.controlMessage(0, Syscalls.SOL_IPV6, Syscalls.IPV6_TCLASS, TRAFFIC_CLASS_DATA_LENGTH);
        }
        this.receiveMessage = new MessageHeader(arena, sourceAddress, RECEIVE_CONTROL_CAPACITY);
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

    /**
     * The socket's receive queue as the kernel accounts it (SO_MEMINFO, Linux 3.19 on).
     *
     * @param queuedBytes bytes the queued datagrams hold (SK_MEMINFO_RMEM_ALLOC: buffer space, headers and
     *                    overhead included, so a queue of small datagrams fills before its payload adds up)
     * @param bufferBytes the receive buffer those count against (SK_MEMINFO_RCVBUF: twice what SO_RCVBUF was set to,
     *                    as the kernel doubles it for that overhead)
     * @param drops       datagrams the kernel dropped at this socket since it opened (SK_MEMINFO_DROPS): mostly
     *                    arrivals that found the buffer full, never seen by the lane
     */
    public record ReceiveMemory(long queuedBytes, long bufferBytes, long drops) {
    }

    /**
     * Reads {@link ReceiveMemory} (one getsockopt). For the control side: it allocates a little, so not for a lane's
     * loop. Safe alongside the lane's receives (the kernel reads its own counters); after {@link #close} it fails
     * rather than read whatever socket took the descriptor number since.
     */
    public synchronized ReceiveMemory receiveMemory() throws NativeException {
        if (closed) {
            throw new NativeException("getsockopt(SO_MEMINFO) on a closed socket", Errno.EBADF);
        }
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment values = scratch.allocate(ValueLayout.JAVA_INT, SK_MEMINFO_VARS);
            int written = Syscalls.getsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_MEMINFO, values, "SO_MEMINFO");
            if (written < (SK_MEMINFO_DROPS + 1) * Integer.BYTES) {
                throw new NativeException("getsockopt(SO_MEMINFO): " + written + " bytes, fewer than the drops need",
                        Errno.EINVAL);
            }
            return new ReceiveMemory(u32(values, SK_MEMINFO_RMEM_ALLOC), u32(values, SK_MEMINFO_RCVBUF),
                    u32(values, SK_MEMINFO_DROPS));
        }
    }

    private static long u32(MemorySegment values, int index) {
        return Integer.toUnsignedLong(values.getAtIndex(ValueLayout.JAVA_INT, index));
    }

    /** Attaches a classic-BPF program choosing the socket of this port's reuseport group for each datagram. */
    public void attachSteering(CbpfProgram program) throws NativeException {
        try (Arena scratch = Arena.ofConfined()) {
            Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_ATTACH_REUSEPORT_CBPF, program.toSockFprog(scratch),
                    "SO_ATTACH_REUSEPORT_CBPF");
        }
    }

    /**
     * Attaches the loaded eBPF program {@code programFd} ({@link Bpf#loadSocketFilter}) to this socket's reuseport
     * group, replacing the program before it in one step. The group holds the program (and the program its maps), so
     * the caller closes its descriptor afterwards.
     */
    public void attachSteering(int programFd) throws NativeException {
        Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_ATTACH_REUSEPORT_EBPF, programFd, "SO_ATTACH_REUSEPORT_EBPF");
    }

    /**
     * Attaches an eBPF lookup of {@code key} over a fresh hash map holding {@code laneByKey} (lanes not in it: 0),
     * replacing the group's program in one step; a failure before the attach leaves the previous one in effect. The
     * group keeps the program and its map; both descriptors are closed here.
     */
    public void attachSteering(SteeringPrograms.Key key, java.util.Map<Integer, Integer> laneByKey) throws NativeException {
        int map = Bpf.createIntHashMap("flowsec_steer", laneByKey.size());
        try {
            Bpf.putAll(map, laneByKey);
            int program = Bpf.loadSocketFilter("flowsec_steer", SteeringPrograms.lookup(key, map, 0));
            try {
                attachSteering(program);
            } finally {
                Syscalls.close(program);
            }
        } finally {
            Syscalls.close(map);
        }
    }

    /** Removes the steering program of this socket's reuseport group: the kernel's 4-tuple hash applies again. */
    public void detachSteering() throws NativeException {
        Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_DETACH_REUSEPORT_BPF, 0, "SO_DETACH_REUSEPORT_BPF");
    }

    /**
     * Asks the kernel to hand each arriving datagram's outer TOS / Traffic Class to
     * {@link #receiveWithTrafficClass}: IP_RECVTOS on an IPv4 socket; IPV6_RECVTCLASS and IP_RECVTOS on an IPv6 one
     * (an IPv4 datagram reaching an IPv6 socket as a v4-mapped address carries the IPv4 control message). Call it
     * before the socket's lane starts.
     */
    public void enableReceiveTrafficClass() throws NativeException {
        if (family == Syscalls.AF_INET6) {
            Syscalls.setsockopt(fd, Syscalls.SOL_IPV6, Syscalls.IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");
        }
        Syscalls.setsockopt(fd, Syscalls.SOL_IP, Syscalls.IP_RECVTOS, 1, "IP_RECVTOS");
    }

    /**
     * Asks the kernel to keep runs of datagrams from one sender together (UDP_GRO, Linux 5.0 on): a receive then
     * returns several datagrams at once, cut by {@link DatagramReceiveBatch#segmentSize}. Only receives through a
     * {@link DatagramReceiveBatch} may follow: a plain receive would take a run for one datagram. Throws
     * (ENOPROTOOPT) where the kernel lacks it.
     */
    public void enableReceiveCoalescing() throws NativeException {
        Syscalls.setsockopt(fd, Syscalls.SOL_UDP, Syscalls.UDP_GRO, 1, "UDP_GRO");
    }

    /**
     * Checks that the kernel segments UDP sends (UDP GSO, Linux 4.18 on) by setting the socket's default segment
     * size to 0 (none: each send says its own). Throws (ENOPROTOOPT) where it does not.
     */
    public void probeSendSegmentation() throws NativeException {
        Syscalls.setsockopt(fd, Syscalls.SOL_UDP, Syscalls.UDP_SEGMENT, 0, "UDP_SEGMENT");
    }

    /**
     * A batch for sendmmsg(2) on this socket (see {@link DatagramSendBatch}); call after {@link #enableSendFlowLabel}
     * where labels are wanted. Its native memory lives as long as the socket.
     */
    public DatagramSendBatch sendBatch(int messages, int stagingBytes) {
        return new DatagramSendBatch(arena, fd, family, flowLabelSendEnabled, messages, stagingBytes);
    }

    /** A batch for recvmmsg(2) on this socket: {@code messages} buffers of {@code bufferBytes} each. */
    public DatagramReceiveBatch receiveBatch(int messages, int bufferBytes) {
        return new DatagramReceiveBatch(arena, fd, messages, bufferBytes);
    }

    /**
     * IPv6 only: asks the kernel for each arriving datagram's flow label too (IPV6_FLOWINFO as a receive option), read
     * by {@link #receiveWithTrafficClass} into {@link #lastFlowLabel}. Call it before the socket's lane starts.
     */
    public void enableReceiveFlowLabel() throws NativeException {
        Syscalls.setsockopt(fd, Syscalls.SOL_IPV6, Syscalls.IPV6_FLOWINFO, 1, "IPV6_FLOWINFO");
        flowLabelReceiveEnabled = true;
    }

    /**
     * IPv6 only: lets {@link #sendWithTrafficClass(Errno, MemorySegment, int, MemorySegment, int, int)} choose the
     * outer flow label per datagram. The kernel reads a label from the destination's {@code sin6_flowinfo} only on
     * sockets with IPV6_FLOWINFO_SEND set; without it the label would be dropped silently. No privilege is needed.
     * Call it before the socket's lane starts.
     */
    public void enableSendFlowLabel() throws NativeException {
        Syscalls.setsockopt(fd, Syscalls.SOL_IPV6, Syscalls.IPV6_FLOWINFO_SEND, 1, "IPV6_FLOWINFO_SEND");
        flowLabelSendEnabled = true;
    }

    /** Receives one datagram into {@code buffer} without blocking: its length, or -errno (-EAGAIN: none waiting). */
    public long receive(Errno errno, MemorySegment buffer) {
        lastTrafficClass = NONE;
        lastFlowLabel = NONE;
        return Syscalls.recv(errno, fd, buffer, sourceAddress, sourceAddressLength);
    }

    /**
     * Receives one datagram into {@code buffer} without blocking, as {@link #receive} does, and keeps the outer TOS /
     * Traffic Class it arrived with in {@link #lastTrafficClass} (and, after {@link #enableReceiveFlowLabel}, its flow
     * label in {@link #lastFlowLabel}). Returns the length (truncated to {@code buffer}, as recvfrom(2) does), or
     * -errno (-EAGAIN: none waiting).
     * <p>
     * recvmsg(2) writes through the native msghdr, which cannot point into a heap array: a native {@code buffer} is
     * filled directly, a heap one through the socket's staging buffer and one copy of the datagram. Allocates nothing.
     */
    public long receiveWithTrafficClass(Errno errno, MemorySegment buffer) {
        lastTrafficClass = NONE;
        lastFlowLabel = NONE;
        MessageHeader message = receiveMessage;
        long capacity = buffer.isNative() ? buffer.byteSize() : Math.min(buffer.byteSize(), MessageHeader.MAX_DATAGRAM);
        int aimed = message.aim(buffer, capacity, false);
        message.nameLength(SocketAddress.SOCKADDR_IN6_LENGTH);
        message.controlLength(RECEIVE_CONTROL_CAPACITY);
        long length = Syscalls.recvmsg(errno, fd, message.header, Syscalls.MSG_DONTWAIT);
        if (length < 0) {
            return length;
        }
        if (aimed == MessageHeader.AIMED_THROUGH_STAGING) {
            MemorySegment.copy(message.staging, 0, buffer, 0, length);
        }
        readControlMessages(message);
        return length;
    }

    private void readControlMessages(MessageHeader message) {
        MemorySegment control = message.control;
        long end = Math.min(message.controlLength(), control.byteSize());
        long offset = 0;
        while (offset + MessageHeader.CMSG_HEADER_LENGTH <= end) {
            long length = control.get(ValueLayout.JAVA_LONG, offset + MessageHeader.CMSG_LEN_FIELD_OFFSET);
            if (length < MessageHeader.CMSG_HEADER_LENGTH || offset + length > end) {
                break;
            }
            int level = control.get(INT, offset + MessageHeader.CMSG_LEVEL_FIELD_OFFSET);
            int type = control.get(INT, offset + MessageHeader.CMSG_TYPE_FIELD_OFFSET);
            long data = offset + MessageHeader.CMSG_DATA_OFFSET;
            if (level == Syscalls.SOL_IP && type == Syscalls.IP_TOS) {
                lastTrafficClass = control.get(ValueLayout.JAVA_BYTE, data) & TRAFFIC_CLASS_MASK; // one byte
            } else if (level == Syscalls.SOL_IPV6 && type == Syscalls.IPV6_TCLASS) {
                lastTrafficClass = control.get(INT, data) & TRAFFIC_CLASS_MASK;                // an int
            } else if (level == Syscalls.SOL_IPV6 && type == Syscalls.IPV6_FLOWINFO) {
                lastFlowLabel = control.get(INT_BE, data) & FLOW_LABEL_MASK;                  // __be32 flowinfo
            }
            offset += MessageHeader.align(length);
        }
        if (flowLabelReceiveEnabled && lastFlowLabel == NONE && family == Syscalls.AF_INET6
                && !isIpv4Mapped(sourceAddress)) {
            lastFlowLabel = 0; // the kernel leaves IPV6_FLOWINFO out when the whole flow info is zero
        }
    }

    /** An IPv4 sender seen through an IPv6 socket (::ffff:a.b.c.d): its datagram had no flow label at all. */
    private static boolean isIpv4Mapped(MemorySegment sockaddr) {
        return sockaddr.get(SHORT, 0) == Syscalls.AF_INET6
                && sockaddr.get(ValueLayout.JAVA_LONG_UNALIGNED, SIN6_ADDR_OFFSET) == 0
                && sockaddr.get(INT_BE, SIN6_ADDR_OFFSET + 8) == IPV4_MAPPED_PREFIX_WORD;
    }

    /** The sender of the datagram last received (native sockaddr, valid until the next receive). */
    public MemorySegment lastSource() {
        return sourceAddress;
    }

    /**
     * The outer IPv4 TOS / IPv6 Traffic Class byte (DSCP and ECN) of the datagram last received by
     * {@link #receiveWithTrafficClass}, valid until the next receive; {@link #NONE} when the kernel did not report it
     * (no {@link #enableReceiveTrafficClass}, a failed receive, or the last receive was a plain {@link #receive}).
     */
    public int lastTrafficClass() {
        return lastTrafficClass;
    }

    /**
     * The outer IPv6 flow label of the datagram last received by {@link #receiveWithTrafficClass}, valid until the
     * next receive; {@link #NONE} without {@link #enableReceiveFlowLabel}, for an IPv4 sender seen through an IPv6
     * socket, or after a failed or plain receive.
     */
    public int lastFlowLabel() {
        return lastFlowLabel;
    }

    /** Sends one datagram to a native sockaddr: its length, or -errno. */
    public long send(Errno errno, MemorySegment buffer, MemorySegment destination) {
        return Syscalls.send(errno, fd, buffer, destination);
    }

    /** Sends the first {@code length} bytes of {@code buffer} as one datagram: its length, or -errno. */
    public long send(Errno errno, MemorySegment buffer, int length, MemorySegment destination) {
        return Syscalls.send(errno, fd, buffer, length, destination);
    }

    /**
     * Sends the first {@code length} bytes of {@code buffer} as one datagram whose outer IPv4 TOS / IPv6 Traffic Class
     * is {@code trafficClass} (low 8 bits: DSCP and ECN, the ECN bits kept as given), whatever the socket's default.
     * An IPv6 datagram's flow label is the kernel's own (automatic, hashed from the addresses and ports). Returns the
     * length, or -errno: -EINVAL for a length beyond {@code buffer} or a destination larger than a sockaddr_in6,
     * -EMSGSIZE for a heap buffer longer than the largest datagram.
     * <p>
     * sendmsg(2) with one control message, IP_TOS (level SOL_IP, an int) or IPV6_TCLASS (level SOL_IPV6, an int);
     * the msghdr cannot point into a heap array, so a heap {@code buffer} is copied once into the socket's staging
     * buffer (a native one is sent in place). Allocates nothing.
     */
    public long sendWithTrafficClass(Errno errno, MemorySegment buffer, int length, MemorySegment destination,
                                     int trafficClass) {
        return sendMarked(errno, buffer, length, destination, trafficClass, 0);
    }

    /**
     * As {@link #sendWithTrafficClass(Errno, MemorySegment, int, MemorySegment, int)}, on an IPv6 socket, with the
     * outer flow label {@code flowLabel} (low 20 bits; 0 leaves it to the kernel). Needs
     * {@link #enableSendFlowLabel} first, else returns -EINVAL without sending (the kernel would drop the label
     * silently); an IPv4 destination on the IPv6 socket is sent without a label.
     * <p>
     * The label goes in the destination's {@code sin6_flowinfo} (a per-socket copy of {@code destination}); Linux
     * takes it as it is, with no lease and no privilege, as long as no socket in the network namespace has ever taken
     * an exclusive flow label lease (IPV6_FLOWLABEL_MGR with IPV6_FL_S_EXCL, _PROCESS or _USER, or a lease carrying
     * options). From the first such lease on (the kernel never forgets it for that namespace) a label that this
     * socket has not leased itself is refused with -EINVAL. Neither {@code flowlabel_state_ranges} nor
     * {@code flowlabel_reflect} changes this.
     */
    public long sendWithTrafficClass(Errno errno, MemorySegment buffer, int length, MemorySegment destination,
                                     int trafficClass, int flowLabel) {
        if (!flowLabelSendEnabled) {
            return -Errno.EINVAL;
        }
        return sendMarked(errno, buffer, length, destination, trafficClass, flowLabel);
    }

    private long sendMarked(Errno errno, MemorySegment buffer, int length, MemorySegment destination,
                            int trafficClass, int flowLabel) {
        long destinationLength = destination.byteSize();
        if (length < 0 || length > buffer.byteSize() || destinationLength > SocketAddress.SOCKADDR_IN6_LENGTH) {
            return -Errno.EINVAL;
        }
        MessageHeader message = sendMessage;
        if (message.aim(buffer, length, true) == MessageHeader.TOO_LARGE) {
            return -Errno.EMSGSIZE;
        }
        MemorySegment.copy(destination, 0, message.name, 0, destinationLength);
        message.nameLength((int) destinationLength);
        if (family == Syscalls.AF_INET6 && message.name.get(SHORT, 0) == Syscalls.AF_INET6) {
            message.name.set(INT_BE, SIN6_FLOWINFO_OFFSET, flowLabel & FLOW_LABEL_MASK);
        }
        message.control.set(INT, MessageHeader.CMSG_DATA_OFFSET, trafficClass & TRAFFIC_CLASS_MASK);
        return Syscalls.sendmsg(errno, fd, message.header, 0);
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
