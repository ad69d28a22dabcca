package io.flowsec.testbed.bench.balance;

import java.util.List;

/**
 * One sampling interval of a balancing run, ending {@code t} seconds after the imbalance (t0; negative before it):
 * what the flows sent and the sink received in it, router B's lanes (tunnel datagrams each read, busy share of the
 * interval) and flowsec's drops at B, and the assignment versions last seen (A's sending, B's receiving; -1 unknown).
 */
public record BalanceSample(String policy, double t, double seconds, long sent, long delivered, long outOfOrder,
                            List<Long> laneDatagrams, List<Double> laneBusy, long drops, long sendingVersionA,
                            long receivingVersionB) {
    public BalanceSample {
        laneDatagrams = List.copyOf(laneDatagrams);
        laneBusy = List.copyOf(laneBusy);
    }

    /** When the interval began, seconds since t0. */
    public double start() {
        return t - seconds;
    }

    public double deliveredFraction() {
        return sent == 0 ? Double.NaN : (double) delivered / sent;
    }

    /** {@code lane}'s share of the tunnel datagrams B's lanes read; NaN when they read none. */
    public double share(int lane) {
        long total = laneDatagrams.stream().mapToLong(Long::longValue).sum();
        return total == 0 ? Double.NaN : (double) laneDatagrams.get(lane) / total;
    }
}
