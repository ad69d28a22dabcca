package io.flowsec.testbed.bench.warmstart;

import java.util.List;

/**
 * What a {@link WarmStartRun} amounts to: the rate of its first second, its steady rate (the mean of its last
 * {@code steadySeconds}), their ratio, when the rate settled (the start of the first half second whose mean reached
 * {@value #SETTLED_SHARE} of the steady rate), its pings, and router B's CPU time per packet in the first second and
 * when steady. Rates are packets per second, each the packets of the windows that lie in a range over the time they
 * cover, so windows of unequal length count by their length.
 */
public record WarmStartFigures(double firstSecondRate, double steadyRate, double settledAfterS, double firstPingMs,
                               double laterPingsMedianMs, double firstSecondCpuNsPerPacket, double steadyCpuNsPerPacket) {
    public static final double SETTLED_SHARE = 0.9;
    /** The span over which a settled rate is averaged. */
    public static final double SETTLED_SPAN_S = 0.5;

    /** The figures of {@code run} whose traffic ran for {@code trafficSeconds}, the last {@code steadySeconds} steady. */
    public static WarmStartFigures of(WarmStartRun run, double trafficSeconds, double steadySeconds) {
        List<WarmStartRun.Window> windows = run.windows();
        double steady = rate(windows, trafficSeconds - steadySeconds, trafficSeconds);
        return new WarmStartFigures(rate(windows, 0, 1), steady, settledAfter(windows, steady),
                run.pingsMs().isEmpty() ? Double.NaN : run.pingsMs().getFirst(), median(run.pingsMs().subList(
                Math.min(1, run.pingsMs().size()), run.pingsMs().size())), cpuNsPerPacket(windows, 0, 1),
                cpuNsPerPacket(windows, trafficSeconds - steadySeconds, trafficSeconds));
    }

    /** Router B's CPU time per packet over the windows lying within [{@code fromS}, {@code toS}] (NaN: no packet). */
    static double cpuNsPerPacket(List<WarmStartRun.Window> windows, double fromS, double toS) {
        long packets = 0;
        long cpuNanos = 0;
        for (WarmStartRun.Window window : windows) {
            if (window.fromS() >= fromS - 1e-9 && window.toS() <= toS + 1e-9) {
                packets += window.packets();
                cpuNanos += window.cpuNanos();
            }
        }
        return packets == 0 ? Double.NaN : (double) cpuNanos / packets;
    }

    /** First second / steady: 1 is no warm-up at all. */
    public double ratio() {
        return firstSecondRate / steadyRate;
    }

    /** The packets per second of the windows lying within [{@code fromS}, {@code toS}] (NaN when none does). */
    static double rate(List<WarmStartRun.Window> windows, double fromS, double toS) {
        long packets = 0;
        double seconds = 0;
        for (WarmStartRun.Window window : windows) {
            if (window.fromS() >= fromS - 1e-9 && window.toS() <= toS + 1e-9) {
                packets += window.packets();
                seconds += window.toS() - window.fromS();
            }
        }
        return seconds == 0 ? Double.NaN : packets / seconds;
    }

    /**
     * The start of the earliest span of {@value #SETTLED_SPAN_S} s (from a window's start) whose rate reached
     * {@value #SETTLED_SHARE} of {@code steady}; NaN when none did.
     */
    static double settledAfter(List<WarmStartRun.Window> windows, double steady) {
        for (WarmStartRun.Window window : windows) {
            double from = window.fromS();
            double last = windows.getLast().toS();
            if (from + SETTLED_SPAN_S > last + 1e-9) {
                break;
            }
            if (rate(windows, from, from + SETTLED_SPAN_S) >= SETTLED_SHARE * steady) {
                return from;
            }
        }
        return Double.NaN;
    }

    /** The median of the values that are numbers (lost pings are NaN); NaN when there are none. */
    static double median(List<Double> values) {
        List<Double> numbers = values.stream().filter(v -> !v.isNaN()).sorted().toList();
        if (numbers.isEmpty()) {
            return Double.NaN;
        }
        int middle = numbers.size() / 2;
        return numbers.size() % 2 == 1 ? numbers.get(middle) : (numbers.get(middle - 1) + numbers.get(middle)) / 2;
    }

    /** The mean over runs of one figure, NaNs left out (NaN when all are). */
    static double mean(List<Double> values) {
        return values.stream().filter(v -> !v.isNaN()).mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }
}
