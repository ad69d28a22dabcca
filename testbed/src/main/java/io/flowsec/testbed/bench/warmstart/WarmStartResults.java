package io.flowsec.testbed.bench.warmstart;

import io.flowsec.testbed.bench.ThroughputChart;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Writes the warm-start benchmark's results: {@code warmstart.csv} (every 100-ms window of every start, with the
 * start's ready times), {@code warmstart-pings.csv}, {@code warmstart.png} (packets/s against time since the traffic
 * started, each variant's mean and each start, a colour per variant) and {@code warmstart-summary.txt} (per variant
 * the means over
 * its starts of {@link WarmStartFigures}, the ratios of the cache's figures to those without it, then each start).
 */
public final class WarmStartResults {
    static {
        // as ThroughputChart: servers have no display, and this must be set before AWT starts
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private static final String MISSING = "—";
    private static final Map<String, Color> COLOURS = Map.of(
            WarmStartOptions.WITHOUT, new Color(0x80, 0x80, 0x80),
            WarmStartOptions.WITH, new Color(0x1F, 0x5F, 0xBF),
            WarmStartOptions.WARM, new Color(0x2E, 0x8B, 0x57),
            WarmStartOptions.EAGER, new Color(0xE6, 0x7E, 0x00));

    /** How the starts were made, for the summary's heading. */
    public record Setup(String machine, String commandLine, String routers, int flows, int size, int seconds,
                        int steadySeconds, int pings, Optional<WarmStartBenchmark.Cache> cache) {
    }

    private WarmStartResults() {
    }

    /** Writes the four files into {@code dir} (created when missing); returns the summary. */
    public static String write(Path dir, Setup setup, List<WarmStartRun> runs) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("warmstart.csv"), csv(runs));
        Files.writeString(dir.resolve("warmstart-pings.csv"), pingsCsv(runs));
        String summary = summary(setup, runs);
        Files.writeString(dir.resolve("warmstart-summary.txt"), summary);
        ChartUtils.saveChartAsPNG(dir.resolve("warmstart.png").toFile(), chart(setup, runs), ThroughputChart.WIDTH,
                ThroughputChart.HEIGHT);
        return summary;
    }

    public static String csv(List<WarmStartRun> runs) {
        StringBuilder out = new StringBuilder("variant,round,ready_ms_router_a,ready_ms_router_b,from_s,to_s,packets,"
                + "packets_per_s,cpu_ns\n");
        for (WarmStartRun run : runs) {
            for (WarmStartRun.Window window : run.windows()) {
                out.append(run.variant()).append(',').append(run.round() + 1).append(',').append(run.readyMsA())
                        .append(',').append(run.readyMsB()).append(',').append(number(window.fromS(), 3)).append(',')
                        .append(number(window.toS(), 3)).append(',').append(window.packets()).append(',')
                        .append(number(window.packetsPerSecond(), 0)).append(',').append(window.cpuNanos()).append('\n');
            }
        }
        return out.toString();
    }

    public static String pingsCsv(List<WarmStartRun> runs) {
        StringBuilder out = new StringBuilder("variant,round,ping,rtt_ms\n");
        for (WarmStartRun run : runs) {
            for (int i = 0; i < run.pingsMs().size(); i++) {
                double rtt = run.pingsMs().get(i);
                out.append(run.variant()).append(',').append(run.round() + 1).append(',').append(i + 1).append(',')
                        .append(Double.isNaN(rtt) ? "lost" : number(rtt, 3)).append('\n');
            }
        }
        return out.toString();
    }

    /** The heading, one Markdown row per variant (means over its starts), the ratios, and one row per start. */
    public static String summary(Setup setup, List<WarmStartRun> runs) {
        Map<String, List<WarmStartRun>> byVariant = new LinkedHashMap<>();
        for (WarmStartRun run : runs) {
            byVariant.computeIfAbsent(run.variant(), v -> new ArrayList<>()).add(run);
        }
        StringBuilder out = new StringBuilder();
        out.append("flowsec bench warmstart on ").append(setup.machine()).append('\n');
        out.append("command: ").append(setup.commandLine()).append('\n');
        out.append("AOT cache: ").append(setup.cache().map(WarmStartBenchmark.Cache::describe).orElse("none")).append('\n');
        out.append(String.format(Locale.ROOT, "each start: %s started afresh (ready: from the process's start until "
                        + "it answers on its status socket), %d pings host A -> host B 0.1 s apart, then %d UDP flows "
                        + "of %d-byte payloads for %d s; rates are the datagrams host B received, first second against "
                        + "the mean of the last %d s; settled: the first half second at %.0f %% of that; CPU/pkt: router "
                        + "B's process CPU time (lanes, JIT compilers, all) per datagram host B received%n%n",
                setup.routers(), setup.pings(), setup.flows(), setup.size(), setup.seconds(), setup.steadySeconds(),
                100 * WarmStartFigures.SETTLED_SHARE));
        out.append("| variant | starts | ready A ms | ready B ms | first second pkt/s | steady pkt/s | first second / "
                + "steady | settled after s | first ping ms | pings 2.. median ms | B's CPU/pkt first second µs | "
                + "B's CPU/pkt steady µs |\n");
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        Map<String, Means> means = new LinkedHashMap<>();
        for (Map.Entry<String, List<WarmStartRun>> entry : byVariant.entrySet()) {
            Means m = Means.of(entry.getValue(), setup.seconds(), setup.steadySeconds());
            means.put(entry.getKey(), m);
            out.append("| ").append(entry.getKey()).append(" | ").append(entry.getValue().size()).append(" | ")
                    .append(number(m.readyA, 0)).append(" | ").append(number(m.readyB, 0)).append(" | ")
                    .append(grouped(m.firstSecond)).append(" | ").append(grouped(m.steady)).append(" | ")
                    .append(number(m.ratio, 2)).append(" | ").append(number(m.settled, 1)).append(" | ")
                    .append(number(m.firstPing, 2)).append(" | ").append(number(m.laterPings, 2)).append(" | ")
                    .append(number(m.firstSecondCpu / 1000, 2)).append(" | ").append(number(m.steadyCpu / 1000, 2))
                    .append(" |\n");
        }
        Means without = means.get(WarmStartOptions.WITHOUT);
        for (Map.Entry<String, Means> entry : means.entrySet()) {
            if (without == null || entry.getKey().equals(WarmStartOptions.WITHOUT)) {
                continue;
            }
            Means with = entry.getValue();
            out.append(String.format(Locale.ROOT, "%n%s / without: ready (the later router) %sx, first-second rate %sx, "
                            + "steady rate %sx, first ping %sx, B's CPU per packet in the first second %sx, steady %sx%n",
                    entry.getKey(), number(Math.max(with.readyA, with.readyB) / Math.max(without.readyA, without.readyB), 2),
                    number(with.firstSecond / without.firstSecond, 2), number(with.steady / without.steady, 2),
                    number(with.firstPing / without.firstPing, 2), number(with.firstSecondCpu / without.firstSecondCpu, 2),
                    number(with.steadyCpu / without.steadyCpu, 2)));
        }
        out.append("\nEach start:\n\n| variant | round | ready A ms | ready B ms | first second pkt/s | steady pkt/s | "
                + "ratio | settled s | CPU/pkt µs first s, steady | pings ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
        for (WarmStartRun run : runs) {
            WarmStartFigures f = WarmStartFigures.of(run, setup.seconds(), setup.steadySeconds());
            List<String> pings = run.pingsMs().stream().map(p -> Double.isNaN(p) ? "lost" : number(p, 2)).toList();
            out.append("| ").append(run.variant()).append(" | ").append(run.round() + 1).append(" | ")
                    .append(run.readyMsA()).append(" | ").append(run.readyMsB()).append(" | ")
                    .append(grouped(f.firstSecondRate())).append(" | ").append(grouped(f.steadyRate())).append(" | ")
                    .append(number(f.ratio(), 2)).append(" | ").append(number(f.settledAfterS(), 1)).append(" | ")
                    .append(number(f.firstSecondCpuNsPerPacket() / 1000, 2)).append(", ")
                    .append(number(f.steadyCpuNsPerPacket() / 1000, 2)).append(" | ")
                    .append(String.join(" ", pings)).append(" |\n");
        }
        return out.toString();
    }

    /** A variant's figures, each the mean over its starts. */
    record Means(double readyA, double readyB, double firstSecond, double steady, double ratio, double settled,
                 double firstPing, double laterPings, double firstSecondCpu, double steadyCpu) {
        static Means of(List<WarmStartRun> runs, int seconds, int steadySeconds) {
            List<WarmStartFigures> figures = runs.stream().map(r -> WarmStartFigures.of(r, seconds, steadySeconds)).toList();
            return new Means(mean(runs, r -> (double) r.readyMsA()), mean(runs, r -> (double) r.readyMsB()),
                    mean(figures, WarmStartFigures::firstSecondRate), mean(figures, WarmStartFigures::steadyRate),
                    mean(figures, WarmStartFigures::ratio), mean(figures, WarmStartFigures::settledAfterS),
                    mean(figures, WarmStartFigures::firstPingMs), mean(figures, WarmStartFigures::laterPingsMedianMs),
                    mean(figures, WarmStartFigures::firstSecondCpuNsPerPacket),
                    mean(figures, WarmStartFigures::steadyCpuNsPerPacket));
        }

        private static <T> double mean(List<T> items, Function<T, Double> figure) {
            return WarmStartFigures.mean(items.stream().map(figure).toList());
        }
    }

    /**
     * Each start as a thin pale line, and each variant's mean over its starts (window by window) as a thick one: the
     * 100-ms windows of one start are noisy, their mean shows the warm-up.
     */
    static JFreeChart chart(Setup setup, List<WarmStartRun> runs) {
        XYSeriesCollection dataset = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        Map<String, List<WarmStartRun>> byVariant = new LinkedHashMap<>();
        for (WarmStartRun run : runs) {
            byVariant.computeIfAbsent(run.variant(), v -> new ArrayList<>()).add(run);
        }
        for (Map.Entry<String, List<WarmStartRun>> variant : byVariant.entrySet()) {
            Color colour = COLOURS.getOrDefault(variant.getKey(), Color.GREEN.darker());
            List<WarmStartRun> starts = variant.getValue();
            XYSeries mean = new XYSeries(variant.getKey() + (variant.getKey().equals(WarmStartOptions.WITHOUT)
                    ? " cache" : variant.getKey().equals(WarmStartOptions.WARM) ? " (cache and warm-up)" : " cache")
                    + ", mean of " + starts.size() + " start" + (starts.size() == 1 ? "" : "s"));
            int windows = starts.stream().mapToInt(run -> run.windows().size()).min().orElse(0);
            for (int k = 0; k < windows; k++) {
                int index = k;
                mean.add(starts.stream().mapToDouble(run -> run.windows().get(index).toS()).average().orElseThrow(),
                        starts.stream().mapToDouble(run -> run.windows().get(index).packetsPerSecond()).average().orElseThrow());
            }
            int meanIndex = dataset.getSeriesCount();
            dataset.addSeries(mean);
            renderer.setSeriesPaint(meanIndex, colour);
            renderer.setSeriesStroke(meanIndex, new BasicStroke(2.5f));
            for (WarmStartRun run : starts) {
                XYSeries series = new XYSeries(run.variant() + " start " + (run.round() + 1));
                for (WarmStartRun.Window window : run.windows()) {
                    series.add(window.toS(), window.packetsPerSecond());
                }
                int index = dataset.getSeriesCount();
                dataset.addSeries(series);
                renderer.setSeriesPaint(index, new Color(colour.getRed(), colour.getGreen(), colour.getBlue(), 60));
                renderer.setSeriesStroke(index, new BasicStroke(0.8f));
                renderer.setSeriesVisibleInLegend(index, false);
            }
        }
        NumberAxis time = new NumberAxis("seconds since the traffic started (100-ms windows)");
        time.setRange(0, setup.seconds());
        NumberAxis rate = new NumberAxis("datagrams/s host B received through the tunnel");
        XYPlot plot = new XYPlot(dataset, time, rate, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        JFreeChart chart = new JFreeChart("Warm start: a fresh tunnel's first seconds",
                JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.addSubtitle(new TextTitle(setup.machine()));
        chart.setBackgroundPaint(Color.WHITE);
        return chart;
    }

    static String number(double value, int decimals) {
        return Double.isNaN(value) || Double.isInfinite(value) ? MISSING : String.format(Locale.ROOT, "%." + decimals + "f", value);
    }

    private static String grouped(double value) {
        return Double.isNaN(value) ? MISSING : String.format(Locale.ROOT, "%,.0f", value);
    }
}
