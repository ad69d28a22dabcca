package io.flowsec.dataplane.policy;

import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.sa.SaGroup;

/**
 * One SPD entry: selectors, an action, and for PROTECT the outbound SA group (the paper's one SP, several SAs).
 * Inbound SAs carry the same selectors and are found by SPI in the SAD.
 */
public record SecurityPolicy(String name, TrafficSelector selector, PolicyAction action, SaGroup outboundGroup) {
    public SecurityPolicy {
        if (action == PolicyAction.PROTECT && outboundGroup == null) {
            throw new IllegalArgumentException(name + ": a protect policy needs outbound SAs");
        }
    }
}
