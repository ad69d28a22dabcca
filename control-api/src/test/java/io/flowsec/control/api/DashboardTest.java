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
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The dashboard's page over real HTTP, from a server with the dashboard mounted over a real data plane: public, with a
 * strict content security policy, and nothing served from outside its webroot however the path is spelt.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class DashboardTest {
    private static final String ADMIN = "fsk_admin-token-for-tests";

    private TwoDataplanes pair;
    private ApiServer api;
    private HttpClient client;

    private record Reply(int status, io.vertx.core.MultiMap headers, String body) {
    }

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        pair = new TwoDataplanes(TestPackets.tunnel().saCount(2).encoding(FlowEncoding.UDP_PORT), 2, Mode.FLOW);
        Caller.Authenticator tokens = token -> ADMIN.equals(token) ? Optional.of(new Caller("ops", true)) : Optional.empty();
        PersistentConfiguration configuration = (change, apply) -> apply.run();
        api = ApiServer.start(vertx, new ApiServer.Settings("127.0.0.1", 0, null, 64 * 1024),
                new ApplianceInfo("b", "test", "memory", List.of(), Instant.now()), pair.b, configuration, tokens,
                LoginThrottle.defaults(), List.of(new Dashboard()), message -> { }).await();
        client = vertx.createHttpClient();
    }

    @AfterEach
    void stop() throws Exception {
        client.close().await();
        api.close();
        pair.close();
    }

    /** The path goes on the wire exactly as given: no client-side normalisation. */
    private Reply get(String path, String token) throws Exception {
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(api.port())
                .setURI(path);
        if (token != null) {
            options.putHeader("Authorization", "Bearer " + token);
        }
        return client.request(options).compose(HttpClientRequest::send)
                .compose(response -> response.body().map(body -> new Reply(response.statusCode(), response.headers(),
                        body.toString())))
                .await(10, TimeUnit.SECONDS);
    }

    private static void assertLockedDown(Reply reply) {
        String policy = reply.headers().get("Content-Security-Policy");
        assertTrue(policy != null && policy.startsWith("default-src 'self'"), "CSP: " + policy);
        assertTrue(policy.contains("script-src 'self'") && policy.contains("style-src 'self'")
                && policy.contains("connect-src 'self' wss: ws:") && policy.contains("img-src 'self' data:"), policy);
        assertFalse(policy.contains("unsafe"), policy);
        assertEquals("DENY", reply.headers().get("X-Frame-Options"));
        assertEquals("no-store", reply.headers().get("Cache-Control"));
    }

    @Test
    void theRootRedirectsToTheDashboard() throws Exception {
        Reply root = get("/", null);
        assertEquals(302, root.status());
        assertEquals(ApiServer.DASHBOARD, root.headers().get("Location"));
    }

    @Test
    void thePageIsServedWithoutATokenUnderAStrictContentSecurityPolicy() throws Exception {
        Reply page = get("/ui/", null);
        assertEquals(200, page.status(), page.body());
        assertTrue(page.headers().get("Content-Type").startsWith("text/html"), page.headers().get("Content-Type"));
        assertTrue(page.body().contains("<script src=\"app.js\" defer></script>"), page.body());
        assertFalse(page.body().contains("<script>") || page.body().contains("style="), "nothing inline: the CSP forbids it");
        assertLockedDown(page);
        assertEquals(page.body(), get("/ui/index.html", null).body());
    }

    @Test
    void theScriptAndTheStyleAreServedWithTheirTypes() throws Exception {
        Reply script = get("/ui/app.js", null);
        assertEquals(200, script.status());
        assertTrue(script.headers().get("Content-Type").contains("javascript"), script.headers().get("Content-Type"));
        assertTrue(script.body().contains("'Authorization': 'Bearer '"), "every API request carries the token");
        assertFalse(script.body().contains("innerHTML") || script.body().contains("localStorage.")
                || script.body().contains("eval("), "text only, the token in session storage only");
        assertLockedDown(script);
        Reply style = get("/ui/style.css", null);
        assertEquals(200, style.status());
        assertTrue(style.headers().get("Content-Type").startsWith("text/css"), style.headers().get("Content-Type"));
    }

    @Test
    void anUnknownFileIsAProblemNotAListing() throws Exception {
        Reply missing = get("/ui/no-such-file.js", null);
        assertEquals(404, missing.status());
        assertEquals(Problem.MEDIA_TYPE, missing.headers().get("Content-Type"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "/ui/../openapi.json",
            "/ui/%2e%2e/openapi.json",
            "/ui/..%2fapi%2fopenapi.json",
            "/ui/%2e%2e/%2e%2e/api/openapi.json",
            "/ui/..%2f..%2fapi%2fopenapi.json",
            "/ui/%2e%2e%2f%2e%2e%2fapi%2fopenapi.json",
            "/ui/..\\..\\api\\openapi.json",
            "/ui/%5c..%5c..%5capi%5copenapi.json",
            "/ui/....//....//api/openapi.json",
            "/ui/%252e%252e/%252e%252e/api/openapi.json",
    })
    void aPathThatClimbsOutOfTheWebrootServesNothingFromOutside(String path) throws Exception {
        for (String token : new String[] {null, ADMIN}) {
            Reply reply = get(path, token);
            assertFalse(reply.body().contains("\"openapi\""), path + " served the contract from outside the webroot: "
                    + reply.status());
            assertNotEquals(200, reply.status(), path + ": " + reply.body());
        }
    }

    @Test
    void theApiStillNeedsATokenBesideThePage() throws Exception {
        assertEquals(401, get(ApiServer.BASE + "/appliance", null).status());
        assertEquals(200, get(ApiServer.BASE + "/appliance", ADMIN).status());
    }
}
