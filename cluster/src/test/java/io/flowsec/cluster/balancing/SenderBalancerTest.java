package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Usage (a): weight moves off SAs landing on busy receiver lanes, within each sender lane, in bounded steps. */
class SenderBalancerTest {
    private static final BalancerSettings NO_COOLDOWN = BalancerSettings.DEFAULTS.withCooldownMs(0);

    /** Feeds {@code busy} until the balancer proposes (K reports), and returns the proposal. */
    private static TunnelAssignment firstChange(Balancer balancer, TunnelAssignment current, double... busy) {
        for (long t = 100; t <= 1000; t += 100) {
            Optional<TunnelAssignment> next = balancer.onReport(current, Reports.of(current, t, busy), Map.of(), t);
            if (next.isPresent()) {
                return next.get();
            }
        }
        throw new AssertionError("no change");
    }

    private static int weightOfSenderLane(TunnelAssignment assignment, int lane) {
        return assignment.sasOfSenderLane(lane).stream().mapToInt(SaPlacement::weight).sum();
    }

    @Test
    void shouldMoveWeightOnlyAmongTheSasOfEachSenderLane() {
        TunnelAssignment before = LoadModel.layout(2, 2, 2);
        TunnelAssignment after = firstChange(new SenderBalancer(BalancerSettings.DEFAULTS, "router-a"), before, 0.8, 0.3);
        assertEquals(before.inboundLanes(), after.inboundLanes());
        for (int lane = 0; lane < 2; lane++) {
            assertEquals(4 * 16, weightOfSenderLane(after, lane));
        }
        for (SaPlacement sa : after.sas()) {
            if (sa.receiverLane() == 0) {
                assertTrue(sa.weight() < 16, sa.toString());
            } else {
                assertTrue(sa.weight() > 16, sa.toString());
            }
        }
    }

    @Test
    void shouldMoveNoMoreThanAQuarterOfASenderLanesWeightInOneChange() {
        TunnelAssignment before = LoadModel.layout(2, 2, 2);
        TunnelAssignment after = firstChange(new SenderBalancer(BalancerSettings.DEFAULTS, "router-a"), before, 0.95, 0.05);
        for (int lane = 0; lane < 2; lane++) {
            int moved = 0;
            for (SaPlacement sa : after.sasOfSenderLane(lane)) {
                moved += Math.max(0, sa.weight() - before.sa(sa.spi()).weight());
            }
            assertEquals(16, moved, "a quarter of 64");
        }
    }

    @Test
    void shouldStopAtTheFloorAndNeverStarveAnSa() {
        // receiver lane 0 can hardly take anything: every change pushes weight off it, down to the floor and no further
        TunnelAssignment current = LoadModel.layout(2, 2, 2);
        LoadModel model = new LoadModel(new double[]{50_000, 50_000}, new double[]{1_000, 200_000},
                current.sas().stream().map(SaPlacement::spi).toList(), 3);
        Balancer balancer = new SenderBalancer(NO_COOLDOWN, "router-a");
        for (long t = 100; t <= 20_000; t += 100) {
            Optional<TunnelAssignment> next = balancer.onReport(current, model.report(current, t), Map.of(), t);
            if (next.isPresent()) {
                current = next.get();
                for (int lane = 0; lane < 2; lane++) {
                    assertEquals(64, weightOfSenderLane(current, lane));
                }
                current.sas().forEach(sa -> assertTrue(sa.weight() >= 1, sa.toString()));
            }
        }
        current.sasOnReceiverLane(0).forEach(sa -> assertEquals(1, sa.weight(), sa.toString()));
    }

    @Test
    void shouldStarveAnSaOnlyWhenTheFloorIsZero() {
        BalancerSettings d = BalancerSettings.DEFAULTS;
        BalancerSettings undamped = new BalancerSettings(d.startImbalance(), d.triggerReports(), d.stopImbalance(), 0,
                d.averagedReports(), 1.0, d.maxStepFraction(), d.evenWeight(), d.floorWeight(), d.maxMovesPerChange(),
                d.minImprovement());
        assertEquals(List.of(1, 31), settle(undamped));
        assertEquals(List.of(0, 32), settle(undamped.withFloorWeight(0)));
    }

    /** One sender lane, two SAs, receiver lane 0 able to take almost nothing: the weights where the balancer stops. */
    private static List<Integer> settle(BalancerSettings settings) {
        TunnelAssignment current = LoadModel.layout(1, 2, 1);
        LoadModel model = new LoadModel(new double[]{50_000}, new double[]{10, 200_000},
                current.sas().stream().map(SaPlacement::spi).toList(), 3);
        Balancer balancer = new SenderBalancer(settings, "router-a");
        for (long t = 100; t <= 20_000; t += 100) {
            Optional<TunnelAssignment> next = balancer.onReport(current, model.report(current, t), Map.of(), t);
            if (next.isPresent()) {
                current = next.get();
            }
        }
        return current.sas().stream().map(SaPlacement::weight).toList();
    }

    @Test
    void shouldApportionWholeWeightsToTheTotalWithNoneUnderTheFloor() {
        assertArrayEquals(new int[]{16, 16, 16, 16}, SenderBalancer.apportion(new double[]{16, 16, 16, 16}, 64, 1));
        assertArrayEquals(new int[]{1, 1, 31, 31}, SenderBalancer.apportion(new double[]{0.2, -3, 40, 40}, 64, 1));
        assertArrayEquals(new int[]{0, 0, 32, 32}, SenderBalancer.apportion(new double[]{0.2, -3, 40, 40}, 64, 0));
        int[] weights = SenderBalancer.apportion(new double[]{10.4, 10.4, 10.4, 32.8}, 64, 1);
        assertEquals(64, Arrays.stream(weights).sum());
        assertArrayEquals(new int[]{11, 10, 10, 33}, weights);
        assertArrayEquals(new int[]{16, 16}, SenderBalancer.apportion(new double[]{0, 0}, 32, 1));
    }

    @Test
    void shouldShiftWeightOffTheSasLandingOnALaneWhoseSocketTheKernelDropsAt() {
        TunnelAssignment current = Reports.twoOnEachLane();
        assertTrue(Reports.firstChange(new SenderBalancer(BalancerSettings.DEFAULTS, "router-a"), current,
                t -> Reports.cappedLaneOne(current, t, 0, 0)).isEmpty(), "busy 0.4 and 0.5: nothing to do");

        TunnelAssignment after = Reports.firstChange(new SenderBalancer(BalancerSettings.DEFAULTS, "router-a"), current,
                t -> Reports.cappedLaneOne(current, t, 0.1, 5_000)).orElseThrow();
        for (SaPlacement sa : after.sas()) {
            if (sa.receiverLane() == 1) {
                assertTrue(sa.weight() < 16, "off the dropping lane: " + sa);
            } else {
                assertTrue(sa.weight() > 16, "onto the other: " + sa);
            }
        }
        assertEquals(4 * 16, weightOfSenderLane(after, 0));
    }

    @Test
    void shouldShiftWeightOffTheSasLandingOnALaneFallingBehind() {
        TunnelAssignment current = Reports.twoOnEachLane();
        TunnelAssignment after = Reports.firstChange(new SenderBalancer(BalancerSettings.DEFAULTS, "router-a"), current,
                t -> Reports.cappedLaneOne(current, t, 0.6, 0)).orElseThrow();
        assertTrue(after.sa(0x1002).weight() < 16 && after.sa(0x1003).weight() < 16, after.sas().toString());
    }
}
