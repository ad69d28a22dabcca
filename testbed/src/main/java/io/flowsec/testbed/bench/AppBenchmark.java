package io.flowsec.testbed.bench;

import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code flowsec bench app}: the paper's application benchmark (§6, Fig. 6 and 7).
 * <ol>
 *   <li>test bed: both directions tunnelled, both routers encrypt and decrypt, both run the mode under test;</li>
 *   <li>nginx in host B serving one static file per size from tmpfs, with keep-alive for 10 requests;</li>
 *   <li>for each size and mode: both routers switch, a short ApacheBench run warms caches and connections, then a
 *       measured run (256 concurrent clients) with router B's counters read around it.</li>
 * </ol>
 */
public final class AppBenchmark {
    public static final int HTTP_PORT = 80;

    private AppBenchmark() {
    }

    /** Runs the sweep, adding each point to {@code points} as soon as it is measured. */
    public static void run(BenchOptions options, Path work, CleanupOnExit cleanup, PrintStream progress,
                           List<BenchPoint> points) throws IOException, InterruptedException {
        // 1. test bed
        int lanes = options.lanes().getFirst();
        BenchTestBed bed = cleanup.add(BenchTestBed.start(new BenchTestBed.Settings(options.suite(), options.saCount(),
                lanes, lanes, options.steering(), BenchTestBed.ReturnPath.TUNNELLED, true), work));
        Topology topology = bed.topology();

        // 2. nginx, its files in memory (tmpfs)
        Path www = Files.createTempDirectory(Path.of("/dev/shm"), "flowsec-bench-nginx");
        cleanup.addDirectory(www);
        NginxServer nginx = cleanup.add(NginxServer.start(topology.hostB(), Topology.HOST_B_ADDRESS, HTTP_PORT,
                options.serverThreads(), options.sizes(), www));

        // 3. each point
        for (int size : options.sizes()) {
            for (String mode : options.modes()) {
                bed.mode(mode, true);
                if (options.warmupSeconds() > 0) {
                    ApacheBench.run(topology.hostA(), nginx.url(size), options.connections(), options.warmupSeconds());
                }
                BenchTestBed.Snapshot before = bed.snapshotB();
                ApacheBench.Result result = ApacheBench.run(topology.hostA(), nginx.url(size), options.connections(),
                        options.seconds());
                BenchTestBed.Snapshot after = bed.snapshotB();
                long failures = result.failedRequests() + result.non2xxResponses();
                BenchPoint point = before.pointUntil(after, mode, options.steering(), size, result.gigabitsPerSecond(),
                        Double.NaN, result.requestsPerSecond(), failures == 0 ? "" : "http-failed=" + failures);
                points.add(point);
                progress.printf("app %6d B  %-6s  %,9.0f requests/s  %7.3f Gbit/s | router B -> host B %,9.0f pkt/s"
                                + " | lanes busy %s | %s%n", size, mode, point.requestsPerSecond(), point.throughputGbps(),
                        point.packetsPerSecond(), Percent.of(point.cpuPerLane()),
                        point.dropReasons().isEmpty() ? "no drops" : point.dropReasons());
            }
        }
        cleanup.closeNow(nginx);
        cleanup.closeNow(bed);
    }
}
