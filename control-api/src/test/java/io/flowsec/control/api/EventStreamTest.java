package io.flowsec.control.api;

import io.flowsec.control.security.LoginThrottle;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SaLifetime;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The event stream over real WebSockets against two real data planes joined in memory (A sends, B receives; 2 lanes,
 * 4 SAs per direction), the stream and the API on B: who may connect, the rate, the events the API's changes and the
 * data plane raise, a client that never reads, and a scan of every message for the keys the tests sent.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EventStreamTest {
    private static final String ADMIN = TestTokens.ADMIN;
    private static final String READER = TestTokens.READER;
    private static final int FLOWS = 64;
    private static final Duration MAX_LAG = Duration.ofSeconds(2);

    /** A connected client and everything it received. */
    private record Listener(WebSocket socket, List<JsonObject> messages) {
        List<JsonObject> loads() {
            return messages.stream().filter(m -> m.getString("type").equals("load")).toList();
        }

        Optional<JsonObject> event(String name, Predicate<JsonObject> matching) {
            return messages.stream().filter(m -> m.getString("type").equals("event") && m.getString("event").equals(name))
                    .filter(matching).findFirst();
        }
    }

    private Vertx vertx;
    private TwoDataplanes pair;
    private final ApiServerTest.RecordingConfiguration configuration = new ApiServerTest.RecordingConfiguration();
    private final LoginThrottle logins = LoginThrottle.defaults();
    private EventStream stream;
    private ApiServer api;
    private WebSocketClient sockets;
    private WebClient client;
    private final List<String> log = new CopyOnWriteArrayList<>();
    /** Every text message any client received, for the key scan. */
    private final List<String> said = new CopyOnWriteArrayList<>();
    private final List<String> keysUsed = new ArrayList<>();

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        this.vertx = vertx;
        sockets = vertx.createWebSocketClient();
        client = WebClient.create(vertx);
    }

    /** The pair, with the stream and the API on B. */
    private void startAppliance(TestPackets.TunnelSpec spec, EventStream.Settings settings) throws Exception {
        pair = new TwoDataplanes(spec, 2, Mode.FLOW);
        stream = new EventStream(vertx, pair.b, logins, settings, log::add);
        Caller.Authenticator tokens = TestTokens.authenticator();
        api = ApiServer.start(vertx, new ApiServer.Settings("127.0.0.1", 0, null, 64 * 1024),
                new ApplianceInfo("b", "test", "memory", List.of(0, 1), Instant.now()), pair.b, configuration, tokens,
                logins, List.of(stream), log::add).await();
    }

    private void startAppliance() throws Exception {
        startAppliance(tunnel(), new EventStream.Settings(64, MAX_LAG));
    }

    private static TestPackets.TunnelSpec tunnel() {
        return TestPackets.tunnel().saCount(4).encoding(FlowEncoding.UDP_PORT);
    }

    @AfterEach
    void stop() throws Exception {
        sockets.close();
        client.close();
        if (api != null) {
            api.close();
            stream.close();
            pair.close();
        }
        String everything = String.join("\n", said) + "\n" + String.join("\n", log);
        for (String key : keysUsed) {
            assertFalse(everything.toLowerCase().contains(key.toLowerCase().substring(0, 16)),
                    "key material in what the stream said or the API logged");
        }
    }

    private Future<Listener> connect(String query, String token, boolean tokenAsSubprotocol) {
        WebSocketConnectOptions options = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(api.port())
                .setURI(EventStream.PATH + query);
        if (token != null && tokenAsSubprotocol) {
            options.addSubProtocol(EventStream.SUBPROTOCOL).addSubProtocol(ApiServer.BEARER_SUBPROTOCOL + token);
        } else if (token != null) {
            options.addHeader("Authorization", "Bearer " + token);
        }
        return sockets.connect(options).map(socket -> {
            List<JsonObject> messages = new CopyOnWriteArrayList<>();
            socket.textMessageHandler(text -> {
                said.add(text);
                messages.add(new JsonObject(text));
            });
            return new Listener(socket, messages);
        });
    }

    private Listener connect(String query) {
        return connect(query, READER, false).await();
    }

    private static int refusal(Future<Listener> connecting) {
        try {
            connecting.await();
        } catch (UpgradeRejectedException rejected) {
            return rejected.getStatus();
        }
        return fail("the upgrade was accepted");
    }

    private HttpResponse<Buffer> call(HttpMethod method, String path, String token, JsonObject body) {
        HttpRequest<Buffer> request = client.request(method, api.port(), "127.0.0.1", ApiServer.BASE + path)
                .putHeader("Authorization", "Bearer " + token);
        HttpResponse<Buffer> response = body == null ? request.send().await() : request.sendJsonObject(body).await();
        said.add(response.bodyAsString() == null ? "" : response.bodyAsString());
        return response;
    }

    private static void waitUntil(BooleanSupplier condition, long timeoutMs, String what) throws InterruptedException {
        long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadlineNs) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    private static JsonObject awaitEvent(Listener listener, String name, Predicate<JsonObject> matching)
            throws InterruptedException {
        waitUntil(() -> listener.event(name, matching).isPresent(), 10_000, "the event " + name);
        return listener.event(name, matching).orElseThrow();
    }

    private static long accepted(JsonObject load) {
        long accepted = 0;
        for (Object lane : load.getJsonArray("lanes")) {
            accepted += ((JsonObject) lane).getJsonObject("outcomes").getLong("accepted", 0L);
        }
        return accepted;
    }

    /** Traffic through the pair until stopped, what B receives taken off its site as it comes. */
    private Thread traffic(int rounds) {
        return Thread.ofPlatform().start(() -> {
            try {
                for (int round = 0; round < rounds && !Thread.currentThread().isInterrupted(); round++) {
                    pair.sendFromA(FLOWS, 5);
                    pair.receivedAtB(FLOWS * 5, 20);
                }
                pair.receivedAtB(Integer.MAX_VALUE, 500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    // ---- who may connect ------------------------------------------------------------------------------------------

    @Test
    void shouldRefuseTheUpgradeWithoutAValidTokenAndAcceptAReadOnlyOneAsHeaderOrSubprotocol() throws Exception {
        startAppliance();
        assertEquals(401, refusal(connect("", null, false)));
        assertEquals(401, refusal(connect("", "fsk_wrong", true)));

        Listener byHeader = connect("");
        assertNull(byHeader.socket().subProtocol(), "nothing offered, nothing echoed");
        Listener bySubprotocol = connect("", READER, true).await();
        assertEquals(EventStream.SUBPROTOCOL, bySubprotocol.socket().subProtocol(), "our subprotocol, never the token");
        assertEquals(EventStream.SUBPROTOCOL, bySubprotocol.socket().headers().get("Sec-WebSocket-Protocol"));
        waitUntil(() -> !byHeader.loads().isEmpty() && !bySubprotocol.loads().isEmpty(), 5_000, "a load message each");
        assertEquals(2, stream.clients());

        assertEquals(401, refusal(connect("", "fsk_guess", false)));
        JsonObject failures = awaitEvent(byHeader, "authentication-failures", e -> true);
        assertTrue(failures.getLong("failures") >= 1, failures.encode());
        assertEquals(logins.failuresTotal(), awaitEvent(bySubprotocol, "authentication-failures",
                e -> e.getLong("failuresTotal") == logins.failuresTotal()).getLong("failuresTotal"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "100", "0.05", "-1", "NaN", "fast", ""})
    void shouldRefuseARateOutsideATenthToTenWith400BeforeUpgrading(String rate) throws Exception {
        startAppliance();
        try {
            connect("?rate=" + rate, READER, false).await();
            fail("accepted rate " + rate);
        } catch (UpgradeRejectedException rejected) {
            assertEquals(400, rejected.getStatus());
            JsonObject problem = new JsonObject(rejected.getBody());
            assertEquals("rate", problem.getString("field"), problem.encode());
        }
        assertEquals(0, stream.clients());
    }

    @Test
    void shouldRefuseTheClientBeyondTheLimitWith503UntilASlotFrees() throws Exception {
        startAppliance(tunnel(), new EventStream.Settings(1, MAX_LAG));
        Listener first = connect("");
        assertEquals(503, refusal(connect("", READER, false)));
        first.socket().close().await();
        waitUntil(() -> stream.clients() == 0, 5_000, "the slot freed");
        connect("");
    }

    @Test
    void shouldAskForAWebSocketOnAPlainRequest() throws Exception {
        startAppliance();
        HttpResponse<Buffer> plain = call(HttpMethod.GET, "/events", READER, null);
        assertEquals(426, plain.statusCode(), plain.bodyAsString());
        assertEquals(Problem.MEDIA_TYPE, plain.getHeader("Content-Type"));
    }

    // ---- load -----------------------------------------------------------------------------------------------------

    @Test
    void shouldSendLoadAtTheRequestedRateWithCountersThatGrowWhileTrafficFlows() throws Exception {
        startAppliance();
        Thread traffic = traffic(Integer.MAX_VALUE);
        try {
            Listener listener = connect("?rate=5");
            Thread.sleep(2_000);
            List<JsonObject> loads = listener.loads();
            assertTrue(loads.size() >= 8 && loads.size() <= 15, "5 a second for 2 s, got " + loads.size());
            JsonObject first = loads.getFirst();
            JsonObject last = loads.getLast();
            assertTrue(accepted(last) > accepted(first), "counters grow: " + accepted(first) + " then " + accepted(last));
            assertTrue(loads.stream().anyMatch(load -> load.getJsonObject("totals").getLong("packetsPerSecond") > 0));
            assertEquals("flow", last.getString("mode"));
            Instant.parse(last.getString("time"));
            assertEquals(2, last.getJsonArray("lanes").size());
            JsonObject lane = last.getJsonArray("lanes").getJsonObject(1);
            assertEquals(1, lane.getInteger("lane"));
            double busy = lane.getDouble("busyFraction");
            assertTrue(busy >= 0 && busy <= 1, lane.encode());
            assertTrue(lane.getJsonObject("io").getLong("tunnel-datagrams-received") > 0, lane.encode());
            assertTrue(lane.getDouble("queueDelayMs") >= 0 && lane.getDouble("queueDelayMs") < 1000, lane.encode());
            assertEquals(0L, lane.getLong("socketDrops"), "in-memory sockets without a bound drop nothing");
        } finally {
            traffic.interrupt();
            traffic.join();
        }
    }

    // ---- events ---------------------------------------------------------------------------------------------------

    @Test
    void shouldPublishTheApisChangesAsEventsWithoutTheirKeys() throws Exception {
        startAppliance();
        Listener listener = connect("");
        assertEquals(200, call(HttpMethod.PUT, "/mode", ADMIN, new JsonObject().put("mode", "pcrypt")).statusCode());
        awaitEvent(listener, "mode-changed", e -> e.getString("mode").equals("pcrypt"));
        assertEquals(200, call(HttpMethod.PUT, "/steering", ADMIN, new JsonObject().put("steering", "rss")).statusCode());
        awaitEvent(listener, "steering-changed", e -> e.getString("steering").equals("rss"));

        int oldSpi = pair.tunnel.b().inbound().get(0).spi();
        int newSpi = 0x7000_0000;
        byte[] key = new byte[pair.tunnel.b().inbound().get(0).suite().encryptionKeyLength()];
        new java.security.SecureRandom().nextBytes(key);
        String hexKey = HexFormat.of().formatHex(key);
        keysUsed.add(hexKey);
        HttpResponse<Buffer> rekeyed = call(HttpMethod.POST, "/sas/inbound/" + ApiResources.hex(oldSpi) + "/rekey", ADMIN,
                new JsonObject().put("spi", ApiResources.hex(newSpi)).put("key", hexKey).put("graceMs", 200));
        assertEquals(201, rekeyed.statusCode(), rekeyed.bodyAsString());
        JsonObject installed = awaitEvent(listener, "sa-installed", e -> e.getString("spi").equals(ApiResources.hex(newSpi)));
        assertEquals("inbound", installed.getString("direction"));
        assertEquals(ApiResources.hex(oldSpi), installed.getString("replaces"));
        awaitEvent(listener, "sa-rekeyed", e -> e.getString("spi").equals(ApiResources.hex(oldSpi))
                && e.getString("newSpi").equals(ApiResources.hex(newSpi)));
        awaitEvent(listener, "sa-removed", e -> e.getString("spi").equals(ApiResources.hex(oldSpi))
                && e.getString("reason").equals("rekey-grace-ended"));

        int otherSpi = pair.tunnel.b().inbound().get(1).spi();
        assertEquals(200, call(HttpMethod.PUT, "/sas/inbound/" + ApiResources.hex(otherSpi) + "/lane", ADMIN,
                new JsonObject().put("lane", 1 - pair.b.inboundLanes().get(otherSpi))).statusCode());
        awaitEvent(listener, "sa-moved", e -> e.getString("spi").equals(ApiResources.hex(otherSpi)));
        assertEquals(204, call(HttpMethod.DELETE, "/sas/inbound/" + ApiResources.hex(otherSpi), ADMIN, null).statusCode());
        awaitEvent(listener, "sa-removed", e -> e.getString("spi").equals(ApiResources.hex(otherSpi))
                && e.getString("reason").equals("api"));
        for (JsonObject message : listener.messages()) {
            assertFalse(message.containsKey("key") || message.containsKey("integrityKey"), message.encode());
        }
    }

    @Test
    void shouldPublishAnSaReachingItsSoftThenItsHardLifetime() throws Exception {
        startAppliance(tunnel().lifetime(new SaLifetime(0, 0, 5, 10, 0, 0)), new EventStream.Settings(64, MAX_LAG));
        Listener listener = connect("");
        pair.sendFromA(1, 8);   // one flow: one SA
        JsonObject expiring = awaitEvent(listener, "sa-expiring", e -> true);
        assertEquals("packets", expiring.getString("limit"));
        assertEquals("inbound", expiring.getString("direction"));
        assertNotNull(expiring.getString("sa"));
        pair.sendFromA(1, 8);
        JsonObject expired = awaitEvent(listener, "sa-expired", e -> true);
        assertEquals(expiring.getString("spi"), expired.getString("spi"));
        assertEquals("packets", expired.getString("limit"));
    }

    // ---- slow clients ---------------------------------------------------------------------------------------------

    /**
     * A raw socket completes the handshake and never reads again, at 10 samples a second with traffic flowing: the
     * server stops writing to it once its pings go unanswered for {@link #MAX_LAG}, cuts its connection without waiting
     * for it to read, and goes on serving the client that reads.
     */
    @Test
    void shouldDropAClientThatNeverReadsAndKeepServingTheOthers() throws Exception {
        startAppliance();
        Listener reader = connect("?rate=10");
        Thread traffic = traffic(Integer.MAX_VALUE);
        try (Socket slow = new Socket()) {
            slow.setReceiveBufferSize(4096);
            slow.connect(new java.net.InetSocketAddress("127.0.0.1", api.port()));
            OutputStream out = slow.getOutputStream();
            out.write(("GET " + EventStream.PATH + "?rate=10 HTTP/1.1\r\nHost: 127.0.0.1:" + api.port() + "\r\n"
                    + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    + "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " + READER + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = slow.getInputStream();
            String response = headers(in);
            assertTrue(response.startsWith("HTTP/1.1 101"), response);
            waitUntil(() -> stream.clients() == 2, 5_000, "both clients connected");

            waitUntil(() -> stream.slowClientsDropped() == 1, 30_000, "the slow client dropped");
            int receivedAtDrop = reader.loads().size();
            waitUntil(() -> stream.connectionsOpen() == 1, 6_000,
                    "its connection cut while it still reads nothing (sooner than Vert.x's 10 s closing timeout)");
            assertEquals(1, stream.clients());
            waitUntil(() -> reader.loads().size() >= receivedAtDrop + 10, 5_000, "the reader served on");
            assertEquals(1, stream.slowClientsDropped(), "the reader is not slow");
            assertTrue(log.stream().anyMatch(line -> line.contains("dropped a slow client")), log.toString());

            slow.setSoTimeout(10_000);
            long unread = 0;
            try {
                byte[] buffer = new byte[8192];
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    unread += n;
                }
            } catch (SocketException reset) {
                // closed with a reset: closed all the same
            } catch (SocketTimeoutException e) {
                fail("the server kept the connection open");
            }
            assertTrue(unread < 1 << 20, "what waited for the slow client stayed small: " + unread + " bytes");
        } finally {
            traffic.interrupt();
            traffic.join();
        }
    }

    /** The handshake's response headers, read a byte at a time so that nothing after them is taken. */
    private static String headers(InputStream in) throws IOException {
        StringBuilder headers = new StringBuilder();
        while (!headers.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            headers.append((char) b);
        }
        return headers.toString();
    }

    @Test
    void shouldCloseItsClientsWhenClosed() throws Exception {
        startAppliance();
        Listener listener = connect("");
        stream.close();
        waitUntil(() -> listener.socket().isClosed(), 5_000, "the client closed");
        assertEquals(Short.valueOf((short) 1001), listener.socket().closeStatusCode());
        assertEquals(0, stream.clients());
        assertInstanceOf(UpgradeRejectedException.class, assertRejected(connect("", READER, false)));
    }

    private static Throwable assertRejected(Future<Listener> connecting) {
        try {
            connecting.await();
        } catch (RuntimeException e) {
            return e;
        }
        return fail("accepted");
    }
}
