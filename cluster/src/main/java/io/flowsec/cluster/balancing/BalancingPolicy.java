package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.StrictJson;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** Who balances a tunnel, switchable while it runs. */
public enum BalancingPolicy {
    /** No feedback: the first layout stays. */
    STATIC,
    /** The paper's usage (a): the sender reweights its SAs away from those landing on the receiver's busy lanes. */
    SENDER,
    /** The paper's usage (b): the receiver moves SAs from its busy lanes to idle ones. */
    RECEIVER;

    /** The name in configuration and the API. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The policy a configuration names, case aside; refused with the names there are. */
    public static BalancingPolicy parse(String name) {
        if (name != null) {
            for (BalancingPolicy policy : values()) {
                if (policy.configName().equalsIgnoreCase(name.strip())) {
                    return policy;
                }
            }
        }
        throw new IllegalArgumentException("balancing policy " + (name == null ? "null" : "'" + StrictJson.printable(name.strip()) + "'")
                + " is not one of " + Arrays.stream(values()).map(BalancingPolicy::configName).collect(Collectors.joining(", ")));
    }
}
