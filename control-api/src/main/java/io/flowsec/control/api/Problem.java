package io.flowsec.control.api;

import io.vertx.core.json.JsonObject;

/**
 * A refused request as RFC 9457 problem details: status, a short title, what went wrong and, for a bad request, the
 * field at fault. Thrown by the resources, answered by the server's failure handler. Never carries key material.
 */
public final class Problem extends RuntimeException {
    public static final String MEDIA_TYPE = "application/problem+json";

    private final int status;
    private final String title;
    private final String field;

    public Problem(int status, String title, String detail, String field) {
        super(detail, null, false, false);   // a refusal, not a fault: no stack trace to fill or log
        this.status = status;
        this.title = title;
        this.field = field;
    }

    public static Problem badRequest(String detail, String field) {
        return new Problem(400, "Bad request", detail, field);
    }

    public static Problem notFound(String detail) {
        return new Problem(404, "Not found", detail, null);
    }

    public static Problem conflict(String detail) {
        return new Problem(409, "Conflict", detail, null);
    }

    public int status() {
        return status;
    }

    /** The body: {@code type} names the class of problem, {@code instance} the request's path. */
    public JsonObject toJson(String instance) {
        JsonObject json = new JsonObject()
                .put("type", "https://flowsec.dev/problems/" + title.toLowerCase().replace(' ', '-'))
                .put("title", title)
                .put("status", status)
                .put("detail", getMessage())
                .put("instance", instance);
        if (field != null) {
            json.put("field", field);
        }
        return json;
    }
}
