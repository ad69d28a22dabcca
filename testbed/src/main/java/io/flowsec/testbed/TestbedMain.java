package io.flowsec.testbed;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.cli.UsageException;
import io.flowsec.testbed.cli.BenchCommand;
import io.flowsec.testbed.cli.DemoCommand;

import java.io.PrintStream;
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
                default -> throw new UsageException("unknown test bed command '" + args.getFirst() + "'");
            };
        });
    }
}
