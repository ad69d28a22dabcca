package io.flowsec.testbed.demo;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.runtime.StatusServer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An appliance started as a separate process inside a namespace ({@code ip netns exec NS java ... run --config F}),
 * with its log in a file. {@link #close} stops it with SIGTERM (it removes its TUN device and status socket), and
 * kills it if it does not stop in time.
 *
 * <p>The child runs the appliance's {@link Main} on this JVM's own class path: the test bed depends on the appliance,
 * so its classes are there, whether this JVM was started from {@code testbed/target/flowsec-testbed.jar} (whose
 * manifest names the appliance jar copied to {@code testbed/target/lib/}) or by a test runner. Not {@code java -jar}
 * of that copy: its own manifest's {@code lib/} would resolve below {@code testbed/target/lib/}, where nothing is.
 */
public final class ApplianceProcess implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final Path statusSocket;

    private ApplianceProcess(Process process, Path log, Path statusSocket) {
        this.process = process;
        this.log = log;
        this.statusSocket = statusSocket;
    }

    /** Starts the appliance and waits until it answers on its status socket (or fails with its log). */
    public static ApplianceProcess start(String namespace, Path config, Path statusSocket, Path log)
            throws IOException, InterruptedException {
        return start(namespace, config, statusSocket, log, java.util.Map.of());
    }

    /** As {@link #start(String, Path, Path, Path)}, with extra environment variables (e.g. FLOWSEC_TRANSPORT=epoll). */
    public static ApplianceProcess start(String namespace, Path config, Path statusSocket, Path log,
                                         java.util.Map<String, String> environment) throws IOException, InterruptedException {
        // the lab's keys are lab keys; its state directories are its own
        return start(namespace, config, statusSocket, log, environment, true);
    }

    /**
     * As {@link #start(String, Path, Path, Path, java.util.Map)}; {@code freshSaState} false runs the appliance as
     * production does, refusing a manually keyed AEAD SA that has no sequence state.
     */
    /** What the cluster's Hazelcast member reaches into on JDK 25 (as the appliance jar's manifest says). */
    private static final List<String> HAZELCAST_ACCESS = List.of("--add-opens", "java.base/java.lang=ALL-UNNAMED",
            "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens", "java.management/sun.management=ALL-UNNAMED",
            "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
            "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow");

    public static ApplianceProcess start(String namespace, Path config, Path statusSocket, Path log,
                                         java.util.Map<String, String> environment, boolean freshSaState)
            throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", namespace, java,
                "--enable-native-access=ALL-UNNAMED"));
        command.addAll(HAZELCAST_ACCESS);   // the appliance jar's manifest grants these when run with -jar
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config",
                config.toString()));
        if (freshSaState) {
            command.add("--fresh-sa-state");
        }
        // the configuration holds keys: the appliance refuses one that group or others can read
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
        Files.deleteIfExists(statusSocket);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(environment);
        Process process = builder.start();
        ApplianceProcess appliance = new ApplianceProcess(process, log, statusSocket);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!answers(statusSocket)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                appliance.close();
                throw new IOException("appliance in " + namespace + " did not start: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        return appliance;
    }

    /** Started means answering on the control socket, not merely having created it. */
    private static boolean answers(Path statusSocket) {
        if (!Files.exists(statusSocket)) {
            return false;
        }
        try {
            return !StatusServer.query(statusSocket).isBlank();
        } catch (IOException notYet) {
            return false;
        }
    }

    public Path statusSocket() {
        return statusSocket;
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    /** The appliance's process id (ip netns exec replaced itself with the JVM). */
    public long pid() {
        return process.pid();
    }

    /** CPU time (user + system) the appliance has used so far; 0 when the platform cannot tell. */
    public long cpuNanos() {
        return process.toHandle().info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL, as a crash or a power cut would end it: no clean stop, nothing flushed. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        // ip netns exec replaces itself with java (exec), so the process is the appliance itself
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
