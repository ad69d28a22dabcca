package io.flowsec.testbed.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The client of the application benchmark: ApacheBench ({@code ab}) with keep-alive ({@code -k}, HTTP/1.0
 * keep-alive; nginx closes every 10th request, so each connection carries 10 requests), run for a fixed time.
 * {@link #parse} turns ab's report into a {@link Result}.
 */
public final class ApacheBench {
    /** ab's request cap; with {@code -t} alone it would stop at 50000 requests, long before the time limit. */
    private static final long REQUEST_CAP = 100_000_000L;
    /** ab's per-request timeout, seconds: a stuck connection fails instead of hanging the run. */
    private static final int SOCKET_TIMEOUT_SECONDS = 10;
    /** How long past its time limit ab may take before it is killed. */
    private static final int GRACE_SECONDS = 30;

    private ApacheBench() {
    }

    /**
     * ab's figures.
     *
     * @param requestsPerSecond           "Requests per second"
     * @param transferKilobytesPerSecond  "Transfer rate", KiB/s received (headers and bodies)
     * @param completeRequests            "Complete requests"
     * @param failedRequests              "Failed requests" (0 where absent)
     * @param non2xxResponses             "Non-2xx responses" (0 where absent: ab prints it only when there were some)
     * @param timePerRequestMs            the first "Time per request": mean latency of one request, ms
     */
    public record Result(double requestsPerSecond, double transferKilobytesPerSecond, long completeRequests,
                         long failedRequests, long non2xxResponses, double timePerRequestMs) {

        /** The transfer rate in Gbit/s: ab's Kbytes are 1024 bytes. */
        public double gigabitsPerSecond() {
            return transferKilobytesPerSecond * 1024 * 8 / 1e9;
        }
    }

    /**
     * Runs {@code ab -q -k -c CONCURRENCY -t SECONDS} against {@code url} in network namespace {@code namespace}
     * ({@code null}: the current one) and returns its figures. Fails if ab is missing, exits non-zero, prints no
     * report, or runs more than 30 s past its time limit (then it is killed).
     */
    public static Result run(String namespace, String url, int concurrency, int seconds)
            throws IOException, InterruptedException {
        // 1. find ab and build the command (-n after -t: -t alone caps the run at 50000 requests)
        // 2. run it, reading its output on a thread of its own so the time limit holds even if it stops talking
        // 3. check its status and parse the report
        Path ab = Executables.find("ab")
                .orElseThrow(() -> new IOException("ab not installed (apt-get install apache2-utils)"));
        if (concurrency < 1 || seconds < 1) {
            throw new IllegalArgumentException("need concurrency >= 1 and seconds >= 1");
        }
        List<String> command = new ArrayList<>();
        if (namespace != null) {
            command.addAll(List.of("ip", "netns", "exec", namespace));
        }
        command.addAll(List.of(ab.toString(), "-q", "-k", "-c", Integer.toString(concurrency),
                "-t", Integer.toString(seconds), "-n", Long.toString(REQUEST_CAP),
                "-s", Integer.toString(SOCKET_TIMEOUT_SECONDS), url));

        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        CompletableFuture<String> output = new CompletableFuture<>();
        Thread.ofVirtual().name("ab-output").start(() -> {
            try {
                output.complete(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                output.completeExceptionally(e);
            }
        });
        boolean finished;
        try {
            finished = process.waitFor(seconds + GRACE_SECONDS, TimeUnit.SECONDS);
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        }
        String text = outputOf(output);
        if (!finished) {
            throw new IOException("ab ran more than " + (seconds + GRACE_SECONDS) + " s against " + url
                    + " and was killed: " + lastLines(text));
        }
        if (process.exitValue() != 0) {
            throw new IOException("ab exited with status " + process.exitValue() + " against " + url + ": "
                    + lastLines(text));
        }
        return parse(text);
    }

    /** Parses ab's report; fails with the end of the output if it has no "Requests per second" line. */
    public static Result parse(String output) throws IOException {
        Optional<Double> requestsPerSecond = number(output, "Requests per second:");
        if (requestsPerSecond.isEmpty()) {
            throw new IOException("ab printed no \"Requests per second\" line: " + lastLines(output));
        }
        return new Result(
                requestsPerSecond.get(),
                number(output, "Transfer rate:").orElseThrow(() -> missing("Transfer rate", output)),
                number(output, "Complete requests:").orElseThrow(() -> missing("Complete requests", output))
                        .longValue(),
                number(output, "Failed requests:").orElse(0.0).longValue(),
                number(output, "Non-2xx responses:").orElse(0.0).longValue(),
                number(output, "Time per request:").orElseThrow(() -> missing("Time per request", output)));
    }

    /** The number after the first line starting with {@code label}. */
    private static Optional<Double> number(String output, String label) {
        Matcher matcher = Pattern.compile("(?m)^" + Pattern.quote(label) + "\\s+([0-9]+(?:\\.[0-9]+)?)")
                .matcher(output);
        return matcher.find() ? Optional.of(Double.parseDouble(matcher.group(1))) : Optional.empty();
    }

    private static IOException missing(String label, String output) {
        return new IOException("ab's report has no \"" + label + "\" line: " + lastLines(output));
    }

    private static String outputOf(CompletableFuture<String> output) throws InterruptedException {
        try {
            return output.get(5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            return "(output unreadable: " + e + ")";
        }
    }

    /** The last lines of ab's output, joined, for error messages. */
    private static String lastLines(String output) {
        List<String> lines = output.strip().lines().toList();
        if (lines.isEmpty()) {
            return "(no output)";
        }
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
    }
}
