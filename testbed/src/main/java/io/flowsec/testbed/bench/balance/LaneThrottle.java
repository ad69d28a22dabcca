package io.flowsec.testbed.bench.balance;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A lane throttle (the balancing benchmark's and system test's imbalance), from outside the appliance: the threads of a process that are pinned to exactly one CPU
 * (the lane's event loop there, and any io_uring worker it spawned, which inherits its affinity) go into a cgroup of
 * their own (cgroup v1 {@code cpu} controller) whose CFS quota gives them a fixed share of a CPU, however idle the
 * machine is. It takes nothing from anyone else, where a CPU-burning hog on a 2-core machine starves every thread
 * that shares its core (the sender's lane there, the test's own traffic) as much as the lane it is meant for.
 * {@link #close} moves the threads back to the root group and removes the cgroup.
 */
public final class LaneThrottle implements AutoCloseable {
    public static final Path CPU_CONTROLLER = Path.of("/sys/fs/cgroup/cpu");
    private static final long PERIOD_US = 20_000;
    /** The kernel refuses a quota under 1 ms. */
    private static final long MIN_QUOTA_US = 1000;

    private final Path group;
    private final List<String> threads = new ArrayList<>();

    private LaneThrottle(Path group) {
        this.group = group;
    }

    /** Whether this machine has the cgroup v1 cpu controller, writable (root). */
    public static boolean available() {
        return Files.isWritable(CPU_CONTROLLER.resolve("tasks")) && Files.exists(CPU_CONTROLLER.resolve("cpu.cfs_quota_us"));
    }

    /**
     * Throttles process {@code pid}'s threads pinned to {@code cpu} to {@code percent} of a CPU (at least 5: a quota
     * of 1 ms per 20 ms period), in a new cgroup {@code name}.
     */
    public static LaneThrottle start(long pid, int cpu, int percent, String name) throws IOException {
        Path group = CPU_CONTROLLER.resolve(name);
        Files.createDirectory(group);
        LaneThrottle throttle = new LaneThrottle(group);
        try {
            Files.writeString(group.resolve("cpu.cfs_period_us"), String.valueOf(PERIOD_US));
            Files.writeString(group.resolve("cpu.cfs_quota_us"), String.valueOf(Math.max(MIN_QUOTA_US, PERIOD_US * percent / 100)));
            for (String thread : pinnedTo(pid, cpu)) {
                Files.writeString(group.resolve("tasks"), thread);
                throttle.threads.add(thread);
            }
            if (throttle.threads.isEmpty()) {
                throw new IOException("no thread of process " + pid + " is pinned to CPU " + cpu + " alone");
            }
            return throttle;
        } catch (IOException | RuntimeException e) {
            throttle.close();
            throw e;
        }
    }

    /** The thread IDs it throttles. */
    public List<String> threads() {
        return List.copyOf(threads);
    }

    /** The throttled threads' {@code cpu.stat}: periods, throttled periods and time. */
    public String stat() throws IOException {
        return Files.readString(group.resolve("cpu.stat")).strip().replace('\n', ' ');
    }

    private static List<String> pinnedTo(long pid, int cpu) throws IOException {
        List<String> pinned = new ArrayList<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", String.valueOf(pid), "task"))) {
            for (Path task : tasks) {
                for (String line : Files.readAllLines(task.resolve("status"))) {
                    if (line.startsWith("Cpus_allowed_list:") && line.substring(line.indexOf(':') + 1).strip().equals(String.valueOf(cpu))) {
                        pinned.add(task.getFileName().toString());
                    }
                }
            }
        }
        return pinned;
    }

    /** Every thread in the group back to the root group (those it spawned since included), then the group removed. */
    @Override
    public void close() throws IOException {
        if (!Files.exists(group)) {
            return;
        }
        for (String thread : Files.readAllLines(group.resolve("tasks"))) {
            try {
                Files.writeString(CPU_CONTROLLER.resolve("tasks"), thread.strip());
            } catch (IOException gone) {
                // the thread ended in the meantime: nothing to move back
            }
        }
        threads.clear();
        Files.delete(group);   // rmdir: refused while a task is still in it
    }
}
