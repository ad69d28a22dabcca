package io.flowsec.testbed.bench.warmstart;

import io.flowsec.appliance.cli.UsageException;
import io.flowsec.dataplane.crypto.EspSuite;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * {@code flowsec bench warmstart}'s options, every value checked before anything is built.
 *
 * @param classPath the appliances' class path; empty: this JVM's (the test bed's jar)
 * @param cache     the AOT cache to start them with; empty: the one beside the class path's first jar
 */
public record WarmStartOptions(int rounds, int seconds, int steadySeconds, int pings, int flows, int size,
                               EspSuite suite, int lanes, int trainSeconds, List<String> variants,
                               Optional<String> classPath, Optional<Path> cache, Path out,
                               List<String> experimentOptions, int warmUpSeconds) {
    public static final String WITHOUT = "without";
    public static final String WITH = "with";
    /** An experiment: the cache, and C2 compiling at once what the training compiled (-XX:+AOTCompileEagerly). */
    public static final String EAGER = "eager";
    /** The cache and the JVM options of --experiment. */
    public static final String EXPERIMENT = "experiment";
    /** The cache, and the appliance's own warm-up at start (warmUpSeconds in its configuration). */
    public static final String WARM = "warm";
    public static final List<String> VARIANTS = List.of(WITHOUT, WITH, WARM, EAGER, EXPERIMENT);

    public static final String USAGE = """
            Usage: flowsec bench warmstart [--rounds N] [--seconds N] [--steady N] [--pings N] [--flows N] [--size N]
                                           [--suite NAME] [--lanes N] [--train-seconds N] [--variants LIST]
                                           [--warm-up N] [--classpath CP] [--cache FILE] [--experiment OPTIONS]
                                           [--out DIR]

              As root, how fast a freshly started appliance reaches its steady rate, without the AOT cache, with it,
              and with it and the appliance's warm-up at start (README "Warm start"), on the test bed of flowsec
              bench: for each variant in turn, N rounds [2] with the order rotating, after one unmeasured start that
              warms this JVM (it sends the traffic) up:
                1. start router A and router B as fresh processes (new namespaces, state, keys); each one's time from
                   its process's start until it answers on its status socket is its ready time;
                2. N pings [10] host A -> host B through the tunnel, 0.1 s apart: their round trip times;
                3. N UDP flows [64] of N-byte payloads [64] from host A to host B, as fast as 2 threads send, for N
                   seconds [8]: what host B receives, and router B's CPU time, read every 100 ms.
              The first second's rate over the steady rate (the mean of the last N seconds [3]) says how far from
              warm a start is (1: not at all); "settled" is the start of the first half second at 90 % of it.
              Router B's CPU time per datagram, in the first second and steady, shows the cold code's cost even
              when other work on the machine holds the rate down.
              Writes OUT/warmstart.csv (every 100-ms window of every start), OUT/warmstart-pings.csv,
              OUT/warmstart.png (datagrams/s against seconds since the traffic started: each variant's mean and
              each start) and OUT/warmstart-summary.txt (per variant: ready times, rates, ratio, settled, pings,
              CPU per datagram; the ratios to the start without the cache) [bench-results/warmstart].

            Options [defaults]:
              --suite NAME         the tunnel's suite [aes-gcm-128]
              --lanes N            lanes of each router [CPUs]
              --variants LIST      without, with (the cache), warm (the cache, and the appliance's warm-up at start:
                                   warmUpSeconds N [1] in its configuration), eager (the cache and
                                   -XX:+AOTCompileEagerly) and experiment (the cache and --experiment's options)
                                   [without,with,warm]
              --experiment OPTIONS JVM options, separated by spaces, for the experiment variant (JIT flags)
              --classpath CP       the appliances' class path [this JVM's: the test bed's jar]
              --cache FILE         the AOT cache [appliance-processes.aot beside the class path's first jar, made by
                                   ./flowsec after a build]; recorded now, training N seconds [4], when missing or stale
            """;

    private static final Set<String> OPTIONS = Set.of("--rounds", "--seconds", "--steady", "--pings", "--flows", "--size",
            "--suite", "--lanes", "--train-seconds", "--variants", "--classpath", "--cache", "--experiment", "--warm-up",
            "--out");

    public static WarmStartOptions parse(List<String> args) throws UsageException {
        int rounds = 2;
        int seconds = 8;
        int steady = 3;
        int pings = 10;
        int flows = 64;
        int size = 64;
        EspSuite suite = EspSuite.AES_GCM_128;
        int lanes = Runtime.getRuntime().availableProcessors();
        int trainSeconds = 4;
        List<String> variants = List.of(WITHOUT, WITH, WARM);
        int warmUp = 1;
        Optional<String> classPath = Optional.empty();
        Optional<Path> cache = Optional.empty();
        Path out = Path.of("bench-results", "warmstart");
        List<String> experiment = List.of();
        for (int i = 0; i < args.size(); i += 2) {
            String option = args.get(i);
            if (!OPTIONS.contains(option)) {
                throw new UsageException(option.startsWith("-") ? "unknown option " + option + " for bench warmstart"
                        : "unexpected argument " + option);
            }
            if (i + 1 >= args.size()) {
                throw new UsageException(option + " needs a value");
            }
            String value = args.get(i + 1);
            switch (option) {
                case "--rounds" -> rounds = number(option, value, 1, 100);
                case "--seconds" -> seconds = number(option, value, 2, 600);
                case "--steady" -> steady = number(option, value, 1, 599);
                case "--pings" -> pings = number(option, value, 0, 1000);
                case "--flows" -> flows = number(option, value, 1, 1024);
                case "--size" -> size = number(option, value, 1, 1400);
                case "--suite" -> {
                    try {
                        suite = EspSuite.fromConfigName(value);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("unknown suite '" + value + "' (" + EspSuite.knownNames() + ")");
                    }
                }
                case "--lanes" -> lanes = number(option, value, 1, 128);
                case "--train-seconds" -> trainSeconds = number(option, value, 1, 600);
                case "--variants" -> {
                    variants = List.of(value.split(","));
                    for (String variant : variants) {
                        if (!VARIANTS.contains(variant)) {
                            throw new UsageException("unknown variant '" + variant + "' (without, with, warm, eager, experiment)");
                        }
                    }
                    if (Set.copyOf(variants).size() != variants.size()) {
                        throw new UsageException("--variants names a variant twice: " + value);
                    }
                }
                case "--classpath" -> classPath = Optional.of(value);
                case "--cache" -> cache = Optional.of(Path.of(value));
                case "--warm-up" -> warmUp = number(option, value, 1, 60);
                case "--experiment" -> {
                    experiment = List.of(value.strip().split("\\s+"));
                    for (String jvmOption : experiment) {
                        if (!jvmOption.startsWith("-X")) {
                            throw new UsageException("--experiment takes -X and -XX options, not '" + jvmOption + "'");
                        }
                    }
                }
                default -> out = Path.of(value);   // --out
            }
        }
        if (steady >= seconds) {
            throw new UsageException("--steady " + steady + " must be shorter than --seconds " + seconds
                    + " (the first second is measured before it)");
        }
        if (variants.contains(EXPERIMENT) != !experiment.isEmpty()) {
            throw new UsageException("the experiment variant and --experiment OPTIONS go together");
        }
        return new WarmStartOptions(rounds, seconds, steady, pings, flows, size, suite, lanes, trainSeconds,
                List.copyOf(variants), classPath, cache, out, experiment, warmUp);
    }

    /** Round {@code round}'s order: the variants rotated by the round, so each is measured first as often. */
    public List<String> order(int round) {
        List<String> order = new ArrayList<>();
        for (int i = 0; i < variants.size(); i++) {
            order.add(variants.get((i + round) % variants.size()));
        }
        return order;
    }

    /** Whether a variant starts with the cache. */
    public boolean usesCache() {
        return !variants.equals(List.of(WITHOUT));
    }

    private static int number(String option, String value, int min, int max) throws UsageException {
        try {
            int number = Integer.parseInt(value);
            if (number >= min && number <= max) {
                return number;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException(option + " must be a whole number from " + min + " to " + max + ", got '" + value + "'");
    }
}
