package io.flowsec.dataplane.policy;

import io.flowsec.dataplane.packet.FlowKey;

import java.util.List;

/**
 * The SPD (RFC 4301 §4.4.1): an ordered list, first match wins, no match means discard. Published copy-on-write
 * so lanes read it without locks. A linear scan is right for the handful of policies an appliance holds.
 */
public final class SecurityPolicyDatabase {
    private volatile SecurityPolicy[] policies = new SecurityPolicy[0];

    public SecurityPolicyDatabase() {
    }

    public SecurityPolicyDatabase(List<SecurityPolicy> policies) {
        replaceAll(policies);
    }

    /** Control plane: installs a new ordered list. */
    public void replaceAll(List<SecurityPolicy> newPolicies) {
        this.policies = newPolicies.toArray(new SecurityPolicy[0]);
    }

    /** Hot path: the index of the first policy whose selectors match an outbound packet, or -1. */
    public int matchOutboundIndex(FlowKey key) {
        SecurityPolicy[] current = policies;
        for (int i = 0; i < current.length; i++) {
            if (current[i].selector().matchesOutbound(key)) {
                return i;
            }
        }
        return -1;
    }

    /** The policy at {@code index} of the current list. */
    public SecurityPolicy policy(int index) {
        return policies[index];
    }

    /** Hot path: the first policy whose selectors match an outbound packet, or null. */
    public SecurityPolicy matchOutbound(FlowKey key) {
        SecurityPolicy[] current = policies;
        for (SecurityPolicy policy : current) {
            if (policy.selector().matchesOutbound(key)) {
                return policy;
            }
        }
        return null;
    }

    public List<SecurityPolicy> policies() {
        return List.of(policies);
    }
}
