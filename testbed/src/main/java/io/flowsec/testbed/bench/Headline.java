package io.flowsec.testbed.bench;

import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * Which figure of a {@link BenchPoint} a benchmark's summary table and chart compare the modes by: the one the paper
 * plots for that benchmark.
 *
 * @param label what the figure is, e.g. "Throughput"
 * @param unit  its unit, e.g. "Gbit/s"
 * @param value reads it from a point; NaN where the point did not measure it
 */
public record Headline(String label, String unit, ToDoubleFunction<BenchPoint> value) {
    /** Micro and receiver benchmarks: router B's transmit rate towards host B (inner IP bytes). */
    public static final Headline THROUGHPUT = new Headline("Throughput", "Gbit/s", BenchPoint::throughputGbps);
    /** App benchmark: HTTP requests ApacheBench completed per second. */
    public static final Headline REQUESTS = new Headline("Requests", "requests/s", BenchPoint::requestsPerSecond);
    /** Receiver benchmark: packets router B wrote towards host B per second. */
    public static final Headline PACKETS = new Headline("Packet rate", "pkt/s", BenchPoint::packetsPerSecond);

    public Headline {
        Objects.requireNonNull(label, "label");
        Objects.requireNonNull(unit, "unit");
        Objects.requireNonNull(value, "value");
    }

    /** The axis or column title, e.g. "Throughput (Gbit/s)". */
    public String title() {
        return label + " (" + unit + ")";
    }
}
