package io.flowsec.dataplane.packet;

import java.lang.foreign.MemorySegment;

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

    /** Segments of the buffer starting at each offset a packet can start at: handed to system calls, made once. */
    private static final int SEGMENT_OFFSETS = DEFAULT_HEADROOM + 64;

    private final byte[] buffer;
    private final MemorySegment[] segmentsByOffset = new MemorySegment[SEGMENT_OFFSETS];
    private MemorySegment receiveTarget;
    private int offset;
    private int length;
    private int saIndex;
    private long sequenceNumber;
    private int flowId;
    /** Outer IPv4 TOS / IPv6 Traffic Class: to send with (outbound), as received (inbound); -1 when unknown. */
    private int outerTrafficClass = -1;
    private int espOffset;
    private int payloadOffset;
    private int ciphertextLength;

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

    /**
     * The packet's bytes as a memory segment starting at its offset, for a system call. Made the first time an
     * offset is used (ESP's layouts use a handful, all inside the headroom), so handing a packet to the kernel
     * allocates nothing.
     */
    public MemorySegment segment() {
        if (offset >= SEGMENT_OFFSETS) {
            return MemorySegment.ofArray(buffer).asSlice(offset);   // not reached by ESP's layouts
        }
        MemorySegment segment = segmentsByOffset[offset];
        if (segment == null) {
            segment = MemorySegment.ofArray(buffer).asSlice(offset);
            segmentsByOffset[offset] = segment;
        }
        return segment;
    }

    /**
     * Where a read lands: the buffer from the default headroom up to the default tailroom, so ESP can then be added
     * or removed in place. Made once per slot.
     */
    public MemorySegment receiveTarget() {
        MemorySegment target = receiveTarget;
        if (target == null) {
            target = MemorySegment.ofArray(buffer).asSlice(DEFAULT_HEADROOM, buffer.length - DEFAULT_HEADROOM - DEFAULT_TAILROOM);
            receiveTarget = target;
        }
        return target;
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
        outerTrafficClass = -1;
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

    /** Where the ESP packet, its encrypted payload and their lengths lie, found once and kept between the inbound steps. */
    public void recordEsp(int espOffset, int payloadOffset, int ciphertextLength) {
        this.espOffset = espOffset;
        this.payloadOffset = payloadOffset;
        this.ciphertextLength = ciphertextLength;
    }

    public int espOffset() {
        return espOffset;
    }

    /** First byte after the IV. */
    public int payloadOffset() {
        return payloadOffset;
    }

    /** Encrypted payload: inner packet, padding and trailer, without IV and ICV. */
    public int ciphertextLength() {
        return ciphertextLength;
    }

    public int outerTrafficClass() {
        return outerTrafficClass;
    }

    /** Outbound: the DSCP and ECN the outer header carries; inbound: what it arrived with (-1: unknown). */
    public void outerTrafficClass(int trafficClass) {
        this.outerTrafficClass = trafficClass;
    }

    public void recordSa(int saIndex, long sequenceNumber, int flowId) {
        this.saIndex = saIndex;
        this.sequenceNumber = sequenceNumber;
        this.flowId = flowId;
    }
}
