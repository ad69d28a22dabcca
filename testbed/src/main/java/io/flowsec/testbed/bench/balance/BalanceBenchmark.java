package io.flowsec.testbed.bench.balance;

import io.flowsec.cluster.security.ClusterSecret;
import io.flowsec.control.security.Role;
import io.flowsec.control.security.TokenStore;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code flowsec bench balance}: how each balancing policy recovers when one of router B's lanes loses most of its
 * CPU. For each policy, from a fresh pair of clustered appliances (2 lanes each, pinned to CPUs 0 and 1, 4 AES-GCM-128
 * SAs per direction, tunnel {@value ClusterTunnel#ID}):
 * <ol>
 *   <li>build the test bed, wait until both ends agree on the tunnel's layout;</li>
 *   <li>set the policy at the end that acts ({@code receiver} at B, {@code sender} at A, {@code static} at both);</li>
 *   <li>start {@value #FLOWS} sequenced UDP flows host A → host B at the offered rate, let them run balanced;</li>
 *   <li>t0: throttle B's lane {@value #LOADED_LANE} ({@link LaneThrottle}), keep sampling for the measured seconds;</li>
 *   <li>every {@value #SAMPLE_MS} ms: the sink's counts, B's lane counters (status socket), the assignment versions
 *       last read from both APIs (once a second: curl costs more than a status query);</li>
 *   <li>stop the flows, remove the throttle and the test bed.</li>
 * </ol>
 * Every policy gets the same traffic: in bursts by default (a sender moves a flow only while it pauses longer than its
 * flowlet gap, which follows the receiver's queue delays), or steady ({@code --bursts steady}: then {@code sender}
 * moves no busy flow, and its weights change nothing until the flows pause).
 */
public final class BalanceBenchmark {
    public static final int FLOWS = 64;
    public static final int PAYLOAD_BYTES = 64;
    public static final int LOADED_LANE = 1;
    public static final int SAMPLE_MS = 250;
    /** Unmeasured seconds after the flows start (ARP, JIT), then the balanced seconds the "before" figures cover. */
    public static final int WARMUP_SECONDS = 2;
    public static final int BEFORE_SECONDS = 3;
    private static final List<Integer> CPUS = List.of(0, 1);
    private static final int FLOW_BASE_PORT = 41000;
    private static final int SINK_PORT = 7000;
    private static final long AGREE_TIMEOUT_MS = 30_000;
    private static final long VERSION_POLL_MS = 1000;

    private BalanceBenchmark() {
    }

    /** The "after" figures: the last 3 s, or a third of a shorter run (at least 1 s). */
    public static double afterSeconds(int seconds) {
        return Math.min(3, Math.max(1, seconds / 3));
    }

    /** Runs every policy of {@code options} in turn; each one's timeline, in that order, into {@code timelines}. */
    public static void run(BalanceOptions options, Path work, CleanupOnExit cleanup, PrintStream out,
                           Map<String, List<BalanceSample>> timelines) throws Exception {
        for (String policy : options.policies()) {
            timelines.put(policy, runPolicy(policy, options, work.resolve(policy), cleanup, out));
        }
    }

    private static List<BalanceSample> runPolicy(String policy, BalanceOptions options, Path dir, CleanupOnExit cleanup,
                                                 PrintStream out) throws Exception {
        // 1. the pair, agreeing
        Files.createDirectories(dir);
        Path secret = dir.resolve("cluster.secret");
        ClusterSecret.generate(secret);
        String tokenA = TokenStore.open(dir.resolve("router-a-state/api-tokens.json")).add("bench", Role.ADMIN).token();
        String tokenB = TokenStore.open(dir.resolve("router-b-state/api-tokens.json")).add("bench", Role.ADMIN).token();
        BenchTestBed bed = cleanup.add(BenchTestBed.start(new BenchTestBed.Settings(EspSuite.AES_GCM_128, 4, 2, 2,
                "director", BenchTestBed.ReturnPath.TUNNELLED, true), dir, (router, config) -> {
                    boolean a = router.equals("router-a");
                    ClusterTunnel.clustered(config, CPUS,
                            a ? Topology.ROUTER_A_TUNNEL_ADDRESS : Topology.ROUTER_B_TUNNEL_ADDRESS,
                            a ? Topology.ROUTER_B_TUNNEL_ADDRESS : Topology.ROUTER_A_TUNNEL_ADDRESS,
                            a ? BenchTestBed.POLICY_A : BenchTestBed.POLICY_B, a ? "router-b" : "router-a", secret);
                }));
        Topology topology = bed.topology();
        RouterApi apiA = new RouterApi(topology.routerA(), dir.resolve("router-a-state/api-cert.pem"), tokenA);
        RouterApi apiB = new RouterApi(topology.routerB(), dir.resolve("router-b-state/api-cert.pem"), tokenB);
        awaitAgreement(apiA, apiB, bed);

        // 2. the policy where it acts
        String balancing = "/tunnels/" + ClusterTunnel.ID + "/balancing";
        String body = new JsonObject().put("policy", policy).encode();
        if (!policy.equals("receiver")) {
            apiA.put(balancing, body);
        }
        if (!policy.equals("sender")) {
            apiB.put(balancing, body);
        }
        out.printf("%s: both ends agree on the layout, %s set; %d flows at %,d/s%n", policy, policy, FLOWS, options.rate());

        // 3.-5. flows, t0, samples
        SequencedFlows flows = cleanup.add(SequencedFlows.startInBursts(FLOWS, topology.hostA(), Topology.HOST_A_ADDRESS,
                FLOW_BASE_PORT, topology.hostB(), Topology.HOST_B_ADDRESS, SINK_PORT, options.rate(), PAYLOAD_BYTES, -1,
                options.burstOnMs(), options.burstOffMs()));
        Versions versions = new Versions(apiA, apiB);
        LaneThrottle throttle = null;
        List<BalanceSample> timeline = new ArrayList<>();
        try {
            long startNs = System.nanoTime();
            long intervalNs = TimeUnit.MILLISECONDS.toNanos(SAMPLE_MS);
            int t0Tick = (WARMUP_SECONDS + BEFORE_SECONDS) * 1000 / SAMPLE_MS;
            int lastTick = t0Tick + options.seconds() * 1000 / SAMPLE_MS;
            long t0Ns = startNs + t0Tick * intervalNs;
            Reading previous = Reading.take(flows, bed);
            for (int tick = 1; tick <= lastTick; tick++) {
                LockSupport.parkNanos(startNs + tick * intervalNs - System.nanoTime());
                Reading now = Reading.take(flows, bed);
                double t = (now.atNs - t0Ns) / 1e9;
                if (tick == t0Tick) {
                    t0Ns = now.atNs;   // t0 is this reading, whatever the scheduler made of the tick
                    t = 0;
                    throttle = cleanup.add(LaneThrottle.start(ClusterTunnel.appliancePid(topology.routerB()),
                            CPUS.get(LOADED_LANE), options.laneCpuPercent(), "flowsec-bench-balance-" + ProcessHandle.current().pid()));
                    out.printf("%s: t0, router B's lane %d (threads %s) throttled to %d%% of a CPU%n", policy,
                            LOADED_LANE, throttle.threads(), options.laneCpuPercent());
                }
                if (tick > t0Tick - BEFORE_SECONDS * 1000 / SAMPLE_MS) {
                    BalanceSample sample = now.since(previous, policy, t, versions);
                    timeline.add(sample);
                    if (tick % (1000 / SAMPLE_MS) == 0 && tick >= t0Tick) {
                        progress(out, timeline, t);
                    }
                }
                previous = now;
            }
        } finally {
            // 6. everything this policy made, before the next one's test bed
            versions.close();
            cleanup.closeNow(flows);
            if (throttle != null) {
                cleanup.closeNow(throttle);
            }
            cleanup.closeNow(bed);
        }
        return timeline;
    }

    /** One line a second: the last second's delivered fraction, B's lane busy shares and the loaded lane's share. */
    private static void progress(PrintStream out, List<BalanceSample> timeline, double t) {
        List<BalanceSample> second = timeline.subList(Math.max(0, timeline.size() - 1000 / SAMPLE_MS), timeline.size());
        BalanceFigures.Phase phase = BalanceFigures.Phase.of(second, LOADED_LANE);
        BalanceSample last = timeline.getLast();
        out.printf(Locale.ROOT, "%s: t=%5.1f s delivered %5.1f%%, B busy %s, lane %d share %.2f, out of order %d, "
                        + "versions A.sending %d B.receiving %d%n", last.policy(), t, 100 * phase.deliveredFraction(),
                phase.laneBusy().stream().map(b -> String.format(Locale.ROOT, "%.2f", b)).toList(), LOADED_LANE,
                phase.loadedShare(), second.stream().mapToLong(BalanceSample::outOfOrder).sum(), last.sendingVersionA(),
                last.receivingVersionB());
    }

    private static void awaitAgreement(RouterApi apiA, RouterApi apiB, BenchTestBed bed)
            throws IOException, InterruptedException {
        String path = "/tunnels/" + ClusterTunnel.ID + "/assignment";
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(AGREE_TIMEOUT_MS);
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                JsonObject a = new JsonObject(apiA.get(path).getFirst());
                JsonObject b = new JsonObject(apiB.get(path).getFirst());
                if (ClusterTunnel.agree(a, b)) {
                    return;
                }
                last = "A " + a.encode() + ", B " + b.encode();
            } catch (IOException | RuntimeException notYet) {
                last = notYet.getMessage();   // the API or the cluster still starting
            }
            Thread.sleep(200);
        }
        throw new IOException("the two ends did not agree on tunnel " + ClusterTunnel.ID + "'s layout in "
                + AGREE_TIMEOUT_MS / 1000 + " s; last seen: " + last + "\n" + bed.logs());
    }

    /** The sink's counts and router B's lane counters at one moment (a status query is sub-millisecond). */
    private record Reading(long atNs, SequencedFlows.Counts flows, long[] busyNanos, long[] datagrams, long drops) {
        static Reading take(SequencedFlows flows, BenchTestBed bed) throws IOException {
            SequencedFlows.Counts counts = flows.counts();
            JsonArray lanes = bed.statusB().getJsonArray("lanes");
            long at = System.nanoTime();
            long[] busy = new long[lanes.size()];
            long[] datagrams = new long[lanes.size()];
            long drops = 0;
            for (int i = 0; i < lanes.size(); i++) {
                JsonObject lane = lanes.getJsonObject(i);
                int index = lane.getInteger("lane");
                busy[index] = lane.getJsonObject("io").getLong("busy-nanos");
                datagrams[index] = lane.getJsonObject("io").getLong("tunnel-datagrams-received");
                for (Map.Entry<String, Object> outcome : lane.getJsonObject("outcomes")) {
                    if (!outcome.getKey().equals("accepted") && !outcome.getKey().equals("marker")) {   // the data plane's own
                        drops += ((Number) outcome.getValue()).longValue();
                    }
                }
            }
            return new Reading(at, counts, busy, datagrams, drops);
        }

        BalanceSample since(Reading earlier, String policy, double t, Versions versions) {
            double seconds = (atNs - earlier.atNs) / 1e9;
            SequencedFlows.Counts delta = flows.minus(earlier.flows);
            List<Long> laneDatagrams = new ArrayList<>();
            List<Double> laneBusy = new ArrayList<>();
            for (int lane = 0; lane < busyNanos.length; lane++) {
                laneDatagrams.add(datagrams[lane] - earlier.datagrams[lane]);
                laneBusy.add(Math.min(1.0, (busyNanos[lane] - earlier.busyNanos[lane]) / (seconds * 1e9)));
            }
            return new BalanceSample(policy, t, seconds, delta.sent(), delta.received(), delta.outOfOrder(),
                    laneDatagrams, laneBusy, drops - earlier.drops, versions.sendingA, versions.receivingB);
        }
    }

    /** A's sending and B's receiving assignment versions, read once a second by a thread of its own. */
    private static final class Versions implements AutoCloseable {
        private volatile long sendingA = -1;
        private volatile long receivingB = -1;
        private volatile boolean running = true;
        private final Thread poller;

        Versions(RouterApi apiA, RouterApi apiB) {
            String path = "/tunnels/" + ClusterTunnel.ID + "/assignment";
            poller = Thread.ofPlatform().daemon().name("balance-versions").start(() -> {
                while (running) {
                    try {
                        sendingA = ClusterTunnel.version(new JsonObject(apiA.get(path).getFirst()), "sending");
                        receivingB = ClusterTunnel.version(new JsonObject(apiB.get(path).getFirst()), "receiving");
                    } catch (IOException | RuntimeException missed) {
                        // a slow answer under load: the last versions stand until the next poll
                    } catch (InterruptedException stop) {
                        return;
                    }
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(VERSION_POLL_MS));
                }
            });
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            poller.interrupt();
            poller.join(5000);
        }
    }
}
