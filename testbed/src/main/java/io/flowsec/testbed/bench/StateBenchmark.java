package io.flowsec.testbed.bench;

import io.flowsec.appliance.config.SaFile;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.state.SaStateStore;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code flowsec bench state}: what durable sequence state costs the engine. One thread runs router A's sender and
 * router B's receiver of the examples' AES-GCM-128 SA groups (anti-replay on), packet after packet, with the state
 * kept in a directory on disk (reservations fsync'd ahead by the store's writer thread, exact marks in the mapped
 * file) and without any, alternated round by round so both see the same machine. Reports packets/s, the durable
 * writes per second the writer made at that rate, and the ratio.
 * <ol>
 *   <li>build both ends' tables afresh (a fresh SA starts at sequence 1);</li>
 *   <li>with state: attach every SA to a store in a directory of its own;</li>
 *   <li>warm up, then count what crosses in the measured seconds: encapsulate at A, decapsulate at B in place;</li>
 *   <li>close the store, delete its directory.</li>
 * </ol>
 */
public final class StateBenchmark {
    private static final int FLOWS = 64;
    private static final int PAYLOAD_BYTES = 64;

    /** One measured run. */
    public record Run(boolean durable, double packetsPerSecond, double writesPerSecond, long notDurableDrops) {
    }

    private StateBenchmark() {
    }

    public static List<Run> run(int rounds, int seconds, int warmupSeconds, Path directory, PrintStream out)
            throws IOException {
        JsonObject sender = new JsonObject(io.flowsec.testbed.demo.Examples.read("site-a.sa.json"));
        JsonObject receiver = new JsonObject(io.flowsec.testbed.demo.Examples.read("site-b.sa.json"));
        Files.createDirectories(directory);
        List<Run> runs = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            for (boolean durable : round % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false}) {
                Path stateDirectory = Files.createTempDirectory(directory, "state");
                Run run = measure(sender, receiver, durable ? stateDirectory : null, seconds, warmupSeconds);
                deleteTree(stateDirectory);
                runs.add(run);
                out.printf("round %d, %-9s %,12.0f packets/s  %,8.1f durable writes/s  %d dropped as sequence-not-durable%n",
                        round + 1, durable ? "durable" : "in memory", run.packetsPerSecond(), run.writesPerSecond(),
                        run.notDurableDrops());
            }
        }
        double logSum = 0;
        int pairs = 0;
        for (int i = 0; i + 1 < runs.size(); i += 2) {
            Run durable = runs.get(i).durable() ? runs.get(i) : runs.get(i + 1);
            Run memory = runs.get(i).durable() ? runs.get(i + 1) : runs.get(i);
            logSum += Math.log(durable.packetsPerSecond() / memory.packetsPerSecond());
            pairs++;
        }
        out.printf("durable / in memory: %.3f (geometric mean of %d rounds)%n", Math.exp(logSum / pairs), pairs);
        return runs;
    }

    private static Run measure(JsonObject senderSas, JsonObject receiverSas, Path stateDirectory, int seconds,
                               int warmupSeconds) throws IOException {
        // 1. both ends afresh
        SaFile.Tables a;
        SaFile.Tables b;
        try {
            a = SaFile.parse(senderSas).buildTables();
            b = SaFile.parse(receiverSas).buildTables();
        } catch (io.flowsec.appliance.config.ConfigException e) {
            throw new IOException("the examples' SA files: " + e.getMessage(), e);
        }
        // 2. state kept, or not
        SaStateStore store = stateDirectory == null ? null : SaStateStore.open(stateDirectory, line -> { });
        try {
            if (store != null) {
                for (SecurityAssociation sa : a.sad().all()) {
                    store.attach(sa, true);
                }
                for (SecurityAssociation sa : b.sad().all()) {
                    store.attach(sa, true);
                }
            }
            EspProcessor atA = new EspProcessor(a.spd(), a.sad(), EspProcessor.Framing.IP);
            EspProcessor atB = new EspProcessor(b.spd(), b.sad(), EspProcessor.Framing.IP);
            byte[][] inner = new byte[FLOWS][];
            for (int flow = 0; flow < FLOWS; flow++) {
                inner[flow] = EspReplayGenerator.innerPacket(InetAddress.getByName("10.1.0.10"),
                        InetAddress.getByName("10.2.0.20"), PAYLOAD_BYTES);
                Bytes.u16(inner[flow], Ipv4View.MIN_HEADER_LENGTH, 20000 + flow);
            }
            Packet slot = Packet.withRoomFor(inner[0].length + 256);

            // 3. warm up, then measure
            crossFor(warmupSeconds * 1_000_000_000L, atA, atB, inner, slot);
            long writesBefore = store == null ? 0 : store.durableWrites();
            long notDurableBefore = atB.counters().total(Outcome.SEQUENCE_NOT_DURABLE)
                    + atA.counters().total(Outcome.SEQUENCE_NOT_DURABLE);
            long startNs = System.nanoTime();
            long crossed = crossFor(seconds * 1_000_000_000L, atA, atB, inner, slot);
            double elapsed = (System.nanoTime() - startNs) / 1e9;
            long writes = store == null ? 0 : store.durableWrites() - writesBefore;
            long notDurable = atB.counters().total(Outcome.SEQUENCE_NOT_DURABLE)
                    + atA.counters().total(Outcome.SEQUENCE_NOT_DURABLE) - notDurableBefore;
            return new Run(store != null, crossed / elapsed, writes / elapsed, notDurable);
        } finally {
            // 4. the store's writer stops; the caller deletes the directory
            if (store != null) {
                store.close();
            }
        }
    }

    /** Sends packets of every flow round and round from A to B for {@code nanos}; returns how many B accepted. */
    private static long crossFor(long nanos, EspProcessor atA, EspProcessor atB, byte[][] inner, Packet slot) {
        long accepted = 0;
        long deadline = System.nanoTime() + nanos;
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < 1024; i++) {
                byte[] packet = inner[i % inner.length];
                slot.load(packet, 0, packet.length);
                if (atA.encapsulate(slot) == Outcome.ACCEPTED && atB.decapsulate(slot) == Outcome.ACCEPTED) {
                    accepted++;
                }
            }
        }
        return accepted;
    }

    private static void deleteTree(Path directory) throws IOException {
        try (var files = Files.walk(directory)) {
            for (Path path : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
