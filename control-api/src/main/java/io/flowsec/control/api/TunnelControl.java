package io.flowsec.control.api;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.function.Consumer;

/**
 * The cluster's tunnels as the API shows and changes them: each tunnel's peer, balancing policy, assignment and the
 * load both ends report. The cluster module implements it; an appliance without a cluster has {@link #NONE}. Reads
 * may run on any thread; {@link #balancing(String, String)} runs on the API's change thread.
 */
public interface TunnelControl {
    /** No cluster: no tunnels. */
    TunnelControl NONE = new TunnelControl() {
        @Override
        public JsonArray tunnels() {
            return new JsonArray();
        }

        @Override
        public JsonObject tunnel(String id) {
            return null;
        }

        @Override
        public JsonObject assignment(String id) {
            return null;
        }

        @Override
        public void balancing(String id, String policy) {
            throw new IllegalStateException("this appliance runs no cluster, so it has no tunnels");
        }
    };

    /** Every tunnel, as {@link #tunnel} shows each. */
    JsonArray tunnels();

    /** A tunnel's state (id, policy, peer, balancing, whether the peer is reachable), or null when there is none. */
    JsonObject tunnel(String id);

    /** Both directions' assignments and the latest load reports of both ends, or null when there is no such tunnel. */
    JsonObject assignment(String id);

    /**
     * Switches a tunnel's balancing policy live ({@code static}, {@code sender} or {@code receiver}); an unknown
     * policy is an {@link IllegalArgumentException} saying which exist. Nothing else changes.
     */
    void balancing(String id, String policy);

    /** Cluster messages refused since start, by reason ({@code bad_tag}, {@code replayed}, ...); none without a cluster. */
    default Map<String, Long> rejectedMessages() {
        return Map.of();
    }

    /**
     * Tells {@code listener} each tunnel event as the event stream sends it ({@code peer-lost}, {@code peer-back},
     * {@code assignment-changed}, with the tunnel's id), from any thread; it must not block.
     */
    default void addListener(Consumer<JsonObject> listener) {
    }
}
