package io.flowsec.testbed.cli;

import io.flowsec.appliance.cli.UsageException;
import io.flowsec.testbed.demo.TrafficGenerator;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DemoCommandTest {
    private static final int CPUS = Runtime.getRuntime().availableProcessors();

    private static UsageException usage(String... args) {
        return assertThrows(UsageException.class, () -> DemoCommand.parse(List.of(args)));
    }

    private static void assertContains(String expected, String actual) {
        assertTrue(actual.contains(expected), () -> "expected '" + expected + "' in: " + actual);
    }

    @Test
    void help_prints_the_usage_with_the_warm_up_and_how_to_disable_it() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, new DemoCommand(new PrintStream(out, true, StandardCharsets.UTF_8)).run(List.of("--help")));
        String usage = out.toString(StandardCharsets.UTF_8);
        assertEquals(DemoCommand.USAGE, usage);
        assertContains("[--warmup SECONDS]", usage);
        assertContains("--warmup 3", usage);
        assertContains("--warmup 0 disables it", usage);
    }

    @Test
    void defaults() throws Exception {
        DemoCommand.Options o = DemoCommand.parse(List.of());
        assertEquals(5, o.seconds());
        assertEquals(3, o.warmupSeconds());
        assertEquals(64, o.flows());
        assertEquals(1400, o.size());
        assertEquals(TrafficGenerator.Kind.UDP, o.traffic());
        assertEquals(CPUS, o.lanes());
        assertEquals(List.of("single", "pcrypt", "flow"), o.modes());
        assertEquals("director", o.steering());
    }

    @Test
    void every_option_is_read() throws Exception {
        DemoCommand.Options o = DemoCommand.parse(List.of("--seconds", "2", "--warmup", "7", "--flows", "16",
                "--size", "64", "--traffic", "tcp", "--lanes", "4", "--modes", "flow,single", "--steering", "rss"));
        assertEquals(2, o.seconds());
        assertEquals(7, o.warmupSeconds());
        assertEquals(16, o.flows());
        assertEquals(64, o.size());
        assertEquals(TrafficGenerator.Kind.TCP, o.traffic());
        assertEquals(4, o.lanes());
        assertEquals(List.of("flow", "single"), o.modes());
        assertEquals("rss", o.steering());
    }

    @Test
    void warmup_0_disables_the_warm_up() throws Exception {
        assertEquals(0, DemoCommand.parse(List.of("--warmup", "0")).warmupSeconds());
    }

    @Test
    void warmup_takes_0_to_600_seconds() throws Exception {
        assertEquals(600, DemoCommand.parse(List.of("--warmup", "600")).warmupSeconds());
        assertEquals("--warmup must be 0-600", usage("--warmup", "601").getMessage());
        assertEquals("--warmup must be 0-600", usage("--warmup", "-1").getMessage());
        assertEquals("--warmup must be a number", usage("--warmup", "3s").getMessage());
        assertEquals("--warmup needs a value", usage("--seconds", "2", "--warmup").getMessage());
    }

    @Test
    void out_of_range_and_unknown_values_are_usage_errors() {
        assertEquals("--seconds must be 1-3600", usage("--seconds", "0").getMessage());
        assertEquals("--size must be 1-1400", usage("--size", "1401").getMessage());
        assertEquals("--traffic must be udp or tcp", usage("--traffic", "icmp").getMessage());
        assertEquals("unknown mode 'fast' (single, pcrypt, flow)", usage("--modes", "single,fast").getMessage());
        assertEquals("--steering must be director, rss or single", usage("--steering", "spi").getMessage());
        assertEquals("unknown option --warm-up", usage("--warm-up", "3").getMessage());
    }

    @Test
    void option_errors_come_before_anything_is_built() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DemoCommand command = new DemoCommand(new PrintStream(out, true, StandardCharsets.UTF_8));
        UsageException e = assertThrows(UsageException.class, () -> command.run(List.of("--warmup", "-1")));
        assertEquals("--warmup must be 0-600", e.getMessage());
        assertEquals("", out.toString(StandardCharsets.UTF_8), "nothing started");
    }

    @Test
    void more_lanes_than_the_examples_have_SAs_get_one_SA_per_lane_at_both_ends_with_matching_keys() throws Exception {
        io.vertx.core.json.JsonArray[] policies = DemoCommand.policies(6);
        io.vertx.core.json.JsonObject a = policies[0].getJsonObject(0);
        io.vertx.core.json.JsonObject b = policies[1].getJsonObject(0);
        assertEquals(6, a.getJsonArray("outbound").size());
        assertEquals(a.getJsonArray("outbound"), b.getJsonArray("inbound"), "router B receives what router A sends");
        assertEquals(b.getJsonArray("outbound"), a.getJsonArray("inbound"));
        for (io.vertx.core.json.JsonArray side : policies) {
            io.vertx.core.json.JsonObject config = new io.vertx.core.json.JsonObject().put("lanes", 6)
                    .put("site", new io.vertx.core.json.JsonObject().put("device", "fs0")
                            .put("addresses", new io.vertx.core.json.JsonArray().add("10.255.0.1/32")))
                    .put("policies", side);
            assertEquals(6, io.flowsec.appliance.config.ApplianceConfig.parse(config).lanes(), "a valid configuration");
        }
        assertEquals(4, DemoCommand.policies(2)[0].getJsonObject(0).getJsonArray("outbound").size(), "the examples as they are");
    }
}
