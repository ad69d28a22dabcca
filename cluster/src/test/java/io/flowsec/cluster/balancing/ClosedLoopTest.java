package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Balancer and tunnel in a loop, one report every 100 ms: receiver lane 3 shares its core with a CPU hog (half the
 * capacity), the others are equal; 140,000 packets/s offered, so lanes 0-2 start near 0.35 busy and lane 3 near 0.7,
 * with ±0.03 noise on every busy figure and ±3% on every rate. The balancer must bring the spread under the start
 * threshold in a bounded number of reports, then leave the assignment alone for 200 more. Reports and assignments
 * go through their JSON form on the way, as between two appliances.
 */
class ClosedLoopTest {
    private static final double[] CAPACITY = {100_000, 100_000, 100_000, 50_000};
    private static final double OFFERED = 140_000;
    private static final int SETTLE_REPORTS = 60;
    private static final int HOLD_REPORTS = 200;

    /** The loop's state: the assignment in force, the clock and how many changes the balancer made. */
    private static final class Loop {
        final LoadModel model;
        final Balancer balancer;
        final boolean ownRates;
        TunnelAssignment current;
        long nowMs;
        int changes;

        Loop(BalancingPolicy policy, int senderLanes, boolean ownRates, long seed) {
            this.current = LoadModel.layout(senderLanes, CAPACITY.length, 1);
            double[] offered = new double[senderLanes];
            Arrays.fill(offered, OFFERED / senderLanes);
            this.model = new LoadModel(offered, CAPACITY, current.sas().stream().map(SaPlacement::spi).toList(), seed).noise(0.03);
            this.balancer = Balancer.create(policy, BalancerSettings.DEFAULTS, policy == BalancingPolicy.SENDER ? "router-a" : "router-b");
            this.ownRates = ownRates;
        }

        void run(int reports) {
            for (int i = 0; i < reports; i++) {
                nowMs += LoadReport.DEFAULT_INTERVAL_MS;
                LoadReport report = model.report(current, nowMs);
                Map<Integer, Double> rates = Map.of();
                if (ownRates) {
                    // the sender weighs by what it sends; the receiver's report carries no per-SA rates
                    rates = model.rates(current);
                    report = new LoadReport(report.member(), report.tunnel(), report.assignmentVersion(),
                            report.timestampMs(), report.lanes(), Map.of());
                }
                // both travel between the ends as JSON
                report = LoadReport.decode(report.encode());
                Optional<TunnelAssignment> next = balancer.onReport(current, report, rates, nowMs);
                if (next.isPresent()) {
                    checkOnlyItsOwnHalfChanged(current, next.get());
                    TunnelAssignment received = TunnelAssignment.decode(next.get().encode());
                    assertEquals(next.get(), received);
                    current = received;
                    changes++;
                }
            }
        }

        /** The sender only reweights, keeping each sender lane whole; the receiver only moves SAs. */
        private void checkOnlyItsOwnHalfChanged(TunnelAssignment before, TunnelAssignment after) {
            assertEquals(before.version() + 1, after.version());
            if (balancer.policy() == BalancingPolicy.SENDER) {
                assertEquals(before.inboundLanes(), after.inboundLanes());
                for (int lane = 0; lane < after.senderLanes(); lane++) {
                    assertEquals(after.sasOfSenderLane(lane).size() * BalancerSettings.DEFAULT_EVEN_WEIGHT,
                            after.sasOfSenderLane(lane).stream().mapToInt(SaPlacement::weight).sum());
                }
                after.sas().forEach(sa -> assertTrue(sa.weight() >= BalancerSettings.DEFAULT_FLOOR_WEIGHT, sa.toString()));
            } else {
                assertEquals(before.weights(), after.weights());
            }
        }
    }

    /**
     * Settled: the spread under the stop threshold, or no lane hot any more (under {@link FeedbackBalancer#COOL_LOAD}:
     * lanes that all keep up need nothing), and never the hot lane of the start left hot.
     */
    private static void assertBalancedOrCool(Loop loop) {
        double[] busy = loop.model.busy(loop.current);
        double hottest = java.util.Arrays.stream(busy).max().orElseThrow();
        double spread = loop.model.spread(loop.current);
        assertTrue(spread < BalancerSettings.DEFAULT_STOP_IMBALANCE || hottest < FeedbackBalancer.COOL_LOAD,
                "spread " + spread + ", hottest lane " + hottest + " after " + loop.current);
    }

    @ParameterizedTest(name = "{0}, {1} sender lanes, seed {2}")
    @CsvSource({"SENDER,2,7", "SENDER,4,7", "SENDER,4,11", "RECEIVER,2,7", "RECEIVER,4,7", "RECEIVER,4,11"})
    void shouldBringTheSpreadUnderTheThresholdThenHoldStillThroughTheNoise(BalancingPolicy policy, int senderLanes, long seed) {
        Loop loop = new Loop(policy, senderLanes, false, seed);
        assertTrue(loop.model.spread(loop.current) > 0.3, "the hog must show at the start");
        loop.run(SETTLE_REPORTS);
        assertTrue(loop.changes >= 1);
        double settled = loop.model.spread(loop.current);
        assertTrue(settled < BalancerSettings.DEFAULT_START_IMBALANCE, "spread " + settled + " after " + loop.current);
        TunnelAssignment settledAssignment = loop.current;
        loop.run(HOLD_REPORTS);
        assertSame(settledAssignment, loop.current, "changed while holding: " + loop.current);
    }

    @Test
    void shouldBalanceAsCloselyAsWeightsAllowWhenTheSenderReweights() {
        Loop loop = new Loop(BalancingPolicy.SENDER, 2, false, 7);
        loop.run(SETTLE_REPORTS);
        assertBalancedOrCool(loop);
        assertTrue(loop.changes <= 5, loop.changes + " changes");
    }

    @Test
    void shouldBalanceWhenTheSenderWeighsByTheRatesItMeasuresItself() {
        Loop loop = new Loop(BalancingPolicy.SENDER, 4, true, 7);
        loop.run(SETTLE_REPORTS);
        assertBalancedOrCool(loop);
        TunnelAssignment settled = loop.current;
        loop.run(HOLD_REPORTS);
        assertSame(settled, loop.current);
    }

    @Test
    void shouldChangeNothingUnderTheStaticPolicy() {
        Loop loop = new Loop(BalancingPolicy.STATIC, 4, false, 7);
        TunnelAssignment first = loop.current;
        loop.run(SETTLE_REPORTS + HOLD_REPORTS);
        assertSame(first, loop.current);
        assertEquals(0, loop.changes);
        assertTrue(loop.model.spread(loop.current) > 0.3);
    }
}
