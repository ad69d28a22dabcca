package io.flowsec.dataplane.packet;

/**
 * A lane's reusable packet slot: a heap buffer with headroom and tailroom, so ESP can be added or removed in place,
 * and the window {@code [offset, offset + length)} that currently holds the packet. The processor records in it
 * which SA handled the packet, with which sequence number and flow ID. Owned by one lane; not thread-safe.
 */
public final class Packet {
    /** Room before the inner packet: outer IPv6 (40) + UDP (8) + ESP header (8) + IV (16) = 72, rounded up. */
    public static final int DEFAULT_HEADROOM = 128;
    /** Room after it: padding (at most 15) + pad length and next header (2) + ICV (16) = 33, rounded up. */
    public static final int DEFAULT_TAILROOM = 64;
    /** Largest IP packet. */
    public static final int MAX_IP_PACKET = 65535;

    private final byte[] buffer;
    private int offset;
    private int length;
    private int saIndex;
    private long sequenceNumber;
    private int flowId;
    private int espOffset;
    private int espLength;

    public Packet(int capacity) {
        this.buffer = new byte[capacity];
        this.offset = DEFAULT_HEADROOM;
    }

    /** A slot that holds an IP packet of up to {@code maxPacketLength} bytes plus the room ESP needs. */
    public static Packet withRoomFor(int maxPacketLength) {
        return new Packet(DEFAULT_HEADROOM + maxPacketLength + DEFAULT_TAILROOM);
    }

    public byte[] buffer() {
        return buffer;
    }

    public int offset() {
        return offset;
    }

    public int length() {
        return length;
    }

    public Packet set(int offset, int length) {
        this.offset = offset;
        this.length = length;
        return this;
    }

    /** Copies {@code length} bytes in at the default headroom; returns false when they do not fit. */
    public boolean load(byte[] source, int sourceOffset, int length) {
        if (length < 0 || DEFAULT_HEADROOM + length + DEFAULT_TAILROOM > buffer.length) {
            return false;
        }
        System.arraycopy(source, sourceOffset, buffer, DEFAULT_HEADROOM, length);
        set(DEFAULT_HEADROOM, length);
        saIndex = 0;
        sequenceNumber = 0;
        flowId = 0;
        return true;
    }

    /** A copy of the packet's bytes (control plane and tests only: allocates). */
    public byte[] toByteArray() {
        return java.util.Arrays.copyOfRange(buffer, offset, offset + length);
    }

    /** SAD index of the SA that processed the packet; 0 when none did. */
    public int saIndex() {
        return saIndex;
    }

    public long sequenceNumber() {
        return sequenceNumber;
    }

    public int flowId() {
        return flowId;
    }

    /** Where the ESP packet lies in the buffer, between the inbound phases. */
    public void recordEsp(int espOffset, int espLength) {
        this.espOffset = espOffset;
        this.espLength = espLength;
    }

    public int espOffset() {
        return espOffset;
    }

    public int espLength() {
        return espLength;
    }

    public void recordSa(int saIndex, long sequenceNumber, int flowId) {
        this.saIndex = saIndex;
        this.sequenceNumber = sequenceNumber;
        this.flowId = flowId;
    }
}
