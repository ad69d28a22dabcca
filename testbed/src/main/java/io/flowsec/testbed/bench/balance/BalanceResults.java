package io.flowsec.testbed.bench.balance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Writes the balancing benchmark's results: {@code balance.csv} (every sample of every policy), {@code balance.png}
 * ({@link BalanceChart}) and {@code balance-summary.txt} (one row of {@link BalanceFigures} per policy, with the
 * machine, the command and what was offered: the figures mean nothing without them).
 */
public final class BalanceResults {
    private static final String MISSING = "—";

    private BalanceResults() {
    }

    /** How the runs were made, for the summary's heading. */
    public record Setup(int flows, int rate, int payloadBytes, int laneCpuPercent, int loadedLane, double beforeSeconds,
                        double afterSeconds, int seconds, int sampleMillis, String traffic) {
    }

    /** Writes the three files into {@code dir} (created when missing); returns the summary. */
    public static String write(Path dir, String machine, String commandLine, Setup setup,
                               Map<String, List<BalanceSample>> timelines) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("balance.csv"), csv(timelines));
        String summary = summary(machine, commandLine, setup, timelines);
        Files.writeString(dir.resolve("balance-summary.txt"), summary);
        BalanceChart.write(dir.resolve("balance.png"), "Load feedback: router B's lane " + setup.loadedLane()
                + " throttled at t0", machine, timelines, setup.loadedLane());
        return summary;
    }

    /** One line per sample per policy; per-lane columns for as many lanes as the first sample has. */
    public static String csv(Map<String, List<BalanceSample>> timelines) {
        int lanes = timelines.values().stream().filter(t -> !t.isEmpty()).findFirst()
                .map(t -> t.getFirst().laneBusy().size()).orElse(2);
        StringBuilder out = new StringBuilder("policy,t_s,interval_s,offered_per_s,delivered_per_s,delivered_fraction,"
                + "out_of_order");
        for (int lane = 0; lane < lanes; lane++) {
            out.append(",b_lane").append(lane).append("_busy");
        }
        for (int lane = 0; lane < lanes; lane++) {
            out.append(",b_lane").append(lane).append("_datagrams_per_s");
        }
        for (int lane = 0; lane < lanes; lane++) {
            out.append(",b_lane").append(lane).append("_share");
        }
        out.append(",b_drops,a_sending_version,b_receiving_version\n");
        for (List<BalanceSample> timeline : timelines.values()) {
            for (BalanceSample s : timeline) {
                out.append(s.policy()).append(',').append(number(s.t(), 3)).append(',').append(number(s.seconds(), 3))
                        .append(',').append(number(s.sent() / s.seconds(), 0)).append(',')
                        .append(number(s.delivered() / s.seconds(), 0)).append(',')
                        .append(number(s.deliveredFraction(), 4)).append(',').append(s.outOfOrder());
                for (int lane = 0; lane < lanes; lane++) {
                    out.append(',').append(number(s.laneBusy().get(lane), 3));
                }
                for (int lane = 0; lane < lanes; lane++) {
                    out.append(',').append(number(s.laneDatagrams().get(lane) / s.seconds(), 0));
                }
                for (int lane = 0; lane < lanes; lane++) {
                    out.append(',').append(number(s.share(lane), 3));
                }
                out.append(',').append(s.drops()).append(',').append(s.sendingVersionA()).append(',')
                        .append(s.receivingVersionB()).append('\n');
            }
        }
        return out.toString();
    }

    /** The heading, the definition of "rebalanced", and a Markdown table with one row per policy. */
    public static String summary(String machine, String commandLine, Setup setup,
                                 Map<String, List<BalanceSample>> timelines) {
        int loaded = setup.loadedLane();
        StringBuilder out = new StringBuilder();
        out.append("flowsec bench balance on ").append(machine).append('\n');
        out.append("command: ").append(commandLine).append('\n').append('\n');
        out.append(String.format(Locale.ROOT, "%d UDP flows host A -> host B (%s) at %,d datagrams/s offered (%d-byte "
                        + "payloads); at t0 router B's lane %d is throttled to %d%% of a CPU; %d s measured after t0, "
                        + "sampled every %d ms. Before: the %.0f s before t0; after: the last %.0f s.%n",
                setup.flows(), setup.traffic(), setup.rate(), setup.payloadBytes(), loaded, setup.laneCpuPercent(), setup.seconds(),
                setup.sampleMillis(), setup.beforeSeconds(), setup.afterSeconds()));
        out.append(String.format(Locale.ROOT, "Rebalanced: from the first moment after t0 after which every %.0f-s "
                        + "window delivers >= %.0f%% of what was offered in it and lane %d takes at least %.0f points "
                        + "less of B's tunnel datagrams than before t0 (— never).%n%n", BalanceFigures.WINDOW_SECONDS,
                100 * BalanceFigures.DELIVERED, loaded, 100 * BalanceFigures.SHARE_MARGIN));
        out.append("| policy | delivered before | during | after | rebalanced after | B busy before (per lane) "
                + "| B busy after | lane ").append(loaded).append(" share before | after | out of order since t0 |\n");
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Map.Entry<String, List<BalanceSample>> timeline : timelines.entrySet()) {
            BalanceFigures f = BalanceFigures.of(timeline.getValue(), loaded, setup.beforeSeconds(), setup.afterSeconds());
            out.append("| ").append(timeline.getKey())
                    .append(" | ").append(percent(f.before().deliveredFraction()))
                    .append(" | ").append(percent(f.during().deliveredFraction()))
                    .append(" | ").append(percent(f.after().deliveredFraction()))
                    .append(" | ").append(Double.isNaN(f.rebalancedSeconds()) ? MISSING
                            : String.format(Locale.ROOT, "%.2f s", f.rebalancedSeconds()))
                    .append(" | ").append(busy(f.before().laneBusy()))
                    .append(" | ").append(busy(f.after().laneBusy()))
                    .append(" | ").append(share(f.before().loadedShare()))
                    .append(" | ").append(share(f.after().loadedShare()))
                    .append(" | ").append(f.outOfOrderSinceT0()).append(" |\n");
        }
        return out.toString();
    }

    private static String percent(double fraction) {
        return Double.isNaN(fraction) ? MISSING : String.format(Locale.ROOT, "%.1f%%", 100 * fraction);
    }

    private static String share(double fraction) {
        return Double.isNaN(fraction) ? MISSING : String.format(Locale.ROOT, "%.2f", fraction);
    }

    private static String busy(List<Double> lanes) {
        return lanes.isEmpty() ? MISSING : lanes.stream().map(BalanceResults::share).collect(Collectors.joining(" / "));
    }

    private static String number(double v, int decimals) {
        return Double.isNaN(v) || Double.isInfinite(v) ? "" : String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
