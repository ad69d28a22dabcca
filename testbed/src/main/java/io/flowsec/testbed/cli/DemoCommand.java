package io.flowsec.testbed.cli;

import io.flowsec.appliance.cli.UsageException;
import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;
import io.flowsec.testbed.demo.TrafficGenerator;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * {@code flowsec demo}: the paper's test bed on this machine, live.
 * <ol>
 *   <li>build host A — router A ⇒ tunnel ⇒ router B — host B in four namespaces;</li>
 *   <li>start two appliances as separate processes (router A sends over an SA group of four SAs, router B
 *       receives with as many lanes as asked);</li>
 *   <li>push many flows from host A to host B;</li>
 *   <li>warm up: the traffic runs through the modes in turn for a few seconds, measured by nothing, so that the
 *       first mode is not measured on a cold JVM (which runs at about a third of its steady rate at first);</li>
 *   <li>for each mode in turn, switch router B to it and print once a second how its lanes share the load;</li>
 *   <li>print a summary per mode, then remove everything, also on Ctrl-C.</li>
 * </ol>
 */
public final class DemoCommand {
    public static final String USAGE = """
            Usage: flowsec demo [--seconds N] [--warmup SECONDS] [--flows N] [--size BYTES] [--traffic udp|tcp]
                                [--lanes N] [--modes single,pcrypt,flow] [--steering director|rss]

              As root, builds four namespaces (host A, router A, router B, host B), starts two appliances, pushes
              many flows from host A to host B and shows, per mode, how router B spreads them over its lanes.
              Before the first mode is measured, the traffic runs through the modes in turn for --warmup seconds
              (the JVMs' warm-up), counted in no mode's figures; --warmup 0 disables it.
              Defaults: --seconds 5 per mode, --warmup 3, --flows 64, --size 1400 (UDP payload), --traffic udp,
              --lanes = CPUs, --modes single,pcrypt,flow, --steering director. Everything it creates is removed at
              exit, Ctrl-C included.
            """;
    private static final String PREFIX = "fsdemo";

    private final PrintStream out;

    public DemoCommand(PrintStream out) {
        this.out = out;
    }

    /** The demo's options, as {@link #parse} read them. */
    record Options(int seconds, int warmupSeconds, int flows, int size, TrafficGenerator.Kind traffic, int lanes,
                   List<String> modes, String steering) {
    }

    private record ModeResult(String mode, double packetsPerSecond, double gigabitsPerSecond, List<Double> laneShares,
                              List<Double> laneBusy) {
    }

    public int run(List<String> args) throws Exception {
        if (args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        Options options = parse(args);
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new UsageException("demo needs root (network namespaces, TUN devices): run it with sudo");
        }
        List<String> leftovers = Topology.leftovers(PREFIX);
        if (!leftovers.isEmpty()) {
            throw new UsageException("namespaces of another demo are present: " + leftovers
                    + "; if no demo runs, remove them with: for n in " + String.join(" ", leftovers) + "; do ip netns del $n; done");
        }

        Path directory = Files.createTempDirectory("flowsec-demo");
        try (CleanupOnExit cleanup = new CleanupOnExit("flowsec demo", System.err)) {
            cleanup.add(() -> Topology.removeAll(PREFIX)); // last: a test bed Ctrl-C caught half-built
            cleanup.addDirectory(directory);
            // 1. test bed
            out.println("flowsec demo: building host A - router A => tunnel => router B - host B in namespaces " + PREFIX + "-*");
            Topology topology = cleanup.add(Topology.create(PREFIX));

            // 2. appliances
            JsonArray[] policies = policies(options.lanes());
            cleanup.add(ApplianceProcess.start(topology.routerA(),
                    config(directory, "router-a", policies[0], "10.255.0.1/32", "10.2.0.0/16", options),
                    directory.resolve("router-a.sock"), directory.resolve("router-a.log")));
            ApplianceProcess routerB = cleanup.add(ApplianceProcess.start(topology.routerB(),
                    config(directory, "router-b", policies[1], "10.255.0.2/32", "10.1.0.0/16", options),
                    directory.resolve("router-b.sock"), directory.resolve("router-b.log")));
            out.printf("flowsec demo: router B has %d lanes, steering %s; traffic: %d %s flows of %d-byte payloads%n",
                    options.lanes(), options.steering(), options.flows(), options.traffic().name().toLowerCase(Locale.ROOT),
                    options.size());

            // 3. traffic
            TrafficGenerator traffic = cleanup.add(TrafficGenerator.start(options.traffic(), topology.hostA(),
                    topology.hostB(), Topology.HOST_A_ADDRESS, Topology.HOST_B_ADDRESS, 7000, options.flows(),
                    options.size(), 2));

            // 4. warm-up
            warmUp(options, routerB, traffic);

            // 5. each mode
            List<ModeResult> results = new ArrayList<>();
            for (String mode : options.modes()) {
                String error = changeMode(routerB, mode);
                if (error != null) {
                    out.println("flowsec demo: mode " + mode + ": " + error);
                    continue;
                }
                results.add(watch(mode, options, routerB, traffic));
            }

            // 6. summary
            out.println();
            out.println("| mode | delivered pkt/s | Gbit/s | share per lane | busy per lane |");
            out.println("|---|---:|---:|---|---|");
            for (ModeResult result : results) {
                out.printf("| %s | %,.0f | %.2f | %s | %s |%n", result.mode(), result.packetsPerSecond(),
                        result.gigabitsPerSecond(), percentages(result.laneShares()), percentages(result.laneBusy()));
            }
            out.println("(pkt/s: " + (options.traffic() == TrafficGenerator.Kind.UDP ? "UDP datagrams" : "TCP reads")
                    + " received by host B; share: router B's tunnel datagrams per lane; busy: lane time in batches)");
            return 0;
        }
    }

    /** Switches router B to {@code mode}; returns its error, or null when it switched. */
    private static String changeMode(ApplianceProcess routerB, String mode) throws IOException {
        JsonObject reply = new JsonObject(StatusServer.query(routerB.statusSocket(), "mode " + mode));
        return reply.getString("error");
    }

    /**
     * Runs the traffic through the modes to be measured, in turn, for {@code --warmup} seconds in all, and counts
     * none of it: the JIT compiles both appliances' paths, every mode's own included, before any mode is measured.
     * Prints what host B received in each mode's share of the time.
     */
    private void warmUp(Options options, ApplianceProcess routerB, TrafficGenerator traffic) throws Exception {
        if (options.warmupSeconds() == 0) {
            return;
        }
        out.printf("flowsec demo: warming up for %d s (%s in turn), not measured%n", options.warmupSeconds(),
                String.join(", ", options.modes()));
        long shareNs = TimeUnit.SECONDS.toNanos(options.warmupSeconds()) / options.modes().size();
        for (String mode : options.modes()) {
            if (changeMode(routerB, mode) != null) {
                continue; // its measured turn reports the error
            }
            long packets = traffic.receivedPackets();
            long startNs = System.nanoTime();
            TimeUnit.NANOSECONDS.sleep(shareNs);
            double elapsed = (System.nanoTime() - startNs) / 1e9;
            out.printf("%-6s warming up  host B receives %,10.0f pkt/s (not measured)%n", mode,
                    (traffic.receivedPackets() - packets) / elapsed);
        }
    }

    /** Watches router B for {@code seconds}, printing per-lane load once a second; returns the averages. */
    private ModeResult watch(String mode, Options options, ApplianceProcess routerB, TrafficGenerator traffic)
            throws Exception {
        Thread.sleep(500); // let the mode settle
        JsonObject first = status(routerB);
        long firstPackets = traffic.receivedPackets();
        long firstBytes = traffic.receivedBytes();
        long startNs = System.nanoTime();
        JsonObject previous = first;
        long previousPackets = firstPackets;
        long previousNs = startNs;
        for (int second = 1; second <= options.seconds(); second++) {
            Thread.sleep(1000);
            JsonObject now = status(routerB);
            long nowNs = System.nanoTime();
            long packets = traffic.receivedPackets();
            double elapsed = (nowNs - previousNs) / 1e9;
            StringBuilder line = new StringBuilder(String.format("%-6s %2ds  host B receives %,10.0f pkt/s |",
                    mode, second, (packets - previousPackets) / elapsed));
            List<Double> shares = shares(previous, now);
            List<Double> busy = busy(previous, now, nowNs - previousNs);
            for (int lane = 0; lane < shares.size(); lane++) {
                line.append(String.format(" lane %d %s %3.0f%% busy %3.0f%% |", lane, bar(shares.get(lane)),
                        shares.get(lane) * 100, busy.get(lane) * 100));
            }
            out.println(line);
            previous = now;
            previousPackets = packets;
            previousNs = nowNs;
        }
        double seconds = (previousNs - startNs) / 1e9;
        return new ModeResult(mode, (previousPackets - firstPackets) / seconds,
                (traffic.receivedBytes() - firstBytes) * 8 / seconds / 1e9,
                shares(first, previous), busy(first, previous, previousNs - startNs));
    }

    private static JsonObject status(ApplianceProcess appliance) throws IOException {
        return new JsonObject(StatusServer.query(appliance.statusSocket()));
    }

    private static List<Double> shares(JsonObject before, JsonObject after) {
        JsonArray a = before.getJsonArray("lanes");
        JsonArray b = after.getJsonArray("lanes");
        long total = 0;
        long[] deltas = new long[b.size()];
        for (int i = 0; i < b.size(); i++) {
            deltas[i] = io(b, i, "tunnel-datagrams-received") - io(a, i, "tunnel-datagrams-received");
            total += deltas[i];
        }
        List<Double> shares = new ArrayList<>();
        for (long delta : deltas) {
            shares.add(total == 0 ? 0 : (double) delta / total);
        }
        return shares;
    }

    private static List<Double> busy(JsonObject before, JsonObject after, long elapsedNs) {
        JsonArray a = before.getJsonArray("lanes");
        JsonArray b = after.getJsonArray("lanes");
        List<Double> busy = new ArrayList<>();
        for (int i = 0; i < b.size(); i++) {
            busy.add(Math.min(1.0, (io(b, i, "busy-nanos") - io(a, i, "busy-nanos")) / (double) elapsedNs));
        }
        return busy;
    }

    private static long io(JsonArray lanes, int lane, String counter) {
        return lanes.getJsonObject(lane).getJsonObject("io").getLong(counter);
    }

    private static String bar(double share) {
        int filled = (int) Math.round(share * 10);
        return "#".repeat(filled) + ".".repeat(10 - filled);
    }

    private static String percentages(List<Double> values) {
        List<String> parts = new ArrayList<>();
        for (double value : values) {
            parts.add(String.format("%.0f%%", value * 100));
        }
        return String.join(" / ", parts);
    }

    /**
     * The example SA files' policies for router A and router B, each SA group grown to one SA per lane when the demo
     * runs more lanes than the examples have SAs (each lane sends on SAs of its own); the extra SAs get fresh random
     * keys, written only to the demo's private directory and never printed.
     */
    static JsonArray[] policies(int lanes) throws IOException {
        JsonObject a = new JsonObject(io.flowsec.testbed.demo.Examples.read("site-a.sa.json")).getJsonArray("policies").getJsonObject(0);
        JsonObject b = new JsonObject(io.flowsec.testbed.demo.Examples.read("site-b.sa.json")).getJsonArray("policies").getJsonObject(0);
        grow(a.getJsonArray("outbound"), b.getJsonArray("inbound"), 0x0000b000, lanes);
        grow(b.getJsonArray("outbound"), a.getJsonArray("inbound"), 0x0000a000, lanes);
        return new JsonArray[] {new JsonArray().add(a), new JsonArray().add(b)};
    }

    private static void grow(JsonArray outbound, JsonArray peerInbound, int spiBase, int lanes) {
        java.security.SecureRandom random = new java.security.SecureRandom();
        for (int i = outbound.size(); i < lanes; i++) {
            byte[] key = new byte[20];   // aes-gcm-128, as the examples: 16-byte key, 4-byte salt
            random.nextBytes(key);
            JsonObject sa = new JsonObject().put("spi", String.format("0x%08x", spiBase + i + 1))
                    .put("key", java.util.HexFormat.of().formatHex(key)).put("sourcePort", 4501 + i);
            outbound.add(sa);
            peerInbound.add(sa.copy());
        }
    }

    private static Path config(Path directory, String name, JsonArray policies, String siteAddress, String remoteSite,
                               Options options) throws IOException {
        JsonObject config = new JsonObject()
                .put("name", name)
                .put("lanes", options.lanes())
                .put("mode", "flow")
                .put("steering", options.steering())
                .put("site", new JsonObject().put("device", "fs0").put("addresses", new JsonArray().add(siteAddress))
                        .put("routes", new JsonArray().add(remoteSite)))
                .put("statusSocket", directory.resolve(name + ".sock").toString())
                .put("stateDirectory", directory.resolve(name + "-state").toString())
                .put("policies", policies);
        Path path = directory.resolve(name + ".json");
        Files.writeString(path, config.encodePrettily());
        return path;
    }

    /** Parses the demo's options; every value is range-checked here, before anything is built. */
    static Options parse(List<String> args) throws UsageException {
        int seconds = 5;
        int warmup = 3;
        int flows = 64;
        int size = 1400;
        TrafficGenerator.Kind traffic = TrafficGenerator.Kind.UDP;
        int lanes = Runtime.getRuntime().availableProcessors();
        List<String> modes = List.of("single", "pcrypt", "flow");
        String steering = "director";
        for (int i = 0; i < args.size(); i++) {
            String option = args.get(i);
            if (i + 1 >= args.size()) {
                throw new UsageException(option + " needs a value");
            }
            String value = args.get(++i);
            switch (option) {
                case "--seconds" -> seconds = number(option, value, 1, 3600);
                case "--warmup" -> warmup = number(option, value, 0, 600);
                case "--flows" -> flows = number(option, value, 1, 4096);
                case "--size" -> size = number(option, value, 1, 1400);
                case "--lanes" -> lanes = number(option, value, 1, 128);
                case "--traffic" -> {
                    try {
                        traffic = TrafficGenerator.Kind.valueOf(value.toUpperCase(Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--traffic must be udp or tcp");
                    }
                }
                case "--modes" -> {
                    modes = List.of(value.split(","));
                    for (String mode : modes) {
                        if (!List.of("single", "pcrypt", "flow").contains(mode)) {
                            throw new UsageException("unknown mode '" + mode + "' (single, pcrypt, flow)");
                        }
                    }
                }
                case "--steering" -> {
                    if (!List.of("director", "rss", "single").contains(value)) {
                        throw new UsageException("--steering must be director, rss or single");
                    }
                    steering = value;
                }
                default -> throw new UsageException("unknown option " + option);
            }
        }
        return new Options(seconds, warmup, flows, size, traffic, lanes, modes, steering);
    }

    private static int number(String option, String value, int min, int max) throws UsageException {
        try {
            int number = Integer.parseInt(value);
            if (number < min || number > max) {
                throw new UsageException(option + " must be " + min + "-" + max);
            }
            return number;
        } catch (NumberFormatException e) {
            throw new UsageException(option + " must be a number");
        }
    }
}
