package io.flowsec.dataplane.packet;

/**
 * Flyweight over an IPv6 fixed header (RFC 8200 §3), re-wrapped per packet.
 *
 * <pre>
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version| Traffic Class |           Flow Label                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                         Source Address (128 bits)             +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                      Destination Address (128 bits)           +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 * Addresses are read as two big-endian longs (high, low) so selectors compare without allocation.
 */
public final class Ipv6View {
    public static final int HEADER_LENGTH = 40;
    public static final int PAYLOAD_LENGTH_FIELD_OFFSET = 4;
    public static final int NEXT_HEADER_FIELD_OFFSET = 6;
    public static final int HOP_LIMIT_FIELD_OFFSET = 7;
    public static final int SOURCE_FIELD_OFFSET = 8;
    public static final int DESTINATION_FIELD_OFFSET = 24;
    /** Extension headers skipped when looking for the transport header (bounded so a crafted chain costs little). */
    public static final int MAX_EXTENSION_HEADERS = 8;

    private byte[] buffer;
    private int offset;

    public Ipv6View wrap(byte[] buffer, int offset) {
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

    /** True when version is 6 and the payload length fits inside {@code available} bytes. */
    public boolean isValid(int available) {
        return available >= HEADER_LENGTH && version() == 6 && HEADER_LENGTH + payloadLength() <= available;
    }

    public int version() {
        return (buffer[offset] >> 4) & 0xF;
    }

    public int trafficClass() {
        return (Bytes.u16(buffer, offset) >> 4) & 0xFF;
    }

    public int flowLabel() {
        return Bytes.i32(buffer, offset) & 0xFFFFF;
    }

    /** Writes version 6, the traffic class and the flow label in one go. */
    public Ipv6View versionClassAndLabel(int trafficClass, int flowLabel) {
        Bytes.i32(buffer, offset, (6 << 28) | ((trafficClass & 0xFF) << 20) | (flowLabel & 0xFFFFF));
        return this;
    }

    public int payloadLength() {
        return Bytes.u16(buffer, offset + PAYLOAD_LENGTH_FIELD_OFFSET);
    }

    public Ipv6View payloadLength(int length) {
        Bytes.u16(buffer, offset + PAYLOAD_LENGTH_FIELD_OFFSET, length);
        return this;
    }

    public int totalLength() {
        return HEADER_LENGTH + payloadLength();
    }

    public int nextHeader() {
        return Bytes.u8(buffer, offset + NEXT_HEADER_FIELD_OFFSET);
    }

    public Ipv6View nextHeader(int nextHeader) {
        Bytes.u8(buffer, offset + NEXT_HEADER_FIELD_OFFSET, nextHeader);
        return this;
    }

    public int hopLimit() {
        return Bytes.u8(buffer, offset + HOP_LIMIT_FIELD_OFFSET);
    }

    public Ipv6View hopLimit(int hopLimit) {
        Bytes.u8(buffer, offset + HOP_LIMIT_FIELD_OFFSET, hopLimit);
        return this;
    }

    public long sourceHigh() {
        return Bytes.i64(buffer, offset + SOURCE_FIELD_OFFSET);
    }

    public long sourceLow() {
        return Bytes.i64(buffer, offset + SOURCE_FIELD_OFFSET + 8);
    }

    public long destinationHigh() {
        return Bytes.i64(buffer, offset + DESTINATION_FIELD_OFFSET);
    }

    public long destinationLow() {
        return Bytes.i64(buffer, offset + DESTINATION_FIELD_OFFSET + 8);
    }

    public Ipv6View sourceAddress(long high, long low) {
        Bytes.i64(buffer, offset + SOURCE_FIELD_OFFSET, high);
        Bytes.i64(buffer, offset + SOURCE_FIELD_OFFSET + 8, low);
        return this;
    }

    public Ipv6View destinationAddress(long high, long low) {
        Bytes.i64(buffer, offset + DESTINATION_FIELD_OFFSET, high);
        Bytes.i64(buffer, offset + DESTINATION_FIELD_OFFSET + 8, low);
        return this;
    }

    /** {@link #upperLayer} result: the chain is malformed or too long. */
    public static final long MALFORMED_CHAIN = -1;
    /** {@link #upperLayer} result: a fragment header is present (outer packets are not reassembled here). */
    public static final long FRAGMENT = -2;

    /**
     * Walks hop-by-hop, routing and destination-options headers to the upper-layer header.
     * Returns {@code (protocol << 32) | offsetFromPacketStart}, {@link #FRAGMENT} when a fragment header is met
     * (so every fragment of a packet is treated alike), or {@link #MALFORMED_CHAIN}.
     */
    public long upperLayer(int available) {
        int next = nextHeader();
        int position = HEADER_LENGTH;
        for (int i = 0; i <= MAX_EXTENSION_HEADERS; i++) {   // MAX headers skipped, then the upper layer
            switch (next) {
                case IpProtocol.HOP_BY_HOP, IpProtocol.IPV6_ROUTING, IpProtocol.IPV6_DESTINATION_OPTIONS -> {
                    if (position + 8 > available || i == MAX_EXTENSION_HEADERS) {
                        return MALFORMED_CHAIN;
                    }
                    int length = (Bytes.u8(buffer, offset + position + 1) + 1) * 8;
                    next = Bytes.u8(buffer, offset + position);
                    position += length;
                }
                case IpProtocol.IPV6_FRAGMENT -> {
                    return position + 8 > available ? MALFORMED_CHAIN : FRAGMENT;
                }
                default -> {
                    return position > available ? MALFORMED_CHAIN : ((long) next << 32) | position;
                }
            }
        }
        return MALFORMED_CHAIN;
    }
}
