package io.flowsec.control.api;

import io.vertx.codegen.annotations.DataObject;
import io.vertx.codegen.json.annotations.JsonGen;
import io.vertx.core.json.JsonObject;

/** The body of a request that sets the lane; validated against the contract before it is read. */
@DataObject
@JsonGen(publicConverter = false)
public class LaneRequest {
    private Integer lane;

    public LaneRequest() {
    }

    public LaneRequest(JsonObject json) {
        LaneRequestConverter.fromJson(json, this);
    }

    public Integer getLane() {
        return lane;
    }

    public LaneRequest setLane(Integer lane) {
        this.lane = lane;
        return this;
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        LaneRequestConverter.toJson(this, json);
        return json;
    }
}
