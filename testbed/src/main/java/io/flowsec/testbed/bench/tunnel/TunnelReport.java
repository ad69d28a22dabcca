package io.flowsec.testbed.bench.tunnel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Writes {@code flowsec bench tunnel}'s results: {@code tunnel.csv} (one row per tunnel and test),
 * {@code tunnel.png} ({@link TunnelChart}) and {@code tunnel-summary.txt}: the values side by side with flow's
 * ratios to wireguard, plain and single, the routers' CPU, each target met or missed, the machine and the command.
 */
public final class TunnelReport {
    public static final String CSV_HEADER = "tunnel,test,value,unit,routerA_cpu,routerB_cpu";
    /** The CSV's and the summary's word for a router whose forwarding no process's CPU time shows. */
    public static final String NOT_ATTRIBUTED = "n/a";
    private static final String MISSING = "–";
    /** The ratio columns: flowsec's flow tunnel over each of these. */
    private static final List<String> RATIO_REFERENCES = List.of(TunnelOptions.WIREGUARD, TunnelOptions.PLAIN, "single",
            TunnelOptions.FLOW_NO_OFFLOADS);
    /** Ratio columns shown only when their tunnel ran (they are run on demand). */
    private static final List<String> OPTIONAL_REFERENCES = List.of(TunnelOptions.FLOW_NO_RING);

    private TunnelReport() {
    }

    /** Writes the three files into {@code dir} (created when missing); returns the summary. */
    public static String write(Path dir, String machine, String commandLine, String setup, List<TunnelResult> results)
            throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("tunnel.csv"), csv(results));
        String summary = summary(machine, commandLine, setup, results);
        Files.writeString(dir.resolve("tunnel-summary.txt"), summary);
        TunnelChart.write(dir.resolve("tunnel.png"), machine, results);
        return summary;
    }

    /** {@link #CSV_HEADER}, then one line per result; CPU in cores (CPU seconds per second) or {@code n/a}. */
    public static String csv(List<TunnelResult> results) {
        StringBuilder out = new StringBuilder(CSV_HEADER).append('\n');
        for (TunnelResult r : results) {
            out.append(String.join(",", r.tunnel(), r.test().id(), csvValue(r), r.test().unit(),
                    cores(r.routerACores(), 3), cores(r.routerBCores(), 3))).append('\n');
        }
        return out.toString();
    }

    private static String csvValue(TunnelResult r) {
        int decimals = switch (r.test().unit()) {
            case "Gbit/s" -> 4;
            case "requests/s" -> 1;
            default -> 0;
        };
        return String.format(Locale.ROOT, "%." + decimals + "f", r.value());
    }

    private static String cores(double cores, int decimals) {
        return Double.isNaN(cores) ? NOT_ATTRIBUTED : String.format(Locale.ROOT, "%." + decimals + "f", cores);
    }

    /**
     * The summary: the machine, the command, the setup, the values per test (a row) and tunnel (a column) with flow's
     * ratios to wireguard, plain and single, the routers' CPU per test and tunnel, and the targets' verdicts.
     */
    public static String summary(String machine, String commandLine, String setup, List<TunnelResult> results) {
        List<String> tunnels = tunnels(results);
        List<TunnelTest> tests = tests(results);
        StringBuilder out = new StringBuilder();
        out.append("flowsec bench tunnel on ").append(machine).append('\n');
        out.append("command: ").append(commandLine).append('\n').append('\n');
        out.append(setup).append(":\n\n");

        // 1. values and ratios
        out.append("| test | unit |");
        tunnels.forEach(t -> out.append(' ').append(t).append(" |"));
        List<String> references = new ArrayList<>(RATIO_REFERENCES);
        OPTIONAL_REFERENCES.stream().filter(tunnels::contains).forEach(references::add);
        references.forEach(r -> out.append(' ').append(TunnelTargets.FLOWSEC).append('/').append(r).append(" |"));
        out.append("\n|---|---|").append("---:|".repeat(tunnels.size() + references.size())).append('\n');
        for (TunnelTest test : tests) {
            out.append("| ").append(test.label()).append(" | ").append(test.unit()).append(" |");
            for (String tunnel : tunnels) {
                TunnelResult r = find(results, tunnel, test);
                out.append(' ').append(r == null ? MISSING : value(r.value())).append(" |");
            }
            for (String reference : references) {
                out.append(' ').append(ratio(TunnelTargets.ratio(results, test, TunnelTargets.FLOWSEC, reference)))
                        .append(" |");
            }
            out.append('\n');
        }

        // 2. the routers' CPU
        out.append("\nRouter CPU during each test, cores (CPU seconds per second of the test), router A / router B:\n\n");
        out.append("| test |");
        tunnels.forEach(t -> out.append(' ').append(t).append(" |"));
        out.append("\n|---|").append("---:|".repeat(tunnels.size())).append('\n');
        boolean notAttributed = false;
        for (TunnelTest test : tests) {
            out.append("| ").append(test.label()).append(" |");
            for (String tunnel : tunnels) {
                TunnelResult r = find(results, tunnel, test);
                String cell;
                if (r == null) {
                    cell = MISSING;
                } else if (Double.isNaN(r.routerACores()) && Double.isNaN(r.routerBCores())) {
                    cell = NOT_ATTRIBUTED;
                    notAttributed = true;
                } else {
                    cell = cores(r.routerACores(), 2) + " / " + cores(r.routerBCores(), 2);
                }
                out.append(' ').append(cell).append(" |");
            }
            out.append('\n');
        }
        if (notAttributed) {
            out.append("\n").append(NOT_ATTRIBUTED).append(": plain routing is forwarded by the routers' kernels in softirq "
                    + "context, which no process's CPU time shows; it is not measured.\n");
        }

        // 3. targets
        out.append("\nTargets (flowsec: its ").append(TunnelTargets.FLOWSEC).append(" tunnel; ratios in this run):\n\n");
        out.append("| target | ratio | verdict |\n|---|---:|---|\n");
        int met = 0;
        int measured = 0;
        for (TunnelTargets.Check check : TunnelTargets.check(results)) {
            out.append("| ").append(check.target().describe()).append(" | ")
                    .append(check.verdict() == TunnelTargets.Verdict.NOT_MEASURED ? MISSING : ratio(check.ratio()))
                    .append(" | ").append(check.verdict().label()).append(" |\n");
            if (check.verdict() != TunnelTargets.Verdict.NOT_MEASURED) {
                measured++;
                met += check.verdict() == TunnelTargets.Verdict.MET ? 1 : 0;
            }
        }
        out.append('\n').append(met).append(" of ").append(measured).append(" targets measured met.\n");

        // 4. what went wrong without spoiling a figure
        List<String> notes = new ArrayList<>();
        for (TunnelResult r : results) {
            if (!r.note().isEmpty()) {
                notes.add(r.tunnel() + ", " + r.test().label() + ": " + r.note());
            }
        }
        if (!notes.isEmpty()) {
            out.append("\nNotes:\n");
            notes.forEach(note -> out.append("- ").append(note).append('\n'));
        }
        return out.toString();
    }

    /** The tunnels in the order they ran. */
    static List<String> tunnels(List<TunnelResult> results) {
        Set<String> tunnels = new LinkedHashSet<>();
        results.forEach(r -> tunnels.add(r.tunnel()));
        return List.copyOf(tunnels);
    }

    /** The tests in the order they ran. */
    static List<TunnelTest> tests(List<TunnelResult> results) {
        Set<TunnelTest> tests = new LinkedHashSet<>();
        results.forEach(r -> tests.add(r.test()));
        return List.copyOf(tests);
    }

    static TunnelResult find(List<TunnelResult> results, String tunnel, TunnelTest test) {
        for (TunnelResult r : results) {
            if (r.test() == test && r.tunnel().equals(tunnel)) {
                return r;
            }
        }
        return null;
    }

    /**
     * A ratio: {@code 12.3×}, {@code 1.25×}; under 1, also as a percentage ({@code 0.031× (3.1 %)}), as the targets
     * against plain routing read.
     */
    static String ratio(double r) {
        if (Double.isNaN(r)) {
            return MISSING;
        }
        if (Double.isInfinite(r)) {
            return "∞";
        }
        if (r >= 10) {
            return String.format(Locale.ROOT, "%.1f×", r);
        }
        if (r >= 1) {
            return String.format(Locale.ROOT, "%.2f×", r);
        }
        return String.format(Locale.ROOT, "%.3f× (%.1f %%)", r, r * 100);
    }

    /** Three significant digits or more, thousands grouped: {@code 0.415}, {@code 9.87}, {@code 35,169}. */
    static String value(double v) {
        double magnitude = Math.abs(v);
        int decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
        return String.format(Locale.ROOT, "%,." + decimals + "f", v);
    }
}
