package io.flowsec.control.api;

import io.vertx.codegen.annotations.DataObject;
import io.vertx.codegen.json.annotations.JsonGen;
import io.vertx.core.json.JsonObject;

/** The body of a request that sets the steering; validated against the contract before it is read. */
@DataObject
@JsonGen(publicConverter = false)
public class SteeringRequest {
    private String steering;

    public SteeringRequest() {
    }

    public SteeringRequest(JsonObject json) {
        SteeringRequestConverter.fromJson(json, this);
    }

    public String getSteering() {
        return steering;
    }

    public SteeringRequest setSteering(String steering) {
        this.steering = steering;
        return this;
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        SteeringRequestConverter.toJson(this, json);
        return json;
    }
}
