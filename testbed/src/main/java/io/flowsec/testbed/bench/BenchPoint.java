package io.flowsec.testbed.bench;

import java.util.List;

/**
 * One measured point of a benchmark sweep: one mode, steering, size and lane count, run for {@code seconds}.
 * Figures a benchmark does not measure are {@link Double#NaN}.
 *
 * @param mode                  router B's mode: single, pcrypt or flow
 * @param steering              router B's steering: director, rss or single
 * @param size                  message size (micro), file size (app) or inner UDP payload size (receiver), bytes
 * @param lanes                 router B's lane count
 * @param seconds               measured time (after warm-up)
 * @param throughputGbps        the headline: router B's transmit rate towards host B in inner IP bytes (micro,
 *                              receiver) or ApacheBench's transfer rate (app), Gbit/s
 * @param applicationGbps       what the application received: the micro server's bytes, NaN elsewhere
 * @param packetsPerSecond      packets router B wrote towards host B per second
 * @param requestsPerSecond     HTTP requests per second (app), NaN elsewhere
 * @param cpuPerLane            each lane's busy share of the time, 0..1 (lane order)
 * @param cpuNanosPerPacket     router B's process CPU time (user + system) per packet written towards host B
 * @param drops                 packets router B dropped in the measured time (all reasons)
 * @param dropReasons           the drop reasons with their counts, sorted, e.g. "authentication-failed=1 replay-too-old=3"
 */
public record BenchPoint(String mode, String steering, int size, int lanes, double seconds, double throughputGbps,
                         double applicationGbps, double packetsPerSecond, double requestsPerSecond,
                         List<Double> cpuPerLane, double cpuNanosPerPacket, long drops, String dropReasons) {

    public BenchPoint {
        cpuPerLane = List.copyOf(cpuPerLane);
        dropReasons = dropReasons == null ? "" : dropReasons;
    }
}
