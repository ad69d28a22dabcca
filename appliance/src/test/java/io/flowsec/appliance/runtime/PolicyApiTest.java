package io.flowsec.appliance.runtime;

import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.appliance.config.ConfigurationFile;
import io.flowsec.control.api.ApiServer;
import io.flowsec.control.api.ApplianceInfo;
import io.flowsec.control.api.Caller;
import io.flowsec.control.security.LoginThrottle;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.flowsec.appliance.TestPaths;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Root only (TUN device): policies and their SA groups created, replaced and removed through the API on a running
 * appliance whose configuration file records each change, so a restart comes back with the same policies.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class PolicyApiTest {
    private static final String DEVICE = "fspol" + (ProcessHandle.current().pid() % 100_000);
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));
    private static final String ADMIN = "fsk_policy-test-admin";
    /** Keys this test sends: none may come back in a response or a log line. */
    private static final String KEY_1 = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4";
    private static final String KEY_2 = "c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4";
    private static final String KEY_3 = "e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4";
    private static final String KEY_4 = "0102030405060708090a0b0c0d0e0f1011121314";

    @TempDir
    Path dir;
    private Path configPath;
    private int port;
    private Appliance appliance;
    private ConfigurationFile configuration;
    private Vertx vertx;
    private ApiServer api;
    private final HttpClient http = HttpClient.newHttpClient();
    private final List<String> said = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        assumeTrue(ROOT, "needs root (TUN device)");
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            port = probe.getLocalPort();
        }
        JsonObject policy = new JsonObject(Files.readString(TestPaths.examples().resolve("site-b.sa.json")))
                .getJsonArray("policies").getJsonObject(0)
                .put("localAddress", "127.0.0.1").put("remoteAddress", "127.0.0.2").put("port", port).put("encoding", "spi");
        policy.getJsonArray("outbound").forEach(sa -> ((JsonObject) sa).remove("sourcePort"));
        JsonObject json = new JsonObject()
                .put("name", "router-b")
                .put("lanes", 2)
                .put("site", new JsonObject().put("device", DEVICE).put("addresses", new JsonArray().add("10.254.79.1/32")))
                .put("statusSocket", dir.resolve("router-b.sock").toString())
                .put("stateDirectory", dir.resolve("state").toString())
                .put("api", new JsonObject().put("enabled", false))
                .put("policies", new JsonArray().add(policy));
        configPath = dir.resolve("router-b.json");
        Files.writeString(configPath, json.encodePrettily());
        startAppliance();
    }

    private void startAppliance() throws Exception {
        configuration = ConfigurationFile.open(configPath);
        appliance = Appliance.start(configuration.config(), true, said::add);
        vertx = Vertx.vertx();
        api = ApiServer.start(vertx, new ApiServer.Settings("127.0.0.1", 0, null, 65536),
                new ApplianceInfo("router-b", "test", "memory", List.of(), Instant.now()), appliance.dataplane(),
                configuration, token -> ADMIN.equals(token) ? Optional.of(new Caller("ops", true)) : Optional.empty(),
                LoginThrottle.defaults(), List.of(), said::add).await();
    }

    private void stopAppliance() throws Exception {
        if (api != null) {
            api.close();
            vertx.close().await();
            api = null;
        }
        if (appliance != null) {
            appliance.close();
            appliance = null;
        }
    }

    @AfterEach
    void stop() throws Exception {
        stopAppliance();
        String everything = String.join("\n", said).toLowerCase();
        for (String key : List.of(KEY_1, KEY_2, KEY_3, KEY_4)) {
            assertFalse(everything.contains(key.substring(0, 16)), "key material in a response or a log line");
        }
    }

    private HttpResponse<String> call(String method, String path, JsonObject body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + api.port() + ApiServer.BASE + path))
                .header("Authorization", "Bearer " + ADMIN);
        if (body != null) {
            request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body.encode()));
        } else {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        said.add(response.statusCode() + " " + response.headers().map() + " " + response.body());
        return response;
    }

    private static void assertProblem(HttpResponse<String> response, int status, String field) {
        assertEquals(status, response.statusCode(), response.body());
        assertEquals("application/problem+json", response.headers().firstValue("Content-Type").orElse(""));
        if (field != null) {
            assertEquals(field, new JsonObject(response.body()).getString("field"), response.body());
        }
    }

    /** A second tunnel to another site: two outbound SAs (one per lane), one inbound SA on lane 1. */
    private JsonObject newPolicy() {
        return new JsonObject().put("name", "site-b-to-site-c")
                .put("local", "10.2.0.0/16").put("remote", "10.3.0.0/16")
                .put("suite", "aes-gcm-128").put("encapsulation", "udp")
                .put("localAddress", "127.0.0.1").put("remoteAddress", "127.0.0.3").put("port", port)
                .put("outbound", new JsonArray()
                        .add(new JsonObject().put("spi", "0x0000c001").put("key", KEY_1))
                        .add(new JsonObject().put("spi", "0x0000c002").put("key", KEY_2)))
                .put("inbound", new JsonArray()
                        .add(new JsonObject().put("spi", "0x0000d001").put("key", KEY_3).put("lane", 1)));
    }

    private SecurityPolicy policy(String name) {
        return appliance.dataplane().policies().stream().filter(p -> p.name().equals(name)).findFirst().orElse(null);
    }

    private SecurityAssociation sa(Direction direction, int spi) {
        return appliance.dataplane().sas().stream().filter(sa -> sa.spi() == spi && sa.direction() == direction)
                .findFirst().orElse(null);
    }

    private JsonObject filePolicy(String name) throws IOException {
        for (Object policy : new JsonObject(Files.readString(configPath)).getJsonArray("policies")) {
            if (name.equals(((JsonObject) policy).getString("name"))) {
                return (JsonObject) policy;
            }
        }
        return null;
    }

    @Test
    void a_created_policy_runs_with_its_SA_group_and_inbound_SA_and_the_file_records_it_keys_included() throws Exception {
        HttpResponse<String> created = call("POST", "/policies", newPolicy());
        assertEquals(201, created.statusCode(), created.body());
        JsonObject shown = new JsonObject(created.body());
        assertEquals(new JsonArray().add("0x0000c001").add("0x0000c002"), shown.getJsonArray("outbound"));
        assertFalse(created.body().contains("key"), "no key field in the answer: " + created.body());

        SecurityPolicy policy = policy("site-b-to-site-c");
        assertEquals(2, policy.outboundGroup().size());
        assertEquals("10.2.0.0/16", policy.selector().local().toString());
        assertEquals(1, appliance.dataplane().inboundLanes().get(0xd001), "on the lane the entry names");
        assertEquals(2, appliance.dataplane().policies().size(), "the first policy stays");
        JsonObject written = filePolicy("site-b-to-site-c");
        assertEquals(KEY_1, written.getJsonArray("outbound").getJsonObject(0).getString("key"), "a restart needs the key");
        assertTrue(call("GET", "/policies", null).body().contains("site-b-to-site-c"));
    }

    @Test
    void a_policy_overlapping_another_a_bad_key_an_unknown_field_a_taken_name_or_SPI_are_refused_and_change_nothing()
            throws Exception {
        String fileBefore = Files.readString(configPath);
        // 10.2.7.0/24 -> 10.1.0.0/16 lies inside site-b-to-site-a's selector: the first match would take it
        assertProblem(call("POST", "/policies", newPolicy().put("local", "10.2.7.0/24").put("remote", "10.1.0.0/17")), 400, "local");
        JsonObject shortKey = newPolicy();
        shortKey.getJsonArray("outbound").getJsonObject(1).put("key", KEY_2.substring(8));
        assertProblem(call("POST", "/policies", shortKey), 400, "outbound[1]");   // the SA the key belongs to
        assertProblem(call("POST", "/policies", newPolicy().put("colour", "blue")), 400, null);
        assertProblem(call("POST", "/policies", newPolicy().put("name", "site-b-to-site-a")), 409, null);
        JsonObject takenSpi = newPolicy();
        takenSpi.getJsonArray("inbound").getJsonObject(0).put("spi", "0x0000b001");   // site-b-to-site-a's
        assertProblem(call("POST", "/policies", takenSpi), 400, "inbound[0].spi");
        JsonObject oneSa = newPolicy();
        oneSa.getJsonArray("outbound").remove(1);   // two lanes, each sends on SAs of its own
        assertProblem(call("POST", "/policies", oneSa), 400, "outbound");

        assertEquals(1, appliance.dataplane().policies().size());
        assertEquals(null, sa(Direction.INBOUND, 0xd001), "no inbound SA left behind by a refusal");
        assertEquals(fileBefore, Files.readString(configPath));
    }

    @Test
    void a_replaced_policy_keeps_the_running_SAs_it_lists_by_SPI_installs_the_new_and_removes_the_rest() throws Exception {
        assertEquals(201, call("POST", "/policies", newPolicy()).statusCode());
        SecurityAssociation kept = sa(Direction.OUTBOUND, 0xc001);
        SecurityAssociation keptInbound = sa(Direction.INBOUND, 0xd001);
        JsonObject replacement = newPolicy();
        replacement.put("outbound", new JsonArray()
                .add(new JsonObject().put("spi", "0x0000c001"))                         // kept: no key needed
                .add(new JsonObject().put("spi", "0x0000c003").put("key", KEY_4)))      // new, in 0xc002's place
                .put("weights", new JsonArray().add(3).add(1));
        replacement.getJsonArray("inbound").add(new JsonObject().put("spi", "0x0000d002").put("key", KEY_4));
        HttpResponse<String> replaced = call("PUT", "/policies/site-b-to-site-c", replacement);
        assertEquals(200, replaced.statusCode(), replaced.body());

        assertSame(kept, sa(Direction.OUTBOUND, 0xc001), "the running SA goes on: its sequence numbers continue");
        assertSame(keptInbound, sa(Direction.INBOUND, 0xd001), "and the inbound one: its replay window too");
        assertEquals(null, sa(Direction.OUTBOUND, 0xc002), "left out: removed");
        assertTrue(sa(Direction.OUTBOUND, 0xc003) != null && sa(Direction.INBOUND, 0xd002) != null);
        assertArrayEquals(new int[]{3, 1}, appliance.dataplane().groupWeights("site-b-to-site-c"));
        assertEquals(KEY_1, filePolicy("site-b-to-site-c").getJsonArray("outbound").getJsonObject(0).getString("key"),
                "the kept SA's key stays in the file");

        // a running SPI with another key is a different SA under the same SPI: refused
        JsonObject rekeyedInPlace = replacement.copy();
        rekeyedInPlace.getJsonArray("outbound").getJsonObject(0).put("key", KEY_2);
        assertProblem(call("PUT", "/policies/site-b-to-site-c", rekeyedInPlace), 400, "outbound[0]");
        assertProblem(call("PUT", "/policies/no-such-policy", replacement.copy().put("name", "no-such-policy")), 404, null);
        assertProblem(call("PUT", "/policies/site-b-to-site-c", replacement.copy().put("name", "other")), 400, "name");
        assertSame(kept, sa(Direction.OUTBOUND, 0xc001));
    }

    /**
     * A tunnel added through the API needs a socket on its local address and port: refused without one, taken by an
     * endpoint the configuration lists on every address ({@code "0.0.0.0:PORT"}), as a first-boot appliance has. A
     * restart serves it there again, also while its address is on no interface (a link not up yet).
     */
    @Test
    void a_policy_on_an_address_without_a_socket_is_refused_and_taken_once_endpoints_listens_on_every_address()
            throws Exception {
        JsonObject elsewhere = newPolicy().put("localAddress", "192.0.2.77");   // on no interface here
        HttpResponse<String> refused = call("POST", "/policies", elsewhere);
        assertProblem(refused, 400, null);
        assertTrue(refused.body().contains("no tunnel socket on 192.0.2.77"), refused.body());
        assertEquals(null, policy("site-b-to-site-c"));

        stopAppliance();
        JsonObject json = new JsonObject(Files.readString(configPath));
        Files.writeString(configPath, json.put("endpoints", new JsonArray().add("0.0.0.0:" + port)).encodePrettily());
        startAppliance();
        HttpResponse<String> created = call("POST", "/policies", elsewhere);
        assertEquals(201, created.statusCode(), created.body());
        assertNotSame(null, sa(Direction.INBOUND, 0xd001));
        assertEquals(java.util.Map.of("0.0.0.0:" + port, "spi"), appliance.dataplane().snapshot().steeringFields(),
                "every SA on the port, configured or added, is served and steered exactly on the socket on every address");

        stopAppliance();
        startAppliance();   // 192.0.2.77 cannot be bound: the SA needs no socket of its own
        assertNotSame(null, policy("site-b-to-site-c"), "the policy the API added is back after the restart");
        assertEquals(java.util.Map.of("0.0.0.0:" + port, "spi"), appliance.dataplane().snapshot().steeringFields());
    }

    @Test
    void a_removed_policy_takes_its_SAs_with_it_and_a_restart_comes_back_with_the_policies_the_API_left() throws Exception {
        assertEquals(201, call("POST", "/policies", newPolicy()).statusCode());
        JsonObject third = newPolicy().put("name", "site-b-to-site-d").put("remote", "10.4.0.0/16")
                .put("remoteAddress", "127.0.0.4");
        third.getJsonArray("outbound").getJsonObject(0).put("spi", "0x0000e001");
        third.getJsonArray("outbound").getJsonObject(1).put("spi", "0x0000e002");
        third.getJsonArray("inbound").getJsonObject(0).put("spi", "0x0000f001");
        assertEquals(201, call("POST", "/policies", third).statusCode());

        HttpResponse<String> removed = call("DELETE", "/policies/site-b-to-site-c", null);
        assertEquals(204, removed.statusCode(), removed.body());
        assertEquals(null, policy("site-b-to-site-c"));
        assertEquals(null, sa(Direction.OUTBOUND, 0xc001));
        assertEquals(null, sa(Direction.INBOUND, 0xd001));
        assertProblem(call("DELETE", "/policies/site-b-to-site-c", null), 404, null);

        List<String> before = new ArrayList<>(appliance.dataplane().policies().stream().map(SecurityPolicy::name).toList());
        int inboundLane = appliance.dataplane().inboundLanes().get(0xf001);
        stopAppliance();
        ApplianceConfig restarted = ConfigurationFile.open(configPath).config();
        assertEquals(List.of("site-b-to-site-a", "site-b-to-site-d"),
                restarted.policies().policies().stream().map(p -> p.name()).toList());
        startAppliance();
        assertEquals(before, appliance.dataplane().policies().stream().map(SecurityPolicy::name).toList());
        assertEquals(inboundLane, appliance.dataplane().inboundLanes().get(0xf001));
        assertNotSame(null, sa(Direction.OUTBOUND, 0xe002));
    }

    @Test
    void the_command_line_adds_replaces_and_removes_a_policy_from_files_and_prints_no_key() throws Exception {
        java.util.Map<String, String> environment = new java.util.HashMap<>();
        environment.put("FLOWSEC_API", "http://127.0.0.1:" + api.port() + ApiServer.BASE);
        environment.put("FLOWSEC_TOKEN", ADMIN);
        environment.put("HOME", dir.toString());
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        io.flowsec.appliance.cli.ApiCommand cli = new io.flowsec.appliance.cli.ApiCommand(
                new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8), environment);
        Path entry = Files.writeString(dir.resolve("site-c.json"), newPolicy().encodePrettily());

        assertEquals(0, cli.run("policy", List.of("add", entry.toString())));
        assertTrue(out.toString().startsWith("policy site-b-to-site-c added: 10.2.0.0/16[any] <-> 10.3.0.0/16[any]"), out.toString());
        JsonObject replacement = newPolicy().put("weights", new JsonArray().add(1).add(4));
        replacement.getJsonArray("outbound").getJsonObject(0).remove("key");
        replacement.getJsonArray("outbound").getJsonObject(1).remove("key");
        Files.writeString(entry, replacement.encode());
        assertEquals(0, cli.run("policy", List.of("replace", "site-b-to-site-c", entry.toString())));
        assertArrayEquals(new int[]{1, 4}, appliance.dataplane().groupWeights("site-b-to-site-c"));
        assertEquals(0, cli.run("policy", List.of("remove", "site-b-to-site-c")));
        assertEquals(null, policy("site-b-to-site-c"));
        Files.writeString(entry, "[not an object]");
        io.flowsec.appliance.cli.UsageException refused = org.junit.jupiter.api.Assertions.assertThrows(
                io.flowsec.appliance.cli.UsageException.class, () -> cli.run("policy", List.of("add", entry.toString())));
        assertTrue(refused.getMessage().endsWith("does not hold one JSON object (a policy entry)"), refused.getMessage());
        said.add(out.toString());
    }
}
