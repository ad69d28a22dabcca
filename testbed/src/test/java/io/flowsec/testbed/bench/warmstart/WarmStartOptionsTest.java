package io.flowsec.testbed.bench.warmstart;

import io.flowsec.appliance.cli.UsageException;
import io.flowsec.dataplane.crypto.EspSuite;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class WarmStartOptionsTest {
    private static void assertRefused(String expected, String... args) {
        UsageException refused = assertThrows(UsageException.class, () -> WarmStartOptions.parse(List.of(args)));
        assertTrue(refused.getMessage().contains(expected), refused.getMessage());
    }

    @Test
    void the_defaults_compare_two_rounds_of_eight_seconds_without_the_cache_with_it_and_warmed_up() throws Exception {
        WarmStartOptions options = WarmStartOptions.parse(List.of());

        assertEquals(2, options.rounds());
        assertEquals(8, options.seconds());
        assertEquals(3, options.steadySeconds());
        assertEquals(10, options.pings());
        assertEquals(64, options.flows());
        assertEquals(64, options.size());
        assertEquals(EspSuite.AES_GCM_128, options.suite());
        assertEquals(Runtime.getRuntime().availableProcessors(), options.lanes());
        assertEquals(4, options.trainSeconds());
        assertEquals(List.of("without", "with", "warm"), options.variants());
        assertEquals(1, options.warmUpSeconds());
        assertEquals(Optional.empty(), options.classPath());
        assertEquals(Optional.empty(), options.cache());
        assertEquals(Path.of("bench-results", "warmstart"), options.out());
    }

    @Test
    void every_option_is_read() throws Exception {
        WarmStartOptions options = WarmStartOptions.parse(List.of("--rounds", "3", "--seconds", "5", "--steady", "2",
                "--pings", "0", "--flows", "8", "--size", "1400", "--suite", "aes-cbc-128-hmac-sha1-96", "--lanes", "1",
                "--train-seconds", "2", "--variants", "with,eager,without", "--classpath", "/x/t.jar", "--cache",
                "/tmp/c.aot", "--out", "/tmp/o", "--warm-up", "5"));

        assertEquals(new WarmStartOptions(3, 5, 2, 0, 8, 1400, EspSuite.AES_CBC_128_HMAC_SHA1_96, 1, 2,
                List.of("with", "eager", "without"), Optional.of("/x/t.jar"), Optional.of(Path.of("/tmp/c.aot")),
                Path.of("/tmp/o"), List.of(), 5), options);
        assertEquals(List.of("-XX:CompileThresholdScaling=0.1", "-Xss1m"), WarmStartOptions.parse(List.of("--variants",
                "without,experiment", "--experiment", " -XX:CompileThresholdScaling=0.1  -Xss1m")).experimentOptions());
    }

    @Test
    void bad_values_are_refused_before_anything_runs() {
        assertRefused("--rounds must be a whole number from 1 to 100, got '0'", "--rounds", "0");
        assertRefused("--seconds must be", "--seconds", "1");
        assertRefused("--steady 8 must be shorter than --seconds 8", "--steady", "8");
        assertRefused("unknown variant 'hot'", "--variants", "without,hot");
        assertRefused("--variants names a variant twice", "--variants", "with,with");
        assertRefused("unknown suite 'des'", "--suite", "des");
        assertRefused("--size must be", "--size", "1401");
        assertRefused("--pings needs a value", "--pings");
        assertRefused("--warm-up must be", "--warm-up", "0");
        assertRefused("unknown option --modes for bench warmstart", "--modes", "flow");
        assertRefused("unexpected argument extra", "extra", "1");
        assertRefused("the experiment variant and --experiment OPTIONS go together", "--variants", "experiment");
        assertRefused("the experiment variant and --experiment OPTIONS go together", "--experiment", "-Xint");
        assertRefused("--experiment takes -X and -XX options, not '--add-opens'", "--variants", "experiment",
                "--experiment", "--add-opens");
    }

    @Test
    void the_order_of_the_variants_turns_from_round_to_round() throws Exception {
        WarmStartOptions two = WarmStartOptions.parse(List.of("--variants", "without,with"));
        assertEquals(List.of("without", "with"), two.order(0));
        assertEquals(List.of("with", "without"), two.order(1));
        assertEquals(List.of("without", "with"), two.order(2));

        WarmStartOptions three = WarmStartOptions.parse(List.of("--variants", "without,with,eager"));
        assertEquals(List.of("with", "eager", "without"), three.order(1));
        assertEquals(List.of("eager", "without", "with"), three.order(2));
    }

    @Test
    void only_variants_with_the_cache_need_one() throws Exception {
        assertFalse(WarmStartOptions.parse(List.of("--variants", "without")).usesCache());
        assertTrue(WarmStartOptions.parse(List.of("--variants", "eager")).usesCache());
        assertTrue(WarmStartOptions.parse(List.of()).usesCache());
    }
}
