package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.flow.ToeplitzHash;
import io.flowsec.dataplane.packet.FlowKey;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.testing.TestPackets;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.Map;

import static io.flowsec.dataplane.testing.TestPackets.HOST_A_V4;
import static io.flowsec.dataplane.testing.TestPackets.HOST_B_V4;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A reweighting moves a flow bucket to another of the lane's SAs only at a flowlet boundary. One lane (one engine)
 * owns a group of four SAs and is driven batch by batch with a synthetic clock. The reweighting used, 0-1-1-1 from
 * equal weights, moves the 32 buckets of member 0 (buckets 0, 4, 8, ...) to the other three members.
 */
class FlowletMovesTest {
    private static final long GAP_NS = 500_000;
    /** Any origin: System.nanoTime's is arbitrary. */
    private static final long T0 = 7_000_000_000L;
    /** Closer than the gap: a busy flow. */
    private static final long STEP_NS = 100_000;
    private static final int MOVING_BUCKETS = 32;

    private TestPackets.Tunnel tunnel;
    private SaGroup group;
    private EspProcessor lane;
    private final Map<Integer, byte[]> packetByBucket = new HashMap<>();

    @BeforeEach
    void oneLaneOwningTheWholeGroup() {
        start(TestPackets.tunnel().saCount(4).encoding(FlowEncoding.UDP_PORT));
    }

    private void start(TestPackets.TunnelSpec spec) {
        tunnel = spec.build();
        group = tunnel.a().outboundGroup();
        group.id(0);
        group.assignOwners(1);
        lane = tunnel.a().processor(EspProcessor.Framing.ESP);
        lane.flowletGap(GAP_NS, T0);
        lane.useOutbound(tunnel.a().spd(), tables(), FlowletTable.Moves.AT_ONCE, T0);
    }

    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldKeepABusyBucketOnItsSaWhileItsPacketsComeCloserThanTheGap() {
        SecurityAssociation old = group.member(0);
        long t = T0;
        assertSame(old, send(0, t));
        reweight(t + STEP_NS, 0, 1, 1, 1);
        assertEquals(1, pending(), "only the busy bucket waits");
        assertEquals(MOVING_BUCKETS - 1, moves(), "the idle ones moved at once");
        for (int i = 0; i < 100; i++) {
            t += STEP_NS;
            assertSame(old, send(0, t), "packet " + i + " of the burst");
        }
        assertEquals(1, pending());
        assertSame(target(0), table().pendingSa(0));
    }

    @Test
    void shouldMoveABucketAtItsFirstPacketAfterAnIdleGapOfTheFlowletGap() {
        SecurityAssociation old = group.member(0);
        send(0, T0);
        reweight(T0 + STEP_NS, 0, 1, 1, 1);
        long last = T0 + GAP_NS - 1;
        assertSame(old, send(0, last), "a nanosecond short of the gap: still the burst");
        assertSame(target(0), send(0, last + GAP_NS), "idle for the gap: the new SA");
        assertNotSame(old, target(0));
        assertSame(target(0), send(0, last + GAP_NS + 1), "and it stays there");
        assertEquals(0, pending());
        assertEquals(MOVING_BUCKETS, moves());
    }

    @Test
    void shouldMoveAnIdleBucketAtOnce() {
        send(8, T0);
        reweight(T0 + GAP_NS, 0, 1, 1, 1);
        assertEquals(0, pending(), "bucket 8 had no packet for the gap, the others none ever");
        assertEquals(MOVING_BUCKETS, moves());
        assertSame(target(8), send(8, T0 + GAP_NS));
        assertSame(target(4), send(4, T0 + GAP_NS), "a bucket that never had a packet");
    }

    @Test
    void shouldMoveEachBucketAtItsOwnBoundaryAndOneWhoseFlowEndedWithoutAPacket() {
        SecurityAssociation old = group.member(0);
        long t = T0;
        send(0, t);
        send(4, t);
        reweight(t + STEP_NS, 0, 1, 1, 1);
        assertEquals(2, pending());
        for (int i = 0; i < 10; i++) {   // bucket 4 goes on, bucket 0's flow has ended
            t += STEP_NS;
            assertSame(old, send(4, t));
        }
        assertSame(target(0), table().current(0), "bucket 0 moved before a batch, without a packet of its own");
        assertNull(table().pendingSa(0));
        assertEquals(1, pending());
        assertSame(old, send(4, t + GAP_NS - 1));
        assertSame(target(4), send(4, t + 2 * GAP_NS - 1));
        assertEquals(0, pending());
    }

    @Test
    void shouldDropThePendingStateWhenEveryBucketHasMoved() {
        long t = T0;
        for (int bucket = 0; bucket < SaGroup.INDIRECTION_TABLE_SIZE; bucket += 4) {
            send(bucket, t);
        }
        reweight(t + STEP_NS, 0, 1, 1, 1);
        assertEquals(MOVING_BUCKETS, pending());
        assertEquals(0, moves());
        lane.startBatch(t + GAP_NS);   // a batch of other buckets
        assertEquals(0, pending());
        assertEquals(0, table().pending());
        assertEquals(MOVING_BUCKETS, moves());
        SaGroup.LaneTable wanted = group.laneTable(0);
        for (int bucket = 0; bucket < SaGroup.INDIRECTION_TABLE_SIZE; bucket++) {
            assertSame(wanted.sa(bucket), table().current(bucket), "bucket " + bucket + " as the group says");
            assertNull(table().pendingSa(bucket));
        }
    }

    @Test
    void shouldMoveEveryBucketAtOnceWithAGapOfZero() {
        lane.flowletGap(0, T0);
        send(0, T0);
        reweight(T0 + 1, 0, 1, 1, 1);
        assertEquals(0, pending());
        assertEquals(MOVING_BUCKETS, moves());
        assertSame(target(0), send(0, T0 + 1), "the busy bucket moved too, as before flowlets");
    }

    @Test
    void shouldMoveTheWaitingBucketsWhenTheGapIsSetToZero() {
        send(0, T0);
        reweight(T0 + STEP_NS, 0, 1, 1, 1);
        assertEquals(1, pending());
        lane.flowletGap(0, T0 + 2 * STEP_NS);
        assertEquals(0, pending());
        assertSame(target(0), send(0, T0 + 2 * STEP_NS));
    }

    @Test
    void shouldCarryABusyBucketOnTheSuccessorOfItsSaWhenThatSaIsRekeyedDuringAMove() {
        SecurityAssociation old = group.member(0);
        long t = T0;
        send(0, t);
        reweight(t + STEP_NS, 0, 1, 1, 1);
        SecurityAssociation successor = rekey(old, t + 2 * STEP_NS);
        assertEquals(1, pending(), "the move goes on");
        for (int i = 0; i < 10; i++) {
            t += STEP_NS;
            assertSame(successor, send(0, t), "the burst goes on, on the successor, never on the replaced SA");
        }
        assertSame(target(0), send(0, t + GAP_NS));
        assertEquals(0, pending());
    }

    @Test
    void shouldMoveABucketToTheSuccessorWhenItsTargetIsRekeyedDuringAMove() {
        SecurityAssociation old = group.member(0);
        send(0, T0);
        reweight(T0 + STEP_NS, 0, 1, 1, 1);
        SecurityAssociation replaced = target(0);
        SecurityAssociation successor = rekey(replaced, T0 + 2 * STEP_NS);
        assertSame(successor, table().pendingSa(0));
        assertSame(old, send(0, T0 + 2 * STEP_NS));
        assertSame(successor, send(0, T0 + 2 * STEP_NS + GAP_NS), "the successor, never the replaced SA");
        for (int bucket = 0; bucket < SaGroup.INDIRECTION_TABLE_SIZE; bucket++) {
            assertNotSame(replaced, table().current(bucket), "bucket " + bucket);
        }
    }

    @Test
    void shouldApplyAPolicyReplacementAtOnceAndForgetWhatWaited() {
        send(0, T0);
        reweight(T0 + STEP_NS, 0, 1, 1, 1);
        assertEquals(1, pending());
        lane.useOutbound(tunnel.a().spd(), tables(), FlowletTable.Moves.AT_ONCE, T0 + 2 * STEP_NS);
        assertEquals(0, pending());
        assertEquals(MOVING_BUCKETS - 1, moves(), "not a move at a flowlet boundary");
        assertSame(target(0), send(0, T0 + 2 * STEP_NS), "the busy bucket too");

        for (int bucket = 0; bucket < SaGroup.INDIRECTION_TABLE_SIZE; bucket++) {
            send(bucket, T0 + 3 * STEP_NS);
        }
        reweight(T0 + 4 * STEP_NS, 1, 1, 1, 1);
        assertEquals(MOVING_BUCKETS, pending(), "every bucket busy: member 0's share back waits");
        lane.useOutbound(tunnel.a().spd(), new SaGroup.LaneTable[1], FlowletTable.Moves.AT_ONCE, T0 + 5 * STEP_NS);
        assertEquals(0, pending(), "the group left with its policy");
    }

    @Test
    void shouldStopWaitingWhenAReweightingGivesTheBucketItsSaBack() {
        SecurityAssociation old = group.member(0);
        send(0, T0);
        reweight(T0 + STEP_NS, 0, 1, 1, 1);
        assertEquals(1, pending());
        int away = 0;
        for (int bucket = 0; bucket < SaGroup.INDIRECTION_TABLE_SIZE; bucket++) {
            away += table().current(bucket) == old ? 0 : 1;
        }
        long movesBefore = moves();
        reweight(T0 + 2 * STEP_NS, 1, 0, 0, 0);
        assertEquals(0, pending());
        assertNull(table().pendingSa(0));
        assertEquals(movesBefore + away, moves(), "every idle bucket moved back at once; bucket 0 never left");
        assertSame(old, send(0, T0 + 2 * STEP_NS));
    }

    @Test
    void shouldAllocateNothingPerPacketOrBatchWhileBucketsWaitAndMove() {
        start(TestPackets.tunnel().saCount(4).encoding(FlowEncoding.UDP_PORT).suite(EspSuite.NULL_HMAC_SHA256_128));
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Packet slot = Packet.withRoomFor(2048);
        byte[][] packets = new byte[SaGroup.INDIRECTION_TABLE_SIZE][];
        for (int bucket = 0; bucket < packets.length; bucket++) {
            packets[bucket] = packetIn(bucket);
        }
        long[] clock = {T0};
        int[][] weights = {{0, 1, 1, 1}, {1, 1, 1, 0}};

        for (int round = 0; round < 20; round++) {
            run(round, weights, packets, slot, clock);   // warm-up: the same paths, compiled
        }
        long movesBefore = moves();
        reweight(clock[0], weights[0]);               // outside the measure: a publication is the control plane's
        long before = threads.getCurrentThreadAllocatedBytes();
        long sent = traffic(packets, slot, clock);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;

        assertTrue(moves() > movesBefore, "buckets moved during the measure");
        assertTrue(allocated < 16 * 1024, allocated + " bytes allocated over " + sent + " packets");
    }

    // ---------------------------------------------------------------------------------------------------------------

    private void run(int round, int[][] weights, byte[][] packets, Packet slot, long[] clock) {
        reweight(clock[0], weights[round % 2]);
        traffic(packets, slot, clock);
    }

    /** Batches of 8 packets over every bucket in turn: first busy (each bucket every 320 µs), then with gaps. */
    private long traffic(byte[][] packets, Packet slot, long[] clock) {
        long sent = 0;
        for (int batch = 0; batch < 2000; batch++) {
            clock[0] += batch < 1000 ? 20_000 : 100_000;
            lane.startBatch(clock[0]);
            for (int i = 0; i < 8; i++) {
                byte[] packet = packets[(batch * 8 + i) & (SaGroup.INDIRECTION_TABLE_SIZE - 1)];
                slot.load(packet, 0, packet.length);
                if (lane.encapsulate(slot) != Outcome.ACCEPTED) {
                    throw new AssertionError("not encapsulated");
                }
                sent++;
            }
        }
        return sent;
    }

    private SaGroup.LaneTable[] tables() {
        return new SaGroup.LaneTable[] {group.laneTable(0)};
    }

    private void reweight(long nowNs, int... weights) {
        group.weights(weights);
        lane.useOutbound(tunnel.a().spd(), tables(), FlowletTable.Moves.AT_FLOWLET_BOUNDARIES, nowNs);
    }

    /** The successor of {@code old} takes its slot, published as the data plane does a rekey. */
    private SecurityAssociation rekey(SecurityAssociation old, long nowNs) {
        SecurityAssociation successor = old.successor().name(old.name() + "'").spi(old.spi() + 0x100)
                .encryptionKey(TestPackets.randomBytes(old.suite().encryptionKeyLength())).build();
        tunnel.a().sad().add(successor);
        group.replaceMember(old, successor);
        lane.useOutbound(tunnel.a().spd(), tables(), FlowletTable.Moves.AT_FLOWLET_BOUNDARIES, nowNs);
        return successor;
    }

    /** A batch at {@code batchNs} of one packet in {@code bucket}; the SA it left on. */
    private SecurityAssociation send(int bucket, long batchNs) {
        lane.startBatch(batchNs);
        Packet packet = TestPackets.slot(packetIn(bucket));
        assertEquals(Outcome.ACCEPTED, lane.encapsulate(packet));
        assertEquals(bucket, packet.flowId() & (SaGroup.INDIRECTION_TABLE_SIZE - 1));
        return tunnel.a().sad().byIndex(packet.saIndex());
    }

    /** Where the group's table sends {@code bucket} now. */
    private SecurityAssociation target(int bucket) {
        return group.laneTable(0).sa(bucket);
    }

    private FlowletTable table() {
        return lane.outboundTable(0);
    }

    private int pending() {
        return lane.counters().flowletPending();
    }

    private long moves() {
        return lane.counters().io(IoCounter.FLOWLET_MOVES);
    }

    /** A UDP packet from site A to site B whose flow ID falls in {@code bucket}. */
    private byte[] packetIn(int bucket) {
        return packetByBucket.computeIfAbsent(bucket, wanted -> {
            ToeplitzHash hash = ToeplitzHash.microsoft();
            FlowKey key = new FlowKey();
            for (int port = 1024; port < 65536; port++) {
                byte[] packet = TestPackets.udp(HOST_A_V4, port, HOST_B_V4, 9, 16);
                key.read(packet, 0, packet.length);
                if ((hash.flowId(key) & (SaGroup.INDIRECTION_TABLE_SIZE - 1)) == wanted) {
                    return packet;
                }
            }
            throw new AssertionError("no port puts a flow in bucket " + wanted);
        });
    }
}
