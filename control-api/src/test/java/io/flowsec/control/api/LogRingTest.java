package io.flowsec.control.api;

import io.flowsec.control.config.PersistentConfiguration;
import io.flowsec.control.security.LoginThrottle;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The log ring: the newest lines in order, the oldest dropped when full, long lines cut; and over real HTTP at
 * /api/v1/logs, read with any token, refused without one, the count checked.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LogRingTest {
    private static final String READER = "fsk_read-only-token-for-tests";

    @Test
    void keepsTheNewestLinesInOrderAndDropsTheOldestWhenFull() {
        LogRing ring = new LogRing(3);
        assertEquals(List.of(), ring.last(10));
        ring.append("one");
        ring.append("two");
        assertEquals(List.of("one", "two"), ring.last(10));
        ring.append("three");
        ring.append("four");
        ring.append("five");
        assertEquals(List.of("three", "four", "five"), ring.last(10), "the ring holds 3");
        assertEquals(List.of("four", "five"), ring.last(2));
        assertEquals(5, ring.logged());
        assertThrows(IllegalArgumentException.class, () -> new LogRing(0));
    }

    @Test
    void aRunawayLineIsCutAndSaysSo() {
        LogRing ring = new LogRing(2);
        ring.append("x".repeat(LogRing.MAX_LINE_CHARS + 10));
        String kept = ring.last(1).getFirst();
        assertTrue(kept.startsWith("x".repeat(LogRing.MAX_LINE_CHARS) + " [cut: " + (LogRing.MAX_LINE_CHARS + 10)
                + " characters]"), kept.substring(LogRing.MAX_LINE_CHARS));
    }

    @Test
    void servesTheLinesToAnyTokenAndRefusesABadCount(Vertx vertx) throws Exception {
        LogRing ring = new LogRing(50);
        for (int i = 0; i < 120; i++) {
            ring.append("line " + i);
        }
        try (TwoDataplanes pair = new TwoDataplanes(TestPackets.tunnel().saCount(2).encoding(FlowEncoding.UDP_PORT), 2,
                Mode.FLOW)) {
            Caller.Authenticator tokens = token -> READER.equals(token) ? Optional.of(new Caller("viewer", false))
                    : Optional.empty();
            PersistentConfiguration configuration = (change, apply) -> apply.run();
            ApiServer api = ApiServer.start(vertx, new ApiServer.Settings("127.0.0.1", 0, null, 64 * 1024),
                    new ApplianceInfo("b", "test", "memory", List.of(), Instant.now()), pair.b, configuration, tokens,
                    LoginThrottle.defaults(), List.of(ring), message -> { }).await();
            // a connection per request: each answer is checked on its own, never behind a pooled one
            HttpClient client = vertx.createHttpClient(new io.vertx.core.http.HttpClientOptions().setKeepAlive(false));
            try {
                JsonObject defaults = new JsonObject(get(client, api, "/api/v1/logs", READER, 200));
                assertEquals(50, defaults.getJsonArray("lines").size(), "as many as the ring holds (default 100)");
                assertEquals("line 70", defaults.getJsonArray("lines").getString(0));
                assertEquals(120, defaults.getLong("logged"));
                assertEquals(50, defaults.getInteger("capacity"));

                JsonObject three = new JsonObject(get(client, api, "/api/v1/logs?lines=3", READER, 200));
                assertEquals(List.of("line 117", "line 118", "line 119"), three.getJsonArray("lines").getList());

                get(client, api, "/api/v1/logs", null, 401);
                get(client, api, "/api/v1/logs", "fsk_wrong", 401);
                for (String bad : List.of("0", "51", "-1", "ten", "3&lines=4")) {
                    String problem = get(client, api, "/api/v1/logs?lines=" + bad, READER, 400);
                    assertEquals("lines", new JsonObject(problem).getString("field"), problem);
                }
            } finally {
                client.close().await();
                api.close();
            }
        }
    }

    private static String get(HttpClient client, ApiServer api, String path, String token, int status) throws Exception {
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(api.port())
                .setURI(path);
        if (token != null) {
            options.putHeader("Authorization", "Bearer " + token);
        }
        String[] body = new String[1];
        int actual = client.request(options).compose(HttpClientRequest::send)
                .compose(response -> response.body().map(buffer -> {
                    body[0] = buffer.toString();
                    return response.statusCode();
                })).await(20, TimeUnit.SECONDS);
        assertEquals(status, actual, path + ": " + body[0]);
        return body[0];
    }
}
