package io.flowsec.testbed.system;

import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two appliances whose control-cluster members meet over the tunnel link (the routers' management addresses): each
 * lays its sending direction out over the other's lanes and the receiver applies it; a TCP transfer goes through; with
 * the cluster's traffic blocked by a firewall rule in router B's namespace, forwarding goes on and both say the peer is
 * lost; unblocked, both ends agree on one assignment again. Needs root, curl and nft.
 */
@TestMethodOrder(MethodOrderer.MethodName.class)
class ClusterSystemTest {
    private static final String PREFIX = "fsc" + ProcessHandle.current().pid() % 100000;
    private static final String API = "https://127.0.0.1:8443/api/v1";

    @TempDir
    static Path directory;
    private static Topology topology;
    private static ApplianceProcess routerA;
    private static ApplianceProcess routerB;
    private static String tokenA;
    private static String tokenB;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "system tests need root (namespaces, TUN)");
        topology = Topology.create(PREFIX);
        Path secret = directory.resolve("cluster.secret");
        String made = RouterConfigs.flowsec("cluster", "secret", secret.toString());
        assertTrue(made.contains("fingerprint"), made);
        Path configA = clustered(RouterConfigs.config(directory, "router-a", "site-a.sa.json", "10.2.0.0/16", true),
                Topology.ROUTER_A_TUNNEL_ADDRESS, Topology.ROUTER_B_TUNNEL_ADDRESS, "site-a-to-site-b", "router-b", secret);
        Path configB = clustered(RouterConfigs.config(directory, "router-b", "site-b.sa.json", "10.1.0.0/16", true),
                Topology.ROUTER_B_TUNNEL_ADDRESS, Topology.ROUTER_A_TUNNEL_ADDRESS, "site-b-to-site-a", "router-a", secret);
        tokenA = RouterConfigs.flowsec("token", "add", "--config", configA.toString(), "--name", "ops", "--role", "admin").strip();
        tokenB = RouterConfigs.flowsec("token", "add", "--config", configB.toString(), "--name", "ops", "--role", "admin").strip();
        routerA = ApplianceProcess.start(topology.routerA(), configA, directory.resolve("router-a.sock"),
                directory.resolve("router-a.log"), Map.of(), true);
        routerB = ApplianceProcess.start(topology.routerB(), configB, directory.resolve("router-b.sock"),
                directory.resolve("router-b.log"), Map.of(), true);
    }

    /** The configuration with a cluster section: member on the tunnel link, the peer, tunnel a-b over {@code policy}. */
    private static Path clustered(Path config, String address, String peerAddress, String policy, String peer, Path secret)
            throws Exception {
        JsonObject json = new JsonObject(Files.readString(config));
        json.put("cluster", new JsonObject().put("address", address)
                .put("members", new JsonArray().add(peerAddress + ":5701"))
                .put("secretFile", secret.toString()).put("peerLossMs", 2000)
                .put("tunnels", new JsonArray().add(new JsonObject().put("id", "a-b").put("policy", policy).put("peer", peer))));
        Files.writeString(config, json.encodePrettily());
        return config;
    }

    @AfterAll
    static void stop() throws Exception {
        for (ApplianceProcess router : new ApplianceProcess[] {routerA, routerB}) {
            if (router != null) {
                router.close();
            }
        }
        if (topology != null) {
            topology.close();
        }
    }

    /** GET or PUT through curl in the router's namespace, trusting the appliance's own certificate. */
    private static JsonObject api(String router, String method, String path, String body) throws Exception {
        return new JsonObject(RouterConfigs.curl(router.equals("router-a") ? topology.routerA() : topology.routerB(),
                directory.resolve(router + "-state/api-cert.pem"), router.equals("router-a") ? tokenA : tokenB,
                method, body, List.of(), API + path));
    }

    private static JsonObject assignment(String router) throws Exception {
        return api(router, "GET", "/tunnels/a-b/assignment", null);
    }

    /** Polls both routers' assignments until {@code condition} holds of (A's, B's), or fails with both. */
    private static void awaitBoth(String what, long timeoutMs, Predicate<JsonObject[]> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        JsonObject[] seen = {assignment("router-a"), assignment("router-b")};
        while (!condition.test(seen)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("waited " + timeoutMs + " ms for " + what + "\nA: " + seen[0].encode() + "\nB: "
                        + seen[1].encode() + "\nlogs:\n" + routerA.log() + routerB.log());
            }
            Thread.sleep(200);
            seen = new JsonObject[] {assignment("router-a"), assignment("router-b")};
        }
    }

    private static long version(JsonObject assignment, String direction) {
        return assignment.getJsonObject(direction).getLong("version");
    }

    /** Both ends hold the same version of both directions, each laid out. */
    private static boolean agree(JsonObject[] both) {
        return version(both[0], "sending") >= 1 && version(both[1], "sending") >= 1
                && version(both[0], "sending") == version(both[1], "receiving")
                && version(both[1], "sending") == version(both[0], "receiving")
                && both[0].getJsonObject("sending").getJsonArray("sas").equals(both[1].getJsonObject("receiving").getJsonArray("sas"));
    }

    @Test
    void a_theTwoEndsMeetAndAgreeOnBothDirectionsAndTheReceiverAppliesItsHalf() throws Exception {
        awaitBoth("both directions laid out and adopted", 30_000, ClusterSystemTest::agree);
        JsonObject atB = assignment("router-b");
        assertEquals("up", atB.getString("peerState"));
        // B serves each inbound SA on the lane A's layout gives it
        for (Object entry : atB.getJsonObject("receiving").getJsonArray("sas")) {
            JsonObject sa = (JsonObject) entry;
            JsonObject lane = api("router-b", "GET", "/sas/inbound/" + sa.getString("spi") + "/lane", null);
            assertEquals(sa.getInteger("receiverLane"), lane.getInteger("lane"), "inbound SA " + sa.getString("spi"));
        }
        transferAndCompare(64 << 20, 5101);
    }

    @Test
    void b_aPartitionLeavesForwardingAsItWasAndBothEndsAgreeAgainOnceItHeals() throws Exception {
        awaitBoth("agreement before the partition", 30_000, ClusterSystemTest::agree);
        nft("add table inet flowsec_test");
        nft("add chain inet flowsec_test in { type filter hook input priority 0; }");
        nft("add chain inet flowsec_test out { type filter hook output priority 0; }");
        for (String chain : List.of("in", "out")) {
            nft("add rule inet flowsec_test " + chain + " tcp dport 5701 drop");
            nft("add rule inet flowsec_test " + chain + " tcp sport 5701 drop");
        }
        try {
            awaitBoth("both ends to see the peer lost", 20_000,
                    both -> both[0].getString("peerState").startsWith("lost") && both[1].getString("peerState").startsWith("lost"));
            transferAndCompare(32 << 20, 5102);   // forwarding goes on with the last assignment
        } finally {
            nft("delete table inet flowsec_test");
        }
        awaitBoth("agreement after the partition", 60_000, both -> agree(both)
                && both[0].getString("peerState").equals("up") && both[1].getString("peerState").equals("up"));
        String logs = routerA.log() + routerB.log();
        assertFalse(logs.contains("Exception in thread"), logs);
    }

    @Test
    void c_theDashboardShowsWhereEachSaLandsAndItsSwitchChangesTheBalancing() throws Exception {
        java.util.Optional<Path> executable = Chromium.executable();
        assumeTrue(executable.isPresent() || "1".equals(System.getenv("FLOWSEC_REQUIRE_INTEROP")),
                "no chromium on the PATH (Debian: apt-get install chromium)");
        awaitBoth("agreement", 30_000, ClusterSystemTest::agree);
        try (Chromium chromium = Chromium.start(executable.orElseThrow(), topology.routerB(), directory,
                directory.resolve("chromium-cluster.log"), 1280, 1400)) {
            chromium.open("https://127.0.0.1:8443/");
            chromium.await("the dashboard's form", "document.readyState === 'complete' && document.getElementById('token') !== null",
                    java.time.Duration.ofSeconds(20));
            chromium.evaluate("document.getElementById('token').value = " + new JsonArray().add(tokenB).encode() + "[0];"
                    + " document.getElementById('connect').click(); true");
            // both directions' SAs with their lanes, and both ends' lane load
            chromium.await("tunnel a-b with its four SAs each way and both ends' lanes",
                    "(() => { const t = document.querySelector('#tunnels .tunnel[data-tunnel=\"a-b\"]'); return t !== null"
                            + " && t.querySelectorAll('table[data-direction=sending] tbody tr').length === 4"
                            + " && t.querySelectorAll('table[data-direction=receiving] tbody tr').length === 4"
                            + " && t.querySelectorAll('.tunnel-lane').length === 4; })()", java.time.Duration.ofSeconds(20));
            chromium.evaluate("document.querySelector('#tunnels button[data-balancing=receiver]').click(); true");
            chromium.await("the switch pressed", "document.querySelector('#tunnels button[data-balancing=receiver]')"
                    + ".getAttribute('aria-pressed') === 'true'", java.time.Duration.ofSeconds(20));
            assertEquals("receiver", api("router-b", "GET", "/tunnels/a-b/balancing", null).getString("policy"),
                    "the appliance's own policy");
            Files.write(directory.getFileSystem().getPath(TestPaths.examples().getParent().toString(),
                    "testbed/target/dashboard-cluster.png"), chromium.screenshot());
        } finally {
            api("router-b", "PUT", "/tunnels/a-b/balancing", "{\"policy\":\"static\"}");
        }
    }

    /** A firewall rule in router B's namespace: the cluster's traffic between the routers is what it blocks. */
    private static void nft(String rule) throws Exception {
        Process process = new ProcessBuilder("ip", "netns", "exec", topology.routerB(), "nft", rule)
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue(), "nft " + rule + ": " + output);
    }

    private static void transferAndCompare(int bytes, int port) throws Exception {
        Transfers.checksummed(topology, bytes, port, () -> null, ClusterSystemTest::logs);
    }

    private static String logs() {
        try {
            return "logs:\n" + routerA.log() + routerB.log();
        } catch (java.io.IOException e) {
            return "(no logs: " + e + ")";
        }
    }
}
