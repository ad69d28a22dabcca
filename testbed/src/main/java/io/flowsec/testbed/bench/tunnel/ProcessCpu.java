package io.flowsec.testbed.bench.tunnel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.concurrent.TimeUnit;

/**
 * The CPU time of processes, from {@code /proc/PID/stat}: user + system time ({@code utime} and {@code stime}, the
 * 14th and 15th fields), which for a process counts all its threads, those that ended included. The resolution is a
 * clock tick (10 ms at the usual 100 Hz), fine for tests of seconds.
 */
public final class ProcessCpu {
    /** {@code utime}'s place among the fields after the command name: field 14 of the line, the state being 3. */
    private static final int UTIME_AFTER_COMMAND = 14 - 3;
    private static final int STIME_AFTER_COMMAND = 15 - 3;
    private static final long TICKS_PER_SECOND = clockTicksPerSecond();

    private ProcessCpu() {
    }

    /**
     * utime + stime, in clock ticks, from one line of {@code /proc/PID/stat}. The command name (field 2, in
     * parentheses) may hold spaces and parentheses itself, so the fields are counted from its last ')'.
     */
    public static long ticks(String statLine) {
        int end = statLine.lastIndexOf(')');
        if (end < 0) {
            throw new IllegalArgumentException("not a /proc/PID/stat line: " + statLine);
        }
        String[] fields = statLine.substring(end + 1).strip().split("\\s+");
        if (fields.length <= STIME_AFTER_COMMAND) {
            throw new IllegalArgumentException("a /proc/PID/stat line with " + (fields.length + 2) + " fields: " + statLine);
        }
        return Long.parseLong(fields[UTIME_AFTER_COMMAND]) + Long.parseLong(fields[STIME_AFTER_COMMAND]);
    }

    /** Clock ticks as nanoseconds, at {@code ticksPerSecond} ticks a second. */
    public static long nanos(long ticks, long ticksPerSecond) {
        return ticks * TimeUnit.SECONDS.toNanos(1) / ticksPerSecond;
    }

    /** The CPU time process {@code pid} has used so far, in nanoseconds; fails once it has ended. */
    public static long cpuNanos(long pid) throws IOException {
        try {
            return nanos(ticks(Files.readString(Path.of("/proc", Long.toString(pid), "stat"))), TICKS_PER_SECOND);
        } catch (NoSuchFileException e) {
            throw new IOException("process " + pid + " has ended", e);
        }
    }

    /** The CPU time the processes have used so far, together. */
    public static long cpuNanos(Collection<Long> pids) throws IOException {
        long sum = 0;
        for (long pid : pids) {
            sum += cpuNanos(pid);
        }
        return sum;
    }

    /**
     * CPU seconds per second: how many cores {@code cpuNanos} of CPU time kept busy over {@code wallNanos}; NaN without
     * a window.
     */
    public static double cores(long cpuNanos, long wallNanos) {
        return wallNanos <= 0 ? Double.NaN : (double) cpuNanos / wallNanos;
    }

    /** The kernel's USER_HZ ({@code getconf CLK_TCK}): 100 on every common architecture, and the answer if it fails. */
    private static long clockTicksPerSecond() {
        try {
            Process process = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes()).strip();
            if (process.waitFor(5, TimeUnit.SECONDS) && process.exitValue() == 0) {
                long ticks = Long.parseLong(output);
                if (ticks > 0) {
                    return ticks;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // the usual value below
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 100;
    }
}
