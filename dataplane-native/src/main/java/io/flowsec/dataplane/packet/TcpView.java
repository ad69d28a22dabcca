package io.flowsec.dataplane.packet;

/**
 * Flyweight over a TCP header (RFC 9293 §3.1); the data plane reads ports and flags for flow IDs and selectors.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Sequence Number                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Acknowledgment Number                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Checksum            |         Urgent Pointer        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 */
public final class TcpView {
    public static final int MIN_HEADER_LENGTH = 20;
    public static final int SOURCE_PORT_FIELD_OFFSET = 0;
    public static final int DESTINATION_PORT_FIELD_OFFSET = 2;
    public static final int SEQUENCE_FIELD_OFFSET = 4;
    public static final int ACKNOWLEDGMENT_FIELD_OFFSET = 8;
    public static final int DATA_OFFSET_FIELD_OFFSET = 12;
    public static final int FLAGS_FIELD_OFFSET = 13;
    public static final int CHECKSUM_FIELD_OFFSET = 16;
    public static final int FLAG_FIN = 0x01;
    public static final int FLAG_SYN = 0x02;
    public static final int FLAG_RST = 0x04;
    public static final int FLAG_ACK = 0x10;

    private byte[] buffer;
    private int offset;

    public TcpView wrap(byte[] buffer, int offset) {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    public int sourcePort() {
        return Bytes.u16(buffer, offset + SOURCE_PORT_FIELD_OFFSET);
    }

    public int destinationPort() {
        return Bytes.u16(buffer, offset + DESTINATION_PORT_FIELD_OFFSET);
    }

    public long sequenceNumber() {
        return Bytes.u32(buffer, offset + SEQUENCE_FIELD_OFFSET);
    }

    public long acknowledgmentNumber() {
        return Bytes.u32(buffer, offset + ACKNOWLEDGMENT_FIELD_OFFSET);
    }

    public int headerLength() {
        return ((buffer[offset + DATA_OFFSET_FIELD_OFFSET] >> 4) & 0xF) * 4;
    }

    public int flags() {
        return Bytes.u8(buffer, offset + FLAGS_FIELD_OFFSET);
    }

    public int checksum() {
        return Bytes.u16(buffer, offset + CHECKSUM_FIELD_OFFSET);
    }
}
