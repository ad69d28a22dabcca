package io.flowsec.testbed.bench.balance;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code flowsec bench balance}'s options: the policies in the order they run, the seconds measured after the
 * imbalance, the offered rate (datagrams/s), the throttled lane's share of a CPU in percent, where the results go,
 * and how each flow sends: in bursts of {@code burstOnMs} every {@code burstOnMs + burstOffMs}, or steadily (0).
 */
public record BalanceOptions(List<String> policies, int seconds, int rate, int laneCpuPercent, Path out, int burstOnMs,
                             int burstOffMs) {
    public static final List<String> POLICIES = List.of("static", "sender", "receiver");
    public static final int DEFAULT_SECONDS = 20;
    /**
     * With the default throttle (8 % of a CPU, about 9-10k datagrams/s on the 2-vCPU machine it was tuned on), the
     * loaded lane can take less than its two SAs bring at this rate (so there is a loss to recover) but more than one
     * (so moving one SA away relieves it), as ClusterBalancingSystemTest found.
     */
    public static final int DEFAULT_RATE = 30_000;
    public static final int DEFAULT_LANE_CPU_PERCENT = 8;
    /**
     * Flows pause, as TCP's flowlets do: a sender may move a flow only while it pauses longer than the flowlet gap (the
     * receiver's queue delays, up to 250 ms), so a flow that never pauses never moves under {@code sender}.
     */
    public static final int DEFAULT_BURST_ON_MS = 100;
    public static final int DEFAULT_BURST_OFF_MS = 300;

    /** The traffic, as the summary names it. */
    public String traffic() {
        return burstOnMs == 0 ? "steady" : "in bursts: " + burstOnMs + " ms on, " + burstOffMs + " ms off";
    }

    public BalanceOptions {
        policies = List.copyOf(policies);
    }
}
