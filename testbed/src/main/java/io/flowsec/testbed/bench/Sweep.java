package io.flowsec.testbed.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The headline value of each (mode, lanes, size) cell of a sweep, shared by the summary table and the chart so both
 * show the same numbers. Repeated runs of one cell are averaged over the runs that measured the figure.
 */
final class Sweep {
    /** The paper's modes in the order it shows them; other modes follow in order of appearance. */
    static final List<String> MODE_ORDER = List.of("single", "pcrypt", "flow");

    /** One row of the table: a lane count and a size. */
    record Row(int lanes, int size) {
    }

    private record Cell(String mode, int lanes, int size) {
    }

    private final List<String> modes;
    private final List<Integer> laneCounts;
    private final List<Row> rows;
    private final Map<Cell, Double> values;

    Sweep(List<BenchPoint> points, Headline headline) {
        Set<String> seen = new LinkedHashSet<>();
        Set<Integer> lanes = new TreeSet<>();
        Set<Row> rowSet = new TreeSet<>(Comparator.comparingInt(Row::lanes).thenComparingInt(Row::size));
        Map<Cell, double[]> sums = new HashMap<>();
        for (BenchPoint p : points) {
            seen.add(p.mode());
            lanes.add(p.lanes());
            rowSet.add(new Row(p.lanes(), p.size()));
            double v = headline.value().applyAsDouble(p);
            double[] sum = sums.computeIfAbsent(new Cell(p.mode(), p.lanes(), p.size()), c -> new double[2]);
            if (!Double.isNaN(v)) {
                sum[0] += v;
                sum[1]++;
            }
        }
        List<String> ordered = new ArrayList<>();
        MODE_ORDER.stream().filter(seen::contains).forEach(ordered::add);
        seen.stream().filter(m -> !MODE_ORDER.contains(m)).forEach(ordered::add);
        this.modes = List.copyOf(ordered);
        this.laneCounts = List.copyOf(lanes);
        this.rows = List.copyOf(rowSet);
        Map<Cell, Double> means = new HashMap<>();
        sums.forEach((cell, sum) -> means.put(cell, sum[1] == 0 ? Double.NaN : sum[0] / sum[1]));
        this.values = Map.copyOf(means);
    }

    /** The modes present, paper order first. */
    List<String> modes() {
        return modes;
    }

    /** The lane counts present, ascending. */
    List<Integer> laneCounts() {
        return laneCounts;
    }

    /** Whether points differ in lane count, so rows and series must name it. */
    boolean byLanes() {
        return laneCounts.size() > 1;
    }

    /** Every (lanes, size) measured by any mode, by lanes then size. */
    List<Row> rows() {
        return rows;
    }

    /** The headline value of a cell; NaN where it was not measured. */
    double value(String mode, int lanes, int size) {
        return values.getOrDefault(new Cell(mode, lanes, size), Double.NaN);
    }
}
