package io.flowsec.testbed.bench.warmstart;

import io.flowsec.appliance.warmstart.AotCache;
import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;
import io.flowsec.testbed.demo.TrafficGenerator;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code flowsec bench warmstart}: fresh starts of the test bed's routers without the AOT cache and with it, each
 * measured by {@link #measure} (ready times, first pings, the first seconds of traffic in 100-ms windows).
 * <ol>
 *   <li>the cache: the one given or beside the class path's first jar, recorded now when it is missing or stale;</li>
 *   <li>one unmeasured start, without the cache, so that this JVM's traffic generator and sampling are warm for the
 *       measured ones (the routers are fresh processes each time; this JVM is not);</li>
 *   <li>the rounds, the variants' order rotating from round to round.</li>
 * </ol>
 */
public final class WarmStartBenchmark {
    /** How often router B's counters are read, and the windows' length. */
    public static final long WINDOW_MS = 100;
    private static final int TRAFFIC_PORT = 7000;
    private static final int SENDERS = 2;
    private static final Pattern PING_TIME = Pattern.compile("icmp_seq=(\\d+) .*time=([0-9.]+) ms");

    /** The cache used, and whether it was recorded now (how long that took), for the summary. */
    public record Cache(Path path, long bytes, long recordedNowMs) {
        public String describe() {
            return path + " (" + (bytes >> 20) + " MB" + (recordedNowMs >= 0
                    ? ", recorded now in " + String.format(Locale.ROOT, "%.1f", recordedNowMs / 1000.0) + " s)"
                    : ", recorded by the build)");
        }
    }

    private WarmStartBenchmark() {
    }

    /** The cache the variants with one start with: current, or recorded now; empty when no variant uses one. */
    public static Optional<Cache> prepareCache(WarmStartOptions options, String classPath, PrintStream out)
            throws IOException, InterruptedException {
        if (!options.usesCache()) {
            return Optional.empty();
        }
        if (AotCache.classPathFiles(classPath).isEmpty()) {
            throw new IOException("no AOT cache can serve the class path " + classPath + " (directories, or missing "
                    + "jars: the JVM caches classes from jars only); give --classpath the test bed's jar");
        }
        Path cache = options.cache().orElseGet(() -> ApplianceProcess.cacheFor(classPath).orElseThrow());
        if (AotCache.isCurrent(cache, classPath, ApplianceProcess.javaHome())) {
            return Optional.of(new Cache(cache, Files.size(cache), -1));
        }
        out.printf("flowsec bench warmstart: recording the AOT cache %s (training %d s)...%n", cache, options.trainSeconds());
        AotCache.Recorded recorded = ApplianceProcess.recordCache(classPath, cache, options.trainSeconds(),
                cache.resolveSibling(cache.getFileName() + ".log"));
        return Optional.of(new Cache(cache, recorded.bytes(), recorded.millis()));
    }

    /** Runs every start: the unmeasured one, then the rounds; each measured run is added to {@code runs} at once. */
    public static void run(WarmStartOptions options, String classPath, Optional<Cache> cache, Path work,
                           CleanupOnExit cleanup, PrintStream out, List<WarmStartRun> runs)
            throws IOException, InterruptedException {
        ApplianceProcess.Jvm without = new ApplianceProcess.Jvm(classPath, Optional.empty());
        out.println("flowsec bench warmstart: an unmeasured start first (warms this JVM, which sends the traffic)");
        measure(options, without, 0, "warm-up", -1, work, cleanup, Math.min(3, options.seconds()));
        for (int round = 0; round < options.rounds(); round++) {
            for (String variant : options.order(round)) {
                ApplianceProcess.Jvm jvm = switch (variant) {
                    case WarmStartOptions.WITHOUT -> without;
                    case WarmStartOptions.WITH, WarmStartOptions.WARM -> without.withCache(cache.orElseThrow().path());
                    case WarmStartOptions.EAGER -> without.withCache(cache.orElseThrow().path())
                            .withOptions(List.of("-XX:+UnlockExperimentalVMOptions", "-XX:+AOTCompileEagerly"));
                    default -> without.withCache(cache.orElseThrow().path()).withOptions(options.experimentOptions());
                };
                int warmUp = variant.equals(WarmStartOptions.WARM) ? options.warmUpSeconds() : 0;
                WarmStartRun run = measure(options, jvm, warmUp, variant, round, work, cleanup, options.seconds());
                runs.add(run);
                WarmStartFigures figures = WarmStartFigures.of(run, options.seconds(), options.steadySeconds());
                out.printf(Locale.ROOT, "  round %d, %-7s: ready A %d ms, B %d ms; first ping %.2f ms; first second "
                                + "%,.0f pkt/s, steady %,.0f pkt/s (%.2f); settled after %.1f s; router B's CPU per "
                                + "packet %.2f µs in the first second, %.2f µs steady%n", round + 1, variant,
                        run.readyMsA(), run.readyMsB(), figures.firstPingMs(), figures.firstSecondRate(),
                        figures.steadyRate(), figures.ratio(), figures.settledAfterS(),
                        figures.firstSecondCpuNsPerPacket() / 1000, figures.steadyCpuNsPerPacket() / 1000);
            }
        }
    }

    /**
     * One start of the test bed on {@code jvm}, each router warming up for {@code warmUpSeconds} (0: none) at start:
     * ready times, pings, then {@code seconds} of traffic sampled.
     */
    static WarmStartRun measure(WarmStartOptions options, ApplianceProcess.Jvm jvm, int warmUpSeconds, String variant,
                                int round, Path work, CleanupOnExit cleanup, int seconds)
            throws IOException, InterruptedException {
        Path directory = Files.createDirectories(work.resolve(variant + "-" + round));
        BenchTestBed.Settings settings = new BenchTestBed.Settings(options.suite(), Math.max(4, 2 * options.lanes()),
                options.lanes(), options.lanes(), "director", BenchTestBed.ReturnPath.TUNNELLED, true);
        BenchTestBed bed = cleanup.add(BenchTestBed.start(settings, directory, (router, config) -> {
            if (warmUpSeconds > 0) {
                config.put("warmUpSeconds", warmUpSeconds);
            }
        }, jvm));
        try {
            long readyA = bed.routerA().readyMillis();
            long readyB = bed.routerB().readyMillis();
            List<Double> pings = ping(bed.topology().hostA(), options.pings());
            List<WarmStartRun.Window> windows = new ArrayList<>();
            try (TrafficGenerator traffic = TrafficGenerator.start(TrafficGenerator.Kind.UDP, bed.topology().hostA(),
                    bed.topology().hostB(), Topology.HOST_A_ADDRESS, Topology.HOST_B_ADDRESS, TRAFFIC_PORT,
                    options.flows(), options.size(), SENDERS)) {
                sample(bed, traffic, seconds, windows);
            }
            return new WarmStartRun(variant, round, readyA, readyB, pings, windows);
        } catch (IOException | RuntimeException e) {
            throw new IOException(e.getMessage() + "\n" + bed.logs(), e);
        } finally {
            cleanup.closeNow(bed);
        }
    }

    /**
     * The datagrams host B's sink received, read every {@link #WINDOW_MS} from now for {@code seconds}, with router B's
     * CPU time: both read here, at once and without asking router B anything while it warms up.
     */
    private static void sample(BenchTestBed bed, TrafficGenerator traffic, int seconds, List<WarmStartRun.Window> windows)
            throws InterruptedException {
        long startNs = System.nanoTime();
        long previousNs = startNs;
        long previousPackets = traffic.receivedPackets();
        long previousCpu = bed.routerB().cpuNanos();
        long endNs = startNs + TimeUnit.SECONDS.toNanos(seconds);
        for (long k = 1; ; k++) {
            long dueNs = startNs + TimeUnit.MILLISECONDS.toNanos(k * WINDOW_MS);
            if (dueNs > endNs) {
                break;
            }
            long sleepNs = dueNs - System.nanoTime();
            if (sleepNs > 0) {
                TimeUnit.NANOSECONDS.sleep(sleepNs);
            }
            long packets = traffic.receivedPackets();
            long nowNs = System.nanoTime();
            long cpu = bed.routerB().cpuNanos();
            windows.add(new WarmStartRun.Window((previousNs - startNs) / 1e9, (nowNs - startNs) / 1e9,
                    packets - previousPackets, cpu - previousCpu));
            previousNs = nowNs;
            previousPackets = packets;
            previousCpu = cpu;
        }
    }

    /** {@code count} pings from {@code hostA} to host B, 0.1 s apart: each one's round trip in ms, NaN when lost. */
    static List<Double> ping(String hostA, int count) throws IOException, InterruptedException {
        if (count == 0) {
            return List.of();
        }
        Process process = new ProcessBuilder("ip", "netns", "exec", hostA, "ping", "-n", "-c", Integer.toString(count),
                "-i", "0.1", "-W", "1", Topology.HOST_B_ADDRESS).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        process.waitFor(count + 10L, TimeUnit.SECONDS);
        return parsePings(output, count);
    }

    /** The round trip of each of {@code count} pings in {@code ping}'s output, by sequence number; NaN when lost. */
    static List<Double> parsePings(String output, int count) {
        List<Double> times = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            times.add(Double.NaN);
        }
        Matcher matcher = PING_TIME.matcher(output);
        while (matcher.find()) {
            int sequence = Integer.parseInt(matcher.group(1));
            if (sequence >= 1 && sequence <= count) {
                times.set(sequence - 1, Double.parseDouble(matcher.group(2)));
            }
        }
        return times;
    }
}
