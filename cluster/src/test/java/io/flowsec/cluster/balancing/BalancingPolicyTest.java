package io.flowsec.cluster.balancing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BalancingPolicyTest {
    @Test
    void shouldParseTheConfigurationNamesCaseAside() {
        assertEquals(BalancingPolicy.STATIC, BalancingPolicy.parse("static"));
        assertEquals(BalancingPolicy.SENDER, BalancingPolicy.parse(" Sender "));
        assertEquals(BalancingPolicy.RECEIVER, BalancingPolicy.parse("RECEIVER"));
        assertEquals("receiver", BalancingPolicy.RECEIVER.configName());
    }

    @Test
    void shouldRefuseAnyOtherNameListingTheNamesThereAre() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BalancingPolicy.parse("both"));
        assertEquals("balancing policy 'both' is not one of static, sender, receiver", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BalancingPolicy.parse(null));
        assertThrows(IllegalArgumentException.class, () -> BalancingPolicy.parse(""));
    }

    @Test
    void shouldCreateTheBalancerOfEachPolicy() {
        assertInstanceOf(StaticBalancer.class, Balancer.create(BalancingPolicy.STATIC, BalancerSettings.DEFAULTS, "a"));
        assertInstanceOf(SenderBalancer.class, Balancer.create(BalancingPolicy.SENDER, BalancerSettings.DEFAULTS, "a"));
        assertInstanceOf(ReceiverBalancer.class, Balancer.create(BalancingPolicy.RECEIVER, BalancerSettings.DEFAULTS, "a"));
        for (BalancingPolicy policy : BalancingPolicy.values()) {
            assertEquals(policy, Balancer.create(policy, BalancerSettings.DEFAULTS, "a").policy());
        }
        assertThrows(IllegalArgumentException.class, () -> Balancer.create(BalancingPolicy.SENDER, BalancerSettings.DEFAULTS, "not a name"));
    }
}
