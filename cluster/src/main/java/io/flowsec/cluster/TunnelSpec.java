package io.flowsec.cluster;

import io.flowsec.cluster.balancing.BalancingPolicy;

/**
 * One tunnel the cluster coordinates, as this end sees it.
 *
 * @param id        the tunnel's name, the same at both ends
 * @param policy    the local policy: its SA group sends to the peer, its inbound SAs receive from it
 * @param peer      the peer appliance's member name
 * @param balancing what this end does with load feedback (each end's policy governs its own moves)
 */
public record TunnelSpec(String id, String policy, String peer, BalancingPolicy balancing) {
}
