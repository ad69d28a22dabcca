package io.flowsec.testbed.bench.balance;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BalanceFiguresTest {
    private static final int LOADED = 1;
    private static final double STEP = 0.25;
    /** Datagrams offered per sample: 30k/s. */
    private static final long SENT = 7500;

    /**
     * A synthetic timeline from -3 s to {@code end} s: balanced before t0 (everything delivered, lane 1 half the
     * tunnel); from t0 lane 1 keeps {@code shareDuring} and delivers {@code deliveredDuring}; from {@code recovery}
     * on (NaN: never) lane 1 takes {@code shareAfter} and everything is delivered.
     */
    private static List<BalanceSample> timeline(String policy, double end, double deliveredDuring, double shareDuring,
                                                double recovery, double shareAfter) {
        List<BalanceSample> samples = new ArrayList<>();
        for (double t = -3 + STEP; t <= end + 1e-9; t += STEP) {
            boolean recovered = t > 0 && !Double.isNaN(recovery) && t - STEP >= recovery - 1e-9;
            double delivered = t <= 1e-9 || recovered ? 1.0 : deliveredDuring;
            double share = t <= 1e-9 ? 0.5 : recovered ? shareAfter : shareDuring;
            long received = Math.round(SENT * delivered);
            long lane1 = Math.round(received * share);
            samples.add(new BalanceSample(policy, t, STEP, SENT, received, t > 0 ? 3 : 0, List.of(received - lane1, lane1),
                    List.of(0.4, t > 0 ? 0.97 : 0.4), 0, 1, 1));
        }
        return samples;
    }

    @Test
    void a_policy_that_moves_load_off_the_lane_rebalances_when_the_good_windows_begin() {
        BalanceFigures f = BalanceFigures.of(timeline("receiver", 10, 0.8, 0.45, 2.5, 0.25), LOADED, 3, 3);

        assertEquals(2.5, f.rebalancedSeconds(), 1e-9);
        assertEquals(1.0, f.before().deliveredFraction(), 1e-3);
        assertEquals(0.8, f.during().deliveredFraction(), 1e-3);
        assertEquals(2.5, f.during().seconds(), 1e-9, "from t0 to the rebalanced state");
        assertEquals(1.0, f.after().deliveredFraction(), 1e-3);
        assertEquals(0.5, f.before().loadedShare(), 1e-3);
        assertEquals(0.25, f.after().loadedShare(), 1e-3);
        assertEquals(List.of(0.4, 0.97), f.after().laneBusy().stream().map(b -> Math.round(b * 1000) / 1000.0).toList());
        assertEquals(3 * 40, f.outOfOrderSinceT0(), "3 per sample, 40 samples since t0");
    }

    @Test
    void static_keeps_the_lanes_share_and_never_rebalances() {
        BalanceFigures f = BalanceFigures.of(timeline("static", 10, 0.85, 0.4, Double.NaN, 0), LOADED, 3, 3);

        assertTrue(Double.isNaN(f.rebalancedSeconds()), "never: " + f.rebalancedSeconds());
        assertEquals(10, f.during().seconds(), 1e-9, "during runs to the end");
    }

    @Test
    void full_delivery_while_the_lane_keeps_its_share_is_no_rebalancing() {
        // the throttle did not bite: all delivered, lane 1 still takes half
        BalanceFigures f = BalanceFigures.of(timeline("static", 10, 1.0, 0.5, Double.NaN, 0), LOADED, 3, 3);

        assertTrue(Double.isNaN(f.rebalancedSeconds()));
    }

    @Test
    void a_relapse_after_a_good_stretch_counts_from_the_last_recovery() {
        List<BalanceSample> samples = new ArrayList<>(timeline("receiver", 10, 0.8, 0.45, 1.0, 0.25));
        // a stall between 5 and 6 s (what a stalled hand-over looks like): nothing delivered for a second
        samples.replaceAll(s -> s.t() > 5 && s.t() <= 6 ? new BalanceSample(s.policy(), s.t(), s.seconds(), s.sent(), 0,
                0, List.of(0L, 0L), s.laneBusy(), 0, 1, 2) : s);

        assertEquals(6.0, BalanceFigures.of(samples, LOADED, 3, 3).rebalancedSeconds(), 1e-9);
    }

    @Test
    void a_recovery_within_the_last_window_is_not_enough_evidence() {
        BalanceFigures f = BalanceFigures.of(timeline("receiver", 10, 0.8, 0.45, 9.5, 0.25), LOADED, 3, 3);

        assertTrue(Double.isNaN(f.rebalancedSeconds()), "half a second of recovery is less than a window");
    }

    @Test
    void no_dip_at_all_is_rebalanced_at_t0() {
        assertEquals(0.0, BalanceFigures.of(timeline("receiver", 6, 1.0, 0.2, Double.NaN, 0), LOADED, 3, 3)
                .rebalancedSeconds(), 1e-9);
    }

    @Test
    void the_summary_has_one_row_per_policy_with_its_figures_and_a_dash_for_never() {
        Map<String, List<BalanceSample>> timelines = new LinkedHashMap<>();
        timelines.put("static", timeline("static", 10, 0.85, 0.4, Double.NaN, 0));
        timelines.put("receiver", timeline("receiver", 10, 0.8, 0.45, 2.5, 0.25));

        String summary = BalanceResults.summary("a machine", "flowsec bench balance --seconds 10",
                new BalanceResults.Setup(64, 30_000, 64, 8, LOADED, 3, 3, 10, 250, "steady"), timelines);

        assertTrue(summary.startsWith("flowsec bench balance on a machine\ncommand: flowsec bench balance --seconds 10\n"),
                summary);
        assertTrue(summary.contains("| static | 100.0% | 85.0% | 85.0% | — | 0.40 / 0.40 | 0.40 / 0.97 | 0.50 | 0.40 | 120 |"),
                summary);
        assertTrue(summary.contains("| receiver | 100.0% | 80.0% | 100.0% | 2.50 s | 0.40 / 0.40 | 0.40 / 0.97 | 0.50 | 0.25 | 120 |"),
                summary);
    }

    @Test
    void the_csv_has_a_row_per_sample_and_the_results_include_a_chart(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        Map<String, List<BalanceSample>> timelines = new LinkedHashMap<>();
        timelines.put("static", timeline("static", 4, 0.85, 0.4, Double.NaN, 0));
        timelines.put("sender", timeline("sender", 4, 0.9, 0.45, 1, 0.3));

        BalanceResults.write(dir, "a machine", "flowsec bench balance", new BalanceResults.Setup(64, 30_000, 64, 8,
                LOADED, 3, 1, 4, 250, "in bursts: 100 ms on, 300 ms off"), timelines);

        List<String> csv = Files.readAllLines(dir.resolve("balance.csv"));
        assertEquals(1 + 2 * 28, csv.size(), "a header and 28 samples (-3..4 s) per policy");
        assertEquals(csv.getFirst().split(",").length, csv.get(1).split(",", -1).length);
        assertTrue(csv.get(1).startsWith("static,-2.750,0.250,30000,30000,1.0000,0,"), csv.get(1));
        byte[] png = Files.readAllBytes(dir.resolve("balance.png"));
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
        assertTrue(Files.readString(dir.resolve("balance-summary.txt")).contains("| sender |"));
    }
}
