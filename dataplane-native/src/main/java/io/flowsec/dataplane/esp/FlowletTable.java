package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SecurityAssociation;

import java.util.Arrays;

/**
 * One lane's table of one SA group (bucket → one of the lane's own SAs) that moves a bucket to another SA only at a
 * flowlet boundary: once the bucket has had no packet for the flowlet gap. Two SAs may reach two cores of the
 * receiver, so a burst split between them could arrive reordered; a burst kept on one SA cannot. Lane-owned: built
 * and changed on the lane's thread only; nothing is allocated, locked or thrown per packet.
 * <ol>
 *   <li>a publication ({@link #publish}) brings the group's new lane table: a bucket whose slot changes moves now if
 *       it has been idle for the gap (or with {@link Moves#AT_ONCE}), else it is pending; either way each bucket's SA
 *       is the new table's object for its slot, so a rekey's successor takes effect at once and an old SA is never
 *       used again;</li>
 *   <li>per batch, before its packets ({@link #sweep}): the pending buckets idle for the gap move. A bucket thus
 *       moves just before the first packet that finds it idle, and one whose flow ended moves without a packet, so
 *       the pending count drains;</li>
 *   <li>per packet ({@link #select}): the bucket is stamped with the batch's time and its SA returned: one array
 *       load and one store, pending moves or not.</li>
 * </ol>
 * Times come from one clock read per batch (its start, just before its packets are read), so the gap is measured
 * between the batches that read a bucket's packets; within a batch every packet has the batch's time, so no bucket
 * can become idle during a batch and none needs a check per packet.
 */
public final class FlowletTable {
    /** How a publication treats buckets whose slot changes. */
    public enum Moves {
        /** Every bucket takes its new slot now and nothing stays pending: setup, policy replacement. */
        AT_ONCE,
        /** A bucket whose slot changes waits for a flowlet boundary: a reweighting; a rekey too, which changes no slot. */
        AT_FLOWLET_BOUNDARIES
    }

    private static final int BUCKETS = SaGroup.INDIRECTION_TABLE_SIZE;
    private static final byte NONE = -1;
    /** The time of a bucket that never had a packet: idle for any gap. */
    private static final long NEVER = Long.MIN_VALUE;

    private final LaneCounters counters;
    /** bucket → SA, what packets take: {@code members[currentSlots[bucket]]}, kept so a packet loads it once. */
    private final SecurityAssociation[] current = new SecurityAssociation[BUCKETS];
    private final byte[] currentSlots = new byte[BUCKETS];
    /** bucket → the slot it moves to at its next flowlet boundary, or NONE. */
    private final byte[] pendingSlots = new byte[BUCKETS];
    /** bucket → the time of the batch of its last packet, or NEVER. */
    private final long[] lastPacketNs = new long[BUCKETS];
    private SecurityAssociation[] members;
    private int pending;
    /** No pending bucket can have been idle for the gap before this time, so {@link #sweep} waits for it. */
    private long sweepAtNs;

    /** A table whose buckets all take {@code table}'s slots now; the lane's moves are counted in {@code counters}. */
    public FlowletTable(SaGroup.LaneTable table, LaneCounters counters) {
        this.counters = counters;
        Arrays.fill(pendingSlots, NONE);
        Arrays.fill(lastPacketNs, NEVER);
        publish(table, Moves.AT_ONCE, 0, 0);
    }

    /**
     * Takes the group's new lane table; returns how many buckets are pending now. A pending bucket whose new slot is
     * its current one stops waiting; one whose slot changed again waits for the newer slot. Lane thread, between
     * batches. The caller sets the lane's pending gauge from what every table returns.
     */
    public int publish(SaGroup.LaneTable table, Moves moves, long nowNs, long gapNs) {
        SecurityAssociation[] newMembers = table.members();
        byte[] slots = table.slots();
        // slots index the members: a table of another size (not reached: a group keeps its size) starts afresh
        boolean atOnce = moves == Moves.AT_ONCE || members == null || newMembers.length != members.length;
        members = newMembers;
        pending = 0;
        for (int bucket = 0; bucket < BUCKETS; bucket++) {
            byte target = slots[bucket];
            if (atOnce) {
                currentSlots[bucket] = target;
                pendingSlots[bucket] = NONE;
            } else if (target == currentSlots[bucket]) {
                pendingSlots[bucket] = NONE;
            } else {
                pendingSlots[bucket] = target;
                pending++;
            }
            current[bucket] = newMembers[currentSlots[bucket]];
        }
        moveIdle(nowNs, gapNs);
        return pending;
    }

    /** The SA of {@code flowId}'s bucket for a packet of the batch of time {@code nowNs} ({@link #sweep} first). Per packet. */
    public SecurityAssociation select(int flowId, long nowNs) {
        int bucket = flowId & (BUCKETS - 1);
        lastPacketNs[bucket] = nowNs;
        return current[bucket];
    }

    /**
     * Once per batch, before its packets: the pending buckets idle for {@code gapNs} move now. Scans the table only
     * once the first pending bucket can have become idle (at most once per batch while moves wait, never otherwise).
     */
    public void sweep(long nowNs, long gapNs) {
        if (pending != 0 && nowNs - sweepAtNs >= 0) {
            int moved = moveIdle(nowNs, gapNs);
            if (moved > 0) {
                counters.flowletPending(counters.flowletPending() - moved);
            }
        }
    }

    /** After the gap changed (a shorter one may have passed already): the idle pending buckets move; returns how many wait. */
    public int regap(long nowNs, long gapNs) {
        moveIdle(nowNs, gapNs);
        return pending;
    }

    /** Buckets whose move waits for a flowlet boundary. */
    public int pending() {
        return pending;
    }

    /** The SA packets of {@code bucket} take now (tests, diagnostics). */
    public SecurityAssociation current(int bucket) {
        return current[bucket];
    }

    /** The SA {@code bucket} moves to at its next flowlet boundary, or null when it is not pending. */
    public SecurityAssociation pendingSa(int bucket) {
        byte slot = pendingSlots[bucket];
        return slot == NONE ? null : members[slot];
    }

    /** Moves the pending buckets idle for the gap; notes when the next one can be; returns how many moved. */
    private int moveIdle(long nowNs, long gapNs) {
        if (pending == 0) {
            return 0;
        }
        int moved = 0;
        long soonestNs = gapNs;   // a bucket still busy becomes idle within one gap
        for (int bucket = 0; bucket < BUCKETS; bucket++) {
            if (pendingSlots[bucket] == NONE) {
                continue;
            }
            if (isIdle(bucket, nowNs, gapNs)) {
                move(bucket);
                moved++;
            } else {
                soonestNs = Math.min(soonestNs, lastPacketNs[bucket] + gapNs - nowNs);
            }
        }
        sweepAtNs = nowNs + soonestNs;
        return moved;
    }

    private boolean isIdle(int bucket, long nowNs, long gapNs) {
        long lastNs = lastPacketNs[bucket];
        return gapNs == 0 || lastNs == NEVER || nowNs - lastNs >= gapNs;
    }

    private void move(int bucket) {
        byte slot = pendingSlots[bucket];
        currentSlots[bucket] = slot;
        current[bucket] = members[slot];
        pendingSlots[bucket] = NONE;
        pending--;
        counters.add(IoCounter.FLOWLET_MOVES, 1);
    }
}
