package io.flowsec.testbed.bench.tunnel;

import io.flowsec.testbed.bench.ApacheBench;
import io.flowsec.testbed.bench.NginxServer;
import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code flowsec bench tunnel}: the same tests through flowsec and through what a user would compare it with, in one
 * run on one machine. For each round ({@code --rounds}), for each tunnel in turn:
 * <ol>
 *   <li>a fresh test bed with the tunnel up (namespaces, and wireguard-go or the flowsec appliances);</li>
 *   <li>host A pings host B through it;</li>
 *   <li>the servers in host B: iperf3, and nginx with the HTTP tests' files (from tmpfs);</li>
 *   <li>the warm-up: the first test, unmeasured, for {@code --warmup} seconds (the JVMs' JIT, ARP, a WireGuard
 *       handshake);</li>
 *   <li>each test from host A, with the CPU time of each router's tunnel processes read around it;</li>
 *   <li>everything of this tunnel stopped and removed before the next one starts.</li>
 * </ol>
 */
public final class TunnelBenchmark {
    /** ab's concurrent clients, as {@code flowsec bench app}'s default. */
    public static final int HTTP_CONCURRENCY = 256;
    public static final int HTTP_PORT = 80;
    private static final int PING_TRIES = 10;
    /** Where iperf3's JSON reports are kept, in the results directory: {@code TUNNEL-TEST.json}. */
    public static final String IPERF3_REPORTS = "iperf3";

    private TunnelBenchmark() {
    }

    /** Runs every test through every tunnel, adding each result to {@code results} as soon as it is measured. */
    public static void run(TunnelOptions options, Path work, CleanupOnExit cleanup, PrintStream progress,
                           List<TunnelResult> results) throws IOException, InterruptedException {
        Path www = options.runsHttp() ? Files.createTempDirectory(Path.of("/dev/shm"), "flowsec-bench-nginx") : null;
        if (www != null) {
            cleanup.addDirectory(www);
        }
        List<Integer> fileSizes = options.tests().stream().filter(t -> !t.isIperf()).map(TunnelTest::fileBytes).toList();
        Path reports = options.runsIperf() ? Files.createDirectories(options.out().resolve(IPERF3_REPORTS)) : null;
        for (int round = 1; round <= options.rounds(); round++) {
            if (options.rounds() > 1) {
                progress.printf("round %d of %d%n", round, options.rounds());
            }
            String reportSuffix = options.rounds() > 1 ? "-" + round : "";
            // each round's tunnels start afresh: keys, SA state and logs of their own
            Path roundWork = options.rounds() > 1 ? Files.createDirectories(work.resolve("round-" + round)) : work;
            for (String name : options.tunnels()) {
                runTunnel(name, options, roundWork, cleanup, progress, results, www, fileSizes, reports, reportSuffix);
            }
        }
    }

    /** One tunnel's part of a round: steps 1 to 6. */
    private static void runTunnel(String name, TunnelOptions options, Path work, CleanupOnExit cleanup,
                                  PrintStream progress, List<TunnelResult> results, Path www, List<Integer> fileSizes,
                                  Path reports, String reportSuffix) throws IOException, InterruptedException {
        {
            // 1. the tunnel
            progress.printf("%s: starting%n", name);
            Tunnel tunnel = cleanup.add(start(name, options, work));
            Iperf3Server iperf = null;
            NginxServer nginx = null;
            try {
                Topology topology = tunnel.topology();
                // 2. through it
                awaitPath(topology);
                // 3. servers
                if (options.runsIperf()) {
                    iperf = cleanup.add(Iperf3Server.start(topology.hostB(), Topology.HOST_B_ADDRESS, Iperf3Server.PORT,
                            work.resolve(name + "-iperf3.log")));
                }
                if (www != null) {
                    nginx = cleanup.add(NginxServer.start(topology.hostB(), Topology.HOST_B_ADDRESS, HTTP_PORT,
                            Runtime.getRuntime().availableProcessors(), fileSizes, www));
                }
                // 4. warm-up
                if (options.warmupSeconds() > 0) {
                    TunnelTest first = options.tests().getFirst();
                    measure(tunnel, first, options.warmupSeconds(), nginx, null);
                    progress.printf("%s: warmed up with %d s of %s%n", name, options.warmupSeconds(), first.label());
                }
                // 5. the tests
                for (TunnelTest test : options.tests()) {
                    TunnelResult result = measure(tunnel, test, options.seconds(), nginx,
                            test.isIperf() ? reports.resolve(name + "-" + test.id() + reportSuffix + ".json") : null);
                    results.add(result);
                    progress.printf(Locale.ROOT, "%-9s  %-15s %12s %-10s  router CPU A %s  B %s cores%s%n", name,
                            test.label(), TunnelReport.value(result.value()), test.unit(), cores(result.routerACores()),
                            cores(result.routerBCores()), result.note().isEmpty() ? "" : "  (" + result.note() + ")");
                }
            } catch (IOException e) {
                throw new IOException(name + ": " + e.getMessage() + logTail(tunnel), e);
            } finally {
                // 6. the next tunnel starts on a clean machine
                if (nginx != null) {
                    cleanup.closeNow(nginx);
                }
                if (iperf != null) {
                    cleanup.closeNow(iperf);
                }
                cleanup.closeNow(tunnel);
            }
        }
    }

    static Tunnel start(String name, TunnelOptions options, Path work) throws IOException, InterruptedException {
        return switch (name) {
            case TunnelOptions.PLAIN -> PlainRouting.start();
            case TunnelOptions.WIREGUARD -> WireguardTunnel.start(work);
            default -> {
                if (!TunnelOptions.isFlowsec(name)) {
                    throw new IllegalArgumentException("unknown tunnel " + name);
                }
                yield FlowsecTunnel.start(name, options, work);
            }
        };
    }

    /** Waits until host A reaches host B (a WireGuard handshake, the appliances' first packets); fails after 10 s. */
    private static void awaitPath(Topology topology) throws IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            try {
                Topology.run("ip", "netns", "exec", topology.hostA(), "ping", "-c", "1", "-W", "1", "-q",
                        Topology.HOST_B_ADDRESS);
                return;
            } catch (IOException e) {
                if (attempt == PING_TRIES) {
                    throw new IOException("host A cannot reach host B through the tunnel: " + e.getMessage(), e);
                }
            }
        }
    }

    /** One test from host A, with the routers' CPU time read before and after it; iperf3's report kept in {@code report}. */
    private static TunnelResult measure(Tunnel tunnel, TunnelTest test, int seconds, NginxServer nginx, Path report)
            throws IOException, InterruptedException {
        Topology topology = tunnel.topology();
        CpuReading before = CpuReading.of(tunnel);
        double value;
        String note = "";
        if (test.isIperf()) {
            Iperf3.Result r = Iperf3.run(topology.hostA(), Topology.HOST_B_ADDRESS, Iperf3Server.PORT, seconds,
                    test.iperfArguments(), report);
            value = test == TunnelTest.UDP64 ? r.packetsPerSecond() : r.gigabitsPerSecond();
        } else {
            ApacheBench.Result r = ApacheBench.run(topology.hostA(), nginx.url(test.fileBytes()), HTTP_CONCURRENCY,
                    seconds);
            value = r.requestsPerSecond();
            long failed = r.failedRequests() + r.non2xxResponses();
            if (failed > 0) {
                note = failed + " of " + r.completeRequests() + " requests failed";
            }
        }
        CpuReading after = CpuReading.of(tunnel);
        return new TunnelResult(tunnel.name(), test, value, before.routerACoresUntil(after),
                before.routerBCoresUntil(after), note);
    }

    /** The routers' tunnel processes' CPU time at one instant; -1 for a router without any (plain routing). */
    record CpuReading(long wallNanos, long routerANanos, long routerBNanos) {
        static CpuReading of(Tunnel tunnel) throws IOException {
            List<Long> a = tunnel.routerAProcesses();
            List<Long> b = tunnel.routerBProcesses();
            return new CpuReading(System.nanoTime(), a.isEmpty() ? -1 : ProcessCpu.cpuNanos(a),
                    b.isEmpty() ? -1 : ProcessCpu.cpuNanos(b));
        }

        double routerACoresUntil(CpuReading later) {
            return routerANanos < 0 ? Double.NaN
                    : ProcessCpu.cores(later.routerANanos - routerANanos, later.wallNanos - wallNanos);
        }

        double routerBCoresUntil(CpuReading later) {
            return routerBNanos < 0 ? Double.NaN
                    : ProcessCpu.cores(later.routerBNanos - routerBNanos, later.wallNanos - wallNanos);
        }
    }

    private static String cores(double cores) {
        return Double.isNaN(cores) ? TunnelReport.NOT_ATTRIBUTED : String.format(Locale.ROOT, "%.2f", cores);
    }

    /** The last lines of the routers' logs, for a failure message. */
    private static String logTail(Tunnel tunnel) {
        try {
            List<String> lines = tunnel.logs().strip().lines().toList();
            if (lines.isEmpty()) {
                return "";
            }
            return "; routers' logs: " + String.join(" | ", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
