package io.flowsec.control.api;

import io.vertx.codegen.annotations.DataObject;
import io.vertx.codegen.json.annotations.JsonGen;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;

/** {@code PUT /policies/{policy}/weights}: one weight per outbound SA of the group, in group order. */
@DataObject
@JsonGen(publicConverter = false)
public class WeightsRequest {
    private List<Integer> weights = new ArrayList<>();

    public WeightsRequest() {
    }

    public WeightsRequest(JsonObject json) {
        WeightsRequestConverter.fromJson(json, this);
    }

    public List<Integer> getWeights() {
        return weights;
    }

    public WeightsRequest setWeights(List<Integer> weights) {
        this.weights = weights;
        return this;
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        WeightsRequestConverter.toJson(this, json);
        return json;
    }
}
