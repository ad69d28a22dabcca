package io.flowsec.dataplane.packet;

/**
 * Flyweight over a UDP header (RFC 768).
 *
 * <pre>
 *  0      7 8     15 16    23 24    31
 * +--------+--------+--------+--------+
 * |     Source      |   Destination   |
 * |      Port       |      Port       |
 * +--------+--------+--------+--------+
 * |     Length      |    Checksum     |
 * +--------+--------+--------+--------+
 * </pre>
 */
public final class UdpView {
    public static final int HEADER_LENGTH = 8;
    public static final int SOURCE_PORT_FIELD_OFFSET = 0;
    public static final int DESTINATION_PORT_FIELD_OFFSET = 2;
    public static final int LENGTH_FIELD_OFFSET = 4;
    public static final int CHECKSUM_FIELD_OFFSET = 6;

    private byte[] buffer;
    private int offset;

    public UdpView wrap(byte[] buffer, int offset) {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    public int sourcePort() {
        return Bytes.u16(buffer, offset + SOURCE_PORT_FIELD_OFFSET);
    }

    public UdpView sourcePort(int port) {
        Bytes.u16(buffer, offset + SOURCE_PORT_FIELD_OFFSET, port);
        return this;
    }

    public int destinationPort() {
        return Bytes.u16(buffer, offset + DESTINATION_PORT_FIELD_OFFSET);
    }

    public UdpView destinationPort(int port) {
        Bytes.u16(buffer, offset + DESTINATION_PORT_FIELD_OFFSET, port);
        return this;
    }

    public int length() {
        return Bytes.u16(buffer, offset + LENGTH_FIELD_OFFSET);
    }

    public UdpView length(int length) {
        Bytes.u16(buffer, offset + LENGTH_FIELD_OFFSET, length);
        return this;
    }

    public int checksum() {
        return Bytes.u16(buffer, offset + CHECKSUM_FIELD_OFFSET);
    }

    public UdpView checksum(int checksum) {
        Bytes.u16(buffer, offset + CHECKSUM_FIELD_OFFSET, checksum);
        return this;
    }

    /**
     * Computes the UDP checksum over an IPv6 pseudo-header (RFC 8200 §8.1): mandatory for UDP over IPv6.
     * The IPv6 header must start at {@code ipv6Offset} and the UDP length field must be set.
     */
    public UdpView updateChecksumIpv6(int ipv6Offset) {
        checksum(0);
        int length = length();
        long pseudo = Bytes.onesComplementSum(buffer, ipv6Offset + Ipv6View.SOURCE_FIELD_OFFSET, 32, 0);
        pseudo += length + IpProtocol.UDP;
        int sum = Bytes.onesComplementSum(buffer, offset, length, pseudo);
        int value = ~sum & 0xFFFF;
        checksum(value == 0 ? 0xFFFF : value);
        return this;
    }

    /** Computes the UDP checksum over an IPv4 pseudo-header (RFC 768). */
    public UdpView updateChecksumIpv4(int ipv4Offset) {
        checksum(0);
        int length = length();
        long pseudo = Bytes.onesComplementSum(buffer, ipv4Offset + Ipv4View.SOURCE_FIELD_OFFSET, 8, 0);
        pseudo += length + IpProtocol.UDP;
        int sum = Bytes.onesComplementSum(buffer, offset, length, pseudo);
        int value = ~sum & 0xFFFF;
        checksum(value == 0 ? 0xFFFF : value);
        return this;
    }
}
