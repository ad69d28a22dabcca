package io.flowsec.testbed.bench.warmstart;

import io.flowsec.appliance.cli.UsageException;
import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.bench.MachineInfo;
import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code flowsec bench warmstart} (README "Warm start"):
 * <ol>
 *   <li>check: the options, root, then what {@code flowsec bench} checks for every benchmark (no other benchmark's or
 *       demo's namespaces, fonts for the chart);</li>
 *   <li>a namespace that keeps other benchmarks away between its starts; the AOT cache, recorded now when the
 *       build's is missing or stale;</li>
 *   <li>the starts ({@link WarmStartBenchmark}), each printed as it is measured;</li>
 *   <li>the CSVs, the chart and the summary ({@link WarmStartResults}), also after a failure for the starts measured;</li>
 *   <li>everything it made removed, Ctrl-C included.</li>
 * </ol>
 */
public final class WarmStartCommand {
    /** What {@code flowsec bench} checks before any benchmark (its namespaces, fonts). */
    public interface Preparation {
        void prepare() throws Exception;
    }

    private final PrintStream out;
    private final PrintStream err;
    private final String user;
    private final Preparation preparation;

    public WarmStartCommand(PrintStream out, PrintStream err, String user, Preparation preparation) {
        this.out = out;
        this.err = err;
        this.user = user;
        this.preparation = preparation;
    }

    public int run(List<String> args) throws Exception {
        if (args.contains("--help") || args.contains("-h")) {
            out.print(WarmStartOptions.USAGE);
            return 0;
        }
        // 1. checks
        WarmStartOptions options = WarmStartOptions.parse(args);
        if (!"root".equals(user)) {
            throw new UsageException("bench warmstart needs root (network namespaces, TUN devices): run it with sudo");
        }
        preparation.prepare();
        String classPath = options.classPath().orElse(System.getProperty("java.class.path"));
        String machine = MachineInfo.describe();
        out.println("flowsec bench warmstart on " + machine);

        Files.createDirectories(options.out());
        Path work = Files.createTempDirectory("flowsec-bench-warmstart");
        List<WarmStartRun> runs = new ArrayList<>();
        Optional<WarmStartBenchmark.Cache> cache = Optional.empty();
        Exception failure = null;
        try (CleanupOnExit cleanup = new CleanupOnExit("flowsec bench warmstart", err)) {
            cleanup.add(() -> Topology.removeAll(BenchTestBed.PREFIX)); // last: a test bed Ctrl-C caught half-built
            cleanup.addDirectory(work);
            // each start builds and removes its own test bed: between two, this namespace tells another benchmark or
            // demo (which checks for the prefix) that the machine is taken
            Topology.run("ip", "netns", "add", BenchTestBed.PREFIX + "-warmstart");

            // 2. the cache
            cache = WarmStartBenchmark.prepareCache(options, classPath, out);
            cache.ifPresent(c -> out.println("flowsec bench warmstart: AOT cache " + c.describe()));

            // 3. the starts
            WarmStartBenchmark.run(options, classPath, cache, work, cleanup, out, runs);
        } catch (Exception e) {
            failure = e;
        }

        // 4. results, also the starts measured before a failure
        if (!runs.isEmpty()) {
            String routers = String.format("router A and router B (%d lanes each, %s, %d SAs per direction, director "
                    + "steering)", options.lanes(), options.suite().configName(), Math.max(4, 2 * options.lanes()));
            WarmStartResults.Setup setup = new WarmStartResults.Setup(machine,
                    "flowsec bench warmstart " + String.join(" ", args), routers, options.flows(), options.size(),
                    options.seconds(), options.steadySeconds(), options.pings(), cache);
            String summary = WarmStartResults.write(options.out(), setup, runs);
            out.println();
            out.print(summary);
            out.println("flowsec bench warmstart: " + (failure == null ? "" : "partial ") + "results in "
                    + options.out().toAbsolutePath());
        }
        if (failure != null) {
            throw failure;
        }
        return 0;
    }
}
