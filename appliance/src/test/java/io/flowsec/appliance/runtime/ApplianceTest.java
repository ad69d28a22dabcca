package io.flowsec.appliance.runtime;

import io.flowsec.appliance.TestPaths;
import io.flowsec.appliance.config.ApplianceConfig;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Root only (TUN device): what the API changed and the configuration recorded is in force once the appliance runs. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ApplianceTest {
    private static final String DEVICE = "fsapt" + (ProcessHandle.current().pid() % 100_000);
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    @TempDir
    Path dir;

    /** Site-b's policy on loopback, on one free port (SPI encoding, so no source port of its own per SA), 2 lanes. */
    private JsonObject config(int port) throws IOException {
        JsonObject policy = new JsonObject(Files.readString(TestPaths.examples().resolve("site-b.sa.json")))
                .getJsonArray("policies").getJsonObject(0)
                .put("localAddress", "127.0.0.1").put("remoteAddress", "127.0.0.2").put("port", port).put("encoding", "spi");
        policy.getJsonArray("outbound").forEach(sa -> ((JsonObject) sa).remove("sourcePort"));
        return new JsonObject()
                .put("name", "router-b")
                .put("lanes", 2)
                .put("site", new JsonObject().put("device", DEVICE).put("addresses", new JsonArray().add("10.254.78.1/32")))
                .put("statusSocket", dir.resolve("router-b.sock").toString())
                .put("stateDirectory", dir.resolve("state").toString())
                .put("policies", new JsonArray().add(policy));
    }

    @Test
    void the_configured_group_weights_and_inbound_lanes_are_in_force_once_started() throws Exception {
        assumeTrue(ROOT, "needs root (TUN device)");
        int port;
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            port = probe.getLocalPort();
        }
        JsonObject json = config(port);
        JsonObject policy = json.getJsonArray("policies").getJsonObject(0);
        policy.put("weights", new JsonArray().add(5).add(0).add(2).add(1));
        JsonArray inbound = policy.getJsonArray("inbound");
        inbound.getJsonObject(0).put("lane", 1);   // spread round robin, 0xb001 would be on lane 0
        inbound.getJsonObject(1).put("lane", 0);   // and 0xb002 on lane 1
        List<String> log = new CopyOnWriteArrayList<>();

        try (Appliance appliance = Appliance.start(ApplianceConfig.parse(json), true, log::add)) {
            assertArrayEquals(new int[]{5, 0, 2, 1}, appliance.dataplane().groupWeights("site-b-to-site-a"));
            assertEquals(1, appliance.dataplane().inboundLanes().get(0xb001));
            assertEquals(0, appliance.dataplane().inboundLanes().get(0xb002));
        }
    }
}
