package io.flowsec.testbed.bench.tunnel;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProcessCpuTest {
    /** /proc/PID/stat of a wireguard-go that had carried a few seconds of iperf3 (utime 100, stime 361). */
    private static final String WIREGUARD_GO = "15102 (wireguard-go) S 1 15093 12863 0 -1 4194560 4954 0 1 0 100 361 0 0"
            + " 20 0 14 0 5351170 1783472128 4525 18446744073709551615 4202496 5405229 140735402784768 0 0 0 1002060288"
            + " 0 2143420159 0 0 0 17 0 0 0 0 0 0 6639088 6749408 128675840 140735402785491 140735402785514"
            + " 140735402785514 140735402786786 0";

    @Test
    void user_and_system_ticks_are_the_14th_and_15th_fields() {
        assertEquals(100 + 361, ProcessCpu.ticks(WIREGUARD_GO));
    }

    @Test
    void a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        String line = "4242 (a) b (c)) R 1 4242 4242 0 -1 4194304 10 0 0 0 7 5 0 0 20 0 1 0 100 1000 10";

        assertEquals(12, ProcessCpu.ticks(line));
    }

    @Test
    void a_line_that_is_not_a_stat_line_is_refused() {
        assertThrows(IllegalArgumentException.class, () -> ProcessCpu.ticks("no parenthesis here"));
        assertThrows(IllegalArgumentException.class, () -> ProcessCpu.ticks("1 (short) S 1 2 3"));
    }

    @Test
    void ticks_become_nanoseconds_at_the_clock_rate() {
        assertEquals(4_610_000_000L, ProcessCpu.nanos(461, 100));
        assertEquals(1_000_000L, ProcessCpu.nanos(1, 1000));
    }

    @Test
    void cores_are_cpu_time_per_second_of_the_window() {
        assertEquals(0.5, ProcessCpu.cores(5_000_000_000L, 10_000_000_000L), 1e-12);
        assertEquals(1.75, ProcessCpu.cores(3_500_000_000L, 2_000_000_000L), 1e-12, "two threads on two cores");
        assertTrue(Double.isNaN(ProcessCpu.cores(1, 0)), "no window, no figure");
    }

    @Test
    void a_running_process_has_used_cpu_time_and_processes_add_up() throws Exception {
        long self = ProcessHandle.current().pid();
        long once = ProcessCpu.cpuNanos(self);

        assertTrue(once > 0, "this JVM has run: " + once);
        long twice = ProcessCpu.cpuNanos(List.of(self, self));
        assertTrue(twice >= 2 * once, "the same process counted twice: " + twice + " against " + once);
    }

    @Test
    void an_ended_process_is_named() throws Exception {
        Process done = new ProcessBuilder("true").start();
        done.waitFor();

        IOException e = assertThrows(IOException.class, () -> ProcessCpu.cpuNanos(done.pid()));
        assertEquals("process " + done.pid() + " has ended", e.getMessage());
    }
}
