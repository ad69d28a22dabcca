package io.flowsec.testbed;

import io.flowsec.testbed.cli.BenchCommand;
import io.flowsec.testbed.cli.DemoCommand;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TestbedMainTest {
    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();

    private int run(String... args) {
        return TestbedMain.run(List.of(args), new PrintStream(outBytes, true, StandardCharsets.UTF_8),
                new PrintStream(errBytes, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return outBytes.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void help_prints_the_usage_and_succeeds() {
        assertEquals(0, run("--help"));
        assertEquals(TestbedMain.USAGE, out());
        assertEquals("", err());
    }

    @Test
    void no_arguments_print_the_usage_on_stderr_and_fail_with_2() {
        assertEquals(2, run());
        assertEquals("", out());
        assertEquals(TestbedMain.USAGE, err());
    }

    @Test
    void demo_and_bench_reach_their_commands() {
        assertEquals(0, run("demo", "--help"));
        assertEquals(0, run("bench", "--help"));
        assertEquals(DemoCommand.USAGE + BenchCommand.USAGE, out());
    }

    @Test
    void an_appliance_command_is_one_line_of_usage_error() {
        assertEquals(2, run("run", "--config", "router-a.json"));
        assertEquals("flowsec: unknown test bed command 'run' (see flowsec --help)\n",
                err().replace("\r\n", "\n"));
    }

    @Test
    void a_bad_option_is_one_line_as_in_the_appliance() {
        assertEquals(2, run("demo", "--warmup", "-1"));
        assertEquals("flowsec: --warmup must be 0-600 (see flowsec --help)\n", err().replace("\r\n", "\n"));
        assertEquals("", out());
    }
}
