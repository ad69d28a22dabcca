package io.flowsec.appliance.cli;

import io.flowsec.appliance.warmstart.Training;

import java.io.PrintStream;
import java.util.List;

/**
 * {@code flowsec train [--seconds N]}: the warm-start training workload ({@link Training}), which the build runs in a
 * JVM that records an AOT cache for the appliance's later starts (README "Warm start", {@code scripts/aot-cache.sh}).
 */
public final class TrainCommand {
    public static final String USAGE = """
            Usage: flowsec train [--seconds N]

              The warm-start training workload: two appliances in this process, joined over the loopback (no root, no
              network, no TUN device: their sites are socket pairs), carry flows both ways for N seconds [%d] while
              one of them goes through the modes and steerings and its status socket and control API are read; then
              the ESP engine alone runs every suite. Prints what went through on stderr; exits 1 if anything did
              not work as meant. The build runs it under -XX:AOTCacheOutput so that later starts of the appliance
              load and compile their packet path sooner (README "Warm start"; scripts/aot-cache.sh).
            """.formatted(Training.DEFAULT_SECONDS);
    static final int MAX_SECONDS = 600;

    private final PrintStream out;
    private final PrintStream err;

    public TrainCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public int run(List<String> args) throws Exception {
        if (args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        int seconds = seconds(args);
        // the routers' own log lines are not the point; FLOWSEC_DEBUG=1 shows them
        boolean debug = "1".equals(System.getenv("FLOWSEC_DEBUG"));
        Training.Result result = Training.run(seconds, line -> {
            if (debug) {
                err.println(java.time.Instant.now() + " flowsec train: " + line);
            }
        });
        err.println("flowsec train: " + result.describe());
        return 0;
    }

    /** {@code --seconds N}, 1 to {@link #MAX_SECONDS}; nothing else is accepted. */
    static int seconds(List<String> args) throws UsageException {
        if (args.isEmpty()) {
            return Training.DEFAULT_SECONDS;
        }
        if (args.size() != 2 || !args.getFirst().equals("--seconds")) {
            throw new UsageException("train takes only --seconds N");
        }
        try {
            int seconds = Integer.parseInt(args.get(1));
            if (seconds >= 1 && seconds <= MAX_SECONDS) {
                return seconds;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException("--seconds must be a whole number from 1 to " + MAX_SECONDS + ", got '" + args.get(1) + "'");
    }
}
