package io.flowsec.cluster.membership;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import io.flowsec.cluster.security.ClusterSecret;
import io.flowsec.cluster.security.MessageType;
import io.flowsec.cluster.security.OpenResult.Opened;
import io.flowsec.cluster.security.Rejection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two honest members on 127.0.0.1 that share a secret exchange sealed assignments and load reports; a third member
 * with another secret is admitted by Hazelcast and can change nothing either of them accepts.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SealedChannelTest {
    @TempDir
    static Path directory;

    private static ClusterSecret secret;
    private static Honest a;
    private static Honest b;

    /** One honest member with its channel and what its listeners were told. */
    private record Honest(ClusterMember member, SealedChannel channel, BlockingQueue<Opened> assignments,
                          BlockingQueue<Opened> loadReports) {
        static Honest start(ClusterMember member, ClusterSecret secret) throws InterruptedException {
            member.start();
            assertTrue(member.awaitRunning(Await.CLUSTER_TIMEOUT), () -> "not running: " + member.state());
            SealedChannel channel = SealedChannel.over(member, secret);
            Honest honest = new Honest(member, channel, new LinkedBlockingQueue<>(), new LinkedBlockingQueue<>());
            channel.addAssignmentListener(honest.assignments::add);
            channel.addLoadListener(honest.loadReports::add);
            return honest;
        }

        long rejected(Rejection reason) {
            return channel.opener().rejected(reason);
        }

        void close() {
            channel.close();
            member.close();
        }
    }

    @BeforeAll
    static void startTwoHonestMembers() throws IOException, InterruptedException {
        secret = ClusterSecret.generate(directory.resolve("cluster.secret"));
        int portA = Ports.free();
        int portB = Ports.free();
        List<String> both = List.of("127.0.0.1:" + portA, "127.0.0.1:" + portB);
        a = Honest.start(new ClusterMember(ClusterMemberTest.loopback("a", portA, both)), secret);
        b = Honest.start(new ClusterMember(ClusterMemberTest.loopback("b", portB, both)), secret);
        Await.until("a and b to join", () -> peers(a) == 1 && peers(b) == 1);
    }

    @AfterAll
    static void stopMembers() {
        if (b != null) {
            b.close();
        }
        if (a != null) {
            a.close();
        }
    }

    @Test
    void honestMembersExchangeASealedAssignmentAndALoadReport() throws InterruptedException {
        long aOpenedBefore = a.channel.opener().opened();
        long bOpenedBefore = b.channel.opener().opened();

        assertTrue(a.channel.putAssignment("tunnel-exchange", bytes("spi 0x1001 -> lane 1")));

        Opened atB = pollFor(b.assignments, "tunnel-exchange");
        assertEquals(MessageType.ASSIGNMENT, atB.type());
        assertEquals("a", atB.sender());
        assertEquals("tunnel-exchange", atB.subject());
        assertArrayEquals(bytes("spi 0x1001 -> lane 1"), atB.payload());
        assertArrayEquals(bytes("spi 0x1001 -> lane 1"),
                b.channel.readAssignment("tunnel-exchange").orElseThrow().payload());
        // a opened its own put too, and kept it from its own listeners
        Await.until("a to open its own put", () -> a.channel.opener().opened() >= aOpenedBefore + 1);
        assertEquals("a", a.channel.readAssignment("tunnel-exchange").orElseThrow().sender());
        assertTrue(a.assignments.stream().noneMatch(told -> told.sender().equals("a")), a.assignments::toString);

        assertTrue(b.channel.publishLoad(bytes("lane 0: 40%, lane 1: 60%")));

        Opened atA = poll(a.loadReports);
        assertEquals(MessageType.LOAD_REPORT, atA.type());
        assertEquals("b", atA.sender());
        assertArrayEquals(bytes("lane 0: 40%, lane 1: 60%"), atA.payload());
        Await.until("b to open its own report", () -> b.channel.opener().opened() >= bOpenedBefore + 2);
        assertTrue(b.loadReports.stream().noneMatch(told -> told.sender().equals("b")), b.loadReports::toString);
        assertTrue(b.channel.readAssignment("tunnel-never-put").isEmpty());
    }

    @Test
    void aMemberWithAnotherSecretIsAdmittedByHazelcastButNothingItDoesIsAccepted() throws Exception {
        String tunnel = "tunnel-intruded";
        byte[] honestV1 = bytes("v1: spi 0x2001 -> lane 0");
        byte[] honestV2 = bytes("v2: spi 0x2001 -> lane 1");
        IMap<String, Object> seenByA = a.member.hazelcast().orElseThrow().getMap(SealedChannel.ASSIGNMENTS_MAP);
        assertTrue(a.channel.putAssignment(tunnel, honestV1));
        assertArrayEquals(honestV1, pollFor(b.assignments, tunnel).payload());
        byte[] recordedV1 = (byte[]) seenByA.get(tunnel);   // what anyone on the wire or in the cluster can keep
        assertTrue(a.channel.putAssignment(tunnel, honestV2));
        Opened v2AtB = pollFor(b.assignments, tunnel);
        assertArrayEquals(honestV2, v2AtB.payload());
        Map<Rejection, Long> baselineA = a.channel.opener().rejections();
        Map<Rejection, Long> baselineB = b.channel.opener().rejections();

        ClusterSecret otherSecret = ClusterSecret.generate(directory.resolve("intruder.secret"));
        ClusterMember intruder = new ClusterMember(ClusterMemberTest.loopback("c", Ports.free(),
                List.of("127.0.0.1:" + a.member.settings().port())));
        try {
            intruder.start();
            assertTrue(intruder.awaitRunning(Await.CLUSTER_TIMEOUT), () -> "not running: " + intruder.state());
            Await.until("Hazelcast to admit the intruder", () -> peers(a) == 2 && peers(b) == 2);
            IMap<String, Object> map = intruder.hazelcast().orElseThrow().getMap(SealedChannel.ASSIGNMENTS_MAP);
            byte[] stolenV2 = (byte[]) map.get(tunnel);
            assertFalse(new String(stolenV2, StandardCharsets.ISO_8859_1).contains("spi 0x2001"),
                    "the intruder reads only ciphertext");

            // 1. sealed with its own secret: an assignment and a load report
            try (SealedChannel forger = SealedChannel.over(intruder, otherSecret)) {
                assertTrue(forger.putAssignment(tunnel, bytes("spi 0x2001 -> lane 7")));
                assertTrue(forger.publishLoad(bytes("lane 0: 0%")));
                awaitRefusals("the forged assignment and report", Rejection.BAD_TAG, 2, baselineA, baselineB);
            }
            // 2. bytes that are no envelope, and an object that is no byte array
            map.set(tunnel, new byte[] {1, 2, 3});
            map.set(tunnel, "lane 7");
            awaitRefusals("garbage in the map", Rejection.MALFORMED, 2, baselineA, baselineB);
            // 3. the recorded v1 put back after v2: a rollback
            map.set(tunnel, recordedV1);
            awaitRefusals("the rollback to v1", Rejection.REPLAYED, 1, baselineA, baselineB);
            // 4. the authentic v2 copied under another tunnel's key
            map.set("tunnel-other", stolenV2);
            awaitRefusals("v2 under another tunnel", Rejection.MISDIRECTED, 1, baselineA, baselineB);
            // 5. the entry deleted
            map.delete(tunnel);

            for (Honest honest : List.of(a, b)) {
                Opened current = honest.channel.readAssignment(tunnel).orElseThrow();
                assertEquals("a", current.sender());
                assertArrayEquals(honestV2, current.payload());
                assertTrue(honest.channel.readAssignment("tunnel-other").isEmpty());
            }
            for (Honest honest : List.of(a, b)) {
                assertTrue(honest.assignments.stream().noneMatch(told -> told.subject().equals(tunnel)
                        || told.subject().equals("tunnel-other")), honest.assignments::toString);
                assertTrue(honest.loadReports.stream().noneMatch(told -> told.sender().equals("c")),
                        honest.loadReports::toString);
            }

            // the owner's renewal puts an authentic value back, which b takes as the newest
            assertEquals(1, a.channel.renewAssignments(Duration.ofHours(1)));
            Opened repaired = pollFor(b.assignments, tunnel);
            assertArrayEquals(honestV2, repaired.payload());
            assertTrue(repaired.counter() > v2AtB.counter(), "a repair is a fresh seal");
            assertEquals(repaired.counter(), b.channel.readAssignment(tunnel).orElseThrow().counter());
            assertEquals(0, a.channel.renewAssignments(Duration.ofHours(1)));
        } finally {
            intruder.close();
        }
    }

    @Test
    void aMemberThatJoinsLaterReadsTheRenewedAssignmentFromTheMap() throws Exception {
        String tunnel = "tunnel-renewed";
        assertTrue(a.channel.putAssignment(tunnel, bytes("spi 0x3001 -> lane 0")));
        long firstCounter = pollFor(b.assignments, tunnel).counter();

        assertTrue(a.channel.renewAssignments(Duration.ZERO) >= 1);

        Opened renewed = pollFor(b.assignments, tunnel);
        assertArrayEquals(bytes("spi 0x3001 -> lane 0"), renewed.payload());
        assertTrue(renewed.counter() > firstCounter);
        ClusterMember late = new ClusterMember(ClusterMemberTest.loopback("d", Ports.free(),
                List.of("127.0.0.1:" + a.member.settings().port())));
        try {
            late.start();
            assertTrue(late.awaitRunning(Await.CLUSTER_TIMEOUT), () -> "not running: " + late.state());
            try (SealedChannel channel = SealedChannel.over(late, secret)) {
                Opened found = channel.readAssignment(tunnel).orElseThrow();
                assertEquals(renewed.counter(), found.counter());
                assertEquals("a", found.sender());
            }
        } finally {
            late.close();
        }
    }

    /** Both honest members counted {@code count} refusals for {@code reason} since their baselines. */
    private static void awaitRefusals(String what, Rejection reason, long count, Map<Rejection, Long> baselineA,
                                      Map<Rejection, Long> baselineB) {
        Await.until("a and b to refuse " + what + " as " + reason,
                () -> a.rejected(reason) == baselineA.get(reason) + count
                        && b.rejected(reason) == baselineB.get(reason) + count,
                () -> "a " + a.channel.opener().rejections() + ", b " + b.channel.opener().rejections());
    }

    private static int peers(Honest honest) {
        return honest.member.state() instanceof ClusterState.Running running ? running.peerCount() : -1;
    }

    /** The next delivery about {@code tunnel}, passing over those about other tunnels (other tests' renewals). */
    private static Opened pollFor(BlockingQueue<Opened> queue, String tunnel) throws InterruptedException {
        while (true) {
            Opened opened = poll(queue);
            if (opened.subject().equals(tunnel)) {
                return opened;
            }
        }
    }

    private static Opened poll(BlockingQueue<Opened> queue) throws InterruptedException {
        Opened opened = queue.poll(Await.CLUSTER_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertNotNull(opened, "nothing delivered within " + Await.CLUSTER_TIMEOUT);
        return opened;
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
