package io.flowsec.testbed.bench.tunnel;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.flowsec.testbed.bench.tunnel.TunnelTest.HTTP16K;
import static io.flowsec.testbed.bench.tunnel.TunnelTest.HTTP1K;
import static io.flowsec.testbed.bench.tunnel.TunnelTest.TCP1;
import static io.flowsec.testbed.bench.tunnel.TunnelTest.TCP8;
import static io.flowsec.testbed.bench.tunnel.TunnelTest.UDP64;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TunnelReportTest {
    private static final String MACHINE = "2 cores, Test CPU, Linux 6.0, JDK 25 (Test)";
    private static final String COMMAND = "flowsec bench tunnel --seconds 5";
    private static final String SETUP = "Host A to host B, 5 s per test";
    private static final double NA = Double.NaN;

    private static TunnelResult result(String tunnel, TunnelTest test, double value) {
        boolean kernel = tunnel.equals("plain");
        return new TunnelResult(tunnel, test, value, kernel ? NA : 0.8, kernel ? NA : 0.6, "");
    }

    /**
     * A run where flow meets every target but one: TCP x1 is 8.5x wireguard but only 25 % of plain; single beats flow
     * at HTTP 16 KB.
     */
    private static List<TunnelResult> run() {
        List<TunnelResult> results = new ArrayList<>();
        double[][] values = {
                // tcp1, tcp8, udp64, http1k, http16k
                {20.0, 25.0, 400_000, 20_000, 5_000},    // plain
                {0.5, 0.6, 30_000, 6_000, 1_500},        // wireguard
                {4.0, 4.5, 60_000, 7_000, 2_200},        // single
                {5.0, 6.0, 70_000, 8_000, 2_000},        // flow
        };
        List<String> tunnels = List.of("plain", "wireguard", "single", "flow");
        for (int t = 0; t < tunnels.size(); t++) {
            for (TunnelTest test : TunnelTest.values()) {
                results.add(result(tunnels.get(t), test, values[t][test.ordinal()]));
            }
        }
        return results;
    }

    private static TunnelTargets.Check check(List<TunnelTargets.Check> checks, TunnelTest test, String reference) {
        return checks.stream().filter(c -> c.target().test() == test && c.target().reference().equals(reference))
                .findFirst().orElseThrow();
    }

    @Test
    void each_target_is_a_ratio_of_flow_to_its_reference_in_the_same_test() {
        List<TunnelTargets.Check> checks = TunnelTargets.check(run());

        assertEquals(TunnelTargets.TARGETS.size(), checks.size(), "every test ran: every target");
        assertEquals(10.0, check(checks, TCP1, "wireguard").ratio(), 1e-12);
        assertEquals(TunnelTargets.Verdict.MET, check(checks, TCP1, "wireguard").verdict(), ">= 8x");
        assertEquals(0.25, check(checks, TCP1, "plain").ratio(), 1e-12);
        assertEquals(TunnelTargets.Verdict.MISSED, check(checks, TCP1, "plain").verdict(), "below 30 %");
        assertEquals(TunnelTargets.Verdict.MET, check(checks, TCP8, "wireguard").verdict(), "10x >= 8x");
        assertEquals(70_000 / 30_000.0, check(checks, UDP64, "wireguard").ratio(), 1e-12);
        assertEquals(TunnelTargets.Verdict.MET, check(checks, UDP64, "wireguard").verdict(), "2.33x >= 2x");
        for (TunnelTest test : List.of(TCP1, TCP8, UDP64, HTTP1K)) {
            assertEquals(TunnelTargets.Verdict.MET, check(checks, test, "single").verdict(), test.id());
        }
        assertEquals(TunnelTargets.Verdict.MISSED, check(checks, HTTP16K, "single").verdict(), "2,000 < 2,200");
    }

    @Test
    void a_target_exactly_reached_is_met() {
        List<TunnelResult> results = List.of(result("wireguard", UDP64, 10_000), result("flow", UDP64, 20_000),
                result("single", UDP64, 20_000));

        for (TunnelTargets.Check c : TunnelTargets.check(results)) {
            assertEquals(TunnelTargets.Verdict.MET, c.verdict(), c.target().describe());
        }
    }

    @Test
    void targets_of_tests_not_run_are_left_out_and_of_tunnels_not_run_are_not_measured() {
        List<TunnelResult> results = List.of(result("plain", TCP1, 10), result("flow", TCP1, 4));

        List<TunnelTargets.Check> checks = TunnelTargets.check(results);

        assertEquals(List.of("TCP, 1 stream: flow ≥ 8× wireguard", "TCP, 1 stream: flow ≥ 30 % of plain",
                "TCP, 1 stream: flow ≥ single"), checks.stream().map(c -> c.target().describe()).toList());
        assertEquals(List.of(TunnelTargets.Verdict.NOT_MEASURED, TunnelTargets.Verdict.MET,
                TunnelTargets.Verdict.NOT_MEASURED), checks.stream().map(TunnelTargets.Check::verdict).toList());
        assertEquals(0.4, checks.get(1).ratio(), 1e-12);
    }

    @Test
    void a_reference_that_carried_nothing_is_beaten_and_nothing_against_nothing_is_missed() {
        List<TunnelResult> results = List.of(result("wireguard", UDP64, 0), result("flow", UDP64, 5),
                result("single", TCP1, 0), result("flow", TCP1, 0));

        List<TunnelTargets.Check> checks = TunnelTargets.check(results);

        assertEquals(TunnelTargets.Verdict.MET, check(checks, UDP64, "wireguard").verdict());
        assertTrue(Double.isInfinite(check(checks, UDP64, "wireguard").ratio()));
        assertEquals(TunnelTargets.Verdict.MISSED, check(checks, TCP1, "single").verdict());
    }

    @Test
    void the_csv_has_a_row_per_tunnel_and_test_with_the_routers_cores_or_na() {
        List<TunnelResult> results = List.of(
                new TunnelResult("plain", TCP1, 21.123456, NA, NA, ""),
                new TunnelResult("wireguard", UDP64, 33417.543, 0.4567, 0.4444, ""),
                new TunnelResult("flow", HTTP1K, 6113.27, 0.42, 0.351, "3 of 12000 requests failed"));

        assertEquals("""
                tunnel,test,value,unit,routerA_cpu,routerB_cpu
                plain,tcp1,21.1235,Gbit/s,n/a,n/a
                wireguard,udp64,33418,packets/s,0.457,0.444
                flow,http1k,6113.3,requests/s,0.420,0.351
                """, TunnelReport.csv(results));
    }

    @Test
    void the_summary_puts_the_tunnels_side_by_side_with_flows_ratios() {
        String summary = TunnelReport.summary(MACHINE, COMMAND, SETUP, run());

        assertTrue(summary.startsWith("flowsec bench tunnel on " + MACHINE + "\ncommand: " + COMMAND + "\n\n" + SETUP
                + ":\n\n"), summary);
        assertTrue(summary.contains("""
                | test | unit | plain | wireguard | single | flow | flow/wireguard | flow/plain | flow/single | flow/flow-no-offloads |
                |---|---|---:|---:|---:|---:|---:|---:|---:|---:|
                | TCP, 1 stream | Gbit/s | 20.0 | 0.500 | 4.00 | 5.00 | 10.0× | 0.250× (25.0 %) | 1.25× | – |
                | TCP, 8 streams | Gbit/s | 25.0 | 0.600 | 4.50 | 6.00 | 10.0× | 0.240× (24.0 %) | 1.33× | – |
                | UDP 64 B | packets/s | 400,000 | 30,000 | 60,000 | 70,000 | 2.33× | 0.175× (17.5 %) | 1.17× | – |
                | HTTP 1 KB | requests/s | 20,000 | 6,000 | 7,000 | 8,000 | 1.33× | 0.400× (40.0 %) | 1.14× | – |
                | HTTP 16 KB | requests/s | 5,000 | 1,500 | 2,200 | 2,000 | 1.33× | 0.400× (40.0 %) | 0.909× (90.9 %) | – |
                """), summary);
        assertTrue(summary.contains("| TCP, 1 stream | n/a | 0.80 / 0.60 | 0.80 / 0.60 | 0.80 / 0.60 |\n"), summary);
        assertTrue(summary.contains("n/a: plain routing is forwarded by the routers' kernels in softirq context"), summary);
        assertTrue(summary.contains("| TCP, 1 stream: flow ≥ 8× wireguard | 10.0× | met |\n"), summary);
        assertTrue(summary.contains("| TCP, 1 stream: flow ≥ 30 % of plain | 0.250× (25.0 %) | missed |\n"), summary);
        assertTrue(summary.contains("| HTTP 16 KB: flow ≥ single | 0.909× (90.9 %) | missed |\n"), summary);
        assertTrue(summary.contains("\n7 of 9 targets measured met.\n"), summary);
        assertTrue(!summary.contains("Notes:"), "nothing went wrong");
    }

    @Test
    void the_summary_marks_what_was_not_run_and_lists_the_notes() {
        List<TunnelResult> results = List.of(
                new TunnelResult("wireguard", HTTP1K, 6000, 0.3, 0.3, ""),
                new TunnelResult("flow", HTTP1K, 6500, 0.4, 0.3, "3 of 13000 requests failed"));

        String summary = TunnelReport.summary(MACHINE, COMMAND, SETUP, results);

        assertTrue(summary.contains("| HTTP 1 KB | requests/s | 6,000 | 6,500 | 1.08× | – | – | – |\n"), summary);
        assertTrue(summary.contains("| HTTP 1 KB: flow ≥ single | – | not measured |\n"), summary);
        assertTrue(summary.contains("\n0 of 0 targets measured met.\n"), summary);
        assertTrue(!summary.contains("n/a: plain routing"), "no plain routing, no n/a: " + summary);
        assertTrue(summary.endsWith("Notes:\n- flow, HTTP 1 KB: 3 of 13000 requests failed\n"), summary);
    }

    @Test
    void write_makes_the_csv_the_summary_and_a_chart_with_a_panel_per_test(@TempDir Path dir) throws Exception {
        String summary = TunnelReport.write(dir, MACHINE, COMMAND, SETUP, run());

        assertEquals(summary, Files.readString(dir.resolve("tunnel-summary.txt")));
        assertEquals(TunnelReport.csv(run()), Files.readString(dir.resolve("tunnel.csv")));
        BufferedImage png = ImageIO.read(dir.resolve("tunnel.png").toFile());
        assertEquals(3 * TunnelChart.PANEL_WIDTH, png.getWidth(), "three panels to a row");
        assertTrue(png.getHeight() > 2 * TunnelChart.PANEL_HEIGHT, "five tests: two rows");
    }

    @Test
    void a_chart_panel_has_a_bar_per_tunnel_in_the_order_they_ran() {
        var plot = TunnelChart.panel(UDP64, run()).getCategoryPlot();

        assertEquals(List.of("plain", "wireguard", "single", "flow"), plot.getDataset().getColumnKeys());
        assertEquals(70_000.0, plot.getDataset().getValue("UDP 64 B", "flow").doubleValue());
        assertEquals("packets/s", plot.getRangeAxis().getLabel());
    }

    @Test
    void rounds_become_one_result_per_tunnel_and_test_the_median_with_every_rounds_value_in_the_note() {
        List<TunnelResult> rounds = List.of(
                new TunnelResult("flow", TunnelTest.TCP1, 2.0, 0.7, 0.8, ""),
                new TunnelResult("single", TunnelTest.TCP1, 1.0, 0.5, 0.5, ""),
                new TunnelResult("flow", TunnelTest.TCP1, 3.5, 0.9, 0.6, "1 retransmission"),
                new TunnelResult("single", TunnelTest.TCP1, 1.2, 0.6, 0.7, ""),
                new TunnelResult("flow", TunnelTest.TCP1, 2.5, 0.8, 0.7, ""),
                new TunnelResult("single", TunnelTest.TCP1, 0.9, 0.4, 0.6, ""),
                new TunnelResult("plain", TunnelTest.UDP64, 100, NA, NA, ""),
                new TunnelResult("plain", TunnelTest.UDP64, 300, NA, NA, ""));
        List<TunnelResult> medians = TunnelResult.medians(rounds);
        assertEquals(3, medians.size());
        assertEquals(new TunnelResult("flow", TunnelTest.TCP1, 2.5, 0.8, 0.7,
                "median of 3: 2.00, 3.50, 2.50; 1 retransmission"), medians.get(0), "each field's own median");
        assertEquals("single", medians.get(1).tunnel());
        assertEquals(1.0, medians.get(1).value());
        assertEquals(200, medians.get(2).value(), "an even count: the mean of the middle two");
        assertTrue(Double.isNaN(medians.get(2).routerACores()), "no CPU stays no CPU");
        TunnelResult once = new TunnelResult("wireguard", TunnelTest.TCP1, 0.4, 0.3, 0.3, "");
        assertEquals(List.of(once), TunnelResult.medians(List.of(once)), "one round: the result as measured");
    }
}
