package io.flowsec.cluster.membership;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import io.flowsec.cluster.membership.ClusterState.Failed;
import io.flowsec.cluster.membership.ClusterState.Running;
import io.flowsec.cluster.membership.ClusterState.Stopped;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedded member: its Hazelcast settings, an asynchronous start, peers seen and lost, a failure on one line. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClusterMemberTest {
    private static final Duration FAST_JOIN = Duration.ofSeconds(1);
    private static final Duration FAST_LOSS = Duration.ofSeconds(3);

    private final List<ClusterMember> started = new ArrayList<>();

    @AfterEach
    void closeMembers() {
        started.forEach(ClusterMember::close);
    }

    @Test
    void theHazelcastConfigurationJoinsOnlyTheListedPeersOnTheManagementAddressAndNeverCallsHome() {
        ClusterSettings settings = ClusterSettings.of("router-a", "10.0.0.1", List.of("10.0.0.2:5701"));
        Config config = ClusterMember.hazelcastConfig(settings, "test");

        assertEquals("flowsec", config.getClusterName());
        assertEquals(5701, config.getNetworkConfig().getPort());
        assertFalse(config.getNetworkConfig().isPortAutoIncrement());
        assertTrue(config.getNetworkConfig().getInterfaces().isEnabled());
        assertEquals(List.of("10.0.0.1"), List.copyOf(config.getNetworkConfig().getInterfaces().getInterfaces()));
        JoinConfig join = config.getNetworkConfig().getJoin();
        assertFalse(join.getMulticastConfig().isEnabled());
        assertFalse(join.getAutoDetectionConfig().isEnabled());
        assertTrue(join.getTcpIpConfig().isEnabled());
        assertEquals(List.of("10.0.0.2:5701"), join.getTcpIpConfig().getMembers());
        assertEquals("false", config.getProperty("hazelcast.phone.home.enabled"));
        assertEquals("false", config.getProperty("hazelcast.shutdownhook.enabled"));
        assertEquals("false", config.getProperty("hazelcast.socket.bind.any"));
        assertEquals("jdk", config.getProperty("hazelcast.logging.type"));
        assertEquals("5", config.getProperty("hazelcast.max.no.heartbeat.seconds"));
        assertEquals("router-a", config.getMemberAttributeConfig().getAttribute(ClusterMember.MEMBER_NAME_ATTRIBUTE));
    }

    @Test
    void startReturnsAtOnceAndAMemberWhosePeersAreDownRunsAlone() throws InterruptedException {
        int port = Ports.free();
        ClusterSettings settings = loopback("alone", port, List.of("127.0.0.1:" + Ports.free()));
        ClusterMember member = new ClusterMember(settings);
        started.add(member);

        long beforeNs = System.nanoTime();
        member.start();
        assertTrue(System.nanoTime() - beforeNs < TimeUnit.MILLISECONDS.toNanos(500), "start() blocked");

        assertTrue(member.awaitRunning(Await.CLUSTER_TIMEOUT), () -> "not running: " + member.state());
        assertEquals(new Running(List.of()), member.state());
        assertTrue(member.hazelcast().isPresent());
    }

    @Test
    void twoMembersSeeEachOtherAndOneSeesThePeerLeave() throws InterruptedException {
        int portA = Ports.free();
        int portB = Ports.free();
        List<String> both = List.of("127.0.0.1:" + portA, "127.0.0.1:" + portB);
        ClusterMember a = new ClusterMember(loopback("a", portA, both));
        ClusterMember b = new ClusterMember(loopback("b", portB, both));
        started.add(a);
        started.add(b);
        List<ClusterState> seenByA = new CopyOnWriteArrayList<>();
        a.addListener(seenByA::add);

        a.start();
        b.start();
        Await.until("a and b to see each other",
                () -> a.state().equals(new Running(List.of("b@127.0.0.1:" + portB)))
                        && b.state().equals(new Running(List.of("a@127.0.0.1:" + portA))),
                () -> a.state() + " / " + b.state());

        b.close();
        assertEquals(new Stopped(), b.state());
        Await.until("a to see b leave", () -> a.state().equals(new Running(List.of())), () -> a.state().toString());
        assertInstanceOf(Running.class, seenByA.getLast());
    }

    @Test
    void aPortInUseIsAFailureOnOneLineAndTheCallerIsNeverBlocked() throws IOException, InterruptedException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            ClusterMember member = new ClusterMember(loopback("blocked", taken.getLocalPort(), List.of()));
            started.add(member);
            member.start();

            assertFalse(member.awaitRunning(Await.CLUSTER_TIMEOUT));
            Failed failed = assertInstanceOf(Failed.class, member.state());
            assertFalse(failed.reason().contains("\n"), failed.reason());
            assertTrue(failed.reason().startsWith("cluster member blocked could not start: "), failed.reason());
            assertTrue(member.hazelcast().isEmpty());
        }
    }

    static ClusterSettings loopback(String name, int port, List<String> members) {
        return ClusterSettings.of(name, "127.0.0.1", members).withPort(port).withTimeouts(FAST_JOIN, FAST_LOSS);
    }
}
