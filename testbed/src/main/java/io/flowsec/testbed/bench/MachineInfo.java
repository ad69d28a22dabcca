package io.flowsec.testbed.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One line naming the machine a benchmark ran on, printed on every summary and chart: results only compare between
 * runs on the same cores, CPU, kernel and JDK.
 */
public final class MachineInfo {
    static final String UNKNOWN_CPU = "unknown CPU";
    private static final Path CPUINFO = Path.of("/proc/cpuinfo");

    private MachineInfo() {
    }

    /** E.g. {@code 2 cores, AMD EPYC 7B13, Linux 6.18.3, JDK 25.0.3+9-LTS (Eclipse Adoptium)}. */
    public static String describe() {
        int cores = Runtime.getRuntime().availableProcessors();
        return cores + (cores == 1 ? " core, " : " cores, ") + cpuModel(readCpuinfo()) + ", "
                + System.getProperty("os.name") + " " + System.getProperty("os.version") + ", JDK "
                + System.getProperty("java.runtime.version") + " (" + System.getProperty("java.vendor") + ")";
    }

    /**
     * The CPU model from the text of {@code /proc/cpuinfo}: the value of its first {@code model name} line, runs of
     * white space collapsed, or {@value #UNKNOWN_CPU} where there is none (some ARM kernels, other systems).
     */
    public static String cpuModel(String cpuinfo) {
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).strip().equals("model name")) {
                String model = line.substring(colon + 1).strip().replaceAll("\\s+", " ");
                return model.isEmpty() ? UNKNOWN_CPU : model;
            }
        }
        return UNKNOWN_CPU;
    }

    private static String readCpuinfo() {
        try {
            return Files.readString(CPUINFO);
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
