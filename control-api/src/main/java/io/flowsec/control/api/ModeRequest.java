package io.flowsec.control.api;

import io.vertx.codegen.annotations.DataObject;
import io.vertx.codegen.json.annotations.JsonGen;
import io.vertx.core.json.JsonObject;

/** The body of a request that sets the mode; validated against the contract before it is read. */
@DataObject
@JsonGen(publicConverter = false)
public class ModeRequest {
    private String mode;

    public ModeRequest() {
    }

    public ModeRequest(JsonObject json) {
        ModeRequestConverter.fromJson(json, this);
    }

    public String getMode() {
        return mode;
    }

    public ModeRequest setMode(String mode) {
        this.mode = mode;
        return this;
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        ModeRequestConverter.toJson(this, json);
        return json;
    }
}
