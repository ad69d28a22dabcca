package io.flowsec.control.api;

import io.flowsec.dataplane.lane.Offload;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** The lanes' batching and offload paths as {@code GET /api/v1/appliance} and the control socket's status show them. */
public final class OffloadsJson {
    private OffloadsJson() {
    }

    /** {@code [{"name": "udp-gso", "active": true, "detail": "UDP_SEGMENT"}, ...]} */
    public static JsonArray of(DataplaneControl dataplane) {
        JsonArray offloads = new JsonArray();
        for (Offload offload : dataplane.offloads()) {
            offloads.add(new JsonObject().put("name", offload.name()).put("active", offload.active())
                    .put("detail", offload.detail()));
        }
        return offloads;
    }
}
