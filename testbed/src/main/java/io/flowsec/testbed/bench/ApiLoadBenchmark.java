package io.flowsec.testbed.bench;

import io.flowsec.control.security.Role;
import io.flowsec.control.security.TokenStore;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.linux.NetworkNamespace;
import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code flowsec bench api}: what the control API costs the data plane. Router B forwards one TCP transfer from host A
 * to host B (both directions tunnelled, AES-GCM-128, 4 SAs, 2 lanes each) while {@code wrk} in router B's namespace
 * reads {@code GET /api/v1/lanes} as fast as it can over HTTPS, and without that load, alternated round by round. The
 * appliance runs its API niced (lanes first); wrk runs at the nice value given, 19 by default, standing for a client
 * that in a deployment is not on the appliance's cores.
 * <ol>
 *   <li>a read-only token written to router B's tokens file before it starts;</li>
 *   <li>the test bed, router B's API on 127.0.0.1:8443 in its namespace;</li>
 *   <li>per round and variant: the transfer for the measured seconds, with or without wrk beside it;</li>
 *   <li>the transfer's throughput each way, their ratio, the API's requests/s.</li>
 * </ol>
 */
public final class ApiLoadBenchmark {
    private static final int TRANSFER_PORT = 5201;
    private static final Pattern REQUESTS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");

    /** One measured run: the transfer's Gbit/s, and the API's requests/s (0 without load). */
    public record Run(boolean apiLoad, double gigabitsPerSecond, double requestsPerSecond) {
    }

    private ApiLoadBenchmark() {
    }

    public static List<Run> run(int rounds, int seconds, int connections, int clientNice, int delayMs, Path work,
                                CleanupOnExit cleanup, PrintStream out) throws IOException, InterruptedException {
        Path pacing = null;
        if (delayMs > 0) {   // wrk's Lua hook: each connection waits this long before its next request
            pacing = java.nio.file.Files.writeString(work.resolve("pace.lua"), "function delay()\n  return " + delayMs + "\nend\n");
        }
        // 1. a token router B reads at its start
        String token = TokenStore.open(work.resolve("router-b-state").resolve("api-tokens.json"))
                .add("bench", Role.READ_ONLY).token();
        // 2. the test bed
        BenchTestBed bed = BenchTestBed.start(new BenchTestBed.Settings(EspSuite.AES_GCM_128, 4, 2, 2, "director",
                BenchTestBed.ReturnPath.TUNNELLED, true), work);
        cleanup.add(bed::close);
        Topology topology = bed.topology();
        List<Run> runs = new ArrayList<>();
        try {
            transfer(topology, 5, false);   // warm-up: JIT, ARP, TCP
            // 3. alternated rounds
            for (int round = 0; round < rounds; round++) {
                for (boolean load : round % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false}) {
                    Process wrk = load ? wrk(topology.routerB(), token, seconds + 2, connections, clientNice, pacing) : null;
                    double gigabits = transfer(topology, seconds, load);
                    double requests = 0;
                    if (wrk != null) {
                        String report = new String(wrk.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                        wrk.waitFor(30, TimeUnit.SECONDS);
                        Matcher matcher = REQUESTS.matcher(report);
                        if (!matcher.find()) {
                            throw new IOException("wrk reported no rate: " + report.strip());
                        }
                        requests = Double.parseDouble(matcher.group(1));
                    }
                    Run run = new Run(load, gigabits, requests);
                    runs.add(run);
                    out.printf("round %d, %-18s transfer %6.3f Gbit/s%s%n", round + 1,
                            load ? "with API load" : "without API load", gigabits,
                            load ? String.format("   API %,.0f requests/s (GET /api/v1/lanes, %d connections)", requests, connections) : "");
                }
            }
        } finally {
            bed.close();
        }
        // 4. the ratio
        double logSum = 0;
        for (int i = 0; i + 1 < runs.size(); i += 2) {
            Run loaded = runs.get(i).apiLoad() ? runs.get(i) : runs.get(i + 1);
            Run quiet = runs.get(i).apiLoad() ? runs.get(i + 1) : runs.get(i);
            logSum += Math.log(loaded.gigabitsPerSecond() / quiet.gigabitsPerSecond());
        }
        out.printf("transfer with API load / without: %.3f (geometric mean of %d rounds)%n",
                Math.exp(logSum / rounds), rounds);
        return runs;
    }

    /**
     * wrk in router B's namespace against its API: HTTPS (wrk does not check the certificate), a read-only token, at
     * nice {@code clientNice}: API clients are off the appliance in a deployment, here they share its two cores.
     */
    private static Process wrk(String routerB, String token, int seconds, int connections, int clientNice, Path pacing)
            throws IOException {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", routerB, "nice", "-n",
                Integer.toString(clientNice), "wrk", "-t1", "-c" + connections, "-d" + seconds + "s",
                "-H", "Authorization: Bearer " + token));
        if (pacing != null) {
            command.addAll(List.of("-s", pacing.toString()));
        }
        command.add("https://127.0.0.1:8443/api/v1/lanes");
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    /** One TCP transfer host A → host B for {@code seconds}; returns host B's receive rate in Gbit/s. */
    private static double transfer(Topology topology, int seconds, boolean settleFirst) throws IOException, InterruptedException {
        if (settleFirst) {
            Thread.sleep(1000);   // wrk connects and warms up before the measured transfer starts
        }
        CompletableFuture<Double> received = new CompletableFuture<>();
        CompletableFuture<Void> listening = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                NetworkNamespace.enter(topology.hostB());
                double gigabits;
                try (ServerSocket server = new ServerSocket()) {
                    server.setReuseAddress(true);
                    server.bind(new java.net.InetSocketAddress(InetAddress.getByName(Topology.HOST_B_ADDRESS), TRANSFER_PORT), 1);
                    listening.complete(null);
                    try (Socket socket = server.accept(); InputStream in = socket.getInputStream()) {
                        byte[] buffer = new byte[1 << 16];
                        long total = 0;
                        long start = System.nanoTime();
                        int n;
                        while ((n = in.read(buffer)) > 0) {
                            total += n;
                        }
                        gigabits = total * 8 / ((System.nanoTime() - start) / 1e9) / 1e9;
                    }
                }
                received.complete(gigabits);   // once the port is free again for the next transfer
            } catch (Exception e) {
                listening.completeExceptionally(e);
                received.completeExceptionally(e);
            }
        });
        try {
            listening.get(10, TimeUnit.SECONDS);
            NetworkNamespace.callInside(topology.hostA(), () -> {
                try (Socket socket = new Socket(Topology.HOST_B_ADDRESS, TRANSFER_PORT); OutputStream sink = socket.getOutputStream()) {
                    byte[] chunk = new byte[1 << 16];
                    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
                    while (System.nanoTime() < end) {
                        sink.write(chunk);
                    }
                }
                return null;
            });
            return received.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("the transfer failed: " + e.getMessage(), e);
        }
    }
}
