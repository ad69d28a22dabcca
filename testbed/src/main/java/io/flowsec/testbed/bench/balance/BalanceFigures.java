package io.flowsec.testbed.bench.balance;

import java.util.ArrayList;
import java.util.List;

/**
 * One policy's figures from its timeline: delivered fractions, router B's lane busy shares and the loaded lane's share
 * of the tunnel before the imbalance, during the recovery and at the end, out-of-order deliveries since the imbalance,
 * and the time to rebalance.
 * <p>
 * <b>Rebalanced</b> at the start of the earliest sample (at or after t0) from which every later window of
 * {@value #WINDOW_SECONDS} s, through the end of the run, both delivers at least {@value #DELIVERED} of what was offered
 * in it and has the loaded lane take at least {@value #SHARE_MARGIN} less of B's tunnel datagrams than in the
 * balanced seconds before t0. Never (NaN, printed '—') when the last window fails: {@code static} leaves the loaded lane
 * its share, so it never rebalances; throughput that holds while the lane keeps its share means the imbalance did not
 * bite, not that anything was rebalanced.
 */
public record BalanceFigures(String policy, Phase before, Phase during, Phase after, double rebalancedSeconds,
                             long outOfOrderSinceT0) {
    public static final double WINDOW_SECONDS = 1.0;
    public static final double DELIVERED = 0.97;
    public static final double SHARE_MARGIN = 0.05;
    /** A sample's interval is measured, not exact: a window "of a second" may be a little short of it. */
    private static final double SLACK_SECONDS = 0.02;

    /** The sums over a stretch of samples; NaN figures when it has none. */
    public record Phase(double seconds, long sent, long delivered, List<Double> laneBusy, double loadedShare) {
        public double deliveredFraction() {
            return sent == 0 ? Double.NaN : (double) delivered / sent;
        }

        static Phase of(List<BalanceSample> samples, int loadedLane) {
            double seconds = 0;
            long sent = 0;
            long delivered = 0;
            int lanes = samples.isEmpty() ? 0 : samples.getFirst().laneBusy().size();
            double[] busySeconds = new double[lanes];
            long[] datagrams = new long[lanes];
            for (BalanceSample sample : samples) {
                seconds += sample.seconds();
                sent += sample.sent();
                delivered += sample.delivered();
                for (int lane = 0; lane < lanes; lane++) {
                    busySeconds[lane] += sample.laneBusy().get(lane) * sample.seconds();
                    datagrams[lane] += sample.laneDatagrams().get(lane);
                }
            }
            List<Double> busy = new ArrayList<>();
            long total = 0;
            for (int lane = 0; lane < lanes; lane++) {
                busy.add(seconds == 0 ? Double.NaN : busySeconds[lane] / seconds);
                total += datagrams[lane];
            }
            double share = total == 0 || loadedLane >= lanes ? Double.NaN : (double) datagrams[loadedLane] / total;
            return new Phase(seconds, sent, delivered, busy, share);
        }
    }

    /**
     * The figures of {@code timeline} (one policy's samples in time order): "before" is the last {@code beforeSeconds}
     * before t0, "after" the last {@code afterSeconds} of the run, "during" from t0 to the rebalanced state (to the
     * end when never).
     */
    public static BalanceFigures of(List<BalanceSample> timeline, int loadedLane, double beforeSeconds,
                                    double afterSeconds) {
        String policy = timeline.isEmpty() ? "" : timeline.getFirst().policy();
        double end = timeline.isEmpty() ? 0 : timeline.getLast().t();
        List<BalanceSample> before = between(timeline, -beforeSeconds, 0);
        List<BalanceSample> since = between(timeline, 0, Double.MAX_VALUE);
        Phase baseline = Phase.of(before, loadedLane);
        double rebalanced = rebalancedSeconds(since, loadedLane, baseline.loadedShare());
        List<BalanceSample> during = between(timeline, 0, Double.isNaN(rebalanced) ? Double.MAX_VALUE : rebalanced);
        long outOfOrder = since.stream().mapToLong(BalanceSample::outOfOrder).sum();
        return new BalanceFigures(policy, baseline, Phase.of(during, loadedLane),
                Phase.of(between(timeline, end - afterSeconds, Double.MAX_VALUE), loadedLane), rebalanced, outOfOrder);
    }

    /**
     * Seconds from t0 to the rebalanced state (see the class comment) in {@code since}, the samples from t0 on;
     * NaN when never. {@code shareBefore}: the loaded lane's share before t0.
     */
    public static double rebalancedSeconds(List<BalanceSample> since, int loadedLane, double shareBefore) {
        double rebalanced = Double.NaN;
        for (int first = since.size() - 1; first >= 0; first--) {
            int last = windowEnd(since, first);
            if (last < 0) {
                continue;   // less than a window left after this sample: no evidence either way
            }
            if (!holds(since.subList(first, last + 1), loadedLane, shareBefore)) {
                break;
            }
            rebalanced = Math.max(0, since.get(first).start());
        }
        return rebalanced;
    }

    /** The index of the sample that completes the window starting at {@code first}; -1 when the run ends before. */
    private static int windowEnd(List<BalanceSample> samples, int first) {
        double seconds = 0;
        for (int i = first; i < samples.size(); i++) {
            seconds += samples.get(i).seconds();
            if (seconds >= WINDOW_SECONDS - SLACK_SECONDS) {
                return i;
            }
        }
        return -1;
    }

    private static boolean holds(List<BalanceSample> window, int loadedLane, double shareBefore) {
        Phase phase = Phase.of(window, loadedLane);
        return phase.deliveredFraction() >= DELIVERED && phase.loadedShare() < shareBefore - SHARE_MARGIN;
    }

    /** The samples whose interval lies in [{@code from}, {@code to}] seconds since t0 (a little slack at the ends). */
    private static List<BalanceSample> between(List<BalanceSample> timeline, double from, double to) {
        return timeline.stream().filter(s -> s.start() >= from - SLACK_SECONDS && s.t() <= to + SLACK_SECONDS).toList();
    }
}
