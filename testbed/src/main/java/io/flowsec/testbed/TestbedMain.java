package io.flowsec.testbed;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.cli.UsageException;
import io.flowsec.appliance.warmstart.AotCache;
import io.flowsec.appliance.warmstart.Training;
import io.flowsec.testbed.cli.BenchCommand;
import io.flowsec.testbed.cli.DemoCommand;
import io.flowsec.testbed.demo.ApplianceProcess;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The lab's command line: {@code flowsec demo} and {@code flowsec bench}, which the {@code ./flowsec} launcher routes
 * here. Never part of the appliance. Errors are reported as the appliance's are ({@link Main#reportingErrors}): one
 * line on stderr, exit status 2 for bad usage, 1 for a failure while running.
 */
public final class TestbedMain {
    public static final String USAGE = """
            flowsec %s test bed: the paper's test bed and evaluation on this machine (not part of the appliance).

            Usage: flowsec demo|bench [ARGS]

            Commands:
              demo [OPTIONS]                               the paper's test bed, live (root; 'flowsec demo --help')
              bench micro|app|receiver [OPTIONS]           the paper's evaluation as CSV, chart and summary (root;
                                                           'flowsec bench --help')
              --help                                       this text; 'flowsec --help' for the appliance's commands

            Exit status: 0 success, 1 failure while running, 2 bad usage.
            """.formatted(Main.VERSION);

    private TestbedMain() {
    }

    public static void main(String[] args) {
        System.exit(run(Arrays.asList(args), System.out, System.err));
    }

    public static int run(List<String> args, PrintStream out, PrintStream err) {
        return Main.reportingErrors(args, err, () -> {
            if (args.isEmpty()) {
                err.print(USAGE);
                return 2;
            }
            return switch (args.getFirst()) {
                case "--help", "-h", "help" -> {
                    out.print(USAGE);
                    yield 0;
                }
                case "demo" -> new DemoCommand(out).run(args.subList(1, args.size()));
                case "bench" -> new BenchCommand(out, err).run(args.subList(1, args.size()));
                // not listed: the ./flowsec launcher runs it after a build (README "Warm start")
                case "aot-cache" -> recordApplianceCache(err);
                default -> throw new UsageException("unknown test bed command '" + args.getFirst() + "'");
            };
        });
    }

    /**
     * Records the AOT cache of the appliance processes that demo and bench start ({@link ApplianceProcess#CACHE_NAME}
     * beside the test bed's jar) unless the one there is current; its training's output goes beside it
     * ({@code CACHE.log}).
     */
    private static int recordApplianceCache(PrintStream err) throws Exception {
        String classPath = System.getProperty("java.class.path");
        Path cache = ApplianceProcess.cacheFor(classPath).orElseThrow(() -> new UsageException(
                "aot-cache: the test bed runs from its jar (java -jar flowsec-testbed.jar), not from " + classPath));
        if (ApplianceProcess.Jvm.of(classPath).aotCache().isPresent()) {
            return 0;
        }
        AotCache.Recorded recorded = ApplianceProcess.recordCache(classPath, cache, Training.DEFAULT_SECONDS,
                cache.resolveSibling(cache.getFileName() + ".log"));
        err.printf("flowsec: AOT cache of the test bed's appliance processes: %s (%d MB, recorded in %.1f s)%n",
                recorded.cache(), recorded.bytes() >> 20, recorded.millis() / 1000.0);
        return 0;
    }
}
