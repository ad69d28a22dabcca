package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;

import java.util.Map;
import java.util.Optional;

/** No feedback: the first layout and equal weights stay, whatever the load (the paper's own setting). */
public final class StaticBalancer implements Balancer {
    @Override
    public BalancingPolicy policy() {
        return BalancingPolicy.STATIC;
    }

    @Override
    public Optional<TunnelAssignment> onReport(TunnelAssignment current, LoadReport receiverLoad,
                                               Map<Integer, Double> saPacketsPerSecond, long nowMs) {
        return Optional.empty();
    }

    @Override
    public boolean active() {
        return false;
    }
}
