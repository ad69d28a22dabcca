package io.flowsec.cluster;

import io.flowsec.cluster.balancing.BalancerSettings;
import io.flowsec.cluster.balancing.BalancingPolicy;
import io.flowsec.cluster.membership.Await;
import io.flowsec.cluster.membership.ClusterSettings;
import io.flowsec.cluster.membership.Ports;
import io.flowsec.cluster.security.ClusterSecret;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.runtime.DataplaneSnapshot.LaneSnapshot;
import io.flowsec.dataplane.runtime.DataplaneSnapshot.SaSnapshot;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receiver's coordinator over a data plane whose hand-overs are slow (as a real one's are when the losing lane
 * is saturated: every lane pauses while it drains) and whose lane 1 is busy with other work: after a change took
 * long to apply, the next one waits a whole cooldown from when it took effect, measured on load from after it.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class SlowHandOverTest {
    private static final long HAND_OVER_MS = 700;
    private static final double PACKETS_PER_SA = 500;
    private static final long INTERVAL_MS = 50;

    @TempDir
    Path dir;
    private TwoDataplanes pair;
    private ClusterService routerA;
    private ClusterService routerB;
    private volatile boolean slow;
    /** Each hand-over: {start, end} in System.nanoTime(). */
    private final List<long[]> handOvers = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        pair = new TwoDataplanes(TestPackets.tunnel().saCount(6), 2, Mode.FLOW);
        ClusterSecret secret = ClusterSecret.generate(dir.resolve("cluster.secret"));
        int portA = Ports.free();
        int portB = Ports.free();
        routerA = ClusterService.start(pair.a, settings("router-a", portA, portB), secret,
                List.of(new TunnelSpec("a-b", pair.tunnel.a().policy().name(), "router-b", BalancingPolicy.STATIC)),
                INTERVAL_MS, 3000, message -> { });
        routerB = ClusterService.start(loadedAndSlow(pair.b), settings("router-b", portB, portA), secret,
                List.of(new TunnelSpec("a-b", pair.tunnel.b().policy().name(), "router-a", BalancingPolicy.STATIC)),
                INTERVAL_MS, 3000, message -> { });
    }

    private static ClusterSettings settings(String name, int port, int peerPort) {
        return ClusterSettings.of(name, "127.0.0.1", List.of("127.0.0.1:" + peerPort)).withPort(port);
    }

    @AfterEach
    void stop() throws Exception {
        routerA.close();
        routerB.close();
        pair.close();
    }

    @Test
    void after_a_slow_hand_over_the_receiver_waits_a_cooldown_from_when_it_took_effect() throws Exception {
        Await.until("A to B adopted at B", () -> routerB.assignment("a-b").getJsonObject("receiving").getLong("version") >= 1);
        Await.until("B's inbound SAs laid out, 3 on each lane", () -> count(1) == 3);
        slow = true;
        routerB.balancing("a-b", "receiver");
        // lane 1 sheds 2 SAs in the first change, the third in a second one (see loadedAndSlow)
        Await.until("two changes of B's layout", () -> count(1) == 0, () -> pair.b.inboundLanes().toString());

        long cooldownNs = TimeUnit.MILLISECONDS.toNanos(BalancerSettings.DEFAULT_COOLDOWN_MS);
        List<Long> gaps = new ArrayList<>();
        for (int i = 1; i < handOvers.size(); i++) {
            gaps.add(handOvers.get(i)[0] - handOvers.get(i - 1)[1]);
        }
        long between = gaps.stream().mapToLong(Long::longValue).max().orElseThrow();
        assertTrue(between >= cooldownNs, "the second change began " + between / 1_000_000 + " ms after the first took "
                + "effect, under the " + BalancerSettings.DEFAULT_COOLDOWN_MS + " ms cooldown (hand-overs: "
                + handOvers.size() + ", gaps ms: " + gaps.stream().map(gap -> gap / 1_000_000).toList() + ")");
    }

    private long count(int lane) {
        return pair.b.inboundLanes().values().stream().filter(l -> l == lane).count();
    }

    /**
     * B's data plane, whose counters say: each inbound SA brings 500 packets/s; lane 0 spends 0.05 of its time per SA,
     * lane 1 0.5 on other work (500 packets/s of its own) and 0.2 per SA. Starting from 3 SAs a lane (0.15 against
     * 1.0) the receiver moves 2 SAs in its first change (lane 1 then measures 0.7: still hot) and the last in a
     * second. Once {@link #slow}, each hand-over takes {@link #HAND_OVER_MS}.
     */
    private DataplaneControl loadedAndSlow(DataplaneControl real) {
        long[] lastNs = {System.nanoTime()};
        double[] busyNs = new double[2];
        double[] packets = new double[2];
        Map<Integer, Double> saPackets = new java.util.HashMap<>();
        return (DataplaneControl) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {DataplaneControl.class},
                (proxy, method, args) -> {
                    try {
                        if (method.getName().equals("moveInbound") && slow) {
                            long startNs = System.nanoTime();
                            Thread.sleep(HAND_OVER_MS);
                            Object result = method.invoke(real, args);
                            handOvers.add(new long[] {startNs, System.nanoTime()});
                            return result;
                        }
                        if (method.getName().equals("snapshot")) {
                            synchronized (busyNs) {
                                return fake((DataplaneSnapshot) method.invoke(real), lastNs, busyNs, packets, saPackets);
                            }
                        }
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static DataplaneSnapshot fake(DataplaneSnapshot real, long[] lastNs, double[] busyNs, double[] packets,
                                          Map<Integer, Double> saPackets) {
        long nowNs = System.nanoTime();
        double seconds = (nowNs - lastNs[0]) / 1e9;
        lastNs[0] = nowNs;
        int[] sas = new int[2];
        for (SaSnapshot sa : real.sas()) {
            if (sa.direction() == Direction.INBOUND) {
                sas[sa.lane()]++;
                saPackets.merge(sa.spi(), PACKETS_PER_SA * seconds, Double::sum);
            }
        }
        double[] busy = {0.05 * sas[0], Math.min(1, 0.5 + 0.2 * sas[1])};
        double[] rate = {PACKETS_PER_SA * sas[0], 500 + PACKETS_PER_SA * sas[1]};
        List<LaneSnapshot> lanes = new ArrayList<>();
        for (LaneSnapshot lane : real.lanes()) {
            busyNs[lane.lane()] += busy[lane.lane()] * seconds * 1e9;
            packets[lane.lane()] += rate[lane.lane()] * seconds;
            Map<IoCounter, Long> io = new EnumMap<>(IoCounter.class);
            io.putAll(lane.io());
            io.put(IoCounter.BUSY_NANOS, (long) busyNs[lane.lane()]);
            io.put(IoCounter.TUNNEL_DATAGRAMS_RECEIVED, (long) packets[lane.lane()]);
            io.put(IoCounter.SITE_PACKETS_READ, 0L);
            lanes.add(new LaneSnapshot(lane.lane(), io, lane.outcomes()));
        }
        List<SaSnapshot> saList = new ArrayList<>();
        for (SaSnapshot sa : real.sas()) {
            long count = sa.direction() == Direction.INBOUND ? (long) (double) saPackets.get(sa.spi()) : sa.packets();
            saList.add(new SaSnapshot(sa.name(), sa.spi(), sa.direction(), sa.lane(), count, sa.bytes(),
                    sa.lastSequence(), sa.drops(), sa.state()));
        }
        return new DataplaneSnapshot(real.mode(), real.steering(), real.steeringInEffect(), real.steeringFields(),
                real.steeringPrograms(), lanes, saList, real.totals());
    }
}
