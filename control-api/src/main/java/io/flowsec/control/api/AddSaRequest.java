package io.flowsec.control.api;

import io.vertx.codegen.annotations.DataObject;
import io.vertx.codegen.json.annotations.JsonGen;
import io.vertx.core.json.JsonObject;

/**
 * {@code POST /policies/{policy}/inbound}: a new inbound SA's SPI and keys (ASCII hex, write-only) and, optionally,
 * the peer's UDP source port for it and the lane to serve it; everything else is its policy's. {@link #toString} leaves the keys out.
 */
@DataObject
@JsonGen(publicConverter = false)
public class AddSaRequest {
    private String spi;
    private String key;
    private String integrityKey;
    private Integer lane;
    private Integer sourcePort;

    public AddSaRequest() {
    }

    public AddSaRequest(JsonObject json) {
        AddSaRequestConverter.fromJson(json, this);
    }

    public String getSpi() {
        return spi;
    }

    public AddSaRequest setSpi(String spi) {
        this.spi = spi;
        return this;
    }

    public String getKey() {
        return key;
    }

    public AddSaRequest setKey(String key) {
        this.key = key;
        return this;
    }

    public String getIntegrityKey() {
        return integrityKey;
    }

    public AddSaRequest setIntegrityKey(String integrityKey) {
        this.integrityKey = integrityKey;
        return this;
    }

    public Integer getLane() {
        return lane;
    }

    public AddSaRequest setLane(Integer lane) {
        this.lane = lane;
        return this;
    }

    public Integer getSourcePort() {
        return sourcePort;
    }

    public AddSaRequest setSourcePort(Integer sourcePort) {
        this.sourcePort = sourcePort;
        return this;
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        AddSaRequestConverter.toJson(this, json);
        return json;
    }

    @Override
    public String toString() {
        return "AddSaRequest[spi=" + spi + ", lane=" + lane + "]";
    }
}
