package io.flowsec.control.api;

import io.flowsec.control.config.ConfigurationChange;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code /tunnels}: the cluster's tunnels through the contract, over a tunnel control that records what it is told. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TunnelResourcesTest {
    /** One tunnel, "a-b", whose balancing the API may switch. */
    private static final class FakeTunnels implements TunnelControl {
        final Map<String, String> balancing = new ConcurrentHashMap<>(Map.of("a-b", "static"));

        @Override
        public JsonArray tunnels() {
            return new JsonArray().add(tunnel("a-b"));
        }

        @Override
        public JsonObject tunnel(String id) {
            return balancing.containsKey(id) ? new JsonObject().put("id", id).put("policy", "site-b-to-site-a")
                    .put("peer", "router-a").put("balancing", balancing.get(id)).put("peerState", "up") : null;
        }

        @Override
        public JsonObject assignment(String id) {
            return balancing.containsKey(id) ? new JsonObject().put("receiving", new JsonObject().put("version", 7)) : null;
        }

        @Override
        public void balancing(String id, String policy) {
            balancing.put(id, policy);
        }
    }

    private TwoDataplanes pair;
    private final FakeTunnels tunnels = new FakeTunnels();
    private final ApiServerTest.RecordingConfiguration configuration = new ApiServerTest.RecordingConfiguration();
    private ApiServer withCluster;
    private ApiServer withoutCluster;
    private WebClient client;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        pair = new TwoDataplanes(TestPackets.tunnel().saCount(2), 2, Mode.FLOW);
        ApiServer.Settings settings = new ApiServer.Settings("127.0.0.1", 0, null, 64 * 1024);
        ApplianceInfo info = new ApplianceInfo("b", "test", "memory", List.of(), Instant.now());
        withCluster = ApiServer.start(vertx, settings, info, pair.b, configuration, TestTokens.authenticator(),
                io.flowsec.control.security.LoginThrottle.defaults(), List.of(), tunnels, line -> { }).await();
        withoutCluster = ApiServer.start(vertx, settings, info, pair.b, configuration, TestTokens.authenticator(),
                io.flowsec.control.security.LoginThrottle.defaults(), List.of(), line -> { }).await();
        client = WebClient.create(vertx);
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        withCluster.close();
        withoutCluster.close();
        pair.close();
    }

    private HttpResponse<Buffer> call(ApiServer api, HttpMethod method, String path, String token, JsonObject body) {
        HttpRequest<Buffer> request = client.request(method, api.port(), "127.0.0.1", ApiServer.BASE + path)
                .putHeader("Authorization", "Bearer " + token);
        return body == null ? request.send().await() : request.sendJsonObject(body).await();
    }

    private static void assertProblem(HttpResponse<Buffer> response, int status, String field) {
        assertEquals(status, response.statusCode(), response.bodyAsString());
        assertEquals(Problem.MEDIA_TYPE, response.getHeader("Content-Type"));
        if (field != null) {
            assertEquals(field, response.bodyAsJsonObject().getString("field"), response.bodyAsString());
        }
    }

    @Test
    void tunnelsTheirAssignmentAndBalancingAreReadAndTheBalancingSwitchedAndRecorded() {
        JsonArray list = new JsonArray(call(withCluster, HttpMethod.GET, "/tunnels", TestTokens.READER, null).bodyAsString());
        assertEquals("router-a", list.getJsonObject(0).getString("peer"));
        assertEquals(7, call(withCluster, HttpMethod.GET, "/tunnels/a-b/assignment", TestTokens.READER, null)
                .bodyAsJsonObject().getJsonObject("receiving").getInteger("version"));
        assertEquals("static", call(withCluster, HttpMethod.GET, "/tunnels/a-b/balancing", TestTokens.READER, null)
                .bodyAsJsonObject().getString("policy"));

        HttpResponse<Buffer> changed = call(withCluster, HttpMethod.PUT, "/tunnels/a-b/balancing", TestTokens.ADMIN,
                new JsonObject().put("policy", "receiver"));
        assertEquals(200, changed.statusCode(), changed.bodyAsString());
        assertEquals("receiver", changed.bodyAsJsonObject().getString("policy"));
        assertEquals("receiver", tunnels.balancing.get("a-b"));
        ConfigurationChange.BalancingSet recorded = assertInstanceOf(ConfigurationChange.BalancingSet.class,
                configuration.changes.getLast());
        assertEquals("a-b receiver", recorded.tunnel() + " " + recorded.policy());
    }

    @Test
    void anUnknownPolicyTunnelOrReadOnlyTokenIsRefusedAndNothingChanges() {
        assertProblem(call(withCluster, HttpMethod.PUT, "/tunnels/a-b/balancing", TestTokens.ADMIN,
                new JsonObject().put("policy", "turbo")), 400, null);
        assertProblem(call(withCluster, HttpMethod.PUT, "/tunnels/a-b/balancing", TestTokens.READER,
                new JsonObject().put("policy", "sender")), 403, null);
        assertProblem(call(withCluster, HttpMethod.PUT, "/tunnels/x-y/balancing", TestTokens.ADMIN,
                new JsonObject().put("policy", "sender")), 404, null);
        assertProblem(call(withCluster, HttpMethod.GET, "/tunnels/x-y/assignment", TestTokens.READER, null), 404, null);
        assertEquals("static", tunnels.balancing.get("a-b"));
        assertTrue(configuration.changes.isEmpty());
    }

    @Test
    void anApplianceWithoutAClusterHasNoTunnelsAndSaysWhy() {
        assertEquals("[]", call(withoutCluster, HttpMethod.GET, "/tunnels", TestTokens.READER, null).bodyAsString());
        HttpResponse<Buffer> none = call(withoutCluster, HttpMethod.GET, "/tunnels/a-b", TestTokens.READER, null);
        assertProblem(none, 404, null);
        assertTrue(none.bodyAsJsonObject().getString("detail").contains("runs no cluster"), none.bodyAsString());
    }
}
