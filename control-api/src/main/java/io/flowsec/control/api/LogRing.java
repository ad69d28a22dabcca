package io.flowsec.control.api;

import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.List;

/**
 * The appliance's recent log lines, served at {@value #PATH}: a bounded ring (the oldest line goes when it is full),
 * so an operator reads what the console showed without the console, as on an appliance with no shell. Any valid token
 * reads it. The lines are the appliance's own log, which never holds key material.
 *
 * <p>{@code GET /api/v1/logs?lines=N} (1 to the capacity, default {@value #DEFAULT_LINES}): the newest N lines, oldest
 * first, with how many were logged since the start ({@code logged}) and how many the ring holds at most.
 */
public final class LogRing implements ApiServer.Extension {
    public static final String PATH = ApiServer.BASE + "/logs";
    public static final int DEFAULT_CAPACITY = 2000;
    static final int DEFAULT_LINES = 100;
    /** A longer line is cut here (and says so): one runaway message must not fill the ring's memory. */
    static final int MAX_LINE_CHARS = 4096;

    private final String[] lines;
    private long logged;

    public LogRing(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.lines = new String[capacity];
    }

    /** Keeps {@code line}; any thread. */
    public synchronized void append(String line) {
        String kept = line.length() <= MAX_LINE_CHARS ? line
                : line.substring(0, MAX_LINE_CHARS) + " [cut: " + line.length() + " characters]";
        lines[(int) (logged % lines.length)] = kept;
        logged++;
    }

    /** The newest {@code count} lines (fewer when fewer were logged), oldest first. */
    public synchronized List<String> last(int count) {
        int available = (int) Math.min(logged, lines.length);
        int take = Math.min(count, available);
        List<String> result = new ArrayList<>(take);
        for (long i = logged - take; i < logged; i++) {
            result.add(lines[(int) (i % lines.length)]);
        }
        return result;
    }

    public synchronized long logged() {
        return logged;
    }

    public int capacity() {
        return lines.length;
    }

    @Override
    public void mount(Router root) {
        root.get(PATH).handler(this::serve);
    }

    private void serve(RoutingContext context) {
        int count = DEFAULT_LINES;
        List<String> asked = context.queryParam("lines");
        if (!asked.isEmpty()) {
            try {
                count = Integer.parseInt(asked.getFirst());
            } catch (NumberFormatException e) {
                count = -1;
            }
            if (asked.size() > 1 || count < 1 || count > lines.length) {
                context.fail(Problem.badRequest("lines must be a whole number 1-" + lines.length, "lines"));
                return;
            }
        }
        JsonObject body;
        synchronized (this) {
            body = new JsonObject().put("lines", new JsonArray(new ArrayList<Object>(last(count))))
                    .put("logged", logged).put("capacity", lines.length);
        }
        context.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json").putHeader("Cache-Control", "no-store")
                .end(body.encode());
    }
}
