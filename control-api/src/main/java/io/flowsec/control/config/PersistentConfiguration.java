package io.flowsec.control.config;

import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.selector.TrafficSelector;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The appliance's configuration file as the API changes it: each change is checked against what the appliance would
 * accept at its next start, applied to the data plane, and written durably (a temporary file written and forced, then
 * renamed over the configuration, the directory forced), or, when anything fails, none of it. Implemented by the
 * appliance, which owns the file's format; calls are serialised by the caller.
 */
public interface PersistentConfiguration {
    /**
     * Records {@code change}: first checks that the configuration with the change is one the appliance accepts
     * (else {@link IllegalArgumentException} naming the field, nothing applied), then runs {@code applyToDataplane}
     * (a refusal there propagates, nothing written), then writes the file. If the write fails after the data plane
     * changed, the data plane keeps the change and the {@link IOException} says the file lags behind.
     */
    void commit(ConfigurationChange change, Runnable applyToDataplane) throws IOException;

    /**
     * The inbound SA {@code added} describes, as the configuration with that change would start it (its policy's
     * suite, endpoints, encoding and selectors), for the API to install; nothing applied or written. Refusals are
     * {@link IllegalArgumentException}s naming the field (a key of the wrong length, an SPI in use).
     */
    default io.flowsec.dataplane.sa.SecurityAssociation inboundSa(ConfigurationChange.SaAdded added) {
        throw new UnsupportedOperationException("this appliance's configuration cannot add SAs");
    }

    /**
     * The policy {@code change} sets, as the configuration with that change would start it, for the API to apply;
     * nothing applied or written. A replacement may list a running SA by SPI without its keys (they are write-only,
     * so a client cannot resend them): it keeps that SA, whose keys and settings must then be unchanged. Refusals are
     * {@link RefusedChange}s naming the entry's field.
     */
    default PolicyDraft policy(ConfigurationChange.PolicySet change) {
        throw new UnsupportedOperationException("this appliance's configuration cannot add policies");
    }

    /** The SPIs of a configured policy's inbound SAs (what leaves with it). */
    default List<Integer> inboundSpis(String policy) {
        throw new UnsupportedOperationException("this appliance's configuration cannot remove policies");
    }

    /**
     * A policy as the configuration would start it: its selector, the policy (null for a protect policy without
     * outbound SAs, which only receives), every inbound SA, the lane of each inbound SA that names one, and the
     * group's weights (empty: equal). Its SAs are new objects: the API keeps the running ones where SPIs match.
     */
    record PolicyDraft(String name, TrafficSelector selector, SecurityPolicy policy, List<SecurityAssociation> inbound,
                       Map<Integer, Integer> inboundLanes, int[] weights) {
        public PolicyDraft {
            inbound = List.copyOf(inbound);
            inboundLanes = Map.copyOf(inboundLanes);
            weights = weights.clone();
        }
    }
}
