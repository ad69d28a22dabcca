package io.flowsec.appliance.cli;

import io.flowsec.appliance.runtime.ControlCommands;
import io.flowsec.control.api.ApiServer;
import io.flowsec.control.api.ApplianceInfo;
import io.flowsec.control.api.Caller;
import io.flowsec.control.security.LoginThrottle;
import io.flowsec.control.security.TlsMaterial;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command line against a real control API over HTTPS (a self-signed certificate trusted with --cacert) on a real
 * data plane in memory: tables, --json, changes, a rekey whose key comes from a file and is never printed, and the
 * one-line refusals.
 */
class ApiCommandTest {
    private static final String ADMIN = "fsk_cli-admin-token";
    private static final String READER = "fsk_cli-read-token";

    @TempDir
    Path directory;
    /** One cluster tunnel, a-b, with two SAs each way, whose balancing the CLI may switch. */
    private final io.flowsec.control.api.TunnelControl tunnels = new io.flowsec.control.api.TunnelControl() {
        volatile String balancing = "static";

        @Override
        public JsonArray tunnels() {
            return new JsonArray().add(tunnel("a-b"));
        }

        @Override
        public JsonObject tunnel(String id) {
            return !id.equals("a-b") ? null : new JsonObject().put("id", id).put("policy", "site-b-to-site-a")
                    .put("peer", "router-a").put("balancing", balancing).put("peerState", "up")
                    .put("sendingVersion", 3).put("receivingVersion", 2).put("rejectedMessages", 1);
        }

        @Override
        public JsonObject assignment(String id) {
            JsonArray sas = new JsonArray()
                    .add(new JsonObject().put("spi", "0x0000a001").put("senderLane", 0).put("receiverLane", 1).put("weight", 16))
                    .add(new JsonObject().put("spi", "0x0000a002").put("senderLane", 1).put("receiverLane", 0).put("weight", 9));
            JsonObject load = new JsonObject().put("member", "router-b").put("lanes", new JsonArray()
                    .add(new JsonObject().put("lane", 0).put("busy", 0.25)).add(new JsonObject().put("lane", 1).put("busy", 0.75)));
            return !id.equals("a-b") ? null : new JsonObject().put("tunnel", id).put("balancing", balancing)
                    .put("peerState", "up")
                    .put("sending", new JsonObject().put("key", "a-b:router-b").put("version", 3).put("author", "router-b").put("sas", sas))
                    .put("receiving", new JsonObject().put("key", "a-b:router-a").put("version", 0).put("sas", new JsonArray()))
                    .put("load", new JsonObject().put("local", load));
        }

        @Override
        public void balancing(String id, String policy) {
            balancing = policy;
        }
    };
    private Vertx vertx;
    private TwoDataplanes pair;
    private ApiServer server;
    private final Map<String, String> environment = new HashMap<>();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        pair = new TwoDataplanes(TestPackets.tunnel().saCount(4).encoding(FlowEncoding.UDP_PORT), 2, Mode.FLOW);
        TlsMaterial tls = TlsMaterial.selfSigned(directory, "test", List.of("127.0.0.1"));
        server = ApiServer.start(vertx, new ApiServer.Settings("127.0.0.1", 0, tls.keyCertOptions(), 65536),
                new ApplianceInfo("router-b", "0.1.0", "memory", List.of(), Instant.now()), pair.b, ControlCommands.UNRECORDED,
                token -> switch (token) {
                    case ADMIN -> Optional.of(new Caller("ops", true));
                    case READER -> Optional.of(new Caller("monitor", false));
                    default -> Optional.empty();
                }, LoginThrottle.defaults(), List.of(), tunnels, line -> { }).await();
        environment.put("HOME", directory.toString());
        environment.put("FLOWSEC_API", "https://127.0.0.1:" + server.port() + "/api/v1");
        environment.put("FLOWSEC_CACERT", tls.certificatePath().toString());
        environment.put("FLOWSEC_TOKEN", ADMIN);
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        vertx.close().await();
        pair.close();
    }

    private String run(String command, String... args) throws Exception {
        out.reset();
        assertEquals(0, new ApiCommand(new PrintStream(out, true, StandardCharsets.UTF_8), environment).run(command, List.of(args)));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void statusShowsTheApplianceAndItsLanesAsATableAndTheApisJsonWithJson() throws Exception {
        String table = run("status");
        assertTrue(table.startsWith("router-b 0.1.0  ok  2 lanes on memory"), table);
        assertTrue(table.contains("LANE  CPU  BUSY") && table.contains("drops: none"), table);
        JsonObject json = new JsonObject(run("status", "--json"));
        assertEquals(2, json.getJsonArray("lanes").size());
        assertEquals(8, new JsonArray(run("sas", "--json")).size(), "4 SAs each way");
        assertTrue(run("sas").contains("SPI") && run("policies").contains("POLICY"));
    }

    @Test
    void modeSteeringWeightsAndLanesChangeTheRunningDataPlane() throws Exception {
        assertEquals("mode flow\n", run("mode"));
        assertEquals("mode pcrypt\n", run("mode", "set", "pcrypt"));
        assertEquals(Mode.PCRYPT, pair.b.mode());
        assertTrue(run("steering", "set", "rss").startsWith("steering rss (in effect: single)"));
        String policy = pair.tunnel.b().policy().name();
        assertTrue(run("weights", policy, "1", "2", "3", "4").contains("weights 1,2,3,4"));
        int spi = pair.tunnel.b().inbound().getFirst().spi();
        int lane = pair.b.inboundLanes().get(spi);
        assertEquals("inbound SA " + String.format("0x%08x", spi) + " on lane " + (1 - lane) + "\n",
                run("sa", "lane", String.format("0x%08x", spi), Integer.toString(1 - lane)));
    }

    @Test
    void aRekeyTakesItsKeyFromAFileAndNeverPrintsIt() throws Exception {
        SecurityAssociation old = pair.tunnel.b().inbound().getFirst();
        String key = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3";
        Path keyFile = Files.writeString(directory.resolve("new.key"), key + "\n");
        String output = run("sa", "rekey", "inbound", String.format("0x%08x", old.spi()), "0x7a000001", "--key-file", keyFile.toString());
        assertTrue(output.contains("replaced by 0x7a000001"), output);
        assertFalse(output.contains(key.substring(0, 12)), "the key is not printed");
        assertTrue(pair.b.sas().stream().anyMatch(sa -> sa.spi() == 0x7a000001));
    }

    @Test
    void refusalsComeBackAsOneLineNamingTheProblemAndTheField() throws Exception {
        UsageException badMode = assertThrows(UsageException.class, () -> run("mode", "set", "turbo"));
        assertTrue(badMode.getMessage().startsWith("Bad request: ") && badMode.getMessage().endsWith("(field mode)"), badMode.getMessage());
        environment.put("FLOWSEC_TOKEN", READER);
        UsageException readOnly = assertThrows(UsageException.class, () -> run("mode", "set", "single"));
        assertTrue(readOnly.getMessage().startsWith("Forbidden"), readOnly.getMessage());
        environment.put("FLOWSEC_TOKEN", "fsk_wrong");
        assertTrue(assertThrows(UsageException.class, () -> run("lanes")).getMessage().startsWith("Unauthorized"));
        environment.remove("FLOWSEC_TOKEN");
        assertTrue(assertThrows(UsageException.class, () -> run("lanes")).getMessage().startsWith("no API token"));
        environment.put("FLOWSEC_TOKEN", ADMIN);
        environment.put("FLOWSEC_CACERT", TlsMaterial.selfSigned(directory.resolve("other"), "other", List.of("127.0.0.1"))
                .certificatePath().toString());
        IOException untrusted = assertThrows(IOException.class, () -> run("lanes"));
        assertTrue(untrusted.getMessage().contains("TLS with"), untrusted.getMessage());
    }

    @Test
    void aBadApiUrlAClientFileThatIsNotJsonAndAMissingCertificateAreOneLineRefusals() throws Exception {
        environment.put("FLOWSEC_API", "not a url");
        assertTrue(assertThrows(UsageException.class, () -> run("lanes")).getMessage().startsWith("--api must be a URL"));
        environment.remove("FLOWSEC_API");
        Path client = Files.writeString(directory.resolve("client.json"), "{not json");
        environment.put("FLOWSEC_CLIENT_CONFIG", client.toString());
        assertTrue(assertThrows(UsageException.class, () -> run("lanes")).getMessage().contains("is not a JSON object"));
        environment.put("FLOWSEC_CLIENT_CONFIG", directory.resolve("none.json").toString());
        assertTrue(assertThrows(UsageException.class, () -> run("lanes")).getMessage().contains("which is not a file"));
        environment.remove("FLOWSEC_CLIENT_CONFIG");
        environment.put("FLOWSEC_CACERT", directory.resolve("missing.pem").toString());
        assertTrue(assertThrows(UsageException.class, () -> run("lanes")).getMessage().contains("not a readable PEM certificate"));
    }

    @Test
    void theClientFileNamesTheApiTheTokenFileAndTheCertificate() throws Exception {
        Path tokenFile = Files.writeString(directory.resolve("token"), READER + "\n");
        Path client = directory.resolve(".config/flowsec/client.json");
        Files.createDirectories(client.getParent());
        Files.writeString(client, new JsonObject().put("api", environment.remove("FLOWSEC_API"))
                .put("tokenFile", tokenFile.toString()).put("cacert", environment.remove("FLOWSEC_CACERT")).encode());
        environment.remove("FLOWSEC_TOKEN");
        assertTrue(run("lanes").startsWith("LANE"));
    }

    @Test
    void tunnelsShowPeerBalancingAndVersionsAndATunnelItsSasLanesAndLoadAndTheBalancingSwitches() throws Exception {
        String table = run("tunnels");
        assertTrue(table.contains("TUNNEL") && table.contains("a-b") && table.contains("router-a") && table.contains("v3"), table);
        String assignment = run("tunnel", "a-b");
        assertTrue(assignment.startsWith("tunnel a-b  balancing static  peer up"), assignment);
        assertTrue(assignment.contains("sending (a-b:router-b) v3 by router-b"), assignment);
        assertTrue(assignment.lines().anyMatch(line -> line.matches("0x0000a002\\s+1\\s+0\\s+9")), assignment);
        assertTrue(assignment.contains("local lanes busy: 25% 75%"), assignment);
        assertEquals("tunnel a-b balancing receiver\n", run("tunnel", "a-b", "balancing", "set", "receiver"));
        assertEquals("tunnel a-b balancing receiver\n", run("tunnel", "a-b", "balancing"));
        UsageException unknown = assertThrows(UsageException.class, () -> run("tunnel", "a-b", "balancing", "set", "magic"));
        assertTrue(unknown.getMessage().startsWith("Bad request"), unknown.getMessage());
        assertTrue(assertThrows(UsageException.class, () -> run("tunnel", "x-y")).getMessage().startsWith("Not found"));
    }
}
