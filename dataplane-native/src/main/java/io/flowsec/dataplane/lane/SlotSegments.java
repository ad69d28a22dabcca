package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;

/**
 * Segments of one slot's heap buffer starting at each offset a processed packet can start at (inside the headroom
 * and a little beyond), made the first time an offset is used: handing a packet to a system call then allocates
 * nothing. Owned by the lane that owns the slot.
 */
final class SlotSegments {
    static final int OFFSETS = Packet.DEFAULT_HEADROOM + 64;

    private final byte[] buffer;
    private final MemorySegment[] byOffset = new MemorySegment[OFFSETS];

    SlotSegments(Packet slot) {
        this.buffer = slot.buffer();
    }

    MemorySegment at(int offset) {
        if (offset >= OFFSETS) {
            return MemorySegment.ofArray(buffer).asSlice(offset); // not reached by ESP's layouts
        }
        MemorySegment segment = byOffset[offset];
        if (segment == null) {
            segment = MemorySegment.ofArray(buffer).asSlice(offset);
            byOffset[offset] = segment;
        }
        return segment;
    }
}
