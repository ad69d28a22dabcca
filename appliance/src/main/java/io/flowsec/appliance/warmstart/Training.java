package io.flowsec.appliance.warmstart;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The warm-start training workload ({@code flowsec train}): a short run of what an appliance runs, for a JVM that
 * records it into an AOT cache ({@code -XX:AOTCacheOutput}, JEP 483/514/515: the classes loaded and linked, and the
 * methods' profiles), so that a later start with that cache loads faster and compiles its packet path sooner.
 * Needs neither root nor a network.
 * <ol>
 *   <li>two appliances over the loopback ({@link LoopbackTunnel}); router B runs through its modes and steerings in
 *       phases of equal length (flow with director steering, single, pcrypt, flow with rss, flow with director again
 *       after router A reweighted a group), while flows go both ways; between phases its status socket is read as
 *       the test bed reads it. Each phase must deliver packets. Then its control API is asked as the dashboard and
 *       the command line ask it (read and changed over HTTPS with a token);</li>
 *   <li>the ESP engine alone with every suite ({@link EngineWorkout}), last and briefly: the appliance's lanes run one
 *       or two suites, so the packet path's profiles should mostly show those;</li>
 *   <li>everything closed and the temporary directory (configurations, keys, state) removed.</li>
 * </ol>
 */
public final class Training {
    public static final int DEFAULT_SECONDS = 4;
    private static final int FLOWS = 64;
    /** Router B's phases: the commands to its status socket that begin each. */
    private static final List<List<String>> PHASES = List.of(
            List.of(),
            List.of("mode single"),
            List.of("mode pcrypt"),
            List.of("steering rss", "mode flow"),
            List.of("steering director"));

    /** What the training did: packets each way through the tunnel, and the engine workout's. */
    public record Result(long sentAtoB, long receivedAtB, long sentBtoA, long receivedAtA, long superpacketsCut,
                         long superpacketsCoalesced, long enginePackets, long engineDrops, long elapsedMs) {
        public String describe() {
            return "tunnel A->B " + receivedAtB + " of " + sentAtoB + " packets delivered, B->A " + receivedAtA + " of "
                    + sentBtoA + " (modes flow, single, pcrypt, steering director and rss; " + superpacketsCut
                    + " TSO superpackets cut at A, " + superpacketsCoalesced + " coalesced at B); engine alone "
                    + enginePackets + " packets with every suite, " + engineDrops + " forged or replayed; " + elapsedMs + " ms";
        }
    }

    private Training() {
    }

    /** Runs the workload for about {@code seconds} (the tunnel's phases) plus start and stop. */
    public static Result run(int seconds, Consumer<String> log) throws Exception {
        long startNs = System.nanoTime();
        Path directory = Files.createTempDirectory("flowsec-train");   // 0700: keys and state are the training's own
        try {
            LoopbackTunnel.Traffic traffic;
            try (LoopbackTunnel tunnel = LoopbackTunnel.start(directory, LoopbackTunnel.TRAINING, log)) {
                log.accept("routers started in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs) + " ms");
                long phaseNs = TimeUnit.SECONDS.toNanos(seconds) / PHASES.size();
                for (int phase = 0; phase < PHASES.size(); phase++) {
                    for (String command : PHASES.get(phase)) {
                        tunnel.commandB(command);
                    }
                    if (phase == PHASES.size() - 1) {
                        tunnel.commandA("weights train-a-gcm 3 1 1 1");   // a flowlet-gated move at A
                    }
                    long before = tunnel.traffic().receivedAtB();
                    tunnel.drive(System.nanoTime() + phaseNs, FLOWS);
                    if (tunnel.traffic().receivedAtB() == before) {
                        throw new IllegalStateException("training: nothing went through the loopback tunnel in phase "
                                + phase + " " + PHASES.get(phase));
                    }
                    tunnel.commandB("status");   // as flowsec bench samples router B
                    log.accept("phase " + phase + " " + PHASES.get(phase) + ": " + tunnel.traffic());
                }
                traffic = tunnel.traffic();
                // as an operator asks router B's API from the command line: read, then a change
                for (String command : List.of("status", "lanes", "sas", "drops")) {
                    tunnel.apiCommand(command);
                }
                tunnel.apiCommand("mode", "set", "flow");
            }
            log.accept("routers stopped at " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs) + " ms");
            EngineWorkout.Result engine = EngineWorkout.run(8, 4);
            return new Result(traffic.sentAtoB(), traffic.receivedAtB(), traffic.sentBtoA(), traffic.receivedAtA(),
                    traffic.superpacketsCutAtA(), traffic.superpacketsCoalescedAtB(), engine.packets(), engine.dropsAsMeant(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
        } finally {
            deleteTree(directory);
        }
    }

    static void deleteTree(Path directory) throws IOException {
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(directory)) {
            paths = new ArrayList<>(walk.sorted(Comparator.reverseOrder()).toList());
        }
        for (Path path : paths) {
            Files.deleteIfExists(path);
        }
    }
}
