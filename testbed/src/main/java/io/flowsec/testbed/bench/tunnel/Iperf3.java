package io.flowsec.testbed.bench.tunnel;

import io.flowsec.testbed.bench.Executables;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * iperf3's client, run with {@code -J}, and what its JSON report says was received ({@link #parse}). The figures are
 * the receiver's, which the client reads from the server at the end of a test:
 * <ul>
 *   <li>TCP: {@code end.sum_received}: bytes the server read over its seconds, all streams together;</li>
 *   <li>UDP: {@code end.sum_received.packets - lost_packets}: the datagrams the server received (iperf3 3.12 counts
 *       the sender's datagrams in {@code packets} and the ones that never arrived in {@code lost_packets}), over its
 *       seconds. Versions before 3.11 have no {@code sum_received} for UDP; there {@code end.sum} holds the same.</li>
 * </ul>
 */
public final class Iperf3 {
    /** How long past its time a client may take (connecting, the server's results) before it is killed. */
    private static final int GRACE_SECONDS = 30;
    /** A server ends a test and resets before it accepts the next one: a client that comes too early is told so. */
    private static final String SERVER_BUSY = "busy";
    private static final int BUSY_TRIES = 20;
    private static final long BUSY_PAUSE_MILLIS = 250;

    private Iperf3() {
    }

    /**
     * What the receiver got.
     *
     * @param protocol        {@code TCP} or {@code UDP}
     * @param seconds         the receiver's time
     * @param receivedBytes   payload bytes received
     * @param receivedPackets UDP datagrams received; 0 for TCP
     */
    public record Result(String protocol, double seconds, long receivedBytes, long receivedPackets) {
        public double gigabitsPerSecond() {
            return receivedBytes * 8 / seconds / 1e9;
        }

        public double packetsPerSecond() {
            return receivedPackets / seconds;
        }
    }

    /**
     * The client's command line: {@code iperf3 -c SERVER -p PORT -t SECONDS -J --connect-timeout 5000} and the test's
     * own options.
     */
    static List<String> command(Path iperf3, String server, int port, int seconds, List<String> testArguments) {
        List<String> command = new ArrayList<>(List.of(iperf3.toString(), "-c", server, "-p", Integer.toString(port),
                "-t", Integer.toString(seconds), "-J", "--connect-timeout", "5000"));
        command.addAll(testArguments);
        return command;
    }

    /**
     * Runs one test from network namespace {@code namespace} against the server at {@code server:port} and returns
     * what the server received; the JSON report goes to {@code report} unless that is null. Waits for a server still
     * resetting after the previous test; fails on any other error iperf3 reports, or when it runs
     * {@value #GRACE_SECONDS} s past its time (then it is killed).
     */
    public static Result run(String namespace, String server, int port, int seconds, List<String> testArguments,
                             Path report) throws IOException, InterruptedException {
        Path iperf3 = Executables.find("iperf3")
                .orElseThrow(() -> new IOException("iperf3 not installed (apt-get install iperf3)"));
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
        command.addAll(command(iperf3, server, port, seconds, testArguments));
        for (int attempt = 1; ; attempt++) {
            String json = runOnce(command, seconds + GRACE_SECONDS);
            if (report != null) {
                Files.writeString(report, json);
            }
            try {
                return parse(json);
            } catch (ServerBusy busy) {
                if (attempt == BUSY_TRIES) {
                    throw busy;
                }
                Thread.sleep(BUSY_PAUSE_MILLIS);
            }
        }
    }

    private static String runOnce(List<String> command, int limitSeconds) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        CompletableFuture<String> output = new CompletableFuture<>();
        Thread.ofVirtual().name("iperf3-output").start(() -> {
            try {
                output.complete(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                output.completeExceptionally(e);
            }
        });
        boolean finished;
        try {
            finished = process.waitFor(limitSeconds, TimeUnit.SECONDS);
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        }
        String text;
        try {
            text = output.get(5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            text = "(output unreadable: " + e + ")";
        }
        if (!finished) {
            throw new IOException("iperf3 ran more than " + limitSeconds + " s and was killed: " + String.join(" ", command));
        }
        return text;
    }

    /** A server that was still busy with the previous test: try again. */
    static final class ServerBusy extends IOException {
        ServerBusy(String message) {
            super(message);
        }
    }

    /**
     * What the receiver got, from a client's {@code -J} report. Fails with iperf3's own words when the report has an
     * {@code error} ({@link ServerBusy} for a server still busy), or when it lacks the receiver's figures.
     */
    public static Result parse(String json) throws IOException {
        JsonObject report;
        try {
            report = new JsonObject(json.strip());
        } catch (DecodeException | ClassCastException e) {
            throw new IOException("iperf3 printed no JSON report: " + firstLine(json), e);
        }
        String error = report.getString("error");
        if (error != null) {
            if (error.contains(SERVER_BUSY)) {
                throw new ServerBusy("iperf3: " + error);
            }
            throw new IOException("iperf3: " + error);
        }
        JsonObject start = report.getJsonObject("start", new JsonObject()).getJsonObject("test_start", new JsonObject());
        String protocol = start.getString("protocol", "TCP");
        JsonObject end = report.getJsonObject("end", new JsonObject());
        JsonObject received = end.getJsonObject("sum_received");
        if (protocol.equals("UDP")) {
            JsonObject sum = received != null ? received : end.getJsonObject("sum");
            if (sum == null || !sum.containsKey("packets") || !sum.containsKey("lost_packets")) {
                throw new IOException("iperf3's UDP report has no receiver's packet counts (end.sum_received)");
            }
            long packets = sum.getLong("packets") - sum.getLong("lost_packets");
            long bytes = received != null ? received.getLong("bytes")
                    : packets * start.getLong("blksize", 0L);
            return new Result(protocol, seconds(sum), bytes, Math.max(0, packets));
        }
        if (received == null) {
            throw new IOException("iperf3's TCP report has no receiver's figures (end.sum_received)");
        }
        return new Result(protocol, seconds(received), received.getLong("bytes"), 0);
    }

    private static double seconds(JsonObject sum) throws IOException {
        double seconds = sum.getDouble("seconds", 0.0);
        if (!(seconds > 0)) {
            throw new IOException("iperf3's report gives the receiver no time: " + sum.encode());
        }
        return seconds;
    }

    private static String firstLine(String text) {
        return text.strip().lines().findFirst().orElse("(nothing)");
    }
}
