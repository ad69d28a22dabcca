package io.flowsec.testbed.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Writes one benchmark's results into a directory: {@code <name>.csv} with every figure of every point (for
 * re-analysis), {@code <name>-summary.txt} with the modes side by side and flow's speed-up over the others (what the
 * paper reports), and {@code <name>.png} (the paper's Fig. 5 style chart). The summary names the machine and the
 * command, because the numbers mean nothing without them.
 */
public final class ResultsWriter {
    /** The CSV's first line; the columns follow {@link BenchPoint}'s components. */
    public static final String CSV_HEADER = "benchmark,mode,steering,size,lanes,seconds,throughput_gbps,"
            + "application_gbps,packets_per_s,requests_per_s,cpu_per_lane,cpu_ns_per_packet,drops,drop_reasons";

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]+");
    private static final String BASE_MODE = "flow";
    private static final List<String> COMPARED_MODES = List.of("single", "pcrypt");
    private static final String MISSING = "–";

    private final Path dir;
    private final String machine;
    private final String commandLine;

    /**
     * @param dir         where the files go; created if missing
     * @param machine     the machine line, normally {@link MachineInfo#describe()}
     * @param commandLine the command that produced the results, quoted in the summary so a run can be repeated
     */
    public ResultsWriter(Path dir, String machine, String commandLine) {
        this.dir = Objects.requireNonNull(dir, "dir");
        this.machine = Objects.requireNonNull(machine, "machine");
        this.commandLine = Objects.requireNonNull(commandLine, "commandLine");
    }

    /**
     * Writes {@code <benchmark>.csv}, {@code <benchmark>-summary.txt} and {@code <benchmark>.png}.
     *
     * @param benchmark the benchmark's name ("micro", "app", "receiver"), used in file names
     * @param title     the chart's title
     * @param headline  the figure the summary and the chart compare the modes by
     * @return the summary text, as written
     */
    public String write(String benchmark, String title, Headline headline, List<BenchPoint> points)
            throws IOException {
        checkName(benchmark);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(benchmark + ".csv"), csv(benchmark, points));
        String summary = summary(benchmark, machine, commandLine, headline, points);
        Files.writeString(dir.resolve(benchmark + "-summary.txt"), summary);
        ThroughputChart.write(dir.resolve(benchmark + ".png"), title, machine, headline, points);
        return summary;
    }

    /** The CSV text: {@link #CSV_HEADER}, then one line per point; NaN is an empty cell, lines end in {@code \n}. */
    public static String csv(String benchmark, List<BenchPoint> points) {
        StringBuilder out = new StringBuilder(CSV_HEADER).append('\n');
        for (BenchPoint p : points) {
            String cpu = p.cpuPerLane().stream().map(share -> number(share * 100, 1))
                    .collect(Collectors.joining(";"));
            out.append(String.join(",",
                    field(benchmark), field(p.mode()), field(p.steering()), Integer.toString(p.size()),
                    Integer.toString(p.lanes()), number(p.seconds(), 1), number(p.throughputGbps(), 4),
                    number(p.applicationGbps(), 4), number(p.packetsPerSecond(), 0),
                    number(p.requestsPerSecond(), 0), cpu, number(p.cpuNanosPerPacket(), 0),
                    Long.toString(p.drops()), field(p.dropReasons()))).append('\n');
        }
        return out.toString();
    }

    /**
     * The summary text: the machine, the command, a Markdown table with one row per size (and lane count where the
     * points have several), the headline of each mode and flow's ratio to single and to pcrypt, then the geometric
     * mean of each ratio over the sizes.
     */
    public static String summary(String benchmark, String machine, String commandLine, Headline headline,
                                 List<BenchPoint> points) {
        Sweep sweep = new Sweep(points, headline);
        boolean byLanes = sweep.byLanes();
        StringBuilder out = new StringBuilder();
        out.append("flowsec bench ").append(benchmark).append(" on ").append(machine).append('\n');
        out.append("command: ").append(commandLine).append('\n').append('\n');
        out.append(headline.title());
        if (sweep.laneCounts().size() == 1) {
            out.append(", ").append(lanes(sweep.laneCounts().getFirst()));
        }
        out.append(":\n\n");

        StringBuilder header = new StringBuilder("|");
        StringBuilder rule = new StringBuilder("|");
        if (byLanes) {
            header.append(" lanes |");
            rule.append("---:|");
        }
        header.append(" size (bytes) |");
        rule.append("---:|");
        for (String mode : sweep.modes()) {
            header.append(' ').append(mode).append(" |");
            rule.append("---:|");
        }
        for (String compared : COMPARED_MODES) {
            header.append(' ').append(BASE_MODE).append('/').append(compared).append(" |");
            rule.append("---:|");
        }
        out.append(header).append('\n').append(rule).append('\n');
        for (Sweep.Row row : sweep.rows()) {
            out.append('|');
            if (byLanes) {
                out.append(' ').append(row.lanes()).append(" |");
            }
            out.append(' ').append(row.size()).append(" |");
            for (String mode : sweep.modes()) {
                out.append(' ').append(value(sweep.value(mode, row.lanes(), row.size()))).append(" |");
            }
            for (String compared : COMPARED_MODES) {
                out.append(' ').append(ratio(ratio(sweep, compared, row))).append(" |");
            }
            out.append('\n');
        }

        out.append('\n');
        for (int laneCount : sweep.laneCounts()) {
            for (String compared : COMPARED_MODES) {
                double logSum = 0;
                int n = 0;
                for (Sweep.Row row : sweep.rows()) {
                    double r = ratio(sweep, compared, row);
                    if (row.lanes() == laneCount && !Double.isNaN(r)) {
                        logSum += Math.log(r);
                        n++;
                    }
                }
                out.append(BASE_MODE).append('/').append(compared);
                if (byLanes) {
                    out.append(", ").append(lanes(laneCount));
                }
                out.append(", geometric mean over ").append(n).append(n == 1 ? " size: " : " sizes: ")
                        .append(ratio(n == 0 ? Double.NaN : Math.exp(logSum / n))).append('\n');
            }
        }
        return out.toString();
    }

    /** flow's headline over {@code compared}'s in one row; NaN where either is missing or the divisor is 0. */
    private static double ratio(Sweep sweep, String compared, Sweep.Row row) {
        double flow = sweep.value(BASE_MODE, row.lanes(), row.size());
        double other = sweep.value(compared, row.lanes(), row.size());
        return Double.isNaN(flow) || Double.isNaN(other) || other == 0 ? Double.NaN : flow / other;
    }

    private static String ratio(double r) {
        return Double.isNaN(r) ? MISSING : String.format(Locale.ROOT, "%.2f×", r);
    }

    /** A table value with three or more significant digits, whatever the unit. */
    private static String value(double v) {
        if (Double.isNaN(v)) {
            return MISSING;
        }
        double magnitude = Math.abs(v);
        int decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
        return number(v, decimals);
    }

    private static String lanes(int n) {
        return n + (n == 1 ? " lane" : " lanes");
    }

    private static String number(double v, int decimals) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    /** A text field quoted as RFC 4180 requires where it holds a comma, a quote or a line break. */
    private static String field(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    private static void checkName(String benchmark) {
        if (!NAME.matcher(benchmark).matches()) {
            throw new IllegalArgumentException("benchmark name must be letters, digits, '-' or '_': " + benchmark);
        }
    }
}
