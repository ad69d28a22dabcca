package io.flowsec.testbed.bench.tunnel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * One test through one tunnel.
 *
 * @param tunnel       {@code plain}, {@code wireguard}, {@code single} …
 * @param test         what was run
 * @param value        in {@link TunnelTest#unit()}
 * @param routerACores router A's tunnel processes' CPU time per second of the test; NaN where no process does the
 *                     work (plain routing: the kernel forwards)
 * @param routerBCores the same for router B
 * @param note         what went wrong without spoiling the figure (e.g. failed HTTP requests); empty when nothing
 */
public record TunnelResult(String tunnel, TunnelTest test, double value, double routerACores, double routerBCores,
                           String note) {
    /**
     * One result per tunnel and test, in the order they first appear: where {@code results} holds several (rounds),
     * the median of their values and of each router's CPU (the middle one, or the mean of the two middle ones), with
     * the range and every round's value in the note; a single result stays as it is.
     */
    public static List<TunnelResult> medians(List<TunnelResult> results) {
        Map<String, List<TunnelResult>> byKey = new LinkedHashMap<>();
        for (TunnelResult r : results) {
            byKey.computeIfAbsent(r.tunnel + "/" + r.test.id(), key -> new ArrayList<>()).add(r);
        }
        List<TunnelResult> medians = new ArrayList<>();
        for (List<TunnelResult> rounds : byKey.values()) {
            if (rounds.size() == 1) {
                medians.add(rounds.getFirst());
                continue;
            }
            TunnelResult first = rounds.getFirst();
            List<String> values = new ArrayList<>();
            List<String> notes = new ArrayList<>();
            for (TunnelResult r : rounds) {
                values.add(TunnelReport.value(r.value));
                if (!r.note.isEmpty()) {
                    notes.add(r.note);
                }
            }
            String note = "median of " + rounds.size() + ": " + String.join(", ", values)
                    + (notes.isEmpty() ? "" : "; " + String.join("; ", notes));
            medians.add(new TunnelResult(first.tunnel, first.test, median(rounds, TunnelResult::value),
                    median(rounds, TunnelResult::routerACores), median(rounds, TunnelResult::routerBCores), note));
        }
        return medians;
    }

    private static double median(List<TunnelResult> rounds, ToDoubleFunction<TunnelResult> field) {
        double[] values = rounds.stream().mapToDouble(field).sorted().toArray();
        int middle = values.length / 2;
        return values.length % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
