package io.flowsec.testbed.bench.tunnel;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The targets, as ratios within one run on one machine, with flowsec standing for its {@code flow} tunnel:
 * TCP with 1 stream at least 8× wireguard-go's and 30 % of plain routing; TCP with 8 streams at least 8× and UDP
 * 64 B at least 2× wireguard-go's; {@code flow} at least {@code single} on every test.
 */
public final class TunnelTargets {
    public static final String FLOWSEC = "flow";

    /** {@code tunnel}'s value in {@code test} is at least {@code minimum} times {@code reference}'s. */
    public record Target(TunnelTest test, String tunnel, String reference, double minimum) {
        /** E.g. {@code TCP, 1 stream: flow ≥ 8× wireguard}, {@code … flow ≥ 30 % of plain}, {@code … flow ≥ single}. */
        public String describe() {
            String bound = minimum == 1 ? reference
                    : minimum < 1 ? String.format(Locale.ROOT, "%.0f %% of %s", minimum * 100, reference)
                    : String.format(Locale.ROOT, "%s× %s", trim(minimum), reference);
            return test.label() + ": " + tunnel + " ≥ " + bound;
        }

        private static String trim(double v) {
            return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
        }
    }

    public enum Verdict {
        MET("met"), MISSED("missed"), NOT_MEASURED("not measured");

        private final String label;

        Verdict(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** A target against one run: the ratio measured (NaN when not measured) and the verdict. */
    public record Check(Target target, double ratio, Verdict verdict) {
    }

    public static final List<Target> TARGETS = targets();

    private TunnelTargets() {
    }

    private static List<Target> targets() {
        List<Target> targets = new ArrayList<>(List.of(
                new Target(TunnelTest.TCP1, FLOWSEC, TunnelOptions.WIREGUARD, 8),
                new Target(TunnelTest.TCP1, FLOWSEC, TunnelOptions.PLAIN, 0.30),
                new Target(TunnelTest.TCP8, FLOWSEC, TunnelOptions.WIREGUARD, 8),
                new Target(TunnelTest.UDP64, FLOWSEC, TunnelOptions.WIREGUARD, 2)));
        for (TunnelTest test : TunnelTest.values()) {
            targets.add(new Target(test, FLOWSEC, "single", 1));
        }
        return List.copyOf(targets);
    }

    /**
     * The targets of the tests in {@code results}, each against them: a target whose tunnels were not both run is not
     * measured.
     */
    public static List<Check> check(List<TunnelResult> results) {
        List<Check> checks = new ArrayList<>();
        for (Target target : TARGETS) {
            if (results.stream().noneMatch(r -> r.test() == target.test())) {
                continue;
            }
            double ratio = ratio(results, target.test(), target.tunnel(), target.reference());
            Verdict verdict = Double.isNaN(ratio) && !measured(results, target) ? Verdict.NOT_MEASURED
                    : ratio >= target.minimum() ? Verdict.MET : Verdict.MISSED;
            checks.add(new Check(target, ratio, verdict));
        }
        return checks;
    }

    private static boolean measured(List<TunnelResult> results, Target target) {
        return value(results, target.test(), target.tunnel()) != null
                && value(results, target.test(), target.reference()) != null;
    }

    /**
     * {@code tunnel}'s value over {@code reference}'s in {@code test}; NaN when either was not measured or both are 0,
     * infinite when only the reference is 0.
     */
    public static double ratio(List<TunnelResult> results, TunnelTest test, String tunnel, String reference) {
        Double value = value(results, test, tunnel);
        Double base = value(results, test, reference);
        return value == null || base == null ? Double.NaN : value / base;
    }

    private static Double value(List<TunnelResult> results, TunnelTest test, String tunnel) {
        for (TunnelResult result : results) {
            if (result.test() == test && result.tunnel().equals(tunnel)) {
                return result.value();
            }
        }
        return null;
    }
}
