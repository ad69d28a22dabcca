package io.flowsec.control.api;

import io.flowsec.control.config.ConfigurationChange;
import io.flowsec.control.config.PersistentConfiguration;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The control API over real HTTP against two real data planes joined in memory (A sends, B receives; 2 lanes, 4 SAs
 * per direction, udp-port encoding): every resource, every class of error, rekeys during traffic with nothing lost,
 * and a scan of everything the API said for the keys it was given.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ApiServerTest {
    private static final String ADMIN = TestTokens.ADMIN;
    private static final String READER = TestTokens.READER;
    private static final int FLOWS = 64;

    /** A configuration that records what it was given, or refuses the next change. */
    static final class RecordingConfiguration implements PersistentConfiguration {
        final List<ConfigurationChange> changes = new CopyOnWriteArrayList<>();
        volatile RuntimeException refuseNext;
        /** Builds an added inbound SA as a configuration would (its policy's parameters): a test sets it. */
        volatile java.util.function.Function<ConfigurationChange.SaAdded, SecurityAssociation> builder;

        @Override
        public SecurityAssociation inboundSa(ConfigurationChange.SaAdded added) {
            return builder == null ? PersistentConfiguration.super.inboundSa(added) : builder.apply(added);
        }

        @Override
        public void commit(ConfigurationChange change, Runnable applyToDataplane) throws IOException {
            RuntimeException refusal = refuseNext;
            refuseNext = null;
            if (refusal != null) {
                throw refusal;
            }
            applyToDataplane.run();
            changes.add(change);
        }
    }

    private Vertx vertx;
    private TwoDataplanes pair;
    private final RecordingConfiguration configurationA = new RecordingConfiguration();
    private final RecordingConfiguration configurationB = new RecordingConfiguration();
    private ApiServer apiA;
    private ApiServer apiB;
    private WebClient client;
    private final List<String> log = new CopyOnWriteArrayList<>();
    /** Every status line, header and body the API sent, for the key scan. */
    private final List<String> said = new CopyOnWriteArrayList<>();
    private final List<String> keysUsed = new ArrayList<>();

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        this.vertx = vertx;
        pair = new TwoDataplanes(TestPackets.tunnel().saCount(4).encoding(FlowEncoding.UDP_PORT), 2, Mode.FLOW);
        pair.a.queueProbing(false);   // the tests compare lanes read twice: no marker may arrive in between
        pair.b.queueProbing(false);
        Caller.Authenticator tokens = TestTokens.authenticator();
        ApiServer.Settings settings = new ApiServer.Settings("127.0.0.1", 0, null, 64 * 1024);
        apiA = ApiServer.start(vertx, settings, new ApplianceInfo("a", "test", "memory", List.of(), Instant.now()),
                pair.a, configurationA, tokens, io.flowsec.control.security.LoginThrottle.defaults(), List.of(), log::add).await();
        apiB = ApiServer.start(vertx, settings, new ApplianceInfo("b", "test", "memory", List.of(0, 1), Instant.now()),
                pair.b, configurationB, tokens, io.flowsec.control.security.LoginThrottle.defaults(), List.of(), log::add).await();
        client = WebClient.create(vertx);
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        apiA.close();
        apiB.close();
        pair.close();
        String everything = String.join("\n", said) + "\n" + String.join("\n", log);
        for (String key : keysUsed) {
            assertFalse(everything.toLowerCase().contains(key.toLowerCase().substring(0, 16)),
                    "key material in what the API said or logged");
        }
    }

    private HttpResponse<Buffer> call(ApiServer api, HttpMethod method, String path, String token, Object body,
                                      String ifMatch) {
        HttpRequest<Buffer> request = client.request(method, api.port(), "127.0.0.1", ApiServer.BASE + path);
        if (token != null) {
            request.putHeader("Authorization", "Bearer " + token);
        }
        if (ifMatch != null) {
            request.putHeader("If-Match", ifMatch);
        }
        HttpResponse<Buffer> response;
        if (body instanceof JsonObject json) {
            response = request.sendJsonObject(json).await();
        } else if (body instanceof String text) {
            response = request.putHeader("Content-Type", "application/json").sendBuffer(Buffer.buffer(text)).await();
        } else {
            response = request.send().await();
        }
        said.add(response.statusCode() + " " + response.headers() + " " + (response.body() == null ? "" : response.bodyAsString()));
        return response;
    }

    private HttpResponse<Buffer> get(ApiServer api, String path) {
        return call(api, HttpMethod.GET, path, READER, null, null);
    }

    private HttpResponse<Buffer> put(ApiServer api, String path, JsonObject body) {
        return call(api, HttpMethod.PUT, path, ADMIN, body, null);
    }

    private static void assertProblem(HttpResponse<Buffer> response, int status, String field) {
        assertEquals(status, response.statusCode(), response.bodyAsString());
        assertEquals(Problem.MEDIA_TYPE, response.getHeader("Content-Type"));
        JsonObject problem = response.bodyAsJsonObject();
        assertEquals(status, problem.getInteger("status"));
        assertTrue(problem.getString("title") != null && problem.getString("detail") != null, problem.encode());
        assertFalse(problem.encode().contains("\tat "), "no stack trace");
        if (field != null) {
            assertEquals(field, problem.getString("field"), problem.encode());
        }
    }

    // ---- reads ----------------------------------------------------------------------------------------------------

    @Test
    void healthAndTheContractNeedNoTokenAndTheContractIsTheOneTheServerValidatesWith() {
        assertEquals(new JsonObject().put("status", "up"), call(apiB, HttpMethod.GET, "/health", null, null, null).bodyAsJsonObject());
        JsonObject contract = call(apiB, HttpMethod.GET, "/openapi.json", null, null, null).bodyAsJsonObject();
        assertEquals(ApiServer.document(), contract);
        assertTrue(contract.getJsonObject("paths").containsKey("/sas/{direction}/{spi}/rekey"));
    }

    @Test
    void shouldDescribeTheApplianceLanesModeSteeringPoliciesSasAndDrops() {
        pair.sendFromA(FLOWS, 10);
        assertEquals(FLOWS * 10, received(FLOWS * 10));
        JsonObject appliance = get(apiB, "/appliance").bodyAsJsonObject();
        assertEquals("b", appliance.getString("name"));
        assertEquals(2, appliance.getInteger("lanes"));
        assertEquals("memory", appliance.getString("transport"));
        assertEquals("ok", appliance.getString("health"));

        JsonArray lanes = get(apiB, "/lanes").bodyAsJsonArray();
        assertEquals(2, lanes.size());
        long accepted = 0;
        for (int i = 0; i < 2; i++) {
            JsonObject lane = lanes.getJsonObject(i);
            assertEquals(i, lane.getInteger("lane"));
            assertEquals(i, lane.getInteger("cpu"));
            accepted += lane.getJsonObject("outcomes").getLong("accepted", 0L);
            assertTrue(lane.getJsonObject("io").containsKey("tunnel-datagrams-received"), lane.encode());
            JsonObject receiveQueue = lane.getJsonObject("receiveQueue");
            assertEquals(0L, receiveQueue.getLong("queuedBytes"), "all read");
            assertEquals(0L, receiveQueue.getLong("bufferBytes"), "the in-memory sockets are unbounded here");
            assertEquals(0L, receiveQueue.getLong("drops"));
            assertTrue(receiveQueue.getDouble("delayMs") >= 0 && receiveQueue.getDouble("delayMs") < 1000,
                    "the lane's queue delay: " + receiveQueue.getDouble("delayMs"));
        }
        assertEquals(FLOWS * 10, accepted, "each lane's accepted packets add up");
        assertEquals(lanes.getJsonObject(1), get(apiB, "/lanes/1").bodyAsJsonObject());

        assertEquals("flow", get(apiB, "/mode").bodyAsJsonObject().getString("mode"));
        JsonObject steering = get(apiB, "/steering").bodyAsJsonObject();
        assertEquals("director", steering.getString("steering"));
        assertEquals("udp-source-port", steering.getJsonArray("endpoints").getJsonObject(0).getString("field"));

        JsonArray policies = get(apiA, "/policies").bodyAsJsonArray();
        String policy = policies.getJsonObject(0).getString("name");
        assertEquals(4, policies.getJsonObject(0).getJsonArray("outbound").size());
        JsonObject weights = get(apiA, "/policies/" + policy + "/weights").bodyAsJsonObject();
        assertEquals(4, weights.getJsonArray("weights").size());
        assertEquals(128, weights.getJsonArray("table").size(), "the indirection table");

        JsonArray sas = get(apiB, "/sas").bodyAsJsonArray();
        long inboundPackets = 0;
        for (Object sa : sas) {
            JsonObject json = (JsonObject) sa;
            assertFalse(json.containsKey("key") || json.containsKey("integrityKey"), "never keys: " + json.encode());
            if (json.getString("direction").equals("inbound")) {
                inboundPackets += json.getLong("packets");
            }
        }
        assertEquals(FLOWS * 10, inboundPackets);
        assertEquals("aes-gcm-128", sas.getJsonObject(0).getString("suite"));
        assertEquals(0L, sas.getJsonObject(0).getJsonObject("lifetime").getLong("hardBytes"), "no limit configured");
        String spi = sas.getJsonObject(0).getString("spi");
        String direction = sas.getJsonObject(0).getString("direction");
        assertEquals(sas.getJsonObject(0), get(apiB, "/sas/" + direction + "/" + spi).bodyAsJsonObject());
        JsonObject drops = get(apiB, "/drops").bodyAsJsonObject();
        assertEquals(new JsonObject(), drops.getJsonObject("totals"), "nothing dropped");
        assertEquals(2, drops.getJsonArray("lanes").size());
    }

    @Test
    void shouldShowWhatTheKernelDroppedAtALanesFullSocketInItsLaneAndAmongTheDrops() throws Exception {
        int sockets = pair.boundSocketsOfB(2048);
        try (AutoCloseable held = pair.holdLanesOfB()) {
            pair.sendFromA(FLOWS, 5);
            long deadlineNs = System.nanoTime() + 10_000_000_000L;
            while (pair.network.wire().size() < FLOWS * 5 && System.nanoTime() < deadlineNs) {
                Thread.sleep(5);
            }
            JsonArray lanes = get(apiB, "/lanes").bodyAsJsonArray();
            long laneDrops = 0;
            long buffers = 0;
            for (int i = 0; i < lanes.size(); i++) {
                JsonObject receiveQueue = lanes.getJsonObject(i).getJsonObject("receiveQueue");
                laneDrops += receiveQueue.getLong("drops");
                buffers += receiveQueue.getLong("bufferBytes");
                assertTrue(receiveQueue.getLong("queuedBytes") <= receiveQueue.getLong("bufferBytes"), receiveQueue.encode());
                assertEquals(receiveQueue, get(apiB, "/lanes/" + i).bodyAsJsonObject().getJsonObject("receiveQueue"),
                        "one lane as in the list (held: nothing moves)");
            }
            assertEquals(2048L * sockets, buffers);
            assertTrue(laneDrops > 0, "the held lanes' sockets overflowed");
            assertEquals(pair.b.snapshot().socketDrops(), laneDrops);

            JsonObject drops = get(apiB, "/drops").bodyAsJsonObject();
            assertEquals(new JsonObject().put("socket-overflow", laneDrops), drops.getJsonObject("totals"),
                    "counted with their reason, the only drops");
            long perLane = 0;
            for (Object lane : drops.getJsonArray("lanes")) {
                perLane += ((JsonObject) lane).getJsonObject("drops").getLong("socket-overflow", 0L);
            }
            assertEquals(laneDrops, perLane);
            for (Object sa : drops.getJsonArray("sas")) {
                assertEquals(new JsonObject(), ((JsonObject) sa).getJsonObject("drops"), "no SA is known for them");
            }
        }
    }

    private int received(int expected) {
        try {
            return pair.receivedAtB(expected, 10_000).values().stream().mapToInt(List::size).sum();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    // ---- changes --------------------------------------------------------------------------------------------------

    @Test
    void shouldChangeTheModeLiveRecordItAndVersionIt() {
        String before = get(apiB, "/mode").getHeader("ETag");
        HttpResponse<Buffer> changed = put(apiB, "/mode", new JsonObject().put("mode", "pcrypt"));
        assertEquals(200, changed.statusCode(), changed.bodyAsString());
        assertEquals("pcrypt", changed.bodyAsJsonObject().getString("mode"));
        assertEquals(Mode.PCRYPT, pair.b.mode(), "the data plane changed");
        assertEquals(List.of(new ConfigurationChange.ModeSet(Mode.PCRYPT)), configurationB.changes, "and the change was recorded");
        assertNotEquals(before, changed.getHeader("ETag"), "a new version");

        HttpResponse<Buffer> stale = call(apiB, HttpMethod.PUT, "/mode", ADMIN, new JsonObject().put("mode", "flow"), before);
        assertProblem(stale, 409, null);
        assertEquals(Mode.PCRYPT, pair.b.mode(), "a stale If-Match changes nothing");
        HttpResponse<Buffer> current = call(apiB, HttpMethod.PUT, "/mode", ADMIN, new JsonObject().put("mode", "flow"),
                changed.getHeader("ETag"));
        assertEquals(200, current.statusCode(), current.bodyAsString());
        assertEquals(Mode.FLOW, pair.b.mode());
    }

    @Test
    void shouldChangeSteeringWeightsAndAnInboundSasLane() {
        HttpResponse<Buffer> steering = put(apiB, "/steering", new JsonObject().put("steering", "rss"));
        assertEquals(200, steering.statusCode(), steering.bodyAsString());
        assertEquals(Steering.RSS, pair.b.steering());

        String policy = pair.tunnel.a().policy().name();
        HttpResponse<Buffer> weights = put(apiA, "/policies/" + policy + "/weights",
                new JsonObject().put("weights", new JsonArray().add(1).add(0).add(2).add(1)));
        assertEquals(200, weights.statusCode(), weights.bodyAsString());
        assertEquals(List.of(1, 0, 2, 1), weights.bodyAsJsonObject().getJsonArray("weights").getList());

        int spi = pair.tunnel.b().inbound().getFirst().spi();
        int lane = pair.b.inboundLanes().get(spi);
        HttpResponse<Buffer> moved = put(apiB, "/sas/inbound/" + ApiResources.hex(spi) + "/lane",
                new JsonObject().put("lane", 1 - lane));
        assertEquals(200, moved.statusCode(), moved.bodyAsString());
        assertEquals(1 - lane, pair.b.inboundLanes().get(spi));
        assertEquals(1 - lane, get(apiB, "/sas/inbound/" + spi + "/lane").bodyAsJsonObject().getInteger("lane"),
                "decimal SPIs work too");
        assertTrue(configurationB.changes.contains(new ConfigurationChange.InboundLaneSet(spi, 1 - lane)));
    }

    /** The receiver's inbound SAs first, then the sender's outbound ones, through the two APIs, during traffic. */
    @Test
    void shouldRekeyEverySaThroughTheApisDuringTrafficLosingNothing() throws Exception {
        Thread traffic = Thread.ofPlatform().start(() -> {
            for (int round = 0; round < 40; round++) {
                pair.sendFromA(FLOWS, 5);
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        java.security.SecureRandom random = new java.security.SecureRandom();
        List<SecurityAssociation> inbound = pair.tunnel.b().inbound();
        for (int i = 0; i < inbound.size(); i++) {
            int oldSpi = inbound.get(i).spi();
            int newSpi = 0x7000_0000 + i;
            byte[] key = new byte[inbound.get(i).suite().encryptionKeyLength()];
            random.nextBytes(key);
            String hexKey = HexFormat.of().formatHex(key);
            keysUsed.add(hexKey);
            JsonObject body = new JsonObject().put("spi", ApiResources.hex(newSpi)).put("key", hexKey).put("graceMs", 2000);
            HttpResponse<Buffer> atB = call(apiB, HttpMethod.POST, "/sas/inbound/" + ApiResources.hex(oldSpi) + "/rekey", ADMIN, body, null);
            assertEquals(201, atB.statusCode(), atB.bodyAsString());
            assertEquals(ApiResources.hex(newSpi), atB.bodyAsJsonObject().getString("spi"));
            HttpResponse<Buffer> atA = call(apiA, HttpMethod.POST, "/sas/outbound/" + ApiResources.hex(oldSpi) + "/rekey", ADMIN, body, null);
            assertEquals(201, atA.statusCode(), atA.bodyAsString());
        }
        traffic.join();
        int expected = 40 * 5 * FLOWS;
        Map<Integer, List<Integer>> byFlow = pair.receivedAtB(expected, 20_000);
        assertEquals(expected, byFlow.values().stream().mapToInt(List::size).sum(), "nothing lost");
        for (List<Integer> numbers : byFlow.values()) {
            for (int n = 0; n < numbers.size(); n++) {
                assertEquals(n, numbers.get(n), "nothing reordered");
            }
        }
        assertEquals(0, pair.b.snapshot().total(Outcome.AUTHENTICATION_FAILED) + pair.b.snapshot().total(Outcome.UNKNOWN_SPI)
                + pair.b.snapshot().total(Outcome.REPLAY));
        assertEquals(4, configurationB.changes.stream().filter(c -> c instanceof ConfigurationChange.SaRekeyed).count());
        assertTrue(pair.a.sas().stream().filter(sa -> sa.direction() == Direction.OUTBOUND).allMatch(sa -> sa.spi() >= 0x7000_0000));
    }

    @Test
    void shouldAddAnInboundSaWithThePolicysParametersOnTheLaneAsked() {
        SecurityAssociation template = pair.tunnel.b().inbound().getFirst();
        configurationB.builder = added -> {
            if (added.encryptionKey().length != template.suite().encryptionKeyLength()) {
                throw new IllegalArgumentException("policies[0].inbound[4].key: " + template.suite().configName()
                        + " needs " + template.suite().encryptionKeyLength() + " bytes");
            }
            return template.successor().name("added").spi(added.spi()).encryptionKey(added.encryptionKey()).build();
        };
        String policy = pair.tunnel.b().policy().name();
        String key = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3";
        keysUsed.add(key);
        HttpResponse<Buffer> added = call(apiB, HttpMethod.POST, "/policies/" + policy + "/inbound", ADMIN,
                new JsonObject().put("spi", "0x65000001").put("key", key).put("lane", 1), null);
        assertEquals(201, added.statusCode(), added.bodyAsString());
        assertEquals("0x65000001", added.bodyAsJsonObject().getString("spi"));
        assertEquals(1, pair.b.inboundLanes().get(0x65000001), "on the lane asked for");
        assertTrue(configurationB.changes.getLast() instanceof ConfigurationChange.SaAdded);
        assertProblem(call(apiB, HttpMethod.POST, "/policies/" + policy + "/inbound", ADMIN,
                new JsonObject().put("spi", "0x65000001").put("key", key), null), 409, null);
        assertProblem(call(apiB, HttpMethod.POST, "/policies/" + policy + "/inbound", ADMIN,
                new JsonObject().put("spi", "0x65000002").put("key", key.substring(8)), null), 400, "key");
        assertProblem(call(apiB, HttpMethod.POST, "/policies/no-such/inbound", ADMIN,
                new JsonObject().put("spi", "0x65000003").put("key", key), null), 404, null);
    }

    @Test
    void shouldRemoveAnInboundSaButNotAnOutboundOne() {
        int spi = pair.tunnel.b().inbound().getFirst().spi();
        HttpResponse<Buffer> removed = call(apiB, HttpMethod.DELETE, "/sas/inbound/" + ApiResources.hex(spi), ADMIN, null, null);
        assertEquals(204, removed.statusCode(), removed.bodyAsString());
        assertTrue(pair.b.sas().stream().noneMatch(sa -> sa.spi() == spi && sa.direction() == Direction.INBOUND));
        assertProblem(call(apiB, HttpMethod.DELETE, "/sas/inbound/" + ApiResources.hex(spi), ADMIN, null, null), 404, null);
        int outbound = pair.tunnel.a().outboundGroup().members().getFirst().spi();
        assertProblem(call(apiA, HttpMethod.DELETE, "/sas/outbound/" + ApiResources.hex(outbound), ADMIN, null, null), 400, "direction");
    }

    // ---- errors ---------------------------------------------------------------------------------------------------

    @Test
    void shouldAnswer401WithoutOrWithAWrongTokenAnd403ForAReadOnlyWrite() {
        HttpResponse<Buffer> none = call(apiB, HttpMethod.GET, "/mode", null, null, null);
        assertProblem(none, 401, null);
        assertTrue(none.getHeader("WWW-Authenticate").startsWith("Bearer"));
        assertProblem(call(apiB, HttpMethod.GET, "/mode", "fsk_wrong", null, null), 401, null);
        assertProblem(call(apiB, HttpMethod.PUT, "/mode", READER, new JsonObject().put("mode", "single"), null), 403, null);
        assertEquals(Mode.FLOW, pair.b.mode());
        assertEquals(List.of(), configurationB.changes);
    }

    @Test
    void shouldRateLimitFailedLoginsPerAddressWith429() {
        io.flowsec.control.security.LoginThrottle throttle = new io.flowsec.control.security.LoginThrottle(3,
                java.time.Duration.ofMinutes(1), java.time.Duration.ofMinutes(1), 100, java.time.Clock.systemUTC());
        ApiServer guarded = ApiServer.start(vertx, new ApiServer.Settings("127.0.0.1", 0, null, 1024),
                new ApplianceInfo("c", "test", "memory", List.of(), Instant.now()), pair.b, configurationB,
                token -> ADMIN.equals(token) ? Optional.of(new Caller("ops", true)) : Optional.empty(), throttle,
                List.of(), log::add).await();
        try {
            for (int i = 0; i < 3; i++) {
                assertProblem(call(guarded, HttpMethod.GET, "/mode", "fsk_guess-" + i, null, null), 401, null);
            }
            HttpResponse<Buffer> locked = call(guarded, HttpMethod.GET, "/mode", ADMIN, null, null);
            assertProblem(locked, 429, null);
            assertTrue(Integer.parseInt(locked.getHeader("Retry-After")) > 0);
            assertEquals(200, call(guarded, HttpMethod.GET, "/health", null, null, null).statusCode(), "health stays open");
            assertEquals(3, throttle.failuresTotal());
        } finally {
            guarded.close();
        }
    }

    @Test
    void shouldRefuseABodyLargerThanTheLimitWith413() {
        String big = "{\"mode\":\"" + "x".repeat(100_000) + "\"}";
        assertProblem(call(apiB, HttpMethod.PUT, "/mode", ADMIN, big, null), 413, null);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "/mode|{\"mode\":\"turbo\"}|mode",
            "/mode|{\"mode\":\"flow\",\"extra\":1}|",
            "/mode|{}|",
            "/steering|{\"steering\":7}|steering",
            "/sas/inbound/0x00000100/lane|{\"lane\":-1}|lane",
            "/sas/inbound/0x00000100/lane|{\"lane\":500}|lane",
    })
    void shouldRefuseABodyTheContractDoesNotAllowWith400(String path, String body, String field) {
        assertProblem(call(apiB, HttpMethod.PUT, path, ADMIN, body, null), 400, field);
        assertEquals(List.of(), configurationB.changes);
    }

    @Test
    void shouldRefuseInvalidJsonAnUnknownResourceAndAWrongMethod() {
        assertProblem(call(apiB, HttpMethod.PUT, "/mode", ADMIN, "{not json", null), 400, null);
        assertProblem(call(apiB, HttpMethod.GET, "/nothing-here", READER, null, null), 404, null);
        assertProblem(call(apiB, HttpMethod.GET, "/lanes/7", READER, null, null), 404, null);
        assertProblem(call(apiB, HttpMethod.GET, "/policies/no-such-policy", READER, null, null), 404, null);
        assertProblem(call(apiB, HttpMethod.GET, "/sas/inbound/0x12345678", READER, null, null), 404, null);
        assertProblem(call(apiB, HttpMethod.GET, "/sas/sideways/0x12345678", READER, null, null), 400, null);
        HttpResponse<Buffer> wrongMethod = call(apiB, HttpMethod.PATCH, "/mode", ADMIN, null, null);
        assertTrue(wrongMethod.statusCode() == 404 || wrongMethod.statusCode() == 405, wrongMethod.statusCode() + "");
        assertEquals(Problem.MEDIA_TYPE, wrongMethod.getHeader("Content-Type"));
    }

    @Test
    void shouldRefuseAWrongKeyLengthAnSpiInUseAndABadSpiNamingTheField() {
        int oldSpi = pair.tunnel.b().inbound().get(0).spi();
        int otherSpi = pair.tunnel.b().inbound().get(1).spi();
        String shortKey = "00112233445566778899aabbccddeeff";   // 16 bytes: AES-GCM-128 needs 20 (key and salt)
        keysUsed.add(shortKey);
        String path = "/sas/inbound/" + ApiResources.hex(oldSpi) + "/rekey";
        assertProblem(call(apiB, HttpMethod.POST, path, ADMIN, new JsonObject().put("spi", "0x71000000").put("key", shortKey), null), 400, "key");
        String goodKey = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3";
        keysUsed.add(goodKey);
        assertProblem(call(apiB, HttpMethod.POST, path, ADMIN, new JsonObject().put("spi", ApiResources.hex(otherSpi)).put("key", goodKey), null), 409, null);
        assertProblem(call(apiB, HttpMethod.POST, path, ADMIN, new JsonObject().put("spi", "0x000000ff").put("key", goodKey), null), 400, "spi");
        assertProblem(call(apiB, HttpMethod.POST, path, ADMIN, new JsonObject().put("spi", "0x71000000").put("key", "zz" + goodKey.substring(2)), null), 400, "key");
        assertEquals(List.of(), configurationB.changes);
        assertTrue(pair.b.sas().stream().anyMatch(sa -> sa.spi() == oldSpi), "the old SA stays");
    }

    @Test
    void shouldLeaveTheDataPlaneAsItWasWhenTheConfigurationRefusesTheChange() {
        configurationB.refuseNext = new IllegalArgumentException("mode: the appliance would refuse this configuration");
        assertProblem(put(apiB, "/mode", new JsonObject().put("mode", "single")), 400, "mode");
        assertEquals(Mode.FLOW, pair.b.mode());
    }

    @Test
    void shouldRunConcurrentChangesOneAtATimeAndCountEachVersionOnce() throws Exception {
        List<io.vertx.core.Future<HttpResponse<Buffer>>> sent = new ArrayList<>();
        String[] modes = {"single", "flow", "pcrypt", "flow"};
        for (int i = 0; i < 20; i++) {
            sent.add(client.request(HttpMethod.PUT, apiB.port(), "127.0.0.1", ApiServer.BASE + "/mode")
                    .putHeader("Authorization", "Bearer " + ADMIN).sendJsonObject(new JsonObject().put("mode", modes[i % 4])));
        }
        java.util.Set<String> etags = new java.util.HashSet<>();
        for (io.vertx.core.Future<HttpResponse<Buffer>> future : sent) {
            HttpResponse<Buffer> response = future.await();
            assertEquals(200, response.statusCode(), response.bodyAsString());
            etags.add(response.getHeader("ETag"));
        }
        assertEquals(20, etags.size(), "every change its own version");
        assertEquals(20, configurationB.changes.size());
    }
}
