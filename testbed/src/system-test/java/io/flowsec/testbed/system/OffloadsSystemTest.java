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

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The lanes' batching and offload paths end to end, on and off, between two appliance processes: a ping, a checksummed
 * TCP transfer and many UDP flows arrive intact either way. With offloads on, the counters prove each path carried
 * the traffic (router A read TSO superpackets from its TUN and sent GSO runs; router B received GRO runs and wrote
 * coalesced superpackets), and with them off, none did. Needs root.
 */
@TestMethodOrder(MethodOrderer.MethodName.class)
class OffloadsSystemTest {
    private static final String PREFIX = "fso" + ProcessHandle.current().pid() % 100000;
    private static final int FLOWS = 64;
    private static final String[] PATHS = {"tun-offloads", "tun-gro", "udp-batching", "udp-gso", "udp-gro", "tun-ring"};

    @TempDir
    static Path directory;
    private static Topology topology;
    private static ApplianceProcess routerA;
    private static ApplianceProcess routerB;

    @BeforeAll
    static void buildTopology() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "system tests need root (namespaces, TUN)");
        topology = Topology.create(PREFIX);
    }

    @AfterAll
    static void tearDown() throws Exception {
        stopRouters();
        if (topology != null) {
            topology.close();
        }
    }

    @AfterEach
    void appliancesStillRun() throws Exception {
        assertTrue(routerA.isAlive(), routerA.log());
        assertTrue(routerB.isAlive(), routerB.log());
    }

    private static void stopRouters() throws Exception {
        if (routerA != null) {
            routerA.close();
        }
        if (routerB != null) {
            routerB.close();
        }
    }

    /** Both routers afresh (new sequence state, as with new keys), with {@code offloads} in their configuration. */
    private static void startRouters(Object offloads) throws Exception {
        stopRouters();
        SequenceStateDirectories.forget(directory, "router-a", "router-b");
        routerA = start(topology.routerA(), "router-a", "site-a.sa.json", "10.2.0.0/16", offloads);
        routerB = start(topology.routerB(), "router-b", "site-b.sa.json", "10.1.0.0/16", offloads);
    }

    private static ApplianceProcess start(String namespace, String name, String saFile, String remoteSite, Object offloads)
            throws Exception {
        Path config = RouterConfigs.config(directory, name, saFile, remoteSite, false);
        JsonObject json = new JsonObject(Files.readString(config)).put("offloads", offloads);
        Files.writeString(config, json.encodePrettily());
        return ApplianceProcess.start(namespace, config, Path.of(json.getString("statusSocket")),
                directory.resolve(name + ".log"), java.util.Map.of());
    }

    private static JsonObject status(ApplianceProcess appliance) throws Exception {
        return new JsonObject(StatusServer.query(appliance.statusSocket()));
    }

    /** Counter {@code counter} added up over the appliance's lanes. */
    private static long lanes(JsonObject status, String counter) {
        long sum = 0;
        JsonArray lanes = status.getJsonArray("lanes");
        for (int i = 0; i < lanes.size(); i++) {
            sum += lanes.getJsonObject(i).getJsonObject("io").getLong(counter);
        }
        return sum;
    }

    private static JsonObject offload(JsonObject status, String name) {
        for (Object entry : status.getJsonArray("offloads")) {
            if (entry instanceof JsonObject offload && name.equals(offload.getString("name"))) {
                return offload;
            }
        }
        throw new AssertionError("no offload " + name + " in " + status.encode());
    }

    private static String logs() {
        try {
            return routerA.log() + routerB.log();
        } catch (Exception e) {
            return "(no logs: " + e + ")";
        }
    }

    /** A ping, 64 MiB over TCP checksummed end to end, and {@link #FLOWS} UDP flows: everything arrives. */
    private static void trafficArrivesIntact(int port) throws Exception {
        String output = Topology.run("ip", "netns", "exec", topology.hostA(), "ping", "-c", "3", "-W", "2",
                Topology.HOST_B_ADDRESS);
        assertTrue(output.contains("3 received"), output);
        Transfers.checksummed(topology, 64 << 20, port, () -> null, OffloadsSystemTest::logs);
        int received = Transfers.udpFlows(topology, FLOWS, 20, port + 1);
        assertTrue(received >= FLOWS * 20 * 9 / 10, "host B received only " + received + " of " + FLOWS * 20);
    }

    @Test
    void a_withOffloadsOnEveryPathCarriesTheTrafficAndItArrivesIntact() throws Exception {
        startRouters(true);
        trafficArrivesIntact(5101);
        JsonObject a = status(routerA);
        JsonObject b = status(routerB);
        for (String path : PATHS) {
            assertTrue(offload(a, path).getBoolean("active"), path + " on router A: " + a.getJsonArray("offloads").encode());
            assertTrue(offload(b, path).getBoolean("active"), path + " on router B: " + b.getJsonArray("offloads").encode());
        }
        String counters = "router A " + a.getJsonArray("lanes").encode() + "\nrouter B " + b.getJsonArray("lanes").encode();
        assertTrue(lanes(a, "site-superpackets-read") > 0, "the TUN handed router A TSO superpackets: " + counters);
        assertTrue(lanes(a, "tunnel-runs-sent") > 0, "router A sent GSO runs: " + counters);
        assertTrue(lanes(b, "tunnel-runs-received") > 0, "router B received GRO runs: " + counters);
        assertTrue(lanes(b, "site-superpackets-written") > 0, "router B wrote coalesced superpackets: " + counters);
        assertEquals(0, lanes(a, "site-offload-drops") + lanes(b, "site-offload-drops"), counters);
        // segments sent one for one: every inner packet router A read went out as a datagram of its own
        assertTrue(lanes(a, "tunnel-datagrams-sent") >= lanes(a, "site-superpackets-read") * 2, counters);
    }

    @Test
    void b_withOffloadsOffTheSameTrafficArrivesIntactOnePacketPerCall() throws Exception {
        startRouters(false);
        trafficArrivesIntact(5201);
        JsonObject a = status(routerA);
        JsonObject b = status(routerB);
        for (String path : PATHS) {
            assertEquals("off", offload(a, path).getString("detail"), a.getJsonArray("offloads").encode());
            assertEquals("off", offload(b, path).getString("detail"), b.getJsonArray("offloads").encode());
        }
        for (String counter : new String[] {"site-superpackets-read", "tunnel-runs-sent", "tunnel-runs-received",
                "site-superpackets-written"}) {
            assertEquals(0, lanes(a, counter) + lanes(b, counter), counter);
        }
    }

    @Test
    void c_eachPathSwitchesOffOnItsOwn() throws Exception {
        startRouters(new JsonObject().put("udpGso", false).put("tunGro", false));
        trafficArrivesIntact(5301);
        JsonObject b = status(routerB);
        assertEquals("off", offload(b, "udp-gso").getString("detail"));
        assertEquals("off", offload(b, "tun-gro").getString("detail"));
        assertTrue(offload(b, "udp-gro").getBoolean("active"));
        assertEquals(0, lanes(b, "site-superpackets-written") + lanes(status(routerA), "tunnel-runs-sent"));
    }
}
