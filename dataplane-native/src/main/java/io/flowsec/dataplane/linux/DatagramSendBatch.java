package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A lane's datagrams gathered for one sendmmsg(2): up to {@link #capacity} messages, each one datagram or, with UDP
 * GSO, a run of datagrams to one destination that the kernel cuts at the first one's length (UDP_SEGMENT: all but
 * the last of equal length, the last no longer). Everything the kernel reads (headers, addresses, control messages,
 * the datagrams) lies in native memory allocated once; the caller's heap packets are copied in, one copy each, which
 * costs tens of nanoseconds against the microseconds of the system calls saved. One thread uses a batch.
 *
 * <pre>
 * struct mmsghdr { struct msghdr msg_hdr (56); unsigned int msg_len @56; } : 64 bytes
 * control per message: IP_TOS or IPV6_TCLASS (an int), then, for a run, UDP_SEGMENT (a u16)
 * </pre>
 */
public final class DatagramSendBatch {
    static final int MMSGHDR_LENGTH = 64;
    static final long MSG_LEN_FIELD_OFFSET = 56;
    /** The most datagrams one GSO send may carry (the kernel's UDP_MAX_SEGMENTS). */
    public static final int MAX_SEGMENTS = 64;
    /** The most bytes of datagrams one GSO send may carry: a UDP length is 16 bits, headers left room. */
    public static final int MAX_RUN_BYTES = 65535 - 8 - 40;
    private static final int NAME_STRIDE = 32;
    private static final int TRAFFIC_CLASS_SPACE = MessageHeader.cmsgSpace(Integer.BYTES);
    private static final int CONTROL_STRIDE = TRAFFIC_CLASS_SPACE + MessageHeader.cmsgSpace(Short.BYTES);
    private static final long SIN6_FLOWINFO_OFFSET = 4;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT;
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);

    private final int fd;
    private final int family;
    private final boolean flowLabels;
    private final int capacity;
    private final MemorySegment messages;
    /** {@link #messages} from message i on, made once: a slice per call would allocate. */
    private final MemorySegment[] messagesFrom;
    private final MemorySegment iovecs;
    private final MemorySegment names;
    private final MemorySegment controls;
    private final MemorySegment staging;
    /** Per message: datagrams in it and its first datagram's length (the run's segment size). */
    private final int[] datagrams;
    private final int[] segmentSizes;
    private int count;
    private long stagingUsed;

    DatagramSendBatch(Arena arena, int fd, int family, boolean flowLabels, int capacity, int stagingBytes) {
        this.fd = fd;
        this.family = family;
        this.flowLabels = flowLabels;
        this.capacity = capacity;
        this.messages = arena.allocate((long) MMSGHDR_LENGTH * capacity, 8);
        this.iovecs = arena.allocate((long) MessageHeader.IOVEC_LENGTH * capacity, 8);
        this.names = arena.allocate((long) NAME_STRIDE * capacity, 8);
        this.controls = arena.allocate((long) CONTROL_STRIDE * capacity, 8);
        this.staging = arena.allocate(stagingBytes, 64);
        this.messagesFrom = new MemorySegment[capacity];
        this.datagrams = new int[capacity];
        this.segmentSizes = new int[capacity];
        int trafficClassLevel = family == Syscalls.AF_INET ? Syscalls.SOL_IP : Syscalls.SOL_IPV6;
        int trafficClassType = family == Syscalls.AF_INET ? Syscalls.IP_TOS : Syscalls.IPV6_TCLASS;
        for (int i = 0; i < capacity; i++) {
            long message = (long) MMSGHDR_LENGTH * i;
            messagesFrom[i] = messages.asSlice(message);
            long control = (long) CONTROL_STRIDE * i;
            messages.set(LONG, message + MessageHeader.NAME_FIELD_OFFSET, names.address() + (long) NAME_STRIDE * i);
            messages.set(LONG, message + MessageHeader.IOV_FIELD_OFFSET, iovecs.address() + (long) MessageHeader.IOVEC_LENGTH * i);
            messages.set(LONG, message + MessageHeader.IOV_LENGTH_FIELD_OFFSET, 1);
            messages.set(LONG, message + MessageHeader.CONTROL_FIELD_OFFSET, controls.address() + control);
            writeControlHeader(control, trafficClassLevel, trafficClassType, Integer.BYTES);
            writeControlHeader(control + TRAFFIC_CLASS_SPACE, Syscalls.SOL_UDP, Syscalls.UDP_SEGMENT, Short.BYTES);
        }
    }

    private void writeControlHeader(long offset, int level, int type, int dataLength) {
        controls.set(LONG, offset + MessageHeader.CMSG_LEN_FIELD_OFFSET, MessageHeader.cmsgLen(dataLength));
        controls.set(INT, offset + MessageHeader.CMSG_LEVEL_FIELD_OFFSET, level);
        controls.set(INT, offset + MessageHeader.CMSG_TYPE_FIELD_OFFSET, type);
    }

    public int capacity() {
        return capacity;
    }

    /** Messages gathered so far. */
    public int count() {
        return count;
    }

    /** Datagrams in message {@code message}. */
    public int datagrams(int message) {
        return datagrams[message];
    }

    /** Whether a datagram of {@code length} bytes still fits the native staging area. */
    public boolean hasRoomFor(int length) {
        return stagingUsed + length <= staging.byteSize();
    }

    /**
     * Starts a message to {@code destination} (a native sockaddr, at most a sockaddr_in6) whose outer TOS / Traffic
     * Class is {@code trafficClass} and, on an IPv6 socket with flow labels enabled, whose flow label is
     * {@code flowLabel}; then {@link #append} its datagram(s). Returns false when the batch is full: send it first.
     */
    public boolean startMessage(MemorySegment destination, int trafficClass, int flowLabel) {
        if (count == capacity) {
            return false;
        }
        long destinationLength = Math.min(destination.byteSize(), SocketAddress.SOCKADDR_IN6_LENGTH);
        long name = (long) NAME_STRIDE * count;
        MemorySegment.copy(destination, 0, names, name, destinationLength);
        if (family == Syscalls.AF_INET6 && names.get(SHORT, name) == Syscalls.AF_INET6) {
            names.set(INT_BE, name + SIN6_FLOWINFO_OFFSET, flowLabels ? flowLabel & UdpSocket.FLOW_LABEL_MASK : 0);
        }
        long message = (long) MMSGHDR_LENGTH * count;
        messages.set(INT, message + MessageHeader.NAME_LENGTH_FIELD_OFFSET, (int) destinationLength);
        controls.set(INT, (long) CONTROL_STRIDE * count + MessageHeader.CMSG_DATA_OFFSET,
                trafficClass & UdpSocket.TRAFFIC_CLASS_MASK);
        long iovec = (long) MessageHeader.IOVEC_LENGTH * count;
        iovecs.set(LONG, iovec + MessageHeader.IOV_BASE_FIELD_OFFSET, staging.address() + stagingUsed);
        iovecs.set(LONG, iovec + MessageHeader.IOV_LEN_FIELD_OFFSET, 0);
        datagrams[count] = 0;
        segmentSizes[count] = 0;
        count++;
        return true;
    }

    /**
     * Appends {@code length} bytes of {@code source} as the next datagram of the message started last. The caller
     * checked {@link #hasRoomFor}, and for a second datagram or more that it is no longer than the first and follows
     * only datagrams as long as the first (the kernel cuts the run at the first one's length).
     */
    public void append(MemorySegment source, int length) {
        int message = count - 1;
        MemorySegment.copy(source, 0, staging, stagingUsed, length);
        stagingUsed += length;
        long iovLength = (long) MessageHeader.IOVEC_LENGTH * message + MessageHeader.IOV_LEN_FIELD_OFFSET;
        iovecs.set(LONG, iovLength, iovecs.get(LONG, iovLength) + length);
        if (datagrams[message]++ == 0) {
            segmentSizes[message] = length;
        }
    }

    /**
     * Sends the gathered messages, in order; {@code results[m]} receives message m's bytes sent or -errno. A message
     * that fails is skipped and the rest go on, except after -EAGAIN (the socket's send buffer is full): the rest
     * fail alike without more calls. Clears the batch. Allocates nothing.
     */
    public void send(Errno errno, long[] results) {
        for (int m = 0; m < count; m++) {
            int controlLength = datagrams[m] > 1 ? CONTROL_STRIDE : TRAFFIC_CLASS_SPACE;
            long message = (long) MMSGHDR_LENGTH * m;
            messages.set(LONG, message + MessageHeader.CONTROL_LENGTH_FIELD_OFFSET, controlLength);
            if (datagrams[m] > 1) {
                controls.set(SHORT, (long) CONTROL_STRIDE * m + TRAFFIC_CLASS_SPACE + MessageHeader.CMSG_DATA_OFFSET,
                        (short) segmentSizes[m]);
            }
        }
        int from = 0;
        while (from < count) {
            int sent = Syscalls.sendmmsg(errno, fd, messagesFrom[from], count - from, 0);
            if (sent > 0) {
                for (int m = from; m < from + sent; m++) {
                    results[m] = Integer.toUnsignedLong(messages.get(INT, (long) MMSGHDR_LENGTH * m + MSG_LEN_FIELD_OFFSET));
                }
                from += sent;
            } else if (sent == -Errno.EAGAIN) {
                for (int m = from; m < count; m++) {
                    results[m] = sent;
                }
                from = count;
            } else {
                results[from++] = sent == 0 ? -Errno.EAGAIN : sent;
            }
        }
        clear();
    }

    public void clear() {
        count = 0;
        stagingUsed = 0;
    }
}
