package io.flowsec.testbed.cli;

import io.flowsec.appliance.cli.UsageException;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.testbed.bench.AppBenchmark;
import io.flowsec.testbed.bench.BenchOptions;
import io.flowsec.testbed.bench.BenchPoint;
import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.bench.Executables;
import io.flowsec.testbed.bench.Headline;
import io.flowsec.testbed.bench.MachineInfo;
import io.flowsec.testbed.bench.MicroBenchmark;
import io.flowsec.testbed.bench.ReceiverBenchmark;
import io.flowsec.testbed.bench.ResultsWriter;
import io.flowsec.testbed.bench.balance.BalanceBenchmark;
import io.flowsec.testbed.bench.balance.BalanceOptions;
import io.flowsec.testbed.bench.balance.BalanceResults;
import io.flowsec.testbed.bench.balance.BalanceSample;
import io.flowsec.testbed.bench.balance.LaneThrottle;
import io.flowsec.testbed.bench.tunnel.TunnelBenchmark;
import io.flowsec.testbed.bench.tunnel.TunnelOptions;
import io.flowsec.testbed.bench.tunnel.TunnelReport;
import io.flowsec.testbed.bench.tunnel.TunnelResult;
import io.flowsec.testbed.bench.tunnel.TunnelTest;
import io.flowsec.testbed.bench.warmstart.WarmStartCommand;
import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * {@code flowsec bench micro|app|receiver}: the paper's evaluation (§6) on this machine ({@code state}, {@code api},
 * {@code balance} and {@code tunnel} have runners of their own below, in the same steps).
 * <ol>
 *   <li>check: root, no other benchmark's or demo's namespaces, the tools the benchmark needs (installed with
 *       apt-get when missing);</li>
 *   <li>run the sweep (sizes × modes, and lane counts for the receiver), printing each point as it is measured;</li>
 *   <li>write the CSV, the chart and the summary, and print the summary;</li>
 *   <li>remove everything it made, also on Ctrl-C.</li>
 * </ol>
 */
public final class BenchCommand {
    public static final String USAGE = """
            Usage: flowsec bench micro|app|receiver [OPTIONS]
                   flowsec bench state [--rounds N] [--seconds N] [--warmup N] [--dir DIR]
                   flowsec bench api [--rounds N] [--seconds N] [--connections N] [--client-nice N] [--delay-ms N]
                   flowsec bench balance [--policies LIST] [--seconds N] [--rate N] [--lane-cpu-percent N] [--bursts ON/OFF|steady]
                                         [--out DIR]
                   flowsec bench tunnel [--tunnels LIST] [--tests LIST] [--seconds N] [--warmup N] [--lanes N] [--suite NAME]
                                        [--appliance-config JSON] [--out DIR]
                   flowsec bench warmstart [OPTIONS]   a fresh tunnel's first seconds without and with the AOT cache
                                                       (README "Warm start"; 'flowsec bench warmstart --help')

              As root, reproduces the paper's evaluation on this machine (README "Performance"): router B runs each
              mode in turn. Each run writes OUT/NAME.csv, OUT/NAME.png (throughput against size, one line per mode)
              and OUT/NAME-summary.txt (flow/single and flow/pcrypt at each size, the machine, the command).

              micro     TCP messages host A -> tunnel -> host B, the answers in the clear (the paper's Fig. 4/5):
                        4 threads x 64 connections, each reconnecting every 10 messages; the figure is router B's
                        transmit rate towards host B, with what the server received beside it
              app       nginx in host B, ApacheBench in host A (256 concurrent, keep-alive for 10 requests), both
                        directions tunnelled, both routers in the mode (Fig. 6/7): requests/s and transfer rate
              receiver  router B alone: ESP packets of many flows, built once with flowsec's engine, replayed at it
                        from router A's namespace; packets/s delivered to host B and router B's CPU time per packet,
                        per lane count (router B's inbound SAs run without anti-replay, so packets can repeat)

            Options [defaults]:
              --sizes LIST       bytes [micro, app: 64,128,256,512,1024,2048,4096,8192,16384;
                                 receiver: 64,128,256,512,1024 and the largest that fits a 1500-byte tunnel MTU]
              --modes LIST       router B's modes, in order [single,pcrypt,flow]
              --seconds N        measured seconds per point [micro 15, app 10, receiver 5]
              --warmup N         unmeasured seconds before each point [micro 3, app 2, receiver 1]
              --lanes LIST       router B's lanes; micro and app take one count [CPUs; receiver 1,CPUs]
              --steering S       director or rss [director]
              --suite NAME       the tunnel's suite [aes-cbc-128-hmac-sha1-96, the paper's]
              --sas N            SAs per direction [4, or 2 x the largest lane count when more]
              --clients N        micro: client threads [4]
              --connections N    micro: connections per client thread [64]; app: concurrent clients [256]
              --messages N       micro: messages per connection [10]
              --servers N        micro: server threads; app: nginx workers [CPUs]
              --flows N          receiver: flows in the replayed packets [64]
              --generators N     receiver: sending threads [1]
              --out DIR          where the results go [bench-results/NAME]

            state     the cost of durable sequence state: one thread runs the examples' AES-GCM-128 sender and
                      receiver (anti-replay on) with their state kept in DIR [/var/tmp] and without, alternated
                      for N rounds [3] of N seconds [5] (+N s warm-up [1]); packets/s, durable writes/s, the ratio.
                      Needs no root and no namespaces.
              api       what the control API costs the data plane: one TCP transfer host A -> host B through the
                        test bed (AES-GCM-128, 4 SAs, 2 lanes) for N seconds [10], alternately alone and while wrk
                        in router B's namespace reads GET /api/v1/lanes over HTTPS with N connections [16], for N
                        rounds [3]; the transfer's Gbit/s each way and their ratio, the API's requests/s. wrk runs
                        at nice N, 0-19 [19], standing for a client that is not on the appliance's cores; the API
                        itself runs niced. --delay-ms N paces each connection (N ms between its requests; 0, the
                        default, as fast as it can). Root; installs wrk with apt-get when it is missing.

            balance   load feedback (issue 11): for each policy in LIST [static,sender,receiver], from a fresh pair of
                      clustered routers (2 lanes each on CPUs 0 and 1, tunnel a-b), 64 sequenced UDP flows host A ->
                      host B at N datagrams/s [30000], 64-byte payloads, each flow sending in bursts of ON ms every
                      ON+OFF ms [100/300: TCP-like flowlets; a sender moves a flow only while it pauses] or steadily;
                      3 s balanced, then at t0 router B's lane 1 is throttled to N% of a CPU [8] (cgroup v1 cpu
                      quota), then N s [20] measured, sampled every 250 ms.
                      The policy is set where it acts: receiver at router B, sender at router A, static at both.
                      Writes OUT/balance.csv (the timelines), OUT/balance.png (delivered / offered and lane 1's share
                      of router B's tunnel datagrams against time since t0, one line per policy) and
                      OUT/balance-summary.txt [bench-results/balance]: delivered before t0, from t0 until rebalanced
                      and in the last 3 s; router B's lane busy shares and lane 1's share before and after; the time
                      to rebalance; out-of-order deliveries since t0. Rebalanced: from the first moment after t0
                      after which every 1-s window delivers >= 97% of what was offered in it and lane 1 takes at
                      least 5 points less of router B's tunnel datagrams than before t0 (— never: static should
                      not). Root, curl and the cgroup v1 cpu controller (/sys/fs/cgroup/cpu).

            tunnel    flowsec against what a user would compare it with, in one run: for each tunnel in LIST
                      [plain,wireguard,flow-no-offloads,single,pcrypt,flow], on a fresh test bed, each test in LIST
                      [tcp1,tcp8,udp64,http1k,http16k] from host A to host B for N s [10], after N s [3] of the first
                      test unmeasured (0: none). --rounds N [1]: all of it N times, the tunnels taking turns in each
                      round; each figure is then the median of its N rounds (every round's value in the CSV's note
                      and in OUT/tunnel-rounds.csv), which a noisy neighbour moves less than a single run.
                      plain: the routers forward IP, no tunnel; wireguard: wireguard-go on both routers (MTU 1440);
                      single, pcrypt, flow: flowsec appliances on both routers in that mode, N lanes each [CPUs],
                      suite NAME [aes-gcm-128], 4 SAs per direction (2 per lane when more), director steering;
                      MODE-no-offloads: the same with "offloads": false (one system call per packet: the baseline);
                      flow-no-ring (on demand only): flow with every offload but the TUN ring (a system call per
                      TUN read and write), to show what the ring brings.
                      tcp1, tcp8: iperf3 TCP with 1 and 8 streams, Gbit/s received; udp64: iperf3 UDP, 64-byte
                      datagrams at its full rate, datagrams/s received; http1k, http16k: ab (256 concurrent) against
                      nginx in host B, requests/s. Each router's tunnel processes' CPU time per second of each test
                      (n/a for plain: the kernels forward, in no process's time).
                      --appliance-config JSON: properties put into both flowsec routers' configuration files, e.g.
                      '{"tunnelMtu": 1500}' (not mode: the tunnel names it).
                      Writes OUT/tunnel.csv, OUT/tunnel.png (a panel per test, a bar per tunnel) and
                      OUT/tunnel-summary.txt [bench-results/tunnel]: the values, flow/wireguard, flow/plain and
                      flow/single, the routers' CPU, the issue's targets met or missed; iperf3's JSON reports in
                      OUT/iperf3/. Root; installs iperf3, wireguard-go and wireguard-tools with apt-get when missing.

            Refuses to start when not root or while another benchmark's or demo's namespaces exist. Installs nginx
            and apache2-utils with apt-get when app needs them. Everything it creates is removed at exit. If a
            sweep fails, the points measured so far are still written.
            """;
    private static final List<String> BENCHMARKS = List.of("micro", "app", "receiver");
    private static final Set<String> OPTIONS = Set.of("--sizes", "--modes", "--seconds", "--warmup", "--lanes",
            "--steering", "--suite", "--sas", "--clients", "--connections", "--messages", "--servers", "--flows",
            "--generators", "--out");
    /** Options that only one benchmark reads ({@code --connections} and {@code --servers}: micro and app). */
    private static final Map<String, String> ONLY_FOR = Map.of("--clients", "micro", "--messages", "micro",
            "--flows", "receiver", "--generators", "receiver");
    private static final List<Integer> TCP_SIZES = List.of(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384);
    /** The tunnel link's MTU: receiver datagrams must fit it unfragmented. */
    private static final int TUNNEL_LINK_MTU = 1500;

    private final PrintStream out;
    private final PrintStream err;
    private final Predicate<String> onPath;
    private final String user;

    public BenchCommand(PrintStream out, PrintStream err) {
        this(out, err, tool -> Executables.find(tool).isPresent(), System.getProperty("user.name"));
    }

    /** For tests: how to tell a tool is installed, and who runs the command. */
    BenchCommand(PrintStream out, PrintStream err, Predicate<String> onPath, String user) {
        this.out = out;
        this.err = err;
        this.onPath = onPath;
        this.user = user;
    }

    /** {@code flowsec bench state}: engine only, no test bed. */
    private int runState(List<String> args) throws Exception {
        int rounds = 3;
        int seconds = 5;
        int warmup = 1;
        Path directory = Path.of("/var/tmp");
        for (int i = 0; i < args.size(); i += 2) {
            String option = args.get(i);
            if (i + 1 >= args.size()) {
                throw new UsageException(option + " needs a value");
            }
            String value = args.get(i + 1);
            switch (option) {
                case "--rounds" -> rounds = positive(option, value, 100);
                case "--seconds" -> seconds = positive(option, value, 3600);
                case "--warmup" -> warmup = positive(option, value, 3600);
                case "--dir" -> directory = Path.of(value);
                default -> throw new UsageException("unknown option " + option + " for bench state");
            }
        }
        out.println("flowsec bench state on " + MachineInfo.describe() + ", state in " + directory);
        io.flowsec.testbed.bench.StateBenchmark.run(rounds, seconds, warmup, directory, out);
        return 0;
    }

    /** {@code flowsec bench api}: the test bed with router B's API under wrk's load, and without. */
    private int runApi(List<String> args) throws Exception {
        int rounds = 3;
        int seconds = 10;
        int connections = 16;
        int clientNice = 19;
        int delayMs = 0;
        for (int i = 0; i < args.size(); i += 2) {
            String option = args.get(i);
            if (i + 1 >= args.size()) {
                throw new UsageException(option + " needs a value");
            }
            switch (option) {
                case "--rounds" -> rounds = positive(option, args.get(i + 1), 100);
                case "--seconds" -> seconds = positive(option, args.get(i + 1), 3600);
                case "--connections" -> connections = positive(option, args.get(i + 1), 1000);
                case "--client-nice" -> clientNice = number(option, args.get(i + 1), 0, 19);
                case "--delay-ms" -> delayMs = number(option, args.get(i + 1), 0, 60_000);
                default -> throw new UsageException("unknown option " + option + " for bench api");
            }
        }
        if (!"root".equals(user)) {
            throw new UsageException("bench api needs root (network namespaces, TUN devices): run it with sudo");
        }
        List<String> leftovers = Topology.leftovers(BenchTestBed.PREFIX);
        if (!leftovers.isEmpty()) {
            throw new UsageException("namespaces of another benchmark are present: " + leftovers);
        }
        ensureInstalled("wrk", "wrk");
        out.println("flowsec bench api on " + MachineInfo.describe());
        Path work = Files.createTempDirectory("flowsec-bench-api");
        try (CleanupOnExit cleanup = new CleanupOnExit("flowsec bench api", err)) {
            cleanup.add(() -> Topology.removeAll(BenchTestBed.PREFIX));
            cleanup.addDirectory(work);
            io.flowsec.testbed.bench.ApiLoadBenchmark.run(rounds, seconds, connections, clientNice, delayMs, work, cleanup, out);
        }
        return 0;
    }

    /** {@code flowsec bench balance}'s options; every value checked before anything is built. */
    static BalanceOptions parseBalance(List<String> args) throws UsageException {
        List<String> policies = BalanceOptions.POLICIES;
        int seconds = BalanceOptions.DEFAULT_SECONDS;
        int rate = BalanceOptions.DEFAULT_RATE;
        int laneCpuPercent = BalanceOptions.DEFAULT_LANE_CPU_PERCENT;
        Path outDirectory = Path.of("bench-results", "balance");
        int burstOnMs = BalanceOptions.DEFAULT_BURST_ON_MS;
        int burstOffMs = BalanceOptions.DEFAULT_BURST_OFF_MS;
        for (int i = 0; i < args.size(); i += 2) {
            String option = args.get(i);
            if (i + 1 >= args.size()) {
                throw new UsageException(option + " needs a value");
            }
            String value = args.get(i + 1);
            switch (option) {
                case "--policies" -> {
                    policies = List.of(value.split(","));
                    for (String policy : policies) {
                        if (!BalanceOptions.POLICIES.contains(policy)) {
                            throw new UsageException("unknown policy '" + policy + "' (static, sender, receiver)");
                        }
                    }
                    if (Set.copyOf(policies).size() != policies.size()) {
                        throw new UsageException("--policies names a policy twice: " + value);
                    }
                }
                case "--seconds" -> seconds = number(option, value, 2, 3600);
                case "--rate" -> rate = number(option, value, 1000, 1_000_000);
                // the kernel refuses a CFS quota under 1 ms of the throttle's 20 ms period
                case "--lane-cpu-percent" -> laneCpuPercent = number(option, value, 5, 100);
                case "--out" -> outDirectory = Path.of(value);
                case "--bursts" -> {
                    if (value.equals("steady")) {
                        burstOnMs = 0;
                        burstOffMs = 0;
                    } else {
                        String[] onOff = value.split("/", -1);
                        if (onOff.length != 2) {
                            throw new UsageException("--bursts: ON/OFF in milliseconds (100/300) or steady, not " + value);
                        }
                        burstOnMs = number(option, onOff[0], 10, 10_000);
                        burstOffMs = number(option, onOff[1], 10, 10_000);
                    }
                }
                default -> throw new UsageException(option.startsWith("-") ? "unknown option " + option + " for bench balance"
                        : "unexpected argument " + option);
            }
        }
        return new BalanceOptions(policies, seconds, rate, laneCpuPercent, outDirectory, burstOnMs, burstOffMs);
    }

    /** {@code flowsec bench balance}: each policy's recovery from an imbalance, on a fresh pair of clustered routers. */
    private int runBalance(List<String> args) throws Exception {
        // 1. checks
        BalanceOptions options = parseBalance(args.subList(1, args.size()));
        if (!"root".equals(user)) {
            throw new UsageException("bench balance needs root (network namespaces, TUN devices, cgroups): run it with sudo");
        }
        refuseLeftovers();
        if (!LaneThrottle.available()) {
            throw new UsageException("bench balance throttles a lane through the cgroup v1 cpu controller, and "
                    + LaneThrottle.CPU_CONTROLLER + " is missing or not writable");
        }
        ensureInstalled("curl", "curl");
        ensureFonts();

        // 2. the runs
        String machine = MachineInfo.describe();
        String commandLine = "flowsec bench " + String.join(" ", args);
        out.println("flowsec bench balance on " + machine);
        Files.createDirectories(options.out());
        Path work = Files.createTempDirectory("flowsec-bench-balance");
        Map<String, List<BalanceSample>> timelines = new LinkedHashMap<>();
        Exception failure = null;
        try (CleanupOnExit cleanup = new CleanupOnExit("flowsec bench balance", err)) {
            cleanup.add(() -> Topology.removeAll(BenchTestBed.PREFIX)); // last: a test bed Ctrl-C caught half-built
            cleanup.addDirectory(work);
            BalanceBenchmark.run(options, work, cleanup, out, timelines);
        } catch (Exception e) {
            failure = e;
        }

        // 3. results, also the policies measured before a failure
        timelines.values().removeIf(List::isEmpty);
        if (!timelines.isEmpty()) {
            BalanceResults.Setup setup = new BalanceResults.Setup(BalanceBenchmark.FLOWS, options.rate(),
                    BalanceBenchmark.PAYLOAD_BYTES, options.laneCpuPercent(), BalanceBenchmark.LOADED_LANE,
                    BalanceBenchmark.BEFORE_SECONDS, BalanceBenchmark.afterSeconds(options.seconds()), options.seconds(),
                    BalanceBenchmark.SAMPLE_MS, options.traffic());
            String summary = BalanceResults.write(options.out(), machine, commandLine, setup, timelines);
            out.println();
            out.print(summary);
            out.println("flowsec bench balance: " + (failure == null ? "" : "partial ") + "results in "
                    + options.out().toAbsolutePath());
        }
        if (failure != null) {
            throw failure;
        }
        return 0;
    }

    /** {@code flowsec bench tunnel}'s options; every value checked before anything is built. */
    static TunnelOptions parseTunnel(List<String> args) throws UsageException {
        List<String> tunnels = TunnelOptions.TUNNELS;
        List<TunnelTest> tests = List.of(TunnelTest.values());
        int seconds = TunnelOptions.DEFAULT_SECONDS;
        int warmup = TunnelOptions.DEFAULT_WARMUP_SECONDS;
        int lanes = Runtime.getRuntime().availableProcessors();
        EspSuite suite = TunnelOptions.DEFAULT_SUITE;
        Path outDirectory = TunnelOptions.DEFAULT_OUT;
        JsonObject applianceConfig = new JsonObject();
        int rounds = 1;
        for (int i = 0; i < args.size(); i += 2) {
            String option = args.get(i);
            if (!option.startsWith("-")) {
                throw new UsageException("unexpected argument " + option);
            }
            if (i + 1 >= args.size()) {
                throw new UsageException(option + " needs a value");
            }
            String value = args.get(i + 1);
            switch (option) {
                case "--tunnels" -> {
                    tunnels = List.of(value.split(",", -1));
                    for (String tunnel : tunnels) {
                        if (!TunnelOptions.KNOWN_TUNNELS.contains(tunnel)) {
                            throw new UsageException("unknown tunnel '" + tunnel + "' ("
                                    + String.join(", ", TunnelOptions.KNOWN_TUNNELS) + ")");
                        }
                    }
                    if (Set.copyOf(tunnels).size() != tunnels.size()) {
                        throw new UsageException("--tunnels names a tunnel twice: " + value);
                    }
                }
                case "--tests" -> {
                    List<TunnelTest> parsed = new ArrayList<>();
                    for (String id : value.split(",", -1)) {
                        try {
                            parsed.add(TunnelTest.of(id));
                        } catch (IllegalArgumentException e) {
                            throw new UsageException(e.getMessage());
                        }
                    }
                    if (Set.copyOf(parsed).size() != parsed.size()) {
                        throw new UsageException("--tests names a test twice: " + value);
                    }
                    tests = parsed;
                }
                case "--seconds" -> seconds = number(option, value, 1, 3600);
                case "--warmup" -> warmup = number(option, value, 0, 600);
                case "--lanes" -> lanes = number(option, value, 1, 128);
                case "--rounds" -> rounds = number(option, value, 1, 20);
                case "--suite" -> {
                    try {
                        suite = EspSuite.fromConfigName(value);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("unknown suite '" + value + "' (" + EspSuite.knownNames() + ")");
                    }
                }
                case "--appliance-config" -> {
                    try {
                        applianceConfig = new JsonObject(value);
                    } catch (RuntimeException e) {
                        throw new UsageException("--appliance-config must be a JSON object, e.g. '{\"tunnelMtu\": 1500}', got "
                                + value);
                    }
                    if (applianceConfig.containsKey("mode")) {
                        throw new UsageException("--appliance-config cannot set mode: each flowsec tunnel is named by its mode");
                    }
                }
                case "--out" -> outDirectory = Path.of(value);
                default -> throw new UsageException("unknown option " + option + " for bench tunnel");
            }
        }
        return new TunnelOptions(tunnels, tests, seconds, warmup, lanes, suite, outDirectory, applianceConfig, rounds);
    }

    /** {@code flowsec bench tunnel}: flowsec, wireguard-go and plain routing through the same tests in one run. */
    private int runTunnel(List<String> args) throws Exception {
        // 1. checks
        TunnelOptions options = parseTunnel(args.subList(1, args.size()));
        if (!"root".equals(user)) {
            throw new UsageException("bench tunnel needs root (network namespaces, TUN devices): run it with sudo");
        }
        refuseLeftovers();
        if (options.runsIperf()) {
            ensureInstalled("iperf3", "iperf3");
        }
        if (options.runs(TunnelOptions.WIREGUARD)) {
            ensureInstalled("wireguard-go", "wireguard-go");
            ensureInstalled("wg", "wireguard-tools");
        }
        if (options.runsHttp()) {
            ensureInstalled("nginx", "nginx");
            ensureInstalled("ab", "apache2-utils");
        }
        ensureFonts();

        // 2. the tunnels, one after the other
        String machine = MachineInfo.describe();
        String commandLine = "flowsec bench " + String.join(" ", args);
        out.println("flowsec bench tunnel on " + machine);
        out.printf("flowsec bench tunnel: %d tunnels x %d tests of %d s (+%d s warm-up per tunnel)%s%n",
                options.tunnels().size(), options.tests().size(), options.seconds(), options.warmupSeconds(),
                options.rounds() > 1 ? ", " + options.rounds() + " rounds" : "");
        Files.createDirectories(options.out());
        Path work = Files.createTempDirectory("flowsec-bench-tunnel");
        List<TunnelResult> results = new ArrayList<>();
        Exception failure = null;
        try (CleanupOnExit cleanup = new CleanupOnExit("flowsec bench tunnel", err)) {
            cleanup.add(() -> Topology.removeAll(BenchTestBed.PREFIX)); // last: a test bed Ctrl-C caught half-built
            cleanup.addDirectory(work);
            TunnelBenchmark.run(options, work, cleanup, out, results);
        } catch (Exception e) {
            failure = e;
        }

        // 3. results, also those measured before a failure
        if (!results.isEmpty()) {
            if (options.rounds() > 1) {
                Files.writeString(options.out().resolve("tunnel-rounds.csv"), TunnelReport.csv(results));
            }
            String summary = TunnelReport.write(options.out(), machine, commandLine, options.setup(),
                    TunnelResult.medians(results));
            out.println();
            out.print(summary);
            out.println("flowsec bench tunnel: " + (failure == null ? "" : "partial ") + "results in "
                    + options.out().toAbsolutePath());
        }
        if (failure != null) {
            throw failure;
        }
        return 0;
    }

    /** Refuses to run beside another benchmark's or demo's namespaces (they share names and CPUs). */
    private static void refuseLeftovers() throws IOException, InterruptedException, UsageException {
        List<String> leftovers = new ArrayList<>(Topology.leftovers(BenchTestBed.PREFIX));
        leftovers.addAll(Topology.leftovers("fsdemo"));
        if (!leftovers.isEmpty()) {
            throw new UsageException("namespaces of another benchmark or demo are present: " + leftovers
                    + "; if none runs, remove them with: for n in " + String.join(" ", leftovers) + "; do ip netns del $n; done");
        }
    }

    /** The chart's text needs fontconfig and a font. */
    private void ensureFonts() throws IOException, InterruptedException {
        ensureInstalled("fc-list", "fontconfig");
        if (onPath.test("fc-list") && !Files.isDirectory(Path.of("/usr/share/fonts/truetype/dejavu"))) {
            install("fonts-dejavu-core");
        }
    }

    private static int positive(String option, String value, int max) throws UsageException {
        try {
            int number = Integer.parseInt(value);
            if (number >= 1 && number <= max) {
                return number;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException(option + " must be a whole number from 1 to " + max + ", got '" + value + "'");
    }

    public int run(List<String> args) throws Exception {
        if (!args.isEmpty() && args.getFirst().equals("warmstart")) {   // options, help and runner of its own
            return new WarmStartCommand(out, err, user, () -> {
                refuseLeftovers();
                ensureFonts();
            }).run(args.subList(1, args.size()));
        }
        if (args.isEmpty()) {
            err.print(USAGE);
            return 2;
        }
        if (args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        String benchmark = args.getFirst();
        if (benchmark.equals("state")) {
            return runState(args.subList(1, args.size()));
        }
        if (benchmark.equals("api")) {
            return runApi(args.subList(1, args.size()));
        }
        if (benchmark.equals("balance")) {
            return runBalance(args);
        }
        if (benchmark.equals("tunnel")) {
            return runTunnel(args);
        }
        if (!BENCHMARKS.contains(benchmark)) {
            throw new UsageException("unknown benchmark '" + benchmark
                    + "' (micro, app, receiver, state, api, balance or tunnel)");
        }
        BenchOptions options = parse(benchmark, args.subList(1, args.size()));

        // 1. checks
        if (!"root".equals(user)) {
            throw new UsageException("bench needs root (network namespaces, TUN devices): run it with sudo");
        }
        refuseLeftovers();
        if (benchmark.equals("app")) {
            ensureInstalled("nginx", "nginx");
            ensureInstalled("ab", "apache2-utils");
        }
        ensureFonts();

        // 2. the sweep
        String machine = MachineInfo.describe();
        String commandLine = "flowsec bench " + String.join(" ", args);
        out.println("flowsec bench " + benchmark + " on " + machine);
        out.printf("flowsec bench %s: %d points of %d s (+%d s warm-up), suite %s, %d SAs per direction, steering %s%n",
                benchmark, points(benchmark, options), options.seconds(), options.warmupSeconds(),
                options.suite().configName(), options.saCount(), options.steering());
        Files.createDirectories(options.out());
        Path work = Files.createTempDirectory("flowsec-bench");
        List<BenchPoint> points = new ArrayList<>();
        Exception failure = null;
        try (CleanupOnExit cleanup = new CleanupOnExit("flowsec bench", err)) {
            cleanup.add(() -> Topology.removeAll(BenchTestBed.PREFIX)); // last: a test bed Ctrl-C caught half-built
            cleanup.addDirectory(work);
            switch (benchmark) {
                case "micro" -> MicroBenchmark.run(options, work, cleanup, out, points);
                case "app" -> AppBenchmark.run(options, work, cleanup, out, points);
                default -> ReceiverBenchmark.run(options, work, cleanup, out, points);
            }
        } catch (Exception e) {
            failure = e;
        }

        // 3. results, also the points measured before a failure
        if (!points.isEmpty()) {
            String summary = new ResultsWriter(options.out(), machine, commandLine).write(benchmark, title(benchmark),
                    headline(benchmark), points);
            out.println();
            out.print(summary);
            out.println("flowsec bench " + benchmark + ": " + (failure == null ? "" : "partial ") + "results in "
                    + options.out().toAbsolutePath());
        }
        if (failure != null) {
            throw failure;
        }
        return 0;
    }

    private static Headline headline(String benchmark) {
        return switch (benchmark) {
            case "micro" -> Headline.THROUGHPUT;
            case "app" -> Headline.REQUESTS;
            default -> Headline.PACKETS;
        };
    }

    private static String title(String benchmark) {
        return switch (benchmark) {
            case "micro" -> "Micro-benchmark: router B's transmit rate towards host B";
            case "app" -> "Application benchmark: nginx and ApacheBench through the tunnel";
            default -> "Router B alone: ESP packets delivered to host B";
        };
    }

    private static int points(String benchmark, BenchOptions options) {
        int perLaneCount = options.sizes().size() * options.modes().size();
        return benchmark.equals("receiver") ? perLaneCount * options.lanes().size() : perLaneCount;
    }

    /** Parses the options of {@code benchmark}; every value is range-checked here, before anything is built. */
    static BenchOptions parse(String benchmark, List<String> args) throws UsageException {
        boolean receiver = benchmark.equals("receiver");
        int cpus = Runtime.getRuntime().availableProcessors();
        EspSuite suite = EspSuite.AES_CBC_128_HMAC_SHA1_96;
        List<Integer> sizes = null;
        List<String> modes = List.of("single", "pcrypt", "flow");
        List<Integer> lanes = receiver ? (cpus > 1 ? List.of(1, cpus) : List.of(1)) : List.of(cpus);
        int seconds = switch (benchmark) {
            case "micro" -> 15;
            case "app" -> 10;
            default -> 5;
        };
        int warmup = switch (benchmark) {
            case "micro" -> 3;
            case "app" -> 2;
            default -> 1;
        };
        String steering = "director";
        Integer sas = null;
        int clients = 4;
        int connections = benchmark.equals("app") ? 256 : 64;
        int messages = 10;
        int servers = cpus;
        int flows = 64;
        int generators = 1;
        Path outDirectory = Path.of("bench-results", benchmark);
        for (int i = 0; i < args.size(); i++) {
            String option = args.get(i);
            if (!OPTIONS.contains(option)) {
                throw new UsageException(option.startsWith("-") ? "unknown option " + option : "unexpected argument " + option);
            }
            if (!ONLY_FOR.getOrDefault(option, benchmark).equals(benchmark)) {
                throw new UsageException(option + " applies to " + ONLY_FOR.get(option) + " only");
            }
            if ((option.equals("--connections") || option.equals("--servers")) && receiver) {
                throw new UsageException(option + " applies to micro and app only");
            }
            if (i + 1 >= args.size()) {
                throw new UsageException(option + " needs a value");
            }
            String value = args.get(++i);
            switch (option) {
                case "--sizes" -> sizes = numbers(option, value, 1, 1 << 20);
                case "--modes" -> {
                    modes = List.of(value.split(","));
                    for (String mode : modes) {
                        if (!List.of("single", "pcrypt", "flow").contains(mode)) {
                            throw new UsageException("unknown mode '" + mode + "' (single, pcrypt, flow)");
                        }
                    }
                }
                case "--seconds" -> seconds = number(option, value, 1, 3600);
                case "--warmup" -> warmup = number(option, value, 0, 600);
                case "--lanes" -> {
                    lanes = numbers(option, value, 1, 256);
                    if (!receiver && lanes.size() != 1) {
                        throw new UsageException("--lanes takes one count for " + benchmark + " (a list only for receiver)");
                    }
                }
                case "--steering" -> {
                    if (!List.of("director", "rss").contains(value)) {
                        throw new UsageException("--steering must be director or rss");
                    }
                    steering = value;
                }
                case "--suite" -> {
                    try {
                        suite = EspSuite.fromConfigName(value);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("unknown suite '" + value + "' (" + EspSuite.knownNames() + ")");
                    }
                }
                case "--sas" -> sas = number(option, value, 1, 1000);
                case "--clients" -> clients = number(option, value, 1, 256);
                case "--connections" -> connections = number(option, value, 1, 20000);
                case "--messages" -> messages = number(option, value, 1, 1_000_000);
                case "--servers" -> servers = number(option, value, 1, 256);
                case "--flows" -> flows = number(option, value, 1, 45000);
                case "--generators" -> generators = number(option, value, 1, 64);
                case "--out" -> outDirectory = Path.of(value);
                default -> throw new UsageException("unknown option " + option);
            }
        }
        int largestDatagram = largestReceiverPayload(suite);
        if (sizes == null) {
            sizes = receiver ? List.of(64, 128, 256, 512, 1024, largestDatagram) : TCP_SIZES;
        }
        if (receiver) {
            for (int size : sizes) {
                if (size > largestDatagram) {
                    throw new UsageException("receiver size " + size + " does not fit the 1500-byte tunnel link with "
                            + suite.configName() + ": at most " + largestDatagram);
                }
            }
        }
        int maxLanes = lanes.stream().mapToInt(Integer::intValue).max().orElse(1);
        int saCount = sas != null ? sas : Math.max(4, 2 * maxLanes);
        return new BenchOptions(sizes, modes, lanes, seconds, warmup, steering, suite, saCount, clients, connections,
                messages, servers, flows, generators, outDirectory);
    }

    /** The largest inner UDP payload whose ESP-in-UDP datagram fits the tunnel link's MTU unfragmented. */
    static int largestReceiverPayload(EspSuite suite) {
        int payload = TUNNEL_LINK_MTU;
        while (payload > 0 && 20 + 8 + suite.overhead(28 + payload) + 28 + payload > TUNNEL_LINK_MTU) {
            payload--;
        }
        return payload;
    }

    private static List<Integer> numbers(String option, String value, int min, int max) throws UsageException {
        List<Integer> numbers = new ArrayList<>();
        for (String part : value.split(",")) {
            numbers.add(number(option, part.strip(), min, max));
        }
        return List.copyOf(numbers);
    }

    private static int number(String option, String value, int min, int max) throws UsageException {
        try {
            int number = Integer.parseInt(value);
            if (number < min || number > max) {
                throw new UsageException(option + " must be " + min + "-" + max + ", got " + value);
            }
            return number;
        } catch (NumberFormatException e) {
            throw new UsageException(option + " must be a number (or a comma-separated list where it takes one), got '"
                    + value + "'");
        }
    }

    /** Installs {@code debianPackage} with apt-get when {@code tool} is not on the PATH, failing clearly if it cannot. */
    private void ensureInstalled(String tool, String debianPackage) throws IOException, InterruptedException {
        if (onPath.test(tool)) {
            return;
        }
        out.println("flowsec bench: " + tool + " is missing, installing " + debianPackage + " with apt-get");
        install(debianPackage);
        if (!onPath.test(tool)) {
            throw new IOException("installed " + debianPackage + " but " + tool + " is still missing");
        }
    }

    private void install(String debianPackage) throws IOException, InterruptedException {
        // never waits for an answer: no terminal, no debconf questions, bounded in time
        Path log = Files.createTempFile("flowsec-apt", ".log");
        try {
            ProcessBuilder builder = new ProcessBuilder("apt-get", "install", "-y", "-q", "--no-install-recommends",
                    debianPackage).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            builder.environment().put("DEBIAN_FRONTEND", "noninteractive");
            Process process = builder.start();
            boolean finished = process.waitFor(10, TimeUnit.MINUTES);
            if (!finished) {
                process.destroyForcibly();
            }
            if (!finished || process.exitValue() != 0) {
                String last = Files.readString(log).strip().lines().reduce((a, b) -> b).orElse("");
                throw new IOException("could not install " + debianPackage + " (apt-get install " + debianPackage + "): "
                        + (finished ? last : "apt-get did not finish in 10 minutes"));
            }
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
