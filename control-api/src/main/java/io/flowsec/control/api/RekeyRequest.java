package io.flowsec.control.api;

import io.vertx.codegen.annotations.DataObject;
import io.vertx.codegen.json.annotations.JsonGen;
import io.vertx.core.json.JsonObject;

/**
 * {@code POST /sas/{direction}/{spi}/rekey}: the successor's SPI and keys (ASCII hex, write-only), and how long the
 * old inbound SA keeps accepting. Validated against the contract before it is read; {@link #toString} leaves the keys
 * out.
 */
@DataObject
@JsonGen(publicConverter = false)
public class RekeyRequest {
    private String spi;
    private String key;
    private String integrityKey;
    private Long graceMs;

    public RekeyRequest() {
    }

    public RekeyRequest(JsonObject json) {
        RekeyRequestConverter.fromJson(json, this);
    }

    public String getSpi() {
        return spi;
    }

    public RekeyRequest setSpi(String spi) {
        this.spi = spi;
        return this;
    }

    public String getKey() {
        return key;
    }

    public RekeyRequest setKey(String key) {
        this.key = key;
        return this;
    }

    public String getIntegrityKey() {
        return integrityKey;
    }

    public RekeyRequest setIntegrityKey(String integrityKey) {
        this.integrityKey = integrityKey;
        return this;
    }

    public Long getGraceMs() {
        return graceMs;
    }

    public RekeyRequest setGraceMs(Long graceMs) {
        this.graceMs = graceMs;
        return this;
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        RekeyRequestConverter.toJson(this, json);
        return json;
    }

    @Override
    public String toString() {
        return "RekeyRequest[spi=" + spi + ", graceMs=" + graceMs + "]";
    }
}
