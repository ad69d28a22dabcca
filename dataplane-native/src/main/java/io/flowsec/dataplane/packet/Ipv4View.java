package io.flowsec.dataplane.packet;

/**
 * Flyweight over an IPv4 header (RFC 791 §3.1), re-wrapped per packet.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |Type of Service|          Total Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |Flags|      Fragment Offset    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Source Address                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination Address                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options                    |    Padding    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 */
public final class Ipv4View {
    public static final int MIN_HEADER_LENGTH = 20;
    public static final int VERSION_FIELD_OFFSET = 0;
    public static final int TOS_FIELD_OFFSET = 1;
    public static final int TOTAL_LENGTH_FIELD_OFFSET = 2;
    public static final int IDENTIFICATION_FIELD_OFFSET = 4;
    public static final int FLAGS_FRAGMENT_FIELD_OFFSET = 6;
    public static final int TTL_FIELD_OFFSET = 8;
    public static final int PROTOCOL_FIELD_OFFSET = 9;
    public static final int CHECKSUM_FIELD_OFFSET = 10;
    public static final int SOURCE_FIELD_OFFSET = 12;
    public static final int DESTINATION_FIELD_OFFSET = 16;
    public static final int FLAG_DONT_FRAGMENT = 0x4000;
    public static final int FLAG_MORE_FRAGMENTS = 0x2000;
    public static final int FRAGMENT_OFFSET_MASK = 0x1FFF;

    private byte[] buffer;
    private int offset;

    public Ipv4View wrap(byte[] buffer, int offset) {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    public byte[] buffer() {
        return buffer;
    }

    public int offset() {
        return offset;
    }

    /**
     * True when the header is well formed inside {@code available} bytes: version 4, IHL of at least 5 words,
     * total length covering the header and not beyond what is there.
     */
    public boolean isValid(int available) {
        if (available < MIN_HEADER_LENGTH || version() != 4) {
            return false;
        }
        int headerLength = headerLength();
        int totalLength = totalLength();
        return headerLength >= MIN_HEADER_LENGTH && totalLength >= headerLength && totalLength <= available;
    }

    public int version() {
        return (buffer[offset] >> 4) & 0xF;
    }

    public int headerLength() {
        return (buffer[offset] & 0xF) * 4;
    }

    public Ipv4View versionAndHeaderLength(int headerLength) {
        buffer[offset] = (byte) (0x40 | (headerLength / 4));
        return this;
    }

    public int tos() {
        return Bytes.u8(buffer, offset + TOS_FIELD_OFFSET);
    }

    public Ipv4View tos(int tos) {
        Bytes.u8(buffer, offset + TOS_FIELD_OFFSET, tos);
        return this;
    }

    public int totalLength() {
        return Bytes.u16(buffer, offset + TOTAL_LENGTH_FIELD_OFFSET);
    }

    public Ipv4View totalLength(int length) {
        Bytes.u16(buffer, offset + TOTAL_LENGTH_FIELD_OFFSET, length);
        return this;
    }

    public int identification() {
        return Bytes.u16(buffer, offset + IDENTIFICATION_FIELD_OFFSET);
    }

    public Ipv4View identification(int id) {
        Bytes.u16(buffer, offset + IDENTIFICATION_FIELD_OFFSET, id);
        return this;
    }

    public int flagsAndFragmentOffset() {
        return Bytes.u16(buffer, offset + FLAGS_FRAGMENT_FIELD_OFFSET);
    }

    public Ipv4View flagsAndFragmentOffset(int value) {
        Bytes.u16(buffer, offset + FLAGS_FRAGMENT_FIELD_OFFSET, value);
        return this;
    }

    public boolean dontFragment() {
        return (flagsAndFragmentOffset() & FLAG_DONT_FRAGMENT) != 0;
    }

    /** True for any fragment: more-fragments set or a non-zero offset. */
    public boolean isFragment() {
        return (flagsAndFragmentOffset() & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK)) != 0;
    }

    public int ttl() {
        return Bytes.u8(buffer, offset + TTL_FIELD_OFFSET);
    }

    public Ipv4View ttl(int ttl) {
        Bytes.u8(buffer, offset + TTL_FIELD_OFFSET, ttl);
        return this;
    }

    public int protocol() {
        return Bytes.u8(buffer, offset + PROTOCOL_FIELD_OFFSET);
    }

    public Ipv4View protocol(int protocol) {
        Bytes.u8(buffer, offset + PROTOCOL_FIELD_OFFSET, protocol);
        return this;
    }

    public int headerChecksum() {
        return Bytes.u16(buffer, offset + CHECKSUM_FIELD_OFFSET);
    }

    public int sourceAddress() {
        return Bytes.i32(buffer, offset + SOURCE_FIELD_OFFSET);
    }

    public Ipv4View sourceAddress(int address) {
        Bytes.i32(buffer, offset + SOURCE_FIELD_OFFSET, address);
        return this;
    }

    public int destinationAddress() {
        return Bytes.i32(buffer, offset + DESTINATION_FIELD_OFFSET);
    }

    public Ipv4View destinationAddress(int address) {
        Bytes.i32(buffer, offset + DESTINATION_FIELD_OFFSET, address);
        return this;
    }

    /** Computes and stores the header checksum. */
    public Ipv4View updateChecksum() {
        Bytes.u16(buffer, offset + CHECKSUM_FIELD_OFFSET, 0);
        int sum = Bytes.onesComplementSum(buffer, offset, headerLength(), 0);
        Bytes.u16(buffer, offset + CHECKSUM_FIELD_OFFSET, ~sum & 0xFFFF);
        return this;
    }

    public boolean isChecksumValid() {
        return Bytes.onesComplementSum(buffer, offset, headerLength(), 0) == 0xFFFF;
    }
}
