package io.flowsec.testbed.bench;

import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The paper's test bed for the benchmarks: {@link Topology}'s four namespaces and the two routers, configured for a
 * run rather than from the examples.
 * <ul>
 *   <li>each direction is an SA group of {@code saCount} SAs with fresh random keys (never printed; the files live
 *       in a private temporary directory), encoding the flow ID in the UDP source port, so {@code director} steering
 *       reads it on the receiving side;</li>
 *   <li>{@link ReturnPath#PLAIN}: host B's answers go round the tunnel, routed by router B's kernel straight to
 *       router A (the micro-benchmark, the paper's Fig. 4); {@link ReturnPath#TUNNELLED}: both directions use the
 *       tunnel (the application benchmark);</li>
 *   <li>without router A ({@code startRouterA} false) router A's namespace is free for a packet generator, and
 *       router B's inbound SAs have anti-replay off so the generator can replay one set of packets.</li>
 * </ul>
 * {@link #close} stops both routers and deletes the namespaces.
 */
public final class BenchTestBed implements AutoCloseable {
    /** Namespace prefix of every benchmark: one benchmark at a time. */
    public static final String PREFIX = "fsbench";
    public static final int TUNNEL_PORT = 4500;
    public static final int FIRST_SOURCE_PORT = 4501;
    public static final String SITE_A = "10.1.0.0/16";
    public static final String SITE_B = "10.2.0.0/16";

    /** The protect policies' names at router A and router B (a cluster tunnel names them). */
    public static final String POLICY_A = "a-to-b";
    public static final String POLICY_B = "b-to-a";

    public enum ReturnPath { PLAIN, TUNNELLED }

    /** Changes a router's configuration before it is written ({@code router}: "router-a" or "router-b"). */
    public interface ConfigEditor {
        void edit(String router, JsonObject config) throws IOException;
    }

    /** How router B (and router A, when started) run. */
    public record Settings(EspSuite suite, int saCount, int lanesB, int lanesA, String steering, ReturnPath returnPath,
                           boolean startRouterA) {
    }

    private final Settings settings;
    private final Path directory;
    private final ConfigEditor editor;
    private final ApplianceProcess.Jvm jvm;
    private final List<AutoCloseable> opened = new ArrayList<>();
    private Topology topology;
    private ApplianceProcess routerA;
    private ApplianceProcess routerB;
    private JsonObject policiesA;

    private BenchTestBed(Settings settings, Path directory, ConfigEditor editor, ApplianceProcess.Jvm jvm) {
        this.settings = settings;
        this.directory = directory;
        this.editor = editor;
        this.jvm = jvm;
    }

    /**
     * Builds the namespaces and starts the routers (router B in flow mode). On failure removes what it made.
     */
    public static BenchTestBed start(Settings settings, Path directory) throws IOException, InterruptedException {
        return start(settings, directory, (router, config) -> { });
    }

    /** As {@link #start(Settings, Path)}, each router's configuration changed by {@code editor} first. */
    public static BenchTestBed start(Settings settings, Path directory, ConfigEditor editor)
            throws IOException, InterruptedException {
        return start(settings, directory, editor, ApplianceProcess.Jvm.current());
    }

    /** As {@link #start(Settings, Path, ConfigEditor)}, the routers' JVMs started as {@code jvm} says (warm-start bench). */
    public static BenchTestBed start(Settings settings, Path directory, ConfigEditor editor, ApplianceProcess.Jvm jvm)
            throws IOException, InterruptedException {
        BenchTestBed bed = new BenchTestBed(settings, directory, editor, jvm);
        try {
            bed.build();
            return bed;
        } catch (IOException | InterruptedException | RuntimeException e) {
            try {
                bed.close();
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private void build() throws IOException, InterruptedException {
        // 1. namespaces
        topology = Topology.create(PREFIX);
        opened.add(topology);

        // 2. SA groups, one per direction, keys from this run only
        SecureRandom random = new SecureRandom();
        int groupSize = settings.saCount();
        JsonArray aToB = saGroup(0xb000, groupSize, random);
        JsonArray bToA = saGroup(0xa000, groupSize, random);
        policiesA = policies(POLICY_A, SITE_A, SITE_B, Topology.ROUTER_A_TUNNEL_ADDRESS, Topology.ROUTER_B_TUNNEL_ADDRESS,
                aToB, bToA, false);
        JsonObject policiesB = policies(POLICY_B, SITE_B, SITE_A, Topology.ROUTER_B_TUNNEL_ADDRESS,
                Topology.ROUTER_A_TUNNEL_ADDRESS, bToA, aToB, !settings.startRouterA());

        // 3. routers
        boolean tunnelledReturn = settings.returnPath() == ReturnPath.TUNNELLED;
        if (settings.startRouterA()) {
            routerA = ApplianceProcess.start(topology.routerA(),
                    writeConfig("router-a", settings.lanesA(), "10.255.0.1/32", List.of(SITE_B), policiesA),
                    directory.resolve("router-a.sock"), directory.resolve("router-a.log"), Map.of(), true, jvm);
            opened.add(routerA);
        }
        routerB = ApplianceProcess.start(topology.routerB(),
                writeConfig("router-b", settings.lanesB(), "10.255.0.2/32", tunnelledReturn ? List.of(SITE_A) : List.of(),
                        policiesB),
                directory.resolve("router-b.sock"), directory.resolve("router-b.log"), Map.of(), true, jvm);
        opened.add(routerB);

        // 4. the plain return path: router B's kernel routes site A over the tunnel link, not into its TUN device
        if (!tunnelledReturn) {
            Topology.ip(topology.routerB(), "route", "add", SITE_A, "via", Topology.ROUTER_A_TUNNEL_ADDRESS, "dev", "wan");
        }
    }

    /** SAs {@code spiBase+1 .. spiBase+count}, the i-th sending from UDP source port 4501+i. */
    private JsonArray saGroup(int spiBase, int count, SecureRandom random) {
        EspSuite suite = settings.suite();
        JsonArray sas = new JsonArray();
        for (int i = 0; i < count; i++) {
            JsonObject sa = new JsonObject()
                    .put("spi", String.format("0x%08x", spiBase + i + 1))
                    .put("key", randomHex(random, suite.encryptionKeyLength()))
                    .put("sourcePort", FIRST_SOURCE_PORT + i);
            if (suite.integrityKeyLength() > 0) {
                sa.put("integrityKey", randomHex(random, suite.integrityKeyLength()));
            }
            sas.add(sa);
        }
        return sas;
    }

    private static String randomHex(SecureRandom random, int length) {
        byte[] key = new byte[length];
        random.nextBytes(key);
        return HexFormat.of().formatHex(key);
    }

    private JsonObject policies(String name, String local, String remote, String localAddress, String remoteAddress,
                                JsonArray outbound, JsonArray inbound, boolean antiReplayOff) {
        JsonArray inboundCopy = inbound.copy();
        if (antiReplayOff) {
            for (int i = 0; i < inboundCopy.size(); i++) {
                inboundCopy.getJsonObject(i).put("replayWindow", 0);
            }
        }
        JsonObject policy = new JsonObject()
                .put("name", name).put("local", local).put("remote", remote)
                .put("suite", settings.suite().configName()).put("encapsulation", "udp")
                .put("localAddress", localAddress).put("remoteAddress", remoteAddress)
                .put("port", TUNNEL_PORT).put("encoding", "udp-port")
                .put("outbound", outbound.copy()).put("inbound", inboundCopy);
        return new JsonObject().put("policies", new JsonArray().add(policy));
    }

    private Path writeConfig(String name, int lanes, String siteAddress, List<String> routes, JsonObject policies)
            throws IOException {
        JsonObject config = new JsonObject()
                .put("name", name)
                .put("lanes", lanes)
                .put("mode", "flow")
                .put("steering", settings.steering())
                .put("site", new JsonObject().put("device", "fs0").put("addresses", new JsonArray().add(siteAddress))
                        .put("routes", new JsonArray(new ArrayList<>(routes))))
                .put("statusSocket", directory.resolve(name + ".sock").toString())
                .put("stateDirectory", directory.resolve(name + "-state").toString())
                .put("policies", policies.getJsonArray("policies"));
        editor.edit(name, config);
        Path path = directory.resolve(name + ".json");
        Files.writeString(path, config.encodePrettily());
        return path;
    }

    /** Router A's appliance process (started), and router B's: their start times, logs. */
    public ApplianceProcess routerA() {
        return routerA;
    }

    public ApplianceProcess routerB() {
        return routerB;
    }

    public Topology topology() {
        return topology;
    }

    public Settings settings() {
        return settings;
    }

    /** Router A's SA file (policies with keys): what the receiver benchmark's generator encrypts with. */
    public JsonObject routerAPolicies() {
        return policiesA.copy();
    }

    /** Switches router B (and router A when {@code both}) to {@code mode}, failing with the router's answer. */
    public void mode(String mode, boolean both) throws IOException {
        List<ApplianceProcess> routers = both && routerA != null ? List.of(routerB, routerA) : List.of(routerB);
        for (ApplianceProcess router : routers) {
            JsonObject reply = new JsonObject(StatusServer.query(router.statusSocket(), "mode " + mode));
            if (reply.containsKey("error")) {
                throw new IOException("mode " + mode + ": " + reply.getString("error"));
            }
        }
    }

    /** Router A's status, as {@code flowsec status} prints it (router A started). */
    public JsonObject statusA() throws IOException {
        return new JsonObject(StatusServer.query(routerA.statusSocket()));
    }

    /** Router B's status, as {@code flowsec status} prints it. */
    public JsonObject statusB() throws IOException {
        return new JsonObject(StatusServer.query(routerB.statusSocket()));
    }

    /** Router B's counters now: what {@link Snapshot#pointUntil} turns into a point. */
    public Snapshot snapshotB() throws IOException {
        return Snapshot.of(statusB(), System.nanoTime(), routerB.cpuNanos());
    }

    /** Router A's process id (router A started). */
    public long routerAPid() {
        if (routerA == null) {
            throw new IllegalStateException("router A was not started");
        }
        return routerA.pid();
    }

    /** Router B's process id. */
    public long routerBPid() {
        return routerB.pid();
    }

    /** Packets host B's interface received so far (the receiver benchmark's delivered count). */
    public long hostBReceivedPackets() throws IOException, InterruptedException {
        JsonArray links = new JsonArray(Topology.ip(topology.hostB(), "-s", "-j", "link", "show", "eth0"));
        return links.getJsonObject(0).getJsonObject("stats64").getJsonObject("rx").getLong("packets");
    }

    /** Router logs, for a failure message. */
    public String logs() throws IOException {
        StringBuilder text = new StringBuilder();
        for (ApplianceProcess router : routerA == null ? List.of(routerB) : List.of(routerA, routerB)) {
            if (router != null) {
                text.append(router.log());
            }
        }
        return text.toString();
    }

    /**
     * Router B's counters at one instant: per lane busy time and packets/bytes written towards host B, drops by
     * reason, and the process's CPU time.
     */
    public record Snapshot(long nanos, long[] laneBusyNanos, long sitePackets, long siteBytes, long tunnelDatagrams,
                           long batches, Map<String, Long> drops, long cpuNanos) {

        static Snapshot of(JsonObject status, long nanos, long cpuNanos) {
            JsonArray lanes = status.getJsonArray("lanes");
            long[] busy = new long[lanes.size()];
            long packets = 0;
            long bytes = 0;
            long datagrams = 0;
            long batches = 0;
            for (int i = 0; i < lanes.size(); i++) {
                JsonObject io = lanes.getJsonObject(i).getJsonObject("io");
                busy[i] = io.getLong("busy-nanos");
                packets += io.getLong("site-packets-written");
                bytes += io.getLong("site-bytes-written");
                datagrams += io.getLong("tunnel-datagrams-received", 0L);
                batches += io.getLong("batches", 0L);
            }
            Map<String, Long> drops = new TreeMap<>();
            JsonObject totals = status.getJsonObject("totals");
            for (Outcome outcome : Outcome.values()) {
                if (outcome.isDrop() && totals.containsKey(outcome.label())) {
                    drops.put(outcome.label(), totals.getLong(outcome.label()));
                }
            }
            return new Snapshot(nanos, busy, packets, bytes, datagrams, batches, drops, cpuNanos);
        }

        public double secondsUntil(Snapshot later) {
            return (later.nanos - nanos) / 1e9;
        }

        /** Each lane's busy share between this snapshot and {@code later}, 0..1. */
        public List<Double> laneBusyUntil(Snapshot later) {
            List<Double> shares = new ArrayList<>();
            long elapsed = later.nanos - nanos;
            for (int i = 0; i < later.laneBusyNanos.length; i++) {
                shares.add(Math.min(1.0, (later.laneBusyNanos[i] - laneBusyNanos[i]) / (double) elapsed));
            }
            return shares;
        }

        public long sitePacketsUntil(Snapshot later) {
            return later.sitePackets - sitePackets;
        }

        public long siteBytesUntil(Snapshot later) {
            return later.siteBytes - siteBytes;
        }

        /**
         * Tunnel datagrams router B read per batch (a lane's wake-up): 64 when saturated, near 1 when every packet
         * costs a wake-up of its own.
         */
        public double datagramsPerBatchUntil(Snapshot later) {
            long batchCount = later.batches - batches;
            return batchCount == 0 ? Double.NaN : (double) (later.tunnelDatagrams - tunnelDatagrams) / batchCount;
        }

        public long cpuNanosUntil(Snapshot later) {
            return later.cpuNanos - cpuNanos;
        }

        /**
         * The point measured between this snapshot and {@code later}. The headline is router B's transmit rate
         * towards host B (inner IP bytes) unless {@code headlineGbps} gives another (ApacheBench's transfer rate);
         * {@code extraDrops} names losses seen outside router B (failed requests), appended to its drop reasons.
         */
        public BenchPoint pointUntil(Snapshot later, String mode, String steering, int size, double headlineGbps,
                                     double applicationGbps, double requestsPerSecond, String extraDrops) {
            double seconds = secondsUntil(later);
            long packets = sitePacketsUntil(later);
            Map<String, Long> drops = dropsUntil(later);
            long dropCount = drops.values().stream().mapToLong(Long::longValue).sum();
            StringBuilder reasons = new StringBuilder();
            drops.forEach((reason, count) -> reasons.append(reasons.isEmpty() ? "" : " ").append(reason).append('=').append(count));
            if (!extraDrops.isEmpty()) {
                reasons.append(reasons.isEmpty() ? "" : " ").append(extraDrops);
            }
            return new BenchPoint(mode, steering, size, laneBusyNanos.length, seconds,
                    Double.isNaN(headlineGbps) ? siteBytesUntil(later) * 8 / seconds / 1e9 : headlineGbps,
                    applicationGbps, packets / seconds, requestsPerSecond, laneBusyUntil(later),
                    packets == 0 ? Double.NaN : (double) cpuNanosUntil(later) / packets, dropCount, reasons.toString());
        }

        /** Drops between the two snapshots by reason, e.g. {@code replay-too-old=3}; empty when none. */
        public Map<String, Long> dropsUntil(Snapshot later) {
            Map<String, Long> delta = new TreeMap<>();
            later.drops.forEach((reason, count) -> {
                long d = count - drops.getOrDefault(reason, 0L);
                if (d != 0) {
                    delta.put(reason, d);
                }
            });
            return delta;
        }
    }

    @Override
    public void close() throws IOException {
        // routers first, then the namespaces; one failure does not keep the rest open
        IOException failure = null;
        for (AutoCloseable closeable : opened.reversed()) {
            try {
                closeable.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IOException("cleanup: " + e.getMessage(), e);
                }
            }
        }
        opened.clear();
        if (failure != null) {
            throw failure;
        }
    }
}
