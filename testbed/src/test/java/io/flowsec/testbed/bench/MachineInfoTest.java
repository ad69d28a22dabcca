package io.flowsec.testbed.bench;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class MachineInfoTest {
    private static final String CPUINFO = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            cpu family\t: 25
            model\t\t: 1
            model name\t: AMD EPYC 7B13
            stepping\t: 0
            
            processor\t: 1
            vendor_id\t: AuthenticAMD
            model name\t: Some Other CPU
            """;

    @Test
    void the_first_model_name_line_names_the_cpu() {
        assertEquals("AMD EPYC 7B13", MachineInfo.cpuModel(CPUINFO));
    }

    @Test
    void runs_of_white_space_in_the_model_collapse() {
        assertEquals("Intel(R) Xeon(R) CPU @ 2.20GHz",
                MachineInfo.cpuModel("model name\t:  Intel(R) Xeon(R) CPU   @ 2.20GHz  \r\n"));
    }

    @Test
    void without_a_model_name_the_cpu_is_unknown() {
        assertEquals("unknown CPU", MachineInfo.cpuModel("""
                processor\t: 0
                BogoMIPS\t: 50.00
                model\t\t: 1
                CPU part\t: 0xd0c
                """));
        assertEquals("unknown CPU", MachineInfo.cpuModel(""));
        assertEquals("unknown CPU", MachineInfo.cpuModel("model name\t:   \n"));
    }

    @Test
    void the_line_names_cores_kernel_and_jdk() {
        String line = MachineInfo.describe();
        int cores = Runtime.getRuntime().availableProcessors();
        assertTrue(line.startsWith(cores + (cores == 1 ? " core, " : " cores, ")), line);
        assertTrue(line.contains(", " + System.getProperty("os.name") + " " + System.getProperty("os.version")
                + ", "), line);
        assertTrue(line.endsWith(", JDK " + System.getProperty("java.runtime.version") + " ("
                + System.getProperty("java.vendor") + ")"), line);
        assertEquals(1, line.lines().count(), line);
    }
}
