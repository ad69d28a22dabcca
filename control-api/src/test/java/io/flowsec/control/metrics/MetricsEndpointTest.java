package io.flowsec.control.metrics;

import io.flowsec.control.api.ApiServer;
import io.flowsec.control.api.TestTokens;
import io.flowsec.control.api.ApplianceInfo;
import io.flowsec.control.api.Caller;
import io.flowsec.control.config.PersistentConfiguration;
import io.flowsec.control.security.LoginThrottle;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
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

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * {@code /metrics} over real HTTP, beside the control API, against two real data planes joined in memory (A sends,
 * B receives; 2 lanes, 4 SAs per direction): what it says is what the data plane's snapshot says, SAs come and go
 * with rekeys, no key shows, and Prometheus' own parser ({@code promtool check metrics}) accepts all of it.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MetricsEndpointTest {
    private static final String ADMIN = TestTokens.ADMIN;
    private static final String READER = TestTokens.READER;
    private static final int FLOWS = 64;
    private static final String PROMTOOL = "promtool";

    private TwoDataplanes pair;
    private MetricsEndpoint metricsA;
    private MetricsEndpoint metricsB;
    private ApiServer apiA;
    private ApiServer apiB;
    private WebClient client;
    private final List<String> keysUsed = new ArrayList<>();
    private final List<String> scrapes = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        pair = new TwoDataplanes(TestPackets.tunnel().saCount(4).encoding(FlowEncoding.UDP_PORT), 2, Mode.FLOW);
        pair.a.queueProbing(false);   // exact counts: no marker of the data plane's own among them
        pair.b.queueProbing(false);
        Caller.Authenticator tokens = TestTokens.authenticator();
        PersistentConfiguration applyOnly = (change, applyToDataplane) -> applyToDataplane.run();
        ApiServer.Settings settings = new ApiServer.Settings("127.0.0.1", 0, null, 64 * 1024);
        metricsA = new MetricsEndpoint(pair.a, Duration.ZERO);
        metricsB = new MetricsEndpoint(pair.b, Duration.ZERO);
        apiA = ApiServer.start(vertx, settings, new ApplianceInfo("a", "test", "memory", List.of(), Instant.now()),
                pair.a, applyOnly, tokens, LoginThrottle.defaults(), List.of(metricsA), line -> { }).await();
        apiB = ApiServer.start(vertx, settings, new ApplianceInfo("b", "test", "memory", List.of(), Instant.now()),
                pair.b, applyOnly, tokens, LoginThrottle.defaults(), List.of(metricsB), line -> { }).await();
        client = WebClient.create(vertx);
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        apiA.close();
        apiB.close();
        metricsA.close();
        metricsB.close();
        pair.close();
        String everything = String.join("\n", scrapes).toLowerCase(Locale.ROOT);
        for (String key : keysUsed) {
            assertFalse(everything.contains(key.toLowerCase(Locale.ROOT).substring(0, 16)), "key material in a scrape");
        }
    }

    // ---- what the endpoint says -----------------------------------------------------------------------------------

    @Test
    void shouldServeMetricsOnlyToACallerWithAToken() {
        HttpResponse<Buffer> none = request(apiB, HttpMethod.GET, "/metrics", null, null);
        assertEquals(401, none.statusCode());
        assertTrue(none.getHeader("WWW-Authenticate").startsWith("Bearer"));
        assertEquals(401, request(apiB, HttpMethod.GET, "/metrics", "fsk_wrong", null).statusCode());

        HttpResponse<Buffer> scraped = request(apiB, HttpMethod.GET, "/metrics", READER, null);
        assertEquals(200, scraped.statusCode());
        assertEquals(MetricsEndpoint.CONTENT_TYPE, scraped.getHeader("Content-Type"));
        Samples samples = Samples.parse(scraped.bodyAsString());
        assertEquals(1, samples.value("flowsec_mode", Map.of("mode", "flow")));
        assertEquals(0, samples.value("flowsec_mode", Map.of("mode", "pcrypt")));
        assertEquals(1, samples.value("flowsec_steering", Map.of("steering", "director")));
        assertTrue(samples.has("jvm_memory_used_bytes") && samples.has("jvm_threads_live_threads")
                && samples.has("process_uptime_seconds") && samples.has("system_cpu_cores")
                && samples.has("process_cpu_seconds_total"), "the JVM's meters");
    }

    @Test
    void shouldCountEachLaneAndEachSaAsTheDataplaneDoes() throws Exception {
        pair.sendFromA(FLOWS, 10);
        assertEquals(FLOWS * 10, TwoDataplanes.count(pair.receivedAtB(FLOWS * 10, 10_000)));
        Samples atB = scrape(apiB);
        DataplaneSnapshot snapshot = pair.b.snapshot();

        for (DataplaneSnapshot.LaneSnapshot lane : snapshot.lanes()) {
            Map<String, String> laneTag = Map.of("lane", Integer.toString(lane.lane()));
            for (IoCounter counter : IoCounter.values()) {
                String name = switch (counter) {
                    case BUSY_NANOS -> "flowsec_lane_busy_seconds_total";
                    case LANE_FAULTS -> "flowsec_lane_faults_total";
                    default -> "flowsec_lane_" + counter.name().toLowerCase(Locale.ROOT) + "_total";
                };
                assertTrue(atB.has(name, laneTag), name + " for lane " + lane.lane());
            }
            for (IoCounter counter : List.of(IoCounter.TUNNEL_DATAGRAMS_RECEIVED, IoCounter.SITE_PACKETS_WRITTEN,
                    IoCounter.SITE_BYTES_WRITTEN)) {
                assertEquals(lane.io(counter), atB.value("flowsec_lane_" + counter.name().toLowerCase(Locale.ROOT) + "_total", laneTag));
            }
            assertEquals(lane.flowletPending(), atB.value("flowsec_lane_flowlet_pending", laneTag), "a gauge");
            assertEquals(0, atB.value("flowsec_lane_socket_drops_total", laneTag), "nothing overflowed");
            assertEquals(0, atB.value("flowsec_lane_socket_queued_bytes", laneTag), "all read");
            assertEquals(0, atB.value("flowsec_lane_socket_buffer_bytes", laneTag), "unbounded in-memory sockets");
            double delay = atB.value("flowsec_lane_queue_delay_seconds", laneTag);
            assertTrue(delay >= 0 && delay < 1, "the lane's queue delay, in seconds: " + delay);
            assertTrue(atB.value("flowsec_lane_busy_seconds_total", laneTag) <= lane.io(IoCounter.BUSY_NANOS) / 1e9,
                    "busy time, in seconds, no more than a later snapshot's");
            assertEquals((long) lane.outcomes().getOrDefault(Outcome.ACCEPTED, 0L),
                    atB.value("flowsec_lane_packets_total", Map.of("lane", Integer.toString(lane.lane()), "outcome", "accepted")));
        }
        assertEquals(FLOWS * 10, atB.sum("flowsec_lane_tunnel_datagrams_received_total", Map.of()));

        assertEquals(FLOWS * 10, atB.sum("flowsec_sa_packets_total", Map.of("direction", "inbound")));
        for (DataplaneSnapshot.SaSnapshot sa : snapshot.sas()) {
            Map<String, String> saTags = Map.of("spi", String.format("0x%08x", sa.spi()),
                    "direction", sa.direction().name().toLowerCase(Locale.ROOT), "policy", "B-protect");
            assertEquals(sa.packets(), atB.value("flowsec_sa_packets_total", saTags), "each SA, with its policy: " + saTags);
            assertEquals(sa.bytes(), atB.value("flowsec_sa_bytes_total", saTags));
        }
        assertEquals(8, atB.series("flowsec_sa_packets_total").size(), "4 SAs each way");

        Samples atA = scrape(apiA);
        assertEquals(FLOWS * 10, atA.sum("flowsec_sa_packets_total", Map.of("direction", "outbound", "policy", "A-protect")),
                "outbound SAs are named after the policy whose group they are in");
        for (Outcome outcome : Outcome.values()) {
            assertEquals(outcome.isDrop(), atB.has("flowsec_drops_total", Map.of("reason", outcome.label())),
                    "every drop reason from the start, and only drops: " + outcome);
        }
        assertTrue(atB.has("flowsec_drops_total", Map.of("reason", "socket-overflow")), "and the kernel's, from the start");
        assertEquals(0, atB.sum("flowsec_drops_total", Map.of()), "nothing dropped");
    }

    @Test
    void shouldCountWhatTheKernelDroppedAtALanesFullSocket() throws Exception {
        pair.boundSocketsOfB(2048);
        try (AutoCloseable held = pair.holdLanesOfB()) {
            pair.sendFromA(FLOWS, 5);
            await(() -> pair.network.wire().size() == FLOWS * 5);
            Samples atB = scrape(apiB);
            DataplaneSnapshot snapshot = pair.b.snapshot();   // B's lanes are held: the same figures as the scrape's
            assertTrue(snapshot.socketDrops() > 0, "the held lanes' sockets overflowed");
            assertEquals(snapshot.socketDrops(), atB.value("flowsec_drops_total", Map.of("reason", "socket-overflow")));
            assertEquals(snapshot.socketDrops(), atB.sum("flowsec_drops_total", Map.of()), "the only drops");
            for (DataplaneSnapshot.LaneSnapshot lane : snapshot.lanes()) {
                Map<String, String> laneTag = Map.of("lane", Integer.toString(lane.lane()));
                assertEquals(lane.socketDrops(), atB.value("flowsec_lane_socket_drops_total", laneTag));
                assertEquals(lane.receiveQueue().queuedBytes(), atB.value("flowsec_lane_socket_queued_bytes", laneTag));
                assertEquals(lane.receiveQueue().bufferBytes(), atB.value("flowsec_lane_socket_buffer_bytes", laneTag));
            }
        }
    }

    @Test
    void shouldCountDropsByReasonPerLanePerSaAndInTotal() throws Exception {
        // a packet no policy of A's covers
        pair.siteA[1].inject(TestPackets.udp(TestPackets.HOST_A_V4, 5000, "203.0.113.9", 9, 32));
        // SA 0's successors at A and B disagree on the key: B fails to authenticate what A sends on it
        int oldSpi = pair.tunnel.b().inbound().getFirst().spi();
        int newSpi = 0x7100_0000;
        rekey(apiA, Direction.OUTBOUND, oldSpi, newSpi, randomKey(pair.tunnel.b().inbound().getFirst()), 0);
        rekey(apiB, Direction.INBOUND, oldSpi, newSpi, randomKey(pair.tunnel.b().inbound().getFirst()), 0);
        pair.sendFromA(FLOWS, 4);
        await(() -> pair.a.snapshot().total(Outcome.NO_POLICY) == 1
                && pair.b.snapshot().total(Outcome.AUTHENTICATION_FAILED) + pair.b.snapshot().total(Outcome.ACCEPTED) == FLOWS * 4);

        Samples atA = scrape(apiA);
        assertEquals(1, atA.value("flowsec_drops_total", Map.of("reason", "no-policy")));
        assertEquals(1, atA.value("flowsec_lane_packets_total", Map.of("lane", "1", "outcome", "no-policy")));

        Samples atB = scrape(apiB);
        long failed = pair.b.snapshot().total(Outcome.AUTHENTICATION_FAILED);
        assertTrue(failed > 0, "some flows are on SA 0");
        assertEquals(failed, atB.value("flowsec_drops_total", Map.of("reason", "authentication-failed")));
        assertEquals(failed, atB.sum("flowsec_lane_packets_total", Map.of("outcome", "authentication-failed")));
        assertEquals(failed, atB.value("flowsec_sa_drops_total", Map.of("spi", "0x71000000", "direction", "inbound",
                "policy", "B-protect", "reason", "authentication-failed")), "the drops of the SA that dropped them");
        assertEquals(1, atB.series("flowsec_sa_drops_total").size(), "a reason's series appears with its first drop");
    }

    @Test
    void shouldDropTheSeriesOfARekeyedSaOnceItsGracePeriodEnds() throws Exception {
        SecurityAssociation first = pair.tunnel.b().inbound().getFirst();
        String oldSpi = String.format("0x%08x", first.spi());
        String key = randomKey(first);
        rekey(apiB, Direction.INBOUND, first.spi(), 0x7200_0000, key, 300);
        rekey(apiA, Direction.OUTBOUND, first.spi(), 0x7200_0000, key, 0);
        pair.sendFromA(FLOWS, 4);
        assertEquals(FLOWS * 4, TwoDataplanes.count(pair.receivedAtB(FLOWS * 4, 10_000)));

        Samples atA = scrape(apiA);
        assertFalse(atA.has("flowsec_sa_packets_total", Map.of("spi", oldSpi)), "an outbound SA is replaced at once");
        assertTrue(atA.value("flowsec_sa_packets_total", Map.of("spi", "0x72000000", "policy", "A-protect")) > 0);

        await(() -> !scrape(apiB).has("flowsec_sa_packets_total", Map.of("spi", oldSpi)));
        Samples atB = scrape(apiB);
        assertFalse(atB.has("flowsec_sa_bytes_total", Map.of("spi", oldSpi)), "none of the old SA's series are left");
        assertTrue(atB.value("flowsec_sa_packets_total", Map.of("spi", "0x72000000", "direction", "inbound",
                "policy", "B-protect")) > 0, "the successor keeps its policy's name");
        assertEquals(8, atB.series("flowsec_sa_packets_total").size(), "4 SAs each way, as before the rekey");
    }

    @Test
    void shouldTimeApiRequestsByRouteTemplateNeverByPath() {
        String spi = String.format("0x%08x", pair.tunnel.b().inbound().getFirst().spi());
        assertEquals(200, request(apiB, HttpMethod.GET, "/api/v1/sas/inbound/" + spi, READER, null).statusCode());
        assertEquals(200, request(apiB, HttpMethod.GET, "/api/v1/sas/inbound/" + spi + "/lane", READER, null).statusCode());
        assertEquals(200, request(apiB, HttpMethod.PUT, "/api/v1/mode", ADMIN, new JsonObject().put("mode", "flow")).statusCode());
        assertEquals(404, request(apiB, HttpMethod.GET, "/api/v1/sas/inbound/0x12345678", READER, null).statusCode());
        assertEquals(404, request(apiB, HttpMethod.GET, "/api/v1/no/such/" + spi, READER, null).statusCode());
        scrape(apiB);

        Samples samples = scrape(apiB);
        assertEquals(1, samples.value("flowsec_api_request_seconds_count",
                Map.of("method", "GET", "route", "/api/v1/sas/{direction}/{spi}", "status", "200")));
        assertEquals(1, samples.value("flowsec_api_request_seconds_count",
                Map.of("method", "GET", "route", "/api/v1/sas/{direction}/{spi}", "status", "404")));
        assertEquals(1, samples.value("flowsec_api_request_seconds_count",
                Map.of("method", "GET", "route", "/api/v1/sas/inbound/{spi}/lane", "status", "200")));
        assertEquals(1, samples.value("flowsec_api_request_seconds_count",
                Map.of("method", "PUT", "route", "/api/v1/mode", "status", "200")));
        assertEquals(1, samples.value("flowsec_api_request_seconds_count",
                Map.of("method", "GET", "route", ApiLatency.UNMATCHED, "status", "404")));
        assertTrue(samples.value("flowsec_api_request_seconds_count",
                Map.of("method", "GET", "route", "/metrics", "status", "200")) >= 1, "the scrape before this one");
        assertTrue(samples.has("flowsec_api_request_seconds_bucket", Map.of("route", "/api/v1/mode", "le", "0.005")));
        for (Sample sample : samples.series("flowsec_api_request_seconds_count")) {
            assertFalse(sample.labels().get("route").contains("0x"), "no SPI in a route label: " + sample);
        }
    }

    @Test
    void shouldBeAcceptedByPrometheusOwnParser() throws Exception {
        // every kind of series: traffic, a drop, a rekey (so a retiring SA), API requests, the cluster's
        metricsB.bind(new OneTunnel());
        pair.sendFromA(FLOWS, 4);
        pair.siteA[0].inject(TestPackets.udp(TestPackets.HOST_A_V4, 5000, "203.0.113.9", 9, 32));
        SecurityAssociation first = pair.tunnel.b().inbound().getFirst();
        rekey(apiB, Direction.INBOUND, first.spi(), 0x7300_0000, randomKey(first), 60_000);
        request(apiB, HttpMethod.GET, "/api/v1/no-such-thing", READER, null);
        assertEquals(FLOWS * 4, TwoDataplanes.count(pair.receivedAtB(FLOWS * 4, 10_000)));
        scrape(apiA);
        String text = request(apiB, HttpMethod.GET, "/metrics", READER, null).bodyAsString();
        assertTrue(Samples.parse(text).has("flowsec_sa_packets_total", Map.of("spi", "0x73000000")));

        if (!onPath(PROMTOOL)) {
            String problem = "promtool (Debian package prometheus) is not installed";
            if ("1".equals(System.getenv("FLOWSEC_REQUIRE_INTEROP"))) {
                fail(problem + "; FLOWSEC_REQUIRE_INTEROP=1 requires it: apt-get install prometheus");
            }
            abort(problem + ": the Prometheus format check is skipped (FLOWSEC_REQUIRE_INTEROP=1 fails instead)");
        }
        for (String scraped : List.of(text, scrapes.getFirst())) {
            Process promtool = new ProcessBuilder(PROMTOOL, "check", "metrics").redirectErrorStream(true).start();
            promtool.getOutputStream().write(scraped.getBytes(StandardCharsets.UTF_8));
            promtool.getOutputStream().close();
            String said = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(promtool.waitFor(30, TimeUnit.SECONDS), "promtool finished");
            assertEquals(0, promtool.exitValue(), "promtool check metrics: " + said);
            assertEquals("", said.strip(), "no errors and no lint warnings");
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private HttpResponse<Buffer> request(ApiServer api, HttpMethod method, String path, String token, JsonObject body) {
        HttpRequest<Buffer> request = client.request(method, api.port(), "127.0.0.1", path);
        if (token != null) {
            request.putHeader("Authorization", "Bearer " + token);
        }
        HttpResponse<Buffer> response = body == null ? request.send().await() : request.sendJsonObject(body).await();
        if (path.equals(MetricsEndpoint.PATH) && response.statusCode() == 200) {
            scrapes.add(response.bodyAsString());
        }
        return response;
    }

    private Samples scrape(ApiServer api) {
        HttpResponse<Buffer> response = request(api, HttpMethod.GET, MetricsEndpoint.PATH, READER, null);
        assertEquals(200, response.statusCode(), response.bodyAsString());
        return Samples.parse(response.bodyAsString());
    }

    private void rekey(ApiServer api, Direction direction, int oldSpi, int newSpi, String key, int graceMs) {
        JsonObject body = new JsonObject().put("spi", String.format("0x%08x", newSpi)).put("key", key).put("graceMs", graceMs);
        HttpResponse<Buffer> response = request(api, HttpMethod.POST, ApiServer.BASE + "/sas/"
                + direction.name().toLowerCase(Locale.ROOT) + "/" + String.format("0x%08x", oldSpi) + "/rekey", ADMIN, body);
        assertEquals(201, response.statusCode(), response.bodyAsString());
    }

    private String randomKey(SecurityAssociation sa) {
        byte[] key = new byte[sa.suite().encryptionKeyLength()];
        new SecureRandom().nextBytes(key);
        String hex = HexFormat.of().formatHex(key);
        keysUsed.add(hex);
        return hex;
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadlineNs) {
                fail("not within 10 s");
            }
            Thread.sleep(20);
        }
    }

    private static boolean onPath(String command) {
        for (String directory : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            if (new File(directory, command).canExecute()) {
                return true;
            }
        }
        return false;
    }

    /** A cluster with one tunnel, a-b, whose peer is heard, and two refused messages. */
    private static final class OneTunnel implements io.flowsec.control.api.TunnelControl {
        volatile String peerState = "up";

        @Override
        public io.vertx.core.json.JsonArray tunnels() {
            return new io.vertx.core.json.JsonArray().add(tunnel("a-b"));
        }

        @Override
        public JsonObject tunnel(String id) {
            return new JsonObject().put("id", id).put("peerState", peerState).put("sendingVersion", 3L)
                    .put("receivingVersion", 5L);
        }

        @Override
        public JsonObject assignment(String id) {
            return new JsonObject();
        }

        @Override
        public void balancing(String id, String policy) {
        }

        @Override
        public Map<String, Long> rejectedMessages() {
            return Map.of("bad_tag", 2L);
        }
    }

    @Test
    void shouldShowEachTunnelsPeerAndAssignmentVersionsAndTheRefusedClusterMessages() {
        OneTunnel tunnels = new OneTunnel();
        metricsB.bind(tunnels);
        Samples samples = scrape(apiB);
        assertEquals(1.0, samples.matching("flowsec_tunnel_peer_up", Map.of("tunnel", "a-b")).getFirst().value());
        assertEquals(3.0, samples.matching("flowsec_tunnel_assignment_version",
                Map.of("tunnel", "a-b", "direction", "sending")).getFirst().value());
        assertEquals(5.0, samples.matching("flowsec_tunnel_assignment_version",
                Map.of("tunnel", "a-b", "direction", "receiving")).getFirst().value());
        assertEquals(2.0, samples.matching("flowsec_cluster_messages_rejected_total", Map.of("reason", "bad_tag"))
                .getFirst().value());
        assertEquals(0.0, samples.matching("flowsec_cluster_messages_rejected_total", Map.of("reason", "replayed"))
                .getFirst().value());
        tunnels.peerState = "lost: forwarding with the last assignment";
        assertEquals(0.0, scrape(apiB).matching("flowsec_tunnel_peer_up", Map.of("tunnel", "a-b"))
                .getFirst().value(), "a lost peer shows");
    }

    /** One sample of the text format: {@code name{label="value",...} value}. */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    /** A scrape, parsed just enough to look samples up (promtool is the real parser). */
    record Samples(List<Sample> all) {
        private static final Pattern LINE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? (\\S+)");
        private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

        static Samples parse(String text) {
            List<Sample> samples = new ArrayList<>();
            for (String line : text.split("\n")) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                Matcher matcher = LINE.matcher(line);
                assertTrue(matcher.matches(), "a sample line: " + line);
                Map<String, String> labels = new HashMap<>();
                if (matcher.group(2) != null) {
                    Matcher label = LABEL.matcher(matcher.group(2));
                    while (label.find()) {
                        labels.put(label.group(1), label.group(2));
                    }
                }
                samples.add(new Sample(matcher.group(1), labels, Double.parseDouble(matcher.group(3))));
            }
            return new Samples(samples);
        }

        List<Sample> series(String name) {
            return all.stream().filter(sample -> sample.name().equals(name)).toList();
        }

        List<Sample> matching(String name, Map<String, String> labels) {
            return series(name).stream().filter(sample -> sample.labels().entrySet().containsAll(labels.entrySet())).toList();
        }

        boolean has(String name) {
            return !series(name).isEmpty();
        }

        boolean has(String name, Map<String, String> labels) {
            return !matching(name, labels).isEmpty();
        }

        /** The one sample of {@code name} with these labels (among others). */
        double value(String name, Map<String, String> labels) {
            List<Sample> found = matching(name, labels);
            assertEquals(1, found.size(), name + labels + " should be one series: " + found);
            return found.getFirst().value();
        }

        double sum(String name, Map<String, String> labels) {
            return matching(name, labels).stream().mapToDouble(Sample::value).sum();
        }
    }
}
