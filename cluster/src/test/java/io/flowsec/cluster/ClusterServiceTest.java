package io.flowsec.cluster;

import io.flowsec.cluster.balancing.BalancingPolicy;
import io.flowsec.cluster.membership.Await;
import io.flowsec.cluster.membership.ClusterMember;
import io.flowsec.cluster.membership.ClusterSettings;
import io.flowsec.cluster.membership.Ports;
import io.flowsec.cluster.membership.SealedChannel;
import io.flowsec.cluster.security.ClusterSecret;
import io.flowsec.cluster.security.Rejection;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two data planes in memory (2 lanes each, 4 SAs per direction), each with its cluster member on loopback: each end
 * lays its sending direction out over the peer's lanes, the receiver applies its half, traffic flows through it, and
 * a member without the secret changes nothing.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ClusterServiceTest {
    @TempDir
    Path dir;
    private TwoDataplanes pair;
    private ClusterService routerA;
    private ClusterService routerB;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final int portA = Ports.free();
    private final int portB = Ports.free();

    @BeforeEach
    void start() throws Exception {
        pair = new TwoDataplanes(TestPackets.tunnel().saCount(4), 2, Mode.FLOW);
        ClusterSecret secret = ClusterSecret.generate(dir.resolve("cluster.secret"));
        routerA = ClusterService.start(pair.a, settings("router-a", portA, portB), secret,
                List.of(new TunnelSpec("a-b", pair.tunnel.a().policy().name(), "router-b", BalancingPolicy.STATIC)),
                50, 3000, log::add);
        routerB = ClusterService.start(pair.b, settings("router-b", portB, portA), secret,
                List.of(new TunnelSpec("a-b", pair.tunnel.b().policy().name(), "router-a", BalancingPolicy.STATIC)),
                50, 3000, log::add);
    }

    private static ClusterSettings settings(String name, int port, int peerPort) {
        return ClusterSettings.of(name, "127.0.0.1", List.of("127.0.0.1:" + peerPort)).withPort(port);
    }

    @AfterEach
    void stop() throws Exception {
        if (routerA != null) {
            routerA.close();
        }
        routerB.close();
        pair.close();
    }

    private static long version(ClusterService service, String direction) {
        return service.assignment("a-b").getJsonObject(direction).getLong("version");
    }

    /** SPI → receiver lane, as an assignment's JSON lists its SAs. */
    private static Map<Integer, Integer> receiverLanes(JsonObject assignment) {
        Map<Integer, Integer> lanes = new HashMap<>();
        for (Object entry : assignment.getJsonArray("sas", new JsonArray())) {
            JsonObject sa = (JsonObject) entry;
            lanes.put(Integer.parseUnsignedInt(sa.getString("spi").substring(2), 16), sa.getInteger("receiverLane"));
        }
        return lanes;
    }

    @Test
    void each_end_lays_its_sending_direction_out_over_the_peers_lanes_and_the_receiver_applies_it() throws Exception {
        Await.until("both directions laid out and adopted at both ends", () -> version(routerA, "sending") >= 1
                && version(routerB, "receiving") >= 1 && version(routerB, "sending") >= 1 && version(routerA, "receiving") >= 1,
                () -> routerA.assignment("a-b").encode() + " / " + routerB.assignment("a-b").encode());

        JsonObject aToB = routerA.assignment("a-b").getJsonObject("sending");
        assertEquals(aToB.getLong("version"), routerB.assignment("a-b").getJsonObject("receiving").getLong("version"),
                "both ends agree on the direction A to B");
        Map<Integer, Integer> planned = receiverLanes(aToB);
        Await.until("B's inbound SAs on the lanes A planned", () -> planned.entrySet().stream()
                .allMatch(e -> e.getValue().equals(pair.b.inboundLanes().get(e.getKey()))), () -> pair.b.inboundLanes().toString());
        // every sender lane of A has SAs landing on both of B's lanes: A moves a flow by choosing among its own SAs
        for (int senderLane = 0; senderLane < 2; senderLane++) {
            Set<Integer> reached = new HashSet<>();
            for (Object entry : aToB.getJsonArray("sas")) {
                JsonObject sa = (JsonObject) entry;
                if (sa.getInteger("senderLane") == senderLane) {
                    reached.add(sa.getInteger("receiverLane"));
                }
            }
            assertEquals(Set.of(0, 1), reached, "sender lane " + senderLane + " reaches every receiver lane");
        }
        assertEquals("up", routerA.tunnel("a-b").getString("peerState"));

        pair.sendFromA(32, 20);
        assertEquals(32 * 20, TwoDataplanes.count(pair.receivedAtB(32 * 20, 10_000)), "nothing lost through the layout");
    }

    @Test
    void a_member_without_the_secret_is_refused_and_counted_and_changes_nothing() throws Exception {
        Await.until("A to B adopted at B", () -> version(routerB, "receiving") >= 1);
        Map<Integer, Integer> before = Map.copyOf(pair.b.inboundLanes());
        long versionBefore = version(routerB, "receiving");

        ClusterSecret other = ClusterSecret.generate(dir.resolve("intruder.secret"));
        try (ClusterMember intruder = new ClusterMember(settings("router-a", Ports.free(), portB))) {
            intruder.start();
            assertTrue(intruder.awaitRunning(Await.CLUSTER_TIMEOUT), "Hazelcast admits it: it has no authentication");
            try (SealedChannel forged = SealedChannel.over(intruder, other)) {
                // everything on lane 0, as a version far ahead, claiming to be router A
                JsonObject assignment = routerA.assignment("a-b").getJsonObject("sending").copy();
                assignment.remove("key");
                assignment.put("version", versionBefore + 1000);
                for (Object sa : assignment.getJsonArray("sas")) {
                    ((JsonObject) sa).put("receiverLane", 0);
                }
                forged.putAssignment("a-b:router-a", assignment.encode().getBytes(StandardCharsets.UTF_8));
                forged.publishLoad("{}".getBytes(StandardCharsets.UTF_8));
                Await.until("B to refuse what the intruder sealed", () -> routerB.rejections()
                        .getOrDefault(Rejection.BAD_TAG, 0L) >= 1, () -> routerB.rejections().toString());
                assertTrue(routerB.rejectedMessages().getOrDefault("bad_tag", 0L) >= 1, "counted for the API and metrics");
            }
        }
        Thread.sleep(300);   // several load intervals: a change would have been applied by now
        assertEquals(before, pair.b.inboundLanes(), "no SA moved");
        assertEquals(versionBefore, version(routerB, "receiving"));
        assertTrue(routerB.tunnel("a-b").getLong("rejectedMessages") >= 1);
    }

    /** A member with the secret but of another version: its load reports are counted unreadable and logged once. */
    @Test
    void an_authentic_load_report_this_version_cannot_read_is_counted_and_logged_once() throws Exception {
        Await.until("A to B adopted at B", () -> version(routerB, "receiving") >= 1);
        ClusterSecret same = ClusterSecret.load(dir.resolve("cluster.secret"));
        try (ClusterMember newer = new ClusterMember(settings("router-c", Ports.free(), portB))) {
            newer.start();
            assertTrue(newer.awaitRunning(Await.CLUSTER_TIMEOUT));
            try (SealedChannel channel = SealedChannel.over(newer, same)) {
                for (int i = 0; i < 3; i++) {
                    channel.publishLoad("{\"member\":\"router-c\",\"tunnel\":\"a-b\",\"lanes\":[]}".getBytes(StandardCharsets.UTF_8));
                }
                Await.until("B to count three unreadable reports", () -> routerB.rejectedMessages()
                        .getOrDefault("unreadable", 0L) >= 3, () -> routerB.rejectedMessages().toString());
            }
        }
        assertEquals(0L, routerB.rejectedMessages().getOrDefault("bad_tag", 0L), "sealed with the secret: authentic");
        long said = log.stream().filter(line -> line.contains("a load report from router-c this version cannot read")).count();
        assertTrue(said >= 1 && said <= 2, "logged once per reason at each member, not per report: " + said);
    }

    @Test
    void a_lost_peer_leaves_the_assignment_in_force_and_is_said_in_status_and_events() throws Exception {
        List<JsonObject> events = new CopyOnWriteArrayList<>();
        routerB.addListener(events::add);
        Await.until("A to B adopted at B", () -> version(routerB, "receiving") >= 1 && version(routerA, "receiving") >= 1);
        Map<Integer, Integer> lanes = Map.copyOf(pair.b.inboundLanes());
        int[] weights = pair.b.groupWeights(pair.tunnel.b().policy().name());
        routerA.close();
        routerA = null;
        Await.until("B to say its peer is lost", () -> routerB.tunnel("a-b").getString("peerState").startsWith("lost"));
        Await.until("the peer-lost event", () -> events.stream().anyMatch(e -> "peer-lost".equals(e.getString("event"))
                && "a-b".equals(e.getString("tunnel"))), events::toString);
        assertEquals(lanes, pair.b.inboundLanes(), "the receiving direction's layout stays in force");
        org.junit.jupiter.api.Assertions.assertArrayEquals(weights, pair.b.groupWeights(pair.tunnel.b().policy().name()));
        assertTrue(log.stream().anyMatch(line -> line.contains("peer router-a lost; forwarding with the last assignment")),
                log::toString);
    }

    @Test
    void the_balancing_policy_switches_live_and_an_unknown_one_is_refused() {
        routerB.balancing("a-b", "receiver");
        assertEquals("receiver", routerB.tunnel("a-b").getString("balancing"));
        IllegalArgumentException refused = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> routerB.balancing("a-b", "magic"));
        assertTrue(refused.getMessage().contains("magic"), refused.getMessage());
        assertEquals(null, routerB.tunnel("b-c"));
        assertEquals(1, routerB.tunnels().size());
    }
}
