package io.flowsec.control.api;

import io.vertx.codegen.annotations.DataObject;
import io.vertx.codegen.json.annotations.JsonGen;
import io.vertx.core.json.JsonObject;

/** The body of a request that sets a tunnel's balancing policy; validated against the contract before it is read. */
@DataObject
@JsonGen(publicConverter = false)
public class BalancingRequest {
    private String policy;

    public BalancingRequest() {
    }

    public BalancingRequest(JsonObject json) {
        BalancingRequestConverter.fromJson(json, this);
    }

    public String getPolicy() {
        return policy;
    }

    public BalancingRequest setPolicy(String policy) {
        this.policy = policy;
        return this;
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        BalancingRequestConverter.toJson(this, json);
        return json;
    }
}
