package io.flowsec.dataplane.policy;

import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.selector.TrafficSelector;

import java.net.InetAddress;

/**
 * One SPD entry: selectors, an action, and for PROTECT the outbound SA group (the paper's one SP, several SAs).
 * Inbound SAs carry the same selectors and are found by SPI in the SAD. A bypass policy names the next hop its
 * packets are forwarded to in clear ({@code nextHop}, on the tunnel side).
 */
public record SecurityPolicy(String name, TrafficSelector selector, PolicyAction action, SaGroup outboundGroup,
                             InetAddress nextHop) {
    public SecurityPolicy {
        if (action == PolicyAction.PROTECT && outboundGroup == null) {
            throw new IllegalArgumentException(name + ": a protect policy needs outbound SAs");
        }
    }

    /** A policy without a next hop: protect and discard policies, or bypass ones whose packets are not forwarded. */
    public SecurityPolicy(String name, TrafficSelector selector, PolicyAction action, SaGroup outboundGroup) {
        this(name, selector, action, outboundGroup, null);
    }
}
