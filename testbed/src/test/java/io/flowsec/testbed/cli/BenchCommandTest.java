package io.flowsec.testbed.cli;

import io.flowsec.appliance.cli.UsageException;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.testbed.bench.BenchOptions;
import io.flowsec.testbed.bench.EspReplayGenerator;
import io.flowsec.testbed.bench.balance.BalanceOptions;
import io.flowsec.testbed.bench.tunnel.TunnelOptions;
import io.flowsec.testbed.bench.tunnel.TunnelTest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BenchCommandTest {
    private static final int CPUS = Runtime.getRuntime().availableProcessors();
    private static final List<Integer> TCP_SIZES = List.of(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384);
    private static final List<String> MODES = List.of("single", "pcrypt", "flow");

    // ---------------------------------------------------------------------------------------------------------------
    // Running the command without root

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final List<String> toolsAsked = new ArrayList<>();

    private BenchCommand command(String user) {
        return new BenchCommand(new PrintStream(outBytes, true, StandardCharsets.UTF_8),
                new PrintStream(errBytes, true, StandardCharsets.UTF_8),
                tool -> {
                    toolsAsked.add(tool);
                    return true;
                }, user);
    }

    private String out() {
        return outBytes.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    private static UsageException usage(String benchmark, String... args) {
        return assertThrows(UsageException.class, () -> BenchCommand.parse(benchmark, List.of(args)));
    }

    private static void assertContains(String expected, String actual) {
        assertTrue(actual.contains(expected), () -> "expected '" + expected + "' in: " + actual);
    }

    @Test
    void help_prints_the_usage_with_the_three_benchmarks_and_succeeds() throws Exception {
        assertEquals(0, command("nobody").run(List.of("--help")));
        assertEquals(BenchCommand.USAGE, out());
        assertContains("micro", out());
        assertContains("app", out());
        assertContains("receiver", out());
        assertEquals("", err());
    }

    @Test
    void help_after_a_benchmark_also_prints_the_usage() throws Exception {
        assertEquals(0, command("nobody").run(List.of("receiver", "-h")));
        assertEquals(BenchCommand.USAGE, out());
    }

    @Test
    void no_arguments_print_the_usage_on_stderr_and_fail_with_2() throws Exception {
        assertEquals(2, command("root").run(List.of()));
        assertEquals("", out());
        assertEquals(BenchCommand.USAGE, err());
    }

    @Test
    void an_unknown_benchmark_is_a_usage_error() {
        UsageException e = assertThrows(UsageException.class, () -> command("root").run(List.of("foo")));
        assertEquals("unknown benchmark 'foo' (micro, app, receiver, state, api, balance or tunnel)", e.getMessage());
        assertEquals("", out());
    }

    @Test
    void state_runs_without_root_and_reports_both_variants_and_their_ratio(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        assertEquals(0, command("nobody").run(List.of("state", "--rounds", "1", "--seconds", "1", "--warmup", "1",
                "--dir", dir.toString())));
        assertContains("in memory", out());
        assertContains("durable writes/s", out());
        assertContains("durable / in memory: ", out());
        try (var left = java.nio.file.Files.list(dir)) {
            assertEquals(0, left.count(), "its state directories are removed");
        }
    }

    @Test
    void api_needs_root_and_refuses_bad_options_before_touching_anything() {
        UsageException notRoot = assertThrows(UsageException.class, () -> command("nobody").run(List.of("api")));
        assertContains("root", notRoot.getMessage());
        UsageException badOption = assertThrows(UsageException.class,
                () -> command("root").run(List.of("api", "--connections", "0")));
        assertEquals("--connections must be a whole number from 1 to 1000, got '0'", badOption.getMessage());
        assertEquals("", out());
    }

    @Test
    void balance_defaults_run_every_policy_for_20_seconds_at_30k_with_lane_1_at_8_percent() throws Exception {
        BalanceOptions o = BenchCommand.parseBalance(List.of());
        assertEquals(List.of("static", "sender", "receiver"), o.policies());
        assertEquals(20, o.seconds());
        assertEquals(30_000, o.rate());
        assertEquals(8, o.laneCpuPercent());
        assertEquals(Path.of("bench-results", "balance"), o.out());
        assertEquals("in bursts: 100 ms on, 300 ms off", o.traffic());
        assertContains("flowsec bench balance [--policies LIST]", BenchCommand.USAGE);
    }

    @Test
    void balance_reads_every_option() throws Exception {
        BalanceOptions o = BenchCommand.parseBalance(List.of("--policies", "receiver,static", "--seconds", "4",
                "--rate", "20000", "--lane-cpu-percent", "12", "--out", "/tmp/b", "--bursts", "50/150"));
        assertEquals(List.of("receiver", "static"), o.policies());
        assertEquals(4, o.seconds());
        assertEquals(20_000, o.rate());
        assertEquals(12, o.laneCpuPercent());
        assertEquals(Path.of("/tmp/b"), o.out());
        assertEquals(50, o.burstOnMs());
        assertEquals(150, o.burstOffMs());
        assertEquals("steady", BenchCommand.parseBalance(List.of("--bursts", "steady")).traffic());
    }

    @Test
    void balance_refuses_bad_options_before_the_root_check() {
        assertEquals("unknown policy 'rss' (static, sender, receiver)", assertThrows(UsageException.class,
                () -> command("nobody").run(List.of("balance", "--policies", "static,rss"))).getMessage());
        assertEquals("--policies names a policy twice: static,static", assertThrows(UsageException.class,
                () -> BenchCommand.parseBalance(List.of("--policies", "static,static"))).getMessage());
        assertEquals("--lane-cpu-percent must be 5-100, got 4", assertThrows(UsageException.class,
                () -> BenchCommand.parseBalance(List.of("--lane-cpu-percent", "4"))).getMessage());
        assertEquals("--seconds must be 2-3600, got 1", assertThrows(UsageException.class,
                () -> BenchCommand.parseBalance(List.of("--seconds", "1"))).getMessage());
        assertEquals("unknown option --sizes for bench balance", assertThrows(UsageException.class,
                () -> BenchCommand.parseBalance(List.of("--sizes", "64"))).getMessage());
        assertEquals("--bursts: ON/OFF in milliseconds (100/300) or steady, not 100", assertThrows(UsageException.class,
                () -> BenchCommand.parseBalance(List.of("--bursts", "100"))).getMessage());
        assertEquals("--rate needs a value", assertThrows(UsageException.class,
                () -> BenchCommand.parseBalance(List.of("--rate"))).getMessage());
        UsageException notRoot = assertThrows(UsageException.class, () -> command("nobody").run(List.of("balance")));
        assertContains("root", notRoot.getMessage());
        assertEquals("", out(), "nothing started");
        assertEquals(List.of(), toolsAsked, "no tool looked up, nothing installed");
    }

    @Test
    void tunnel_defaults_run_every_tunnel_and_test_for_10_seconds_after_3_with_a_lane_per_cpu() throws Exception {
        TunnelOptions o = BenchCommand.parseTunnel(List.of());
        assertEquals(List.of("plain", "wireguard", "flow-no-offloads", "single", "pcrypt", "flow"), o.tunnels());
        assertEquals(List.of(TunnelTest.TCP1, TunnelTest.TCP8, TunnelTest.UDP64, TunnelTest.HTTP1K, TunnelTest.HTTP16K),
                o.tests());
        assertEquals(10, o.seconds());
        assertEquals(3, o.warmupSeconds());
        assertEquals(CPUS, o.lanes());
        assertEquals(EspSuite.AES_GCM_128, o.suite());
        assertEquals(Math.max(4, 2 * CPUS), o.saCount());
        assertEquals(Path.of("bench-results", "tunnel"), o.out());
        assertEquals(new JsonObject(), o.applianceConfig(), "nothing added to the appliances' configuration");
        assertEquals(1, o.rounds());
        assertContains("flowsec bench tunnel [--tunnels LIST] [--tests LIST]", BenchCommand.USAGE);
        assertContains("tunnel    flowsec against what a user would compare it with", BenchCommand.USAGE);
    }

    @Test
    void tunnel_reads_every_option() throws Exception {
        TunnelOptions o = BenchCommand.parseTunnel(List.of("--tunnels", "flow,plain", "--tests", "udp64,TCP1",
                "--seconds", "1", "--warmup", "0", "--lanes", "1", "--suite", "chacha20-poly1305", "--out", "/tmp/t",
                "--appliance-config", "{\"tunnelMtu\": 1400, \"steering\": \"rss\"}", "--rounds", "3"));
        assertEquals(List.of("flow", "plain"), o.tunnels(), "in the order given");
        assertEquals(3, o.rounds());
        assertEquals(List.of(TunnelTest.UDP64, TunnelTest.TCP1), o.tests(), "in the order given, any case");
        assertEquals(1, o.seconds());
        assertEquals(0, o.warmupSeconds());
        assertEquals(1, o.lanes());
        assertEquals(4, o.saCount(), "at least 4 SAs per direction");
        assertEquals(EspSuite.CHACHA20_POLY1305, o.suite());
        assertEquals(Path.of("/tmp/t"), o.out());
        assertEquals(new JsonObject().put("tunnelMtu", 1400).put("steering", "rss"), o.applianceConfig());
        assertTrue(o.runsIperf());
        assertTrue(!o.runsHttp());
        assertTrue(!o.runs("wireguard"));
        assertEquals(16, BenchCommand.parseTunnel(List.of("--lanes", "8")).saCount(), "2 SAs per lane");
    }

    @Test
    void tunnel_setup_names_what_the_summary_depends_on() throws Exception {
        assertEquals("Host A to host B, 10 s per test, after 3 s of warm-up per tunnel; flowsec: 2 lanes per router, "
                + "aes-gcm-128, 4 SAs per direction, director steering; UDP: iperf3 at its full rate, datagrams/s host "
                + "B received; HTTP: ab, 256 concurrent clients, 10 requests per keep-alive connection",
                BenchCommand.parseTunnel(List.of("--lanes", "2")).setup());
        assertEquals("Host A to host B, 5 s per test, no warm-up",
                BenchCommand.parseTunnel(List.of("--tunnels", "plain,wireguard", "--tests", "tcp8", "--seconds", "5",
                        "--warmup", "0")).setup());
        assertContains("appliance configuration {\"tunnelMtu\":1400}", BenchCommand.parseTunnel(
                List.of("--tunnels", "flow", "--appliance-config", "{\"tunnelMtu\":1400}")).setup());
    }

    @Test
    void tunnel_names_a_flowsec_mode_without_offloads_as_its_baseline() throws Exception {
        assertTrue(io.flowsec.testbed.bench.tunnel.TunnelOptions.isFlowsec("flow-no-offloads"));
        assertEquals("flow", io.flowsec.testbed.bench.tunnel.TunnelOptions.flowsecMode("flow-no-offloads"));
        assertTrue(io.flowsec.testbed.bench.tunnel.TunnelOptions.isFlowsec("flow-no-ring"));
        assertEquals("flow", io.flowsec.testbed.bench.tunnel.TunnelOptions.flowsecMode("flow-no-ring"));
        assertTrue(BenchCommand.parseTunnel(List.of("--tunnels", "flow-no-ring,flow")).runs("flow-no-ring"),
                "on demand, though not by default");
        assertEquals("single", io.flowsec.testbed.bench.tunnel.TunnelOptions.flowsecMode("single"));
        assertTrue(!io.flowsec.testbed.bench.tunnel.TunnelOptions.isFlowsec("wireguard-no-offloads"));
    }

    @Test
    void tunnel_refuses_bad_options_before_the_root_check() {
        assertEquals("unknown tunnel 'ipsec' (plain, wireguard, flow-no-offloads, flow-no-ring, single, pcrypt, flow)", assertThrows(UsageException.class,
                () -> command("nobody").run(List.of("tunnel", "--tunnels", "plain,ipsec"))).getMessage());
        assertEquals("unknown tunnel '' (plain, wireguard, flow-no-offloads, flow-no-ring, single, pcrypt, flow)", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--tunnels", "plain,,flow"))).getMessage());
        assertEquals("--tunnels names a tunnel twice: flow,flow", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--tunnels", "flow,flow"))).getMessage());
        assertEquals("unknown test 'udp1400' (tcp1, tcp8, udp64, http1k, http16k)", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--tests", "tcp1,udp1400"))).getMessage());
        assertEquals("--tests names a test twice: tcp1,tcp1", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--tests", "tcp1,tcp1"))).getMessage());
        assertEquals("--seconds must be 1-3600, got 0", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--seconds", "0"))).getMessage());
        assertEquals("--warmup must be 0-600, got -1", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--warmup", "-1"))).getMessage());
        assertEquals("--rounds must be 1-20, got 0", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--rounds", "0"))).getMessage());
        assertEquals("--lanes must be 1-128, got 129", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--lanes", "129"))).getMessage());
        assertContains("unknown suite 'aes-ctr'", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--suite", "aes-ctr"))).getMessage());
        assertEquals("--appliance-config must be a JSON object, e.g. '{\"tunnelMtu\": 1500}', got [1]",
                assertThrows(UsageException.class,
                        () -> BenchCommand.parseTunnel(List.of("--appliance-config", "[1]"))).getMessage());
        assertEquals("--appliance-config cannot set mode: each flowsec tunnel is named by its mode",
                assertThrows(UsageException.class, () -> BenchCommand.parseTunnel(
                        List.of("--appliance-config", "{\"mode\": \"single\"}"))).getMessage());
        assertEquals("unknown option --sizes for bench tunnel", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--sizes", "64"))).getMessage());
        assertEquals("unexpected argument flow", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("flow"))).getMessage());
        assertEquals("--seconds needs a value", assertThrows(UsageException.class,
                () -> BenchCommand.parseTunnel(List.of("--seconds"))).getMessage());
        UsageException notRoot = assertThrows(UsageException.class, () -> command("nobody").run(List.of("tunnel")));
        assertContains("root", notRoot.getMessage());
        assertEquals("", out(), "nothing started");
        assertEquals(List.of(), toolsAsked, "no tool looked up, nothing installed");
    }

    @Test
    void state_refuses_a_bad_option_value() {
        UsageException e = assertThrows(UsageException.class,
                () -> command("nobody").run(List.of("state", "--rounds", "0")));
        assertEquals("--rounds must be a whole number from 1 to 100, got '0'", e.getMessage());
    }

    @Test
    void not_root_is_refused_before_anything_is_touched() {
        for (String benchmark : List.of("micro", "app", "receiver")) {
            UsageException e = assertThrows(UsageException.class, () -> command("nobody").run(List.of(benchmark)));
            assertContains("root", e.getMessage());
        }
        assertEquals("", out(), "nothing started");
        assertEquals("", err());
        assertEquals(List.of(), toolsAsked, "no tool looked up, nothing installed");
    }

    @Test
    void option_errors_come_before_the_root_check() {
        UsageException e = assertThrows(UsageException.class,
                () -> command("nobody").run(List.of("micro", "--seconds", "0")));
        assertEquals("--seconds must be 1-3600, got 0", e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Defaults

    @Test
    void micro_defaults() throws Exception {
        BenchOptions o = BenchCommand.parse("micro", List.of());
        assertEquals(TCP_SIZES, o.sizes());
        assertEquals(MODES, o.modes());
        assertEquals(15, o.seconds());
        assertEquals(3, o.warmupSeconds());
        assertEquals(List.of(CPUS), o.lanes());
        assertEquals("director", o.steering());
        assertEquals(EspSuite.AES_CBC_128_HMAC_SHA1_96, o.suite());
        assertEquals(Math.max(4, 2 * CPUS), o.saCount());
        assertEquals(4, o.clientThreads());
        assertEquals(64, o.connections());
        assertEquals(10, o.messagesPerConnection());
        assertEquals(CPUS, o.serverThreads());
        assertEquals(64, o.flows());
        assertEquals(1, o.generators());
        assertEquals(Path.of("bench-results", "micro"), o.out());
    }

    @Test
    void app_defaults() throws Exception {
        BenchOptions o = BenchCommand.parse("app", List.of());
        assertEquals(TCP_SIZES, o.sizes());
        assertEquals(MODES, o.modes());
        assertEquals(256, o.connections());
        assertEquals(10, o.seconds());
        assertEquals(2, o.warmupSeconds());
        assertEquals(List.of(CPUS), o.lanes());
        assertEquals(Path.of("bench-results", "app"), o.out());
    }

    @Test
    void receiver_defaults() throws Exception {
        BenchOptions o = BenchCommand.parse("receiver", List.of());
        assertEquals(CPUS > 1 ? List.of(1, CPUS) : List.of(1), o.lanes());
        int largest = BenchCommand.largestReceiverPayload(EspSuite.AES_CBC_128_HMAC_SHA1_96);
        assertEquals(List.of(64, 128, 256, 512, 1024, largest), o.sizes());
        assertEquals(5, o.seconds());
        assertEquals(1, o.warmupSeconds());
        assertEquals(Math.max(4, 2 * CPUS), o.saCount());
        assertEquals(64, o.flows());
        assertEquals(1, o.generators());
        assertEquals(Path.of("bench-results", "receiver"), o.out());
    }

    @Test
    void receiver_default_sizes_end_with_the_largest_for_the_suite_chosen() throws Exception {
        BenchOptions o = BenchCommand.parse("receiver", List.of("--suite", "aes-gcm-128"));
        assertEquals(EspSuite.AES_GCM_128, o.suite());
        assertEquals(BenchCommand.largestReceiverPayload(EspSuite.AES_GCM_128), o.sizes().getLast());
        assertEquals(1410, o.sizes().getLast());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Options

    @Test
    void every_option_is_read() throws Exception {
        BenchOptions o = BenchCommand.parse("micro", List.of("--sizes", "100, 200", "--modes", "flow,single",
                "--seconds", "7", "--warmup", "0", "--lanes", "3", "--steering", "rss", "--suite", "aes-gcm-128",
                "--sas", "9", "--clients", "2", "--connections", "5", "--messages", "6", "--servers", "7",
                "--out", "/tmp/bench-x"));
        assertEquals(List.of(100, 200), o.sizes());
        assertEquals(List.of("flow", "single"), o.modes());
        assertEquals(7, o.seconds());
        assertEquals(0, o.warmupSeconds());
        assertEquals(List.of(3), o.lanes());
        assertEquals("rss", o.steering());
        assertEquals(EspSuite.AES_GCM_128, o.suite());
        assertEquals(9, o.saCount());
        assertEquals(2, o.clientThreads());
        assertEquals(5, o.connections());
        assertEquals(6, o.messagesPerConnection());
        assertEquals(7, o.serverThreads());
        assertEquals(Path.of("/tmp/bench-x"), o.out());

        BenchOptions r = BenchCommand.parse("receiver", List.of("--flows", "8", "--generators", "2"));
        assertEquals(8, r.flows());
        assertEquals(2, r.generators());
    }

    @Test
    void an_option_of_another_benchmark_is_refused_not_ignored() {
        assertEquals("--flows applies to receiver only", assertThrows(UsageException.class,
                () -> BenchCommand.parse("micro", List.of("--flows", "8"))).getMessage());
        assertEquals("--generators applies to receiver only", assertThrows(UsageException.class,
                () -> BenchCommand.parse("app", List.of("--generators", "2"))).getMessage());
        assertEquals("--clients applies to micro only", assertThrows(UsageException.class,
                () -> BenchCommand.parse("receiver", List.of("--clients", "2"))).getMessage());
        assertEquals("--messages applies to micro only", assertThrows(UsageException.class,
                () -> BenchCommand.parse("app", List.of("--messages", "2"))).getMessage());
        assertEquals("--connections applies to micro and app only", assertThrows(UsageException.class,
                () -> BenchCommand.parse("receiver", List.of("--connections", "2"))).getMessage());
        assertEquals("--servers applies to micro and app only", assertThrows(UsageException.class,
                () -> BenchCommand.parse("receiver", List.of("--servers", "2"))).getMessage());
    }

    @Test
    void the_sa_count_follows_the_largest_lane_count_unless_given() throws Exception {
        assertEquals(4, BenchCommand.parse("micro", List.of("--lanes", "1")).saCount());
        assertEquals(4, BenchCommand.parse("micro", List.of("--lanes", "2")).saCount());
        assertEquals(16, BenchCommand.parse("micro", List.of("--lanes", "8")).saCount());
        assertEquals(12, BenchCommand.parse("receiver", List.of("--lanes", "1,6,2")).saCount());
        assertEquals(List.of(1, 6, 2), BenchCommand.parse("receiver", List.of("--lanes", "1,6,2")).lanes());
        assertEquals(3, BenchCommand.parse("micro", List.of("--lanes", "8", "--sas", "3")).saCount());
    }

    @Test
    void receiver_sizes_up_to_the_largest_are_accepted() throws Exception {
        int largest = BenchCommand.largestReceiverPayload(EspSuite.AES_CBC_128_HMAC_SHA1_96);
        assertEquals(List.of(1, largest), BenchCommand.parse("receiver", List.of("--sizes", "1," + largest)).sizes());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Errors

    @Test
    void an_unknown_option_is_named() {
        assertEquals("unknown option --foo", usage("micro", "--foo", "1").getMessage());
    }

    @Test
    void an_option_without_its_value() {
        assertEquals("--seconds needs a value", usage("micro", "--seconds").getMessage());
        assertEquals("--out needs a value", usage("app", "--modes", "flow", "--out").getMessage());
    }

    @Test
    void a_stray_argument() {
        assertEquals("unexpected argument extra", usage("micro", "extra").getMessage());
    }

    @Test
    void a_value_that_is_not_a_number() {
        UsageException e = usage("micro", "--seconds", "ten");
        assertContains("--seconds must be a number", e.getMessage());
        assertContains("'ten'", e.getMessage());
        assertContains("--sizes must be a number", usage("micro", "--sizes", "64,big").getMessage());
    }

    @Test
    void values_out_of_range() {
        assertEquals("--seconds must be 1-3600, got 0", usage("micro", "--seconds", "0").getMessage());
        assertEquals("--warmup must be 0-600, got 601", usage("micro", "--warmup", "601").getMessage());
        assertEquals("--lanes must be 1-256, got 0", usage("receiver", "--lanes", "1,0").getMessage());
        assertEquals("--flows must be 1-45000, got 45001", usage("receiver", "--flows", "45001").getMessage());
        assertEquals("--sizes must be 1-1048576, got 0", usage("micro", "--sizes", "0").getMessage());
        assertEquals("--generators must be 1-64, got -1", usage("receiver", "--generators", "-1").getMessage());
    }

    @Test
    void an_unknown_mode() {
        assertEquals("unknown mode 'turbo' (single, pcrypt, flow)",
                usage("micro", "--modes", "single,turbo").getMessage());
    }

    @Test
    void an_unknown_suite_lists_the_known_ones() {
        UsageException e = usage("micro", "--suite", "rot13");
        assertContains("unknown suite 'rot13'", e.getMessage());
        for (EspSuite suite : EspSuite.values()) {
            assertContains(suite.configName(), e.getMessage());
        }
    }

    @Test
    void steering_is_director_or_rss() {
        assertEquals("--steering must be director or rss", usage("micro", "--steering", "single").getMessage());
    }

    @Test
    void micro_and_app_take_one_lane_count() {
        assertEquals("--lanes takes one count for micro (a list only for receiver)",
                usage("micro", "--lanes", "1,2").getMessage());
        assertEquals("--lanes takes one count for app (a list only for receiver)",
                usage("app", "--lanes", "2,4").getMessage());
    }

    @Test
    void a_receiver_size_above_the_largest_names_the_maximum() {
        int largest = BenchCommand.largestReceiverPayload(EspSuite.AES_CBC_128_HMAC_SHA1_96);
        UsageException e = usage("receiver", "--sizes", "64," + (largest + 1));
        assertContains("receiver size " + (largest + 1), e.getMessage());
        assertContains("aes-cbc-128-hmac-sha1-96", e.getMessage());
        assertContains("at most " + largest, e.getMessage());

        int largestGcm = BenchCommand.largestReceiverPayload(EspSuite.AES_GCM_128);
        assertContains("at most " + largestGcm,
                usage("receiver", "--suite", "aes-gcm-128", "--sizes", "9000").getMessage());
    }

    @Test
    void micro_sizes_are_not_limited_by_the_tunnel_mtu() throws Exception {
        assertEquals(List.of(65536), BenchCommand.parse("micro", List.of("--sizes", "65536")).sizes());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The largest receiver payload

    private static boolean fits(EspSuite suite, int payload) {
        return 20 + 8 + suite.overhead(28 + payload) + 28 + payload <= 1500;
    }

    @ParameterizedTest
    @EnumSource(EspSuite.class)
    void the_largest_receiver_payload_fits_and_nothing_larger_does(EspSuite suite) {
        int largest = BenchCommand.largestReceiverPayload(suite);
        assertTrue(largest > 1000 && largest < 1500, () -> suite + ": " + largest);
        assertTrue(fits(suite, largest), () -> suite + ": " + largest + " does not fit");
        for (int q = largest + 1; q <= 1500; q++) {
            int larger = q;
            assertTrue(!fits(suite, larger), () -> suite + ": " + larger + " fits too, larger than " + largest);
        }
    }

    @Test
    void the_largest_receiver_payload_of_the_papers_suite_and_gcm() {
        // CBC: 20 + 8 + 8 (ESP) + 16 (IV) + pad16(28 + p + 2) + 12 (ICV) <= 1500  ->  p = 1394
        assertEquals(1394, BenchCommand.largestReceiverPayload(EspSuite.AES_CBC_128_HMAC_SHA1_96));
        // GCM: 20 + 8 + 8 + 8 (IV) + pad4(28 + p + 2) + 16 (ICV) <= 1500  ->  p = 1410
        assertEquals(1410, BenchCommand.largestReceiverPayload(EspSuite.AES_GCM_128));
    }

    /** The SA file the test bed gives router A, for {@code suite}. */
    private static JsonObject policies(EspSuite suite) {
        HexFormat hex = HexFormat.of();
        JsonArray outbound = new JsonArray();
        for (int i = 0; i < 4; i++) {
            JsonObject sa = new JsonObject().put("spi", 0xb001 + i).put("sourcePort", 4501 + i);
            if (suite.encryptionKeyLength() > 0) {
                sa.put("key", hex.formatHex(new byte[suite.encryptionKeyLength()]).replace('0', '1'));
            }
            if (suite.integrityKeyLength() > 0) {
                sa.put("integrityKey", hex.formatHex(new byte[suite.integrityKeyLength()]).replace('0', '2'));
            }
            outbound.add(sa);
        }
        return new JsonObject().put("policies", new JsonArray().add(new JsonObject()
                .put("name", "a-to-b").put("local", "10.1.0.0/16").put("remote", "10.2.0.0/16")
                .put("suite", suite.configName()).put("encapsulation", "udp")
                .put("localAddress", "192.0.2.1").put("remoteAddress", "192.0.2.2")
                .put("port", 4500).put("encoding", "udp-port").put("outbound", outbound)));
    }

    @ParameterizedTest
    @EnumSource(EspSuite.class)
    void the_generators_datagrams_of_the_largest_payload_fit_the_tunnel_link(EspSuite suite) throws Exception {
        int largest = BenchCommand.largestReceiverPayload(suite);
        InetAddress a = InetAddress.getByName("10.1.0.10");
        InetAddress b = InetAddress.getByName("10.2.0.20");
        byte[] fitting = EspReplayGenerator.build(policies(suite), a, b, 1, 1, largest).espPayloads()[0];
        byte[] tooLarge = EspReplayGenerator.build(policies(suite), a, b, 1, 1, largest + 1).espPayloads()[0];
        assertTrue(20 + 8 + fitting.length <= 1500, () -> suite + ": " + (28 + fitting.length) + " bytes on the link");
        assertTrue(20 + 8 + tooLarge.length > 1500, () -> suite + ": " + (28 + tooLarge.length) + " bytes on the link");
    }
}
