package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Usage (b): SAs move from the busiest lane, chosen by their rates so the gap narrows and the hot spot does not just move. */
class ReceiverBalancerTest {
    /** Two receiver lanes of capacity 100,000 packets/s; {@code rates[i]} packets/s on SA 0x1000 + i, on {@code lanes[i]}. */
    private static Optional<TunnelAssignment> decide(BalancerSettings settings, int senderLanes, int[] owners, int[] lanes,
                                                     double[] rates) {
        List<SaPlacement> sas = new ArrayList<>();
        Map<Integer, Double> rateBySpi = new LinkedHashMap<>();
        double[] busy = new double[2];
        for (int i = 0; i < rates.length; i++) {
            sas.add(new SaPlacement(0x1000 + i, owners[i], lanes[i], 16));
            rateBySpi.put(0x1000 + i, rates[i]);
            busy[lanes[i]] += rates[i] / Reports.CAPACITY;
        }
        TunnelAssignment current = new TunnelAssignment("hq-branch", 1, "router-a", senderLanes, 2, sas);
        Balancer balancer = new ReceiverBalancer(settings, "router-b");
        for (long t = 100; t <= 300; t += 100) {
            List<LaneLoad> loads = List.of(new LaneLoad(0, busy[0], busy[0] * Reports.CAPACITY, 0),
                    new LaneLoad(1, busy[1], busy[1] * Reports.CAPACITY, 0));
            LoadReport report = new LoadReport("router-b", "hq-branch", 1, t, loads, rateBySpi);
            Optional<TunnelAssignment> next = balancer.onReport(current, report, Map.of(), t);
            if (t < 300) {
                assertTrue(next.isEmpty());
            } else {
                assertEquals(next.isPresent(), balancer.active(), "a balancer with nothing to move rests");
                return next;
            }
        }
        throw new AssertionError();
    }

    @Test
    void shouldNotMoveAnSaHeavierThanTheGapItWouldFix() {
        // one elephant SA makes lane 0 busy at 0.8; moving it would make lane 1 busy at 1.0: the hot spot would just move
        Optional<TunnelAssignment> next = decide(BalancerSettings.DEFAULTS, 1, new int[]{0, 0}, new int[]{0, 1},
                new double[]{80_000, 20_000});
        assertTrue(next.isEmpty());
    }

    @Test
    void shouldMoveTheSaThatLeavesThePairMostEven() {
        // lane 0 at 0.8 (0.10 + 0.25 + 0.45), lane 1 at 0.2: 0.25 leaves 0.55 / 0.45, 0.45 leaves 0.35 / 0.65, 0.10 leaves 0.7 / 0.3
        Optional<TunnelAssignment> next = decide(BalancerSettings.DEFAULTS.withMaxMovesPerChange(1), 1,
                new int[]{0, 0, 0, 0}, new int[]{0, 0, 0, 1}, new double[]{10_000, 25_000, 45_000, 20_000});
        assertEquals(Map.of(0x1000, 0, 0x1001, 1, 0x1002, 0, 0x1003, 1), next.orElseThrow().inboundLanes());
        assertEquals(2, next.get().version());
        assertEquals("router-b", next.get().author());
        assertEquals(next.get().weights(), Map.of(0x1000, 16, 0x1001, 16, 0x1002, 16, 0x1003, 16));
    }

    @Test
    void shouldMoveAFewSasInOneChangeWhileEachNarrowsTheGap() {
        // lane 0 at 0.9 in six SAs of 0.15; lane 1 idle: two moves (the limit) leave 0.6 / 0.3
        Optional<TunnelAssignment> next = decide(BalancerSettings.DEFAULTS, 1, new int[]{0, 0, 0, 0, 0, 0, 0},
                new int[]{0, 0, 0, 0, 0, 0, 1}, new double[]{15_000, 15_000, 15_000, 15_000, 15_000, 15_000, 1_000});
        long onLaneOne = next.orElseThrow().sas().stream().filter(sa -> sa.receiverLane() == 1).count();
        assertEquals(3, onLaneOne);
    }

    @Test
    void shouldPreferAnSaWhoseSenderLaneStillReachesTheBusyLane() {
        // 0x1000 is sender lane 1's only SA on lane 0; 0x1001 leaves 0x1002 of sender lane 0 there: move 0x1001
        Optional<TunnelAssignment> next = decide(BalancerSettings.DEFAULTS.withMaxMovesPerChange(1), 2,
                new int[]{1, 0, 0, 1}, new int[]{0, 0, 0, 1}, new double[]{25_000, 25_000, 25_000, 10_000});
        assertEquals(1, next.orElseThrow().receiverLaneOf(0x1001));
        assertEquals(0, next.get().receiverLaneOf(0x1000));
    }

    @Test
    void shouldMoveAnSaOffALaneWhoseSocketTheKernelDropsAtThoughItsBusyLooksModerate() {
        TunnelAssignment current = Reports.twoOnEachLane();
        assertTrue(Reports.firstChange(new ReceiverBalancer(BalancerSettings.DEFAULTS, "router-b"), current,
                t -> Reports.cappedLaneOne(current, t, 0, 0)).isEmpty(), "busy 0.4 and 0.5: nothing to do");

        // 5,000 drops/s at lane 1's cost (0.5 / 10,000 packets/s) is another 0.25 it was asked to carry: 0.75 against 0.4
        Optional<TunnelAssignment> next = Reports.firstChange(new ReceiverBalancer(BalancerSettings.DEFAULTS, "router-b"),
                current, t -> Reports.cappedLaneOne(current, t, 0.1, 5_000));
        List<Integer> moved = next.orElseThrow().sas().stream()
                .filter(sa -> sa.receiverLane() != current.receiverLaneOf(sa.spi())).map(SaPlacement::spi).toList();
        assertEquals(1, moved.size(), "one of lane 1's SAs: 0.5 / 0.45 after; a second would overshoot");
        assertTrue(moved.getFirst() == 0x1002 || moved.getFirst() == 0x1003, moved.toString());
        assertEquals(0, next.get().receiverLaneOf(moved.getFirst()));
    }

    /**
     * A lane whose arrivals wait (its CPU capped or shared: measured by the data plane's marker probes) is loaded in
     * proportion to the wait, whatever its busy fraction says: 10 ms is 0.2, under its busy; 45 ms is 0.9 against 0.4.
     */
    @Test
    void shouldMoveAnSaOffALaneWhoseArrivalsWaitThoughItsBusyLooksModerate() {
        TunnelAssignment current = Reports.twoOnEachLane();
        assertTrue(Reports.firstChange(new ReceiverBalancer(BalancerSettings.DEFAULTS, "router-b"), current,
                t -> Reports.delayedLaneOne(current, t, 10)).isEmpty(), "a short wait: busy decides, nothing to do");

        Optional<TunnelAssignment> next = Reports.firstChange(new ReceiverBalancer(BalancerSettings.DEFAULTS, "router-b"),
                current, t -> Reports.delayedLaneOne(current, t, 45));
        long leftOnLaneOne = next.orElseThrow().sas().stream().filter(sa -> sa.receiverLane() == 1).count();
        assertTrue(leftOnLaneOne < 2, "arrivals waiting 45 ms: SAs leave lane 1");
    }

    /**
     * A lane just relieved of its load looks idle; if the balancer then moved load back to it, it would flap. Lanes
     * that all keep up need nothing: no change while no lane is hot (at least 0.7), however wide the spread.
     */
    @Test
    void shouldLeaveLanesAloneWhileNoneIsHotHoweverWideTheSpread() {
        TunnelAssignment current = Reports.twoOnEachLane();
        assertTrue(Reports.firstChange(new ReceiverBalancer(BalancerSettings.DEFAULTS, "router-b"), current,
                t -> Reports.of(current, current.version(), t, 0.65, 0.05)).isEmpty(), "0.65 against 0.05: nothing hot");
        assertTrue(Reports.firstChange(new ReceiverBalancer(BalancerSettings.DEFAULTS, "router-b"), current,
                t -> Reports.of(current, current.version(), t, 0.75, 0.05)).isPresent(), "0.75: hot, and SAs move");
    }

    @Test
    void shouldCountALaneWhoseSocketsAreMoreThanHalfFullAsFullyLoaded() {
        TunnelAssignment current = Reports.twoOnEachLane();
        assertTrue(Reports.firstChange(new ReceiverBalancer(BalancerSettings.DEFAULTS, "router-b"), current,
                t -> Reports.cappedLaneOne(current, t, 0.45, 0)).isEmpty(), "under half full: busy decides");

        Optional<TunnelAssignment> next = Reports.firstChange(new ReceiverBalancer(BalancerSettings.DEFAULTS, "router-b"),
                current, t -> Reports.cappedLaneOne(current, t, 0.6, 0));
        long leftOnLaneOne = next.orElseThrow().sas().stream().filter(sa -> sa.receiverLane() == 1).count();
        assertTrue(leftOnLaneOne < 2, "falling behind: loaded at 1, not 0.5, so SAs leave it");
    }
}
