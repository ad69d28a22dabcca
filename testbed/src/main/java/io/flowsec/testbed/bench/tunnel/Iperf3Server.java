package io.flowsec.testbed.bench.tunnel;

import io.flowsec.testbed.bench.Executables;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * An iperf3 server in a namespace ({@code iperf3 -s -B ADDRESS -p PORT}), serving one test after another, its
 * output in a log file. {@link #close} stops it with SIGTERM, then SIGKILL.
 */
public final class Iperf3Server implements AutoCloseable {
    public static final int PORT = 5201;
    private static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Process process;
    private final Path log;

    private Iperf3Server(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts the server and returns once it listens (seen with ss, so no test connection is spent on checking). */
    public static Iperf3Server start(String namespace, String address, int port, Path log)
            throws IOException, InterruptedException {
        Path iperf3 = Executables.find("iperf3")
                .orElseThrow(() -> new IOException("iperf3 not installed (apt-get install iperf3)"));
        Process process = new ProcessBuilder("ip", "netns", "exec", namespace, iperf3.toString(), "-s", "-B", address,
                "-p", Integer.toString(port)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Iperf3Server server = new Iperf3Server(process, log);
        long deadline = System.nanoTime() + START_TIMEOUT_NANOS;
        try {
            while (!listening(namespace, port)) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("iperf3's server in " + namespace + " did not listen on port " + port + ": "
                            + Files.readString(log).strip());
                }
                Thread.sleep(50);
            }
            return server;
        } catch (IOException | InterruptedException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    private static boolean listening(String namespace, int port) throws IOException, InterruptedException {
        return !Topology.run("ip", "netns", "exec", namespace, "ss", "-H", "-l", "-t", "-n", "sport = :" + port).isBlank();
    }

    public long pid() {
        return process.pid();
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        // ip netns exec replaced itself with iperf3: the process is the server
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
