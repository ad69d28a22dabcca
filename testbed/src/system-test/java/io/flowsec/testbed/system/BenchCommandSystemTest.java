package io.flowsec.testbed.system;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.testbed.TestbedMain;
import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.bench.balance.LaneThrottle;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code flowsec bench}, each benchmark end to end with very short points: it measures real traffic, writes the CSV,
 * chart and summary, and leaves no namespace or process behind. The figures themselves are for the README's
 * commands; these only check that each one is measured and plausible.
 */
class BenchCommandSystemTest {
    private static final Path WIREGUARD_SOCKETS = Path.of("/var/run/wireguard");

    @TempDir
    Path out;

    @BeforeEach
    void needsRootAndAQuietTestBed() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the benchmarks need root");
        assumeTrue(Topology.leftovers(BenchTestBed.PREFIX).isEmpty() && Topology.leftovers("fsdemo").isEmpty(),
                "a benchmark or demo is running on this machine");
    }

    @Test
    void micro_measures_router_b_and_the_server_in_every_mode() throws Exception {
        List<Row> rows = bench("micro", "--sizes", "1024", "--modes", "single,pcrypt,flow", "--seconds", "1",
                "--warmup", "1", "--lanes", "2", "--clients", "2", "--connections", "8");

        assertEquals(List.of("single", "pcrypt", "flow"), rows.stream().map(Row::mode).toList());
        for (Row row : rows) {
            assertEquals(1024, row.size());
            assertTrue(row.number("throughput_gbps") > 0, "router B forwarded: " + row);
            assertTrue(row.number("application_gbps") > 0, "the server received: " + row);
            assertTrue(row.number("packets_per_s") > 0, row.toString());
        }
        assertEquals(0.0, rows.getFirst().lane(1), 0.05, "single mode leaves lane 1 idle: " + rows.getFirst());
        assertTrue(rows.getLast().lane(0) > 0 && rows.getLast().lane(1) > 0, "flow mode uses both lanes: " + rows.getLast());
        assertOutputsAndNoLeftovers("micro");
    }

    @Test
    void app_measures_requests_through_both_tunnels() throws Exception {
        List<Row> rows = bench("app", "--sizes", "1024", "--modes", "flow", "--seconds", "2", "--warmup", "0",
                "--lanes", "2", "--connections", "16");

        Row row = rows.getFirst();
        assertTrue(row.number("requests_per_s") > 0, row.toString());
        assertTrue(row.number("throughput_gbps") > 0, row.toString());
        assertTrue(row.number("packets_per_s") > 0, "router B decrypted the requests: " + row);
        assertEquals("", row.column("drop_reasons"), "no request failed, nothing dropped: " + row);
        assertOutputsAndNoLeftovers("app");
    }

    @Test
    void receiver_counts_what_host_b_receives_per_lane_count_and_mode() throws Exception {
        int largest = 1394; // aes-cbc-128-hmac-sha1-96 in a 1500-byte tunnel link
        List<Row> rows = bench("receiver", "--sizes", "64," + largest, "--modes", "single,flow", "--seconds", "1",
                "--warmup", "0", "--lanes", "1,2");

        assertEquals(8, rows.size(), "2 lane counts x 2 sizes x 2 modes");
        for (Row row : rows) {
            assertTrue(row.number("packets_per_s") > 1000, "host B received the replayed packets: " + row);
            assertTrue(row.number("cpu_ns_per_packet") > 0, row.toString());
            assertTrue(!row.column("drop_reasons").contains("replay"), "anti-replay is off on router B: " + row);
            assertTrue(!row.column("drop_reasons").contains("authentication"), row.toString());
        }
        Row flowTwoLanes = rows.stream().filter(r -> r.mode().equals("flow") && r.lanes() == 2).findFirst().orElseThrow();
        assertTrue(flowTwoLanes.lane(0) > 0 && flowTwoLanes.lane(1) > 0, "flow mode uses both lanes: " + flowTwoLanes);
        assertOutputsAndNoLeftovers("receiver");
    }

    @Test
    void balance_samples_a_static_run_through_the_imbalance_and_removes_its_throttle() throws Exception {
        assumeTrue(LaneThrottle.available(), "the lane throttle needs the cgroup v1 cpu controller");
        List<Row> rows = bench("balance", "--policies", "static", "--seconds", "4");

        assertTrue(rows.stream().allMatch(row -> row.column("policy").equals("static")), "one policy");
        assertTrue(rows.size() >= 20, "about 4 samples a second over 3 s before t0 and 4 s after: " + rows.size());
        assertTrue(rows.getFirst().number("t_s") < -2.5 && rows.getLast().number("t_s") > 3.5, "from -3 s to 4 s");
        assertTrue(rows.stream().mapToDouble(row -> row.number("delivered_per_s")).sum() > 0, "the sink received");
        assertTrue(rows.getLast().number("b_lane1_busy") > 0, "router B's lane 1 worked: " + rows.getLast());
        String summary = Files.readString(out.resolve("balance-summary.txt"));
        assertTrue(summary.lines().anyMatch(line -> line.startsWith("| static | ") && line.endsWith(" |")), summary);
        try (var groups = Files.list(LaneThrottle.CPU_CONTROLLER)) {
            assertTrue(groups.noneMatch(p -> p.getFileName().toString().startsWith("flowsec-bench-balance")),
                    "the throttle's cgroup was removed");
        }
        assertOutputsAndNoLeftovers("balance");
    }

    @Test
    void tunnel_measures_plain_routing_wireguard_and_flowsec_and_stops_every_router() throws Exception {
        List<Row> rows = bench("tunnel", "--tunnels", "plain,wireguard,flow", "--tests", "tcp1,udp64", "--seconds", "1",
                "--warmup", "0", "--lanes", "2");

        assertEquals(List.of("plain tcp1", "plain udp64", "wireguard tcp1", "wireguard udp64", "flow tcp1", "flow udp64"),
                rows.stream().map(row -> row.column("tunnel") + " " + row.column("test")).toList());
        for (Row row : rows) {
            assertTrue(row.number("value") > 0, "host B received through the tunnel: " + row);
            if (row.column("tunnel").equals("plain")) {
                assertEquals("n/a", row.column("routerA_cpu"), "the kernels forward: " + row);
                assertEquals("n/a", row.column("routerB_cpu"), row.toString());
            } else {
                assertTrue(row.number("routerA_cpu") > 0 && row.number("routerB_cpu") > 0, "the routers worked: " + row);
            }
        }
        assertEquals("Gbit/s", rows.getFirst().column("unit"));
        assertEquals("packets/s", rows.get(1).column("unit"));
        String summary = Files.readString(out.resolve("tunnel-summary.txt"));
        assertTrue(summary.contains("| TCP, 1 stream: flow ≥ 30 % of plain | "), summary);
        assertTrue(Files.size(out.resolve("iperf3").resolve("flow-udp64.json")) > 0, "iperf3's reports are kept");
        try (var sockets = Files.isDirectory(WIREGUARD_SOCKETS) ? Files.list(WIREGUARD_SOCKETS) : java.util.stream.Stream.<Path>empty()) {
            assertTrue(sockets.noneMatch(p -> p.getFileName().toString().startsWith(BenchTestBed.PREFIX)),
                    "wireguard-go's control sockets are gone");
        }
        assertOutputsAndNoLeftovers("tunnel");
    }

    @Test
    void the_micro_test_bed_answers_in_the_clear_and_the_app_test_bed_through_the_tunnel(@TempDir Path work)
            throws Exception {
        for (BenchTestBed.ReturnPath returnPath : BenchTestBed.ReturnPath.values()) {
            try (BenchTestBed bed = BenchTestBed.start(new BenchTestBed.Settings(EspSuite.AES_CBC_128_HMAC_SHA1_96, 4,
                    2, 2, "director", returnPath, true), work)) {
                Topology.run("ip", "netns", "exec", bed.topology().hostA(), "ping", "-c", "3", "-i", "0.2", "-W", "2",
                        Topology.HOST_B_ADDRESS);

                long requestsDecrypted = laneSum(bed.statusB(), "site-packets-written");
                long answersEncrypted = outboundSaPackets(bed.statusB());
                assertTrue(requestsDecrypted >= 3, "host A -> host B goes through the tunnel: " + bed.statusB());
                if (returnPath == BenchTestBed.ReturnPath.PLAIN) {
                    assertEquals(0, answersEncrypted, "host B's answers bypass router B's TUN device (Fig. 4)");
                } else {
                    assertTrue(answersEncrypted >= 3, "host B's answers go through the tunnel too");
                }
            }
        }
        assertTrue(Topology.leftovers(BenchTestBed.PREFIX).isEmpty());
    }

    private static long laneSum(JsonObject status, String counter) {
        long sum = 0;
        for (int i = 0; i < status.getJsonArray("lanes").size(); i++) {
            sum += status.getJsonArray("lanes").getJsonObject(i).getJsonObject("io").getLong(counter);
        }
        return sum;
    }

    private static long outboundSaPackets(JsonObject status) {
        long sum = 0;
        for (int i = 0; i < status.getJsonArray("sas").size(); i++) {
            JsonObject sa = status.getJsonArray("sas").getJsonObject(i);
            if (sa.getString("direction").equals("outbound")) {
                sum += sa.getLong("packets");
            }
        }
        return sum;
    }

    @Test
    void a_second_run_is_refused_while_the_first_ones_namespaces_exist() throws Exception {
        String name = BenchTestBed.PREFIX + "-hosta";
        Topology.run("ip", "netns", "add", name);
        try {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = TestbedMain.run(List.of("bench", "receiver", "--out", out.toString()), System.out,
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            assertEquals(2, status);
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("namespaces of another benchmark or demo are present: ["
                    + name + "]"), err.toString(StandardCharsets.UTF_8));
            assertTrue(!Files.exists(out.resolve("receiver.csv")), "nothing was measured");
        } finally {
            Topology.run("ip", "netns", "del", name);
        }
    }

    private List<Row> bench(String benchmark, String... options) throws Exception {
        List<String> args = new ArrayList<>(List.of("bench", benchmark, "--out", out.toString()));
        args.addAll(Arrays.asList(options));
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int status = TestbedMain.run(args, new PrintStream(stdout, true, StandardCharsets.UTF_8),
                new PrintStream(stderr, true, StandardCharsets.UTF_8));
        assertEquals(0, status, stdout.toString(StandardCharsets.UTF_8) + stderr.toString(StandardCharsets.UTF_8));
        List<String> lines = Files.readAllLines(out.resolve(benchmark + ".csv"));
        List<String> header = List.of(lines.getFirst().split(","));
        List<Row> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            rows.add(new Row(header, List.of(line.split(",", -1))));
        }
        return rows;
    }

    private void assertOutputsAndNoLeftovers(String benchmark) throws Exception {
        byte[] png = Files.readAllBytes(out.resolve(benchmark + ".png"));
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "a PNG chart");
        String summary = Files.readString(out.resolve(benchmark + "-summary.txt"));
        assertTrue(summary.startsWith("flowsec bench " + benchmark + " on "), summary);
        assertTrue(Topology.leftovers(BenchTestBed.PREFIX).isEmpty(), "the benchmark removed its namespaces");
        for (ProcessHandle process : ProcessHandle.current().descendants().toList()) {
            assertTrue(!process.isAlive(), "a process it started is still running: " + process.info());
        }
        assertTrue(Files.list(Path.of("/dev/shm")).noneMatch(p -> p.getFileName().toString().startsWith("flowsec-bench")),
                "nginx's files were removed");
    }

    private record Row(List<String> header, List<String> cells) {
        String column(String name) {
            return cells.get(header.indexOf(name));
        }

        double number(String name) {
            return Double.parseDouble(column(name));
        }

        String mode() {
            return column("mode");
        }

        int size() {
            return Integer.parseInt(column("size"));
        }

        int lanes() {
            return Integer.parseInt(column("lanes"));
        }

        double lane(int lane) {
            return Double.parseDouble(column("cpu_per_lane").split(";")[lane]) / 100;
        }
    }
}
