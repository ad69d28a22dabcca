package io.flowsec.dataplane.packet;

/**
 * Flyweight over an ESP packet (RFC 4303 §2): header, IV, encrypted payload, trailer, ICV.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ----
 * |               Security Parameters Index (SPI)                 | ^Int.
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |Cov-
 * |                      Sequence Number                          | |ered
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ | ----
 * |                    IV (8 or 16 octets, per suite)             | |   ^
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |   |
 * ~                Payload Data (the inner IP packet)             ~ |Conf.
 * +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |Cov-
 * |               |     Padding (0-255 bytes)                     | |ered
 * +-+-+-+-+-+-+-+-+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |   |
 * |                               |  Pad Length   | Next Header   | v   v
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ------
 * |         Integrity Check Value-ICV   (variable)                |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 */
public final class EspView {
    public static final int HEADER_LENGTH = 8;
    public static final int SPI_FIELD_OFFSET = 0;
    public static final int SEQUENCE_FIELD_OFFSET = 4;
    public static final int TRAILER_LENGTH = 2;

    private byte[] buffer;
    private int offset;

    public EspView wrap(byte[] buffer, int offset) {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    public int spi() {
        return Bytes.i32(buffer, offset + SPI_FIELD_OFFSET);
    }

    public EspView spi(int spi) {
        Bytes.i32(buffer, offset + SPI_FIELD_OFFSET, spi);
        return this;
    }

    /** The low 32 bits of the sequence number: all that travels, also with ESN. */
    public long sequenceNumber() {
        return Bytes.u32(buffer, offset + SEQUENCE_FIELD_OFFSET);
    }

    public EspView sequenceNumber(long sequenceLow) {
        Bytes.i32(buffer, offset + SEQUENCE_FIELD_OFFSET, (int) sequenceLow);
        return this;
    }

    public int ivOffset() {
        return offset + HEADER_LENGTH;
    }
}
