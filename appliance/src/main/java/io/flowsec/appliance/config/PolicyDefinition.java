package io.flowsec.appliance.config;

import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.sa.FlowEncoding;

import java.net.InetAddress;
import java.util.List;

/** One configured policy: selectors, action and, for protect, its outbound SA group and inbound SAs. */
public record PolicyDefinition(String name, TrafficSelector selector, PolicyAction action, FlowEncoding encoding,
                               List<SaDefinition> outbound, List<SaDefinition> inbound, InetAddress nextHop,
                               List<Integer> weights) {
    /**
     * @param nextHop a bypass policy's: the router on the tunnel side its packets go to in clear; else null
     * @param weights the outbound group's relative weights, one per outbound SA in order, kept across restarts where
     *                the API (load feedback) set them; empty: equal weights
     */
    public PolicyDefinition {
    }
}
