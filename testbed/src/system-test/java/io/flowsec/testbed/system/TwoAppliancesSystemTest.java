package io.flowsec.testbed.system;

import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.flowsec.testbed.demo.InNamespace.in;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two flowsec appliances, each a process of its own in its own namespace, carry host A's traffic to host B through
 * the tunnel (the paper's Fig. 4). Needs root; the namespaces, devices and processes it makes are removed even when
 * a test fails.
 */
@TestMethodOrder(MethodOrderer.MethodName.class)
class TwoAppliancesSystemTest {
    private static final String PREFIX = "fst" + ProcessHandle.current().pid() % 100000;
    private static final int FLOWS = 64;

    @TempDir
    static Path directory;
    private static Topology topology;
    private static ApplianceProcess routerA;
    private static ApplianceProcess routerB;

    @BeforeAll
    static void buildTopology() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "system tests need root (namespaces, TUN)");
        topology = Topology.create(PREFIX);
        routerA = start(topology.routerA(), config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director"));
        routerB = start(topology.routerB(), config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (routerA != null) {
            routerA.close();
        }
        if (routerB != null) {
            routerB.close();
        }
        if (topology != null) {
            topology.close();
        }
    }

    @AfterEach
    void appliancesStillRun() throws Exception {
        assertTrue(routerA.isAlive(), routerA.log());
        assertTrue(routerB.isAlive(), routerB.log());
    }

    private static Path config(String name, String saFile, String remoteSite, String mode, String steering) throws Exception {
        JsonObject sa = new JsonObject(Files.readString(TestPaths.examples().resolve(saFile)));
        JsonObject config = new JsonObject()
                .put("name", name)
                .put("lanes", 2)
                .put("mode", mode)
                .put("steering", steering)
                .put("site", new JsonObject().put("device", "fs0")
                        .put("addresses", new JsonArray().add(name.endsWith("a") ? "10.255.0.1/32" : "10.255.0.2/32"))
                        .put("routes", new JsonArray().add(remoteSite)))
                .put("statusSocket", directory.resolve(name + ".sock").toString())
                .put("stateDirectory", directory.resolve(name + "-state").toString())
                .put("policies", sa.getJsonArray("policies"));
        Path path = directory.resolve(name + "-" + mode + "-" + steering + ".json");
        Files.writeString(path, config.encodePrettily());
        return path;
    }

    private static ApplianceProcess start(String namespace, Path config) throws Exception {
        return start(namespace, config, java.util.Map.of());
    }

    private static ApplianceProcess start(String namespace, Path config, java.util.Map<String, String> environment)
            throws Exception {
        JsonObject json = new JsonObject(Files.readString(config));
        Path log = directory.resolve(json.getString("name") + ".log");
        return ApplianceProcess.start(namespace, config, Path.of(json.getString("statusSocket")), log, environment);
    }

    /**
     * Restarts router B with {@code config}, and router A with its own: with manual keys a restarted sender counts
     * its sequence numbers from 1 again, which the peer's replay window rightly rejects, so both ends start afresh.
     */
    private static void restartRouterB(Path config) throws Exception {
        routerB.close();
        routerA.close();
        forgetSequenceState();
        routerA = start(topology.routerA(), config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director"));
        routerB = start(topology.routerB(), config);
    }

    /**
     * Both routers start afresh, as with new keys: the tests here are about steering, modes and lifetimes, not about
     * resuming (a resumed sender jumps ahead of its peer's mark, which costs the first packet on each SA).
     */
    private static void forgetSequenceState() throws java.io.IOException {
        SequenceStateDirectories.forget(directory, "router-a", "router-b");
    }

    private static JsonObject status(ApplianceProcess appliance) throws Exception {
        return new JsonObject(StatusServer.query(appliance.statusSocket()));
    }

    private static long laneCounter(JsonObject status, int lane, String counter) {
        return status.getJsonArray("lanes").getJsonObject(lane).getJsonObject("io").getLong(counter);
    }

    /** Sends {@code perFlow} datagrams on each of {@link #FLOWS} flows from host A; returns how many host B got. */
    private static int sendUdpFlows(int perFlow, int port) throws Exception {
        return Transfers.udpFlows(topology, FLOWS, perFlow, port);
    }

    @Test
    void a_pingFromHostAReachesHostBThroughTheTunnel() throws Exception {
        String output = Topology.run("ip", "netns", "exec", topology.hostA(), "ping", "-c", "3", "-W", "2", Topology.HOST_B_ADDRESS);
        assertTrue(output.contains("3 received"), output);
        JsonObject status = status(routerB);
        assertTrue(status.getJsonObject("totals").getLong("accepted", 0L) >= 6, status.encodePrettily());
    }

    /** Sends {@code bytes} random bytes from host A to host B over TCP, running {@code during} meanwhile. */
    private static void transferAndCompare(int bytes, int port, Callable<Void> during) throws Exception {
        Transfers.checksummed(topology, bytes, port, during, TwoAppliancesSystemTest::stallDiagnostics);
    }

    /** Both routers' status, router B's UDP sockets, both routers' UDP and link counters, both logs. */
    private static String stallDiagnostics() {
        try {
            return "router A: " + status(routerA).encode() + "\nrouter B: "
                    + status(routerB).encode() + "\nrouter B sockets:\n"
                    + Topology.run("ip", "netns", "exec", topology.routerB(), "ss", "-uanp")
                    + Topology.run("ip", "netns", "exec", topology.routerB(), "nstat", "-az", "Udp*")
                    + Topology.run("ip", "netns", "exec", topology.routerA(), "nstat", "-az", "Udp*")
                    + Topology.run("ip", "-n", topology.routerA(), "-s", "link", "show", "wan")
                    + Topology.run("ip", "-n", topology.routerB(), "-s", "link", "show", "wan")
                    + "\nlogs:\n" + routerA.log() + routerB.log();
        } catch (Exception e) {
            return "(no diagnostics: " + e + ")";
        }
    }

    @Test
    void b_aTcpTransferArrivesIntactAsChecksummed() throws Exception {
        transferAndCompare(256 << 20, 5001, () -> null);
    }

    @Test
    void c_manyUdpFlowsAreSpreadOverEveryLaneOfTheReceiverInFlowModeWithDirectorSteering() throws Exception {
        JsonObject before = status(routerB);
        int received = sendUdpFlows(20, 6001);
        JsonObject after = status(routerB);
        assertTrue(received >= FLOWS * 20 * 9 / 10, "host B received only " + received + " of " + FLOWS * 20);
        long lane0 = laneCounter(after, 0, "tunnel-datagrams-received") - laneCounter(before, 0, "tunnel-datagrams-received");
        long lane1 = laneCounter(after, 1, "tunnel-datagrams-received") - laneCounter(before, 1, "tunnel-datagrams-received");
        assertTrue(lane0 > 0 && lane1 > 0, "both lanes serve traffic: " + lane0 + " / " + lane1);
        assertEquals("udp-source-port", after.getJsonObject("steeringFields").getString("192.0.2.2:4500"),
                "director reads the field the peer encodes the flow ID in (udp-port encoding): " + after.encode());
        long total = lane0 + lane1;
        assertTrue(Math.max(lane0, lane1) <= total * 0.8, "no lane carries most of it: " + lane0 + " / " + lane1);
    }

    @Test
    void d_singleModePutsEveryInboundPacketOnLaneZero() throws Exception {
        restartRouterB(config("router-b", "site-b.sa.json", "10.1.0.0/16", "single", "director"));
        int received = sendUdpFlows(10, 6002);
        JsonObject status = status(routerB);
        assertTrue(received >= FLOWS * 10 * 9 / 10, "host B received only " + received);
        assertEquals(0, laneCounter(status, 1, "tunnel-datagrams-received"), status.encodePrettily());
        assertTrue(laneCounter(status, 0, "tunnel-datagrams-received") >= received, status.encodePrettily());
        restartRouterB(config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
    }

    @Test
    void e_aWrongKeyGivesAuthenticationFailuresVisibleInStatusAndNoTraffic() throws Exception {
        JsonObject sa = new JsonObject(Files.readString(TestPaths.examples().resolve("site-b.sa.json")));
        JsonArray inbound = sa.getJsonArray("policies").getJsonObject(0).getJsonArray("inbound");
        for (int i = 0; i < inbound.size(); i++) {
            String key = inbound.getJsonObject(i).getString("key");
            inbound.getJsonObject(i).put("key", (key.charAt(0) == '0' ? "1" : "0") + key.substring(1));
        }
        JsonObject config = new JsonObject(Files.readString(config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director")));
        config.put("policies", sa.getJsonArray("policies"));
        Path wrongConfig = directory.resolve("router-b-wrong-key.json");
        Files.writeString(wrongConfig, config.encodePrettily());
        restartRouterB(wrongConfig);
        try {
            int received = sendUdpFlows(5, 6003);
            assertEquals(0, received, "nothing gets through with a wrong key");
            JsonObject status = status(routerB);
            long failures = 0;
            for (int i = 0; i < status.getJsonArray("sas").size(); i++) {
                JsonObject entry = status.getJsonArray("sas").getJsonObject(i);
                failures += entry.getJsonObject("drops").getLong("authentication-failed", 0L);
            }
            assertTrue(failures >= FLOWS * 5 * 9 / 10, "authentication failures counted per SA: " + status.encodePrettily());
            assertTrue(status.getJsonObject("totals").getLong("authentication-failed", 0L) >= failures);
            assertTrue(!Arrays.asList(status.encode().split("\"")).contains(inbound.getJsonObject(0).getString("key")),
                    "status never shows keys");
        } finally {
            restartRouterB(config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
        }
    }

    @Test
    void f_modeChangesThroughEveryModeDuringATcpTransferLoseNothingAndReplayNothing() throws Exception {
        JsonObject before = status(routerB).getJsonObject("totals");
        int[] changes = {0};
        transferAndCompare(128 << 20, 5002, () -> {
            for (String mode : new String[] {"single", "pcrypt", "flow", "pcrypt", "single", "flow"}) {
                Thread.sleep(150);
                JsonObject reply = new JsonObject(StatusServer.query(routerB.statusSocket(), "mode " + mode));
                assertEquals(mode, reply.getString("mode"), reply.encode());
                changes[0]++;
            }
            return null;
        });
        assertEquals(6, changes[0]);
        JsonObject after = status(routerB);
        assertEquals("flow", after.getString("mode"));
        for (String reason : new String[] {"replay", "replay-too-old", "authentication-failed", "malformed"}) {
            assertEquals(before.getLong(reason, 0L), after.getJsonObject("totals").getLong(reason, 0L),
                    reason + " drops during mode changes: " + after.encodePrettily());
        }
        JsonObject refused = new JsonObject(StatusServer.query(routerB.statusSocket(), "mode turbo"));
        assertTrue(refused.getString("error").contains("unknown mode"), refused.encode());
    }

    @Test
    void g_pcryptReceivesOnLaneZeroButSpreadsTheCryptographyOverEveryLaneInOrder() throws Exception {
        JsonObject reply = new JsonObject(StatusServer.query(routerB.statusSocket(), "mode pcrypt"));
        assertEquals("pcrypt", reply.getString("mode"), reply.encode());
        try {
            JsonObject before = status(routerB);
            int received = sendUdpFlows(20, 6004);
            JsonObject after = status(routerB);
            assertTrue(received >= FLOWS * 20 * 9 / 10, "host B received only " + received);
            assertEquals(laneCounter(before, 1, "tunnel-datagrams-received"), laneCounter(after, 1, "tunnel-datagrams-received"),
                    "only lane 0 receives in pcrypt mode");
            assertTrue(laneCounter(after, 1, "busy-nanos") > laneCounter(before, 1, "busy-nanos"),
                    "lane 1 does cryptography for lane 0: " + after.encodePrettily());
            for (String reason : new String[] {"replay", "authentication-failed", "malformed"}) {
                assertEquals(before.getJsonObject("totals").getLong(reason, 0L), after.getJsonObject("totals").getLong(reason, 0L), reason);
            }
        } finally {
            StatusServer.query(routerB.statusSocket(), "mode flow");
        }
    }

    /** Restarts both routers with the given configurations (both, for the replay windows' sake). */
    private static void restartBoth(Path configA, Path configB) throws Exception {
        routerB.close();
        routerA.close();
        forgetSequenceState();
        routerA = start(topology.routerA(), configA);
        routerB = start(topology.routerB(), configB);
    }

    @Test
    void h_rssSteeringWithTheSpiEncodingLeavesTheWholeTunnelOnOneLaneThePapersProblem() throws Exception {
        JsonObject configA = new JsonObject(Files.readString(config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director")));
        JsonObject policy = configA.getJsonArray("policies").getJsonObject(0).put("encoding", "spi");
        JsonArray outbound = policy.getJsonArray("outbound");
        for (int i = 0; i < outbound.size(); i++) {
            outbound.getJsonObject(i).remove("sourcePort");   // every SA on one outer 4-tuple
        }
        Path spiEncoding = directory.resolve("router-a-spi-encoding.json");
        Files.writeString(spiEncoding, configA.encodePrettily());
        restartBoth(spiEncoding, config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "rss"));
        try {
            int received = sendUdpFlows(10, 6005);
            JsonObject status = status(routerB);
            assertTrue(received >= FLOWS * 10 * 9 / 10, "host B received only " + received);
            long lane0 = laneCounter(status, 0, "tunnel-datagrams-received");
            long lane1 = laneCounter(status, 1, "tunnel-datagrams-received");
            assertTrue(lane0 == 0 || lane1 == 0, "one 4-tuple hashes to one lane: " + lane0 + " / " + lane1);
            assertTrue(lane0 + lane1 >= received, status.encodePrettily());
        } finally {
            restartBoth(config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director"),
                    config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
        }
    }

    @Test
    void i_aPacketTooBigForTheTunnelWithDontFragmentGetsTheIcmpAnswerAndOneThatFitsPasses() throws Exception {
        Process tooBig = new ProcessBuilder("ip", "netns", "exec", topology.hostA(), "ping", "-M", "do", "-s", "1472",
                "-c", "1", "-W", "2", Topology.HOST_B_ADDRESS).redirectErrorStream(true).start();
        String output = new String(tooBig.getInputStream().readAllBytes());
        tooBig.waitFor();
        Matcher mtu = Pattern.compile("mtu ?= ?(\\d+)").matcher(output);
        assertTrue(mtu.find(), "host A is told the tunnel's MTU: " + output);
        int tunnelMtu = Integer.parseInt(mtu.group(1));
        assertTrue(tunnelMtu < 1500 && tunnelMtu >= 1400, output);
        String fits = Topology.run("ip", "netns", "exec", topology.hostA(), "ping", "-M", "do", "-s",
                Integer.toString(tunnelMtu - 28), "-c", "2", "-W", "2", Topology.HOST_B_ADDRESS);
        assertTrue(fits.contains("2 received"), fits);
    }

    @Test
    void j_theEpollFallbackCarriesTrafficInEveryModeAndAcrossModeChanges() throws Exception {
        java.util.Map<String, String> epoll = java.util.Map.of("FLOWSEC_TRANSPORT", "epoll");
        routerB.close();
        routerA.close();
        forgetSequenceState();
        routerA = start(topology.routerA(), config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director"), epoll);
        routerB = start(topology.routerB(), config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"), epoll);
        try {
            assertTrue(routerB.isAlive(), "router B on epoll died: " + routerB.log());
            assertEquals("epoll", status(routerB).getString("transport"), routerB.log());
            int port = 6010;
            for (String mode : new String[] {"single", "pcrypt", "flow"}) {
                JsonObject reply = new JsonObject(StatusServer.query(routerB.statusSocket(), "mode " + mode));
                assertEquals(mode, reply.getString("mode"), reply.encode());
                int received = sendUdpFlows(10, port++);
                assertTrue(received >= FLOWS * 10 * 9 / 10, mode + " on epoll: host B received only " + received);
            }
        } finally {
            restartBoth(config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director"),
                    config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
        }
    }

    @Test
    void k_everySaOfBothDirectionsIsRekeyedTenTimesDuringATcpTransferAndNothingIsLostOrRejected() throws Exception {
        restartBoth(config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director"),
                config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
        long[] toB = {0xb001, 0xb002, 0xb003, 0xb004};   // router A's outbound, router B's inbound
        long[] toA = {0xa001, 0xa002, 0xa003, 0xa004};   // router B's outbound, router A's inbound
        int[] rekeys = {0};
        transferAndCompare(256 << 20, 5010, () -> {
            for (int round = 1; round <= 10; round++) {
                for (int i = 0; i < 4; i++) {
                    toB[i] = rekey(routerA, routerB, toB[i], 0x1000_0000L + round * 0x100 + i);
                    toA[i] = rekey(routerB, routerA, toA[i], 0x2000_0000L + round * 0x100 + i);
                    rekeys[0] += 2;
                }
                Thread.sleep(50);
            }
            return null;
        });
        assertEquals(80, rekeys[0], "ten rekeys of each of the eight SA pairs");
        Thread.sleep(GRACE_MS + 1000);   // the last old inbound SAs leave after their grace
        for (ApplianceProcess router : List.of(routerA, routerB)) {
            JsonObject status = status(router);
            for (String reason : new String[] {"authentication-failed", "unknown-spi", "replay", "replay-too-old"}) {
                assertEquals(0L, status.getJsonObject("totals").getLong(reason, 0L),
                        reason + " drops during the rekeys: " + status.encodePrettily());
            }
            assertEquals(8, status.getJsonArray("sas").size(), "4 outbound and 4 inbound SAs are left: " + status.encodePrettily());
        }
        for (int i = 0; i < 4; i++) {
            assertTrue(saPackets(status(routerB), "inbound", toB[i]) >= 0, "router B holds the newest inbound SA");
            assertTrue(saPackets(status(routerA), "outbound", toB[i]) >= 0, "router A sends on the newest outbound SA");
        }
        assertTrue(routerA.log().contains("SaRemoved"), "the old inbound SAs were removed after their grace: " + routerA.log());
    }

    private static final int GRACE_MS = 1000;

    /**
     * One make-before-break rekey through the control sockets: the receiver installs the new inbound SA first
     * (the old one keeps accepting for the grace period), then the sender switches its outbound SA. Returns the
     * new SPI.
     */
    private static long rekey(ApplianceProcess sender, ApplianceProcess receiver, long oldSpi, long newSpi) throws Exception {
        byte[] key = new byte[20];   // aes-gcm-128: 16-byte key and 4-byte salt
        new java.security.SecureRandom().nextBytes(key);
        String hexKey = java.util.HexFormat.of().formatHex(key);
        JsonObject inbound = new JsonObject(StatusServer.query(receiver.statusSocket(), String.format(
                "rekey in 0x%x 0x%x %s grace-ms=%d", oldSpi, newSpi, hexKey, GRACE_MS)));
        assertTrue(!inbound.containsKey("error"), inbound.encode());
        assertTrue(!inbound.encode().contains(hexKey), "the reply holds no key");
        JsonObject outbound = new JsonObject(StatusServer.query(sender.statusSocket(), String.format(
                "rekey out 0x%x 0x%x %s", oldSpi, newSpi, hexKey)));
        assertTrue(!outbound.containsKey("error"), outbound.encode());
        return newSpi;
    }

    /** An SA's packet count in a status, or -1 when the status has no such SA. */
    private static long saPackets(JsonObject status, String direction, long spi) {
        String wanted = String.format("0x%08x", spi);
        JsonArray sas = status.getJsonArray("sas");
        for (int i = 0; i < sas.size(); i++) {
            JsonObject sa = sas.getJsonObject(i);
            if (sa.getString("spi").equals(wanted) && sa.getString("direction").equals(direction)) {
                return sa.getLong("packets");
            }
        }
        return -1;
    }

    @Test
    void l_aSoftLifetimeRaisesItsEventAndAHardOneStopsTheSaWithItsDropReason() throws Exception {
        Path configA = config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director");
        JsonObject json = new JsonObject(Files.readString(configA));
        JsonArray outbound = json.getJsonArray("policies").getJsonObject(0).getJsonArray("outbound");
        for (int i = 0; i < outbound.size(); i++) {
            outbound.getJsonObject(i).put("lifetime", new JsonObject().put("softPackets", 50).put("hardPackets", 100));
        }
        Path limited = directory.resolve("router-a-lifetime.json");
        Files.writeString(limited, json.encodePrettily());
        try {
            restartBoth(limited, config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
            int received = sendUdpFlows(20, 6010);   // 1280 datagrams over 4 SAs of 100 packets each
            JsonObject status = status(routerA);
            JsonArray sas = status.getJsonArray("sas");
            long carried = 0;
            int expired = 0;
            for (int i = 0; i < sas.size(); i++) {
                JsonObject sa = sas.getJsonObject(i);
                if (!sa.getString("direction").equals("outbound")) {
                    continue;
                }
                long packets = sa.getLong("packets");
                carried += packets;
                assertTrue(packets <= 100, "no SA sends past its hard limit: " + sa.encode());
                if (sa.getJsonObject("drops").getLong("sa-expired", 0L) > 0) {
                    assertEquals(100L, packets, "an SA stops at its hard limit exactly: " + sa.encode());
                    assertEquals("expired", sa.getString("state"), sa.encode());
                    expired++;
                }
            }
            assertTrue(expired >= 2, "the SAs that carried more than 100 datagrams expired: " + status.encodePrettily());
            assertEquals(carried, received, "host B gets what the SAs carried before their hard limit");
            assertEquals(1280L - carried, status.getJsonObject("totals").getLong("sa-expired", 0L), status.encodePrettily());
            String log = routerA.log();
            assertTrue(log.contains("SoftLifetime") && log.contains("limit=packets"), "soft event logged: " + log);
            assertTrue(log.contains("HardLifetime"), "hard event logged: " + log);
        } finally {
            restartBoth(config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director"),
                    config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
        }
    }

    @Test
    void m_aBypassPolicysPacketsCrossTheTunnelLinkInClearToTheirNextHop() throws Exception {
        Path configA = config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director");
        JsonObject json = new JsonObject(Files.readString(configA));
        json.getJsonArray("policies").add(0, new JsonObject().put("name", "port-9999-in-clear")
                .put("local", "10.1.0.0/16").put("remote", "10.2.0.0/16").put("protocol", "udp")
                .put("remotePorts", "9999").put("action", "bypass").put("nextHop", Topology.ROUTER_B_TUNNEL_ADDRESS));
        Path bypassing = directory.resolve("router-a-bypass.json");
        Files.writeString(bypassing, json.encodePrettily());
        try {
            restartBoth(bypassing, config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
            int datagrams = 10;
            CompletableFuture<Integer> received = in(topology.hostB(), () -> {
                try (DatagramSocket socket = new DatagramSocket(9999, InetAddress.getByName(Topology.HOST_B_ADDRESS))) {
                    socket.setSoTimeout(1500);
                    int count = 0;
                    try {
                        while (true) {
                            socket.receive(new DatagramPacket(new byte[2048], 2048));
                            count++;
                        }
                    } catch (java.net.SocketTimeoutException quiet) {
                        return count;
                    }
                }
            });
            Thread.sleep(300);
            in(topology.hostA(), () -> {
                try (DatagramSocket socket = new DatagramSocket()) {
                    for (int i = 0; i < datagrams; i++) {
                        socket.send(new DatagramPacket(new byte[100], 100, InetAddress.getByName(Topology.HOST_B_ADDRESS), 9999));
                    }
                }
                return null;
            }).get(10, TimeUnit.SECONDS);
            assertEquals(datagrams, received.get(30, TimeUnit.SECONDS), "host B gets the bypassed datagrams");
            JsonObject statusA = status(routerA);
            assertEquals((long) datagrams, statusA.getJsonObject("totals").getLong("bypass", 0L), statusA.encodePrettily());
            assertEquals((long) datagrams, laneCounter(statusA, 0, "clear-packets-sent") + laneCounter(statusA, 1, "clear-packets-sent"),
                    "router A's lanes forwarded them in clear: " + statusA.encodePrettily());
            JsonObject statusB = status(routerB);
            assertEquals(0L, statusB.getJsonObject("totals").getLong("accepted", 0L),
                    "router B decrypted nothing: they crossed in clear, its kernel forwarded them: " + statusB.encodePrettily());
        } finally {
            restartBoth(config("router-a", "site-a.sa.json", "10.2.0.0/16", "flow", "director"),
                    config("router-b", "site-b.sa.json", "10.1.0.0/16", "flow", "director"));
        }
    }
}
