package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Native buffers for recvmmsg(2): up to {@link #capacity} messages per call, each with a buffer of a whole UDP
 * datagram's size, because with UDP GRO (UDP_GRO) one message holds a run of datagrams of one sender that the kernel
 * kept together; {@link #segmentSize} then says where to cut it (all of that length but the last). The outer TOS /
 * Traffic Class of each message is read from its control messages, as {@link UdpSocket#receiveWithTrafficClass}
 * does for one. Allocated once; one thread uses a batch; allocates nothing per call.
 */
public final class DatagramReceiveBatch {
    /** Room for IP_TOS, IPV6_TCLASS, IPV6_FLOWINFO and UDP_GRO together. */
    private static final int CONTROL_STRIDE = 128;
    private static final int NAME_STRIDE = 32;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;

    private final int fd;
    private final int capacity;
    private final int bufferBytes;
    private final MemorySegment messages;
    private final MemorySegment iovecs;
    private final MemorySegment controls;
    private final MemorySegment buffers;
    private final int[] lengths;
    private final int[] trafficClasses;
    private final int[] segmentSizes;
    private final boolean[] truncated;

    DatagramReceiveBatch(Arena arena, int fd, int capacity, int bufferBytes) {
        this.fd = fd;
        this.capacity = capacity;
        this.bufferBytes = bufferBytes;
        this.messages = arena.allocate((long) DatagramSendBatch.MMSGHDR_LENGTH * capacity, 8);
        this.iovecs = arena.allocate((long) MessageHeader.IOVEC_LENGTH * capacity, 8);
        MemorySegment names = arena.allocate((long) NAME_STRIDE * capacity, 8);
        this.controls = arena.allocate((long) CONTROL_STRIDE * capacity, 8);
        this.buffers = arena.allocate((long) bufferBytes * capacity, 64);
        this.lengths = new int[capacity];
        this.trafficClasses = new int[capacity];
        this.segmentSizes = new int[capacity];
        this.truncated = new boolean[capacity];
        for (int i = 0; i < capacity; i++) {
            long message = (long) DatagramSendBatch.MMSGHDR_LENGTH * i;
            long iovec = (long) MessageHeader.IOVEC_LENGTH * i;
            messages.set(LONG, message + MessageHeader.NAME_FIELD_OFFSET, names.address() + (long) NAME_STRIDE * i);
            messages.set(LONG, message + MessageHeader.IOV_FIELD_OFFSET, iovecs.address() + iovec);
            messages.set(LONG, message + MessageHeader.IOV_LENGTH_FIELD_OFFSET, 1);
            messages.set(LONG, message + MessageHeader.CONTROL_FIELD_OFFSET, controls.address() + (long) CONTROL_STRIDE * i);
            iovecs.set(LONG, iovec + MessageHeader.IOV_BASE_FIELD_OFFSET, buffers.address() + (long) bufferBytes * i);
            iovecs.set(LONG, iovec + MessageHeader.IOV_LEN_FIELD_OFFSET, bufferBytes);
        }
    }

    public int capacity() {
        return capacity;
    }

    /**
     * Receives up to {@link #capacity} messages without blocking: how many arrived (0 or -EAGAIN: none waiting), or
     * -errno.
     */
    public int receive(Errno errno) {
        for (int i = 0; i < capacity; i++) {
            long message = (long) DatagramSendBatch.MMSGHDR_LENGTH * i;
            messages.set(INT, message + MessageHeader.NAME_LENGTH_FIELD_OFFSET, NAME_STRIDE);
            messages.set(LONG, message + MessageHeader.CONTROL_LENGTH_FIELD_OFFSET, CONTROL_STRIDE);
            messages.set(INT, message + MessageHeader.FLAGS_FIELD_OFFSET, 0);
        }
        int received = Syscalls.recvmmsg(errno, fd, messages, capacity, Syscalls.MSG_DONTWAIT);
        for (int i = 0; i < received; i++) {
            readMessage(i);
        }
        return received;
    }

    private void readMessage(int index) {
        long message = (long) DatagramSendBatch.MMSGHDR_LENGTH * index;
        lengths[index] = messages.get(INT, message + DatagramSendBatch.MSG_LEN_FIELD_OFFSET);
        truncated[index] = (messages.get(INT, message + MessageHeader.FLAGS_FIELD_OFFSET) & Syscalls.MSG_TRUNC) != 0;
        trafficClasses[index] = UdpSocket.NONE;
        segmentSizes[index] = 0;
        long base = (long) CONTROL_STRIDE * index;
        long end = base + Math.min(messages.get(LONG, message + MessageHeader.CONTROL_LENGTH_FIELD_OFFSET), CONTROL_STRIDE);
        long offset = base;
        while (offset + MessageHeader.CMSG_HEADER_LENGTH <= end) {
            long length = controls.get(LONG, offset + MessageHeader.CMSG_LEN_FIELD_OFFSET);
            if (length < MessageHeader.CMSG_HEADER_LENGTH || offset + length > end) {
                break;
            }
            int level = controls.get(INT, offset + MessageHeader.CMSG_LEVEL_FIELD_OFFSET);
            int type = controls.get(INT, offset + MessageHeader.CMSG_TYPE_FIELD_OFFSET);
            long data = offset + MessageHeader.CMSG_DATA_OFFSET;
            if (level == Syscalls.SOL_IP && type == Syscalls.IP_TOS) {
                trafficClasses[index] = controls.get(ValueLayout.JAVA_BYTE, data) & UdpSocket.TRAFFIC_CLASS_MASK;
            } else if (level == Syscalls.SOL_IPV6 && type == Syscalls.IPV6_TCLASS) {
                trafficClasses[index] = controls.get(INT, data) & UdpSocket.TRAFFIC_CLASS_MASK;
            } else if (level == Syscalls.SOL_UDP && type == Syscalls.UDP_GRO) {
                segmentSizes[index] = controls.get(INT, data);
            }
            offset += MessageHeader.align(length);
        }
    }

    /** Bytes message {@code index} holds (all its datagrams). */
    public int length(int index) {
        return lengths[index];
    }

    /** The length each of the message's datagrams has but the last (UDP GRO); 0 when it holds one datagram. */
    public int segmentSize(int index) {
        return segmentSizes[index];
    }

    /** The message's outer TOS / Traffic Class; {@link UdpSocket#NONE} when the kernel did not report it. */
    public int trafficClass(int index) {
        return trafficClasses[index];
    }

    /** The datagram was longer than the buffer (MSG_TRUNC): its tail is lost. */
    public boolean truncated(int index) {
        return truncated[index];
    }

    /** Copies {@code length} bytes from {@code offset} of message {@code index} to {@code target}. */
    public void copy(int index, int offset, MemorySegment target, int length) {
        MemorySegment.copy(buffers, (long) bufferBytes * index + offset, target, 0, length);
    }
}
