package io.flowsec.testbed.bench.warmstart;

import java.util.List;

/**
 * One start of the test bed's two routers, measured: how long each took from its process's start until it answered
 * on its status socket, the round trip times of the first pings from host A to host B through the tunnel (NaN: lost),
 * and then what host B received through the tunnel in windows of 100 ms from the moment the traffic started.
 *
 * @param variant "without" or "with" the AOT cache (or an experiment's name)
 * @param round   0, 1, ...: the variants alternate in order from round to round
 */
public record WarmStartRun(String variant, int round, long readyMsA, long readyMsB, List<Double> pingsMs,
                           List<Window> windows) {
    public WarmStartRun {
        pingsMs = List.copyOf(pingsMs);
        windows = List.copyOf(windows);
    }

    /**
     * The datagrams host B received between {@code fromS} and {@code toS} after the traffic started, and the CPU time
     * router B's process used meanwhile (lanes, JIT compiler, everything: the cost of a cold start shows there even
     * when other work on the machine holds the rate down).
     */
    public record Window(double fromS, double toS, long packets, long cpuNanos) {
        public double packetsPerSecond() {
            return packets / (toS - fromS);
        }
    }

    /** The later of the two routers' start times: when the tunnel was up. */
    public long readyMs() {
        return Math.max(readyMsA, readyMsB);
    }
}
