package io.flowsec.testbed.demo;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.appliance.warmstart.AotCache;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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
 * With the AOT cache recorded for that class path ({@link #CACHE_NAME} beside the test bed's jar, made by the launcher
 * after a build) when it is current, so the lab's appliances start as warm as a production one (README "Warm start").
 */
public final class ApplianceProcess implements AutoCloseable {
    /** The AOT cache of the appliance processes, beside the first jar of their class path (the test bed's). */
    public static final String CACHE_NAME = "appliance-processes.aot";
    /** How often a starting appliance is asked whether it answers: the resolution of {@link #readyMillis}. */
    private static final long READY_POLL_MS = 10;

    /**
     * Appliances started and not yet closed: a JVM that exits (a test run's fork, the lab ended by a signal) stops
     * them first, so no appliance outlives it, re-parented to init and holding its namespace.
     */
    private static final java.util.Set<Process> RUNNING = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ApplianceProcess::stopThoseLeftRunning,
                "flowsec-appliance-processes-stop"));
    }

    private final Process process;
    private final Path log;
    private final Path statusSocket;
    private final long readyMillis;

    private ApplianceProcess(Process process, Path log, Path statusSocket, long readyMillis) {
        this.process = process;
        this.log = log;
        this.statusSocket = statusSocket;
        this.readyMillis = readyMillis;
    }

    /**
     * How an appliance process's JVM starts: on {@code classPath}, with {@code aotCache} when present (README "Warm
     * start"). The JVM options are {@link #JVM_OPTIONS}, the same for the start and for recording its cache.
     */
    public record Jvm(String classPath, Optional<Path> aotCache, List<String> extraOptions) {
        public Jvm {
            extraOptions = List.copyOf(extraOptions);
        }

        public Jvm(String classPath, Optional<Path> aotCache) {
            this(classPath, aotCache, List.of());
        }

        /** This JVM's class path, with the cache recorded for it when that is current. */
        public static Jvm current() throws IOException {
            return of(System.getProperty("java.class.path"));
        }

        /** {@code classPath} with the cache recorded for it when that is current. */
        public static Jvm of(String classPath) throws IOException {
            Optional<Path> cache = cacheFor(classPath);
            return new Jvm(classPath, cache.isPresent() && AotCache.isCurrent(cache.get(), classPath, javaHome())
                    ? cache : Optional.empty());
        }

        public Jvm withoutCache() {
            return new Jvm(classPath, Optional.empty(), extraOptions);
        }

        public Jvm withCache(Path cache) {
            return new Jvm(classPath, Optional.of(cache), extraOptions);
        }

        /** With more JVM options after the usual ones (experiments: JIT flags; never module options). */
        public Jvm withOptions(List<String> options) {
            List<String> all = new ArrayList<>(extraOptions);
            all.addAll(options);
            return new Jvm(classPath, aotCache, all);
        }

        /** {@code java OPTIONS [AOT options] -cp CLASS_PATH io.flowsec.appliance.Main}, the appliance's arguments to follow. */
        public List<String> command() {
            List<String> command = new ArrayList<>(List.of(java().toString()));
            command.addAll(JVM_OPTIONS);
            aotCache.ifPresent(cache -> command.addAll(AotCache.useOptions(cache)));
            command.addAll(extraOptions);
            command.addAll(List.of("-cp", classPath, Main.class.getName()));
            return command;
        }
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
     * What the cluster's Hazelcast member reaches into on JDK 25 (as the appliance jar's manifest says), and native
     * access: every appliance process's JVM options, which its AOT cache was recorded with too.
     */
    static final List<String> JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED",
            "--add-opens", "java.base/java.lang=ALL-UNNAMED",
            "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens", "java.management/sun.management=ALL-UNNAMED",
            "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
            "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow");

    /**
     * As {@link #start(String, Path, Path, Path, java.util.Map)}; {@code freshSaState} false runs the appliance as
     * production does, refusing a manually keyed AEAD SA that has no sequence state. The JVM is {@link Jvm#current}.
     */
    public static ApplianceProcess start(String namespace, Path config, Path statusSocket, Path log,
                                         java.util.Map<String, String> environment, boolean freshSaState)
            throws IOException, InterruptedException {
        return start(namespace, config, statusSocket, log, environment, freshSaState, Jvm.current());
    }

    /** As {@link #start(String, Path, Path, Path, java.util.Map, boolean)}, on {@code jvm}. */
    public static ApplianceProcess start(String namespace, Path config, Path statusSocket, Path log,
                                         java.util.Map<String, String> environment, boolean freshSaState, Jvm jvm)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
        command.addAll(jvm.command());
        command.addAll(List.of("run", "--config", config.toString()));
        if (freshSaState) {
            command.add("--fresh-sa-state");
        }
        // the configuration holds keys: the appliance refuses one that group or others can read
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
        Files.deleteIfExists(statusSocket);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(environment);
        long startNs = System.nanoTime();
        Process process = builder.start();
        RUNNING.add(process);
        long deadline = startNs + TimeUnit.SECONDS.toNanos(30);
        while (!answers(statusSocket)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                new ApplianceProcess(process, log, statusSocket, -1).close();
                throw new IOException("appliance in " + namespace + " did not start: " + Files.readString(log));
            }
            Thread.sleep(READY_POLL_MS);
        }
        return new ApplianceProcess(process, log, statusSocket, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
    }

    /** Where the cache for appliance processes on {@code classPath} lives: beside its first entry, when a jar. */
    public static Optional<Path> cacheFor(String classPath) {
        String first = classPath.split(java.io.File.pathSeparator)[0];
        Path jar = Path.of(first).toAbsolutePath();
        return first.endsWith(".jar") && Files.isRegularFile(jar) ? Optional.of(jar.resolveSibling(CACHE_NAME)) : Optional.empty();
    }

    /**
     * Records the AOT cache for appliance processes on {@code classPath} into {@code cache}: {@code flowsec train}
     * run for {@code trainSeconds} in a JVM started as {@link Jvm#command} starts theirs (README "Warm start").
     */
    public static AotCache.Recorded recordCache(String classPath, Path cache, int trainSeconds, Path log)
            throws IOException, InterruptedException {
        return AotCache.record(java(), JVM_OPTIONS, classPath, cache, trainSeconds, log, 300);
    }

    /** The java that runs this JVM, which runs the appliances too. */
    static Path java() {
        return Path.of(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    }

    /** The JDK of {@link #java}. */
    public static Path javaHome() throws IOException {
        return AotCache.javaHomeOf(java());
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

    /** From the process's start until it first answered on its status socket (to within 10 ms). */
    public long readyMillis() {
        return readyMillis;
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
        RUNNING.remove(process);
    }

    @Override
    public void close() throws InterruptedException {
        // ip netns exec replaces itself with java (exec), so the process is the appliance itself
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        RUNNING.remove(process);
    }

    /** At this JVM's exit: SIGTERM to each appliance still running, SIGKILL to any not gone within 10 s. */
    private static void stopThoseLeftRunning() {
        List<Process> left = List.copyOf(RUNNING);
        left.forEach(Process::destroy);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (Process process : left) {
            try {
                if (!process.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
            }
        }
    }
}
