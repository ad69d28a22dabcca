package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One {@code struct msghdr} with everything it points at (one iovec, a sockaddr, a control buffer and a staging
 * buffer), allocated once per socket and direction and re-aimed per datagram, so sendmsg(2) and recvmsg(2) run on
 * the packet path without allocating. Not thread-safe: one sending or one receiving thread uses it.
 *
 * <pre>
 * struct msghdr (LP64)              struct iovec               struct cmsghdr
 *   0  void   *msg_name               0  void  *iov_base         0  size_t cmsg_len    CMSG_LEN(data)
 *   8  int     msg_namelen            8  size_t iov_len          8  int    cmsg_level
 *  16  iovec  *msg_iov               16                         12  int    cmsg_type
 *  24  size_t  msg_iovlen                                       16  data (CMSG_DATA); next at CMSG_SPACE
 *  32  void   *msg_control
 *  40  size_t  msg_controllen
 *  48  int     msg_flags
 *  56
 * </pre>
 *
 * A msghdr holds raw addresses, and a heap array has no address that outlives one call (the collector may move it),
 * so the datagram itself must lie in native memory while the kernel reads or fills it: a native segment is pointed
 * at as it is; a heap segment goes through {@link #staging}, one copy of the datagram (tens of nanoseconds at
 * 1400 bytes, against a microsecond or two for the system call).
 */
final class MessageHeader {
    static final int MSGHDR_LENGTH = 56;
    static final long NAME_FIELD_OFFSET = 0;
    static final long NAME_LENGTH_FIELD_OFFSET = 8;
    static final long IOV_FIELD_OFFSET = 16;
    static final long IOV_LENGTH_FIELD_OFFSET = 24;
    static final long CONTROL_FIELD_OFFSET = 32;
    static final long CONTROL_LENGTH_FIELD_OFFSET = 40;
    static final long FLAGS_FIELD_OFFSET = 48;

    static final int IOVEC_LENGTH = 16;
    static final long IOV_BASE_FIELD_OFFSET = 0;
    static final long IOV_LEN_FIELD_OFFSET = 8;

    static final int CMSG_HEADER_LENGTH = 16;
    static final long CMSG_LEN_FIELD_OFFSET = 0;
    static final long CMSG_LEVEL_FIELD_OFFSET = 8;
    static final long CMSG_TYPE_FIELD_OFFSET = 12;
    static final long CMSG_DATA_OFFSET = CMSG_HEADER_LENGTH;
    private static final int CMSG_ALIGNMENT = 8;

    /** The largest UDP datagram (IPv4 total length is 16 bits): what {@link #staging} holds. */
    static final int MAX_DATAGRAM = 65535;

    /** What {@link #aim} did with the caller's buffer. */
    static final int AIMED_DIRECTLY = 0;
    static final int AIMED_THROUGH_STAGING = 1;
    static final int TOO_LARGE = -1;

    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;

    final MemorySegment header;
    final MemorySegment iovec;
    final MemorySegment name;
    final MemorySegment control;
    final MemorySegment staging;

    MessageHeader(Arena arena, MemorySegment name, int controlCapacity) {
        this.header = arena.allocate(MSGHDR_LENGTH, CMSG_ALIGNMENT);
        this.iovec = arena.allocate(IOVEC_LENGTH, CMSG_ALIGNMENT);
        this.name = name;
        this.control = arena.allocate(controlCapacity, CMSG_ALIGNMENT);
        this.staging = arena.allocate(MAX_DATAGRAM, CMSG_ALIGNMENT);
        header.set(LONG, NAME_FIELD_OFFSET, name.address());
        header.set(INT, NAME_LENGTH_FIELD_OFFSET, (int) name.byteSize());
        header.set(LONG, IOV_FIELD_OFFSET, iovec.address());
        header.set(LONG, IOV_LENGTH_FIELD_OFFSET, 1);
        header.set(LONG, CONTROL_FIELD_OFFSET, control.address());
        header.set(LONG, CONTROL_LENGTH_FIELD_OFFSET, controlCapacity);
    }

    /** CMSG_LEN(3): a control message's {@code cmsg_len} for {@code dataLength} bytes of data. */
    static int cmsgLen(int dataLength) {
        return CMSG_HEADER_LENGTH + dataLength;
    }

    /** CMSG_SPACE(3): the bytes a control message with {@code dataLength} bytes of data takes, padding included. */
    static int cmsgSpace(int dataLength) {
        return CMSG_HEADER_LENGTH + align(dataLength);
    }

    static long align(long length) {
        return (length + CMSG_ALIGNMENT - 1) & -CMSG_ALIGNMENT;
    }

    private static int align(int length) {
        return (length + CMSG_ALIGNMENT - 1) & -CMSG_ALIGNMENT;
    }

    /**
     * Aims the iovec at the first {@code length} bytes of {@code buffer}: at the buffer itself when it is native,
     * else at {@link #staging}, after copying the bytes there when {@code copyIn} (sending). Returns
     * {@link #AIMED_DIRECTLY}, {@link #AIMED_THROUGH_STAGING} (a receiver copies {@link #staging} out afterwards) or
     * {@link #TOO_LARGE} when a heap buffer's {@code length} exceeds the staging buffer.
     */
    int aim(MemorySegment buffer, long length, boolean copyIn) {
        if (buffer.isNative()) {
            iovec.set(LONG, IOV_BASE_FIELD_OFFSET, buffer.address());
            iovec.set(LONG, IOV_LEN_FIELD_OFFSET, length);
            return AIMED_DIRECTLY;
        }
        if (length > MAX_DATAGRAM) {
            return TOO_LARGE;
        }
        if (copyIn) {
            MemorySegment.copy(buffer, 0, staging, 0, length);
        }
        iovec.set(LONG, IOV_BASE_FIELD_OFFSET, staging.address());
        iovec.set(LONG, IOV_LEN_FIELD_OFFSET, length);
        return AIMED_THROUGH_STAGING;
    }

    void nameLength(int length) {
        header.set(INT, NAME_LENGTH_FIELD_OFFSET, length);
    }

    void controlLength(long length) {
        header.set(LONG, CONTROL_LENGTH_FIELD_OFFSET, length);
    }

    /** After recvmsg(2): how many bytes of control messages the kernel wrote. */
    long controlLength() {
        return header.get(LONG, CONTROL_LENGTH_FIELD_OFFSET);
    }

    /** After recvmsg(2): MSG_TRUNC, MSG_CTRUNC, ... */
    int flags() {
        return header.get(INT, FLAGS_FIELD_OFFSET);
    }

    /** Writes the header of one control message at {@code offset} of {@link #control}. */
    void controlMessage(long offset, int level, int type, int dataLength) {
        control.set(LONG, offset + CMSG_LEN_FIELD_OFFSET, cmsgLen(dataLength));
        control.set(INT, offset + CMSG_LEVEL_FIELD_OFFSET, level);
        control.set(INT, offset + CMSG_TYPE_FIELD_OFFSET, type);
    }
}
