package io.flowsec.testbed.bench.warmstart;

import io.flowsec.appliance.cli.UsageException;
import io.flowsec.testbed.cli.BenchCommand;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class WarmStartCommandTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final AtomicInteger preparations = new AtomicInteger();

    private WarmStartCommand command(String user) {
        return new WarmStartCommand(new PrintStream(out, true, StandardCharsets.UTF_8), System.err, user,
                preparations::incrementAndGet);
    }

    @Test
    void help_prints_its_own_usage_through_flowsec_bench() throws Exception {
        assertEquals(0, new BenchCommand(new PrintStream(out, true, StandardCharsets.UTF_8), System.err)
                .run(List.of("warmstart", "--help")));

        String help = out.toString(StandardCharsets.UTF_8);
        assertTrue(help.startsWith("Usage: flowsec bench warmstart"), help);
        assertTrue(help.contains("--variants LIST") && help.contains("warmstart-summary.txt"), help);
    }

    @Test
    void the_bench_usage_names_warmstart() {
        assertTrue(BenchCommand.USAGE.contains("flowsec bench warmstart [OPTIONS]"), BenchCommand.USAGE);
    }

    @Test
    void without_root_it_is_refused_after_its_options_and_before_anything_is_built() {
        UsageException refused = assertThrows(UsageException.class, () -> command("alice").run(List.of("--rounds", "1")));

        assertTrue(refused.getMessage().contains("needs root"), refused.getMessage());
        assertEquals(0, preparations.get(), "no namespace check, no fonts, no cache");
    }

    @Test
    void a_bad_option_is_refused_before_the_root_check() {
        UsageException refused = assertThrows(UsageException.class, () -> command("alice").run(List.of("--rounds", "x")));

        assertTrue(refused.getMessage().startsWith("--rounds"), refused.getMessage());
    }
}
