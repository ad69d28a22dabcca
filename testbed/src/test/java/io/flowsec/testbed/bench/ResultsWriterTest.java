package io.flowsec.testbed.bench;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ResultsWriterTest {
    private static final String MACHINE = "2 cores, Test CPU, Linux 6.0, JDK 25 (Test)";
    private static final String COMMAND = "flowsec bench micro --seconds 10";
    private static final double NaN = Double.NaN;

    @TempDir
    Path dir;

    /** A point whose headline (throughput) is {@code gbps}; the other figures are fixed. */
    private static BenchPoint point(String mode, int size, int lanes, double gbps) {
        return new BenchPoint(mode, "director", size, lanes, 10, gbps, NaN, 1000, NaN, List.of(0.5), 100, 0, "");
    }

    private static List<String> tableRows(String summary) {
        return summary.lines().filter(l -> l.startsWith("| ")).skip(1).toList();
    }

    // -----------------------------------------------------------------------------------------------------------
    // CSV

    @Test
    void the_csv_has_the_header_and_one_exact_row_per_point() {
        BenchPoint point = new BenchPoint("flow", "director", 1400, 2, 10.04, 1.234567, NaN, 123456.7, NaN,
                List.of(0.987, 0.031), 2345.6, 4, "replay-too-old=3, \"auth\"=1");
        String csv = ResultsWriter.csv("micro", List.of(point));
        assertEquals("""
                benchmark,mode,steering,size,lanes,seconds,throughput_gbps,application_gbps,packets_per_s,\
                requests_per_s,cpu_per_lane,cpu_ns_per_packet,drops,drop_reasons
                micro,flow,director,1400,2,10.0,1.2346,,123457,,98.7;3.1,2346,4,"replay-too-old=3, ""auth""=1"
                """, csv);
    }

    @Test
    void drop_reasons_without_comma_or_quote_are_not_quoted() {
        BenchPoint point = new BenchPoint("single", "single", 64, 1, 5, NaN, 0.5, NaN, 250.4, List.of(), NaN, 3,
                "replay-too-old=3");
        assertEquals("micro,single,single,64,1,5.0,,0.5000,,250,,,3,replay-too-old=3",
                ResultsWriter.csv("micro", List.of(point)).lines().skip(1).findFirst().orElseThrow());
    }

    // -----------------------------------------------------------------------------------------------------------
    // Summary

    @Test
    void the_summary_names_machine_and_command_then_tabulates_the_modes_with_flows_ratios() {
        List<BenchPoint> points = List.of(
                point("flow", 64, 2, 2.0), point("single", 64, 2, 1.0), point("pcrypt", 64, 2, 0.5),
                point("flow", 1024, 2, 3.0), point("single", 1024, 2, 1.5), point("pcrypt", 1024, 2, 3.0));
        String summary = ResultsWriter.summary("micro", MACHINE, COMMAND, Headline.THROUGHPUT, points);
        List<String> lines = summary.lines().toList();
        assertEquals("flowsec bench micro on " + MACHINE, lines.get(0));
        assertTrue(lines.get(1).contains(COMMAND), lines.get(1));
        assertTrue(summary.contains("Throughput (Gbit/s), 2 lanes:"), summary);
        assertTrue(summary.contains("| size (bytes) | single | pcrypt | flow | flow/single | flow/pcrypt |\n"
                + "|---:|---:|---:|---:|---:|---:|\n"), summary);
        assertEquals(List.of(
                "| 64 | 1.00 | 0.500 | 2.00 | 2.00× | 4.00× |",
                "| 1024 | 1.50 | 3.00 | 3.00 | 2.00× | 1.00× |"), tableRows(summary));
        // flow/pcrypt: sqrt(4 * 1) = 2
        assertTrue(summary.contains("flow/single, geometric mean over 2 sizes: 2.00×\n"), summary);
        assertTrue(summary.contains("flow/pcrypt, geometric mean over 2 sizes: 2.00×\n"), summary);
    }

    @Test
    void the_geometric_mean_is_not_the_arithmetic_mean() {
        List<BenchPoint> points = List.of(
                point("flow", 64, 1, 1.0), point("single", 64, 1, 1.0),
                point("flow", 128, 1, 8.0), point("single", 128, 1, 1.0),
                point("flow", 256, 1, 2.0), point("single", 256, 1, 1.0));
        String summary = ResultsWriter.summary("receiver", MACHINE, COMMAND, Headline.THROUGHPUT, points);
        // cube root of 1 * 8 * 2 = 16 is 2.52; the arithmetic mean would be 3.67
        assertTrue(summary.contains("flow/single, geometric mean over 3 sizes: 2.52×\n"), summary);
        assertTrue(summary.contains("flow/pcrypt, geometric mean over 0 sizes: –\n"), summary);
    }

    @Test
    void a_missing_mode_or_a_zero_divisor_gives_a_dash() {
        List<BenchPoint> points = List.of(
                point("flow", 64, 1, 2.0), point("single", 64, 1, 0.0),
                point("flow", 128, 1, 4.0), point("single", 128, 1, 2.0),
                point("single", 256, 1, 1.0));
        String summary = ResultsWriter.summary("micro", MACHINE, COMMAND, Headline.THROUGHPUT, points);
        assertTrue(summary.contains("| size (bytes) | single | flow | flow/single | flow/pcrypt |"), summary);
        assertEquals(List.of(
                "| 64 | 0.000 | 2.00 | – | – |",
                "| 128 | 2.00 | 4.00 | 2.00× | – |",
                "| 256 | 1.00 | – | – | – |"), tableRows(summary));
        assertTrue(summary.contains("flow/single, geometric mean over 1 size: 2.00×\n"), summary);
    }

    @Test
    void each_lane_count_gets_its_own_rows_and_means() {
        List<BenchPoint> points = List.of(
                point("flow", 64, 1, 1.0), point("single", 64, 1, 1.0),
                point("flow", 64, 2, 3.0), point("single", 64, 2, 1.0),
                point("flow", 128, 2, 3.0), point("single", 128, 2, 1.0));
        String summary = ResultsWriter.summary("micro", MACHINE, COMMAND, Headline.THROUGHPUT, points);
        assertTrue(summary.contains("| lanes | size (bytes) | single | flow | flow/single | flow/pcrypt |"),
                summary);
        assertEquals(List.of(
                "| 1 | 64 | 1.00 | 1.00 | 1.00× | – |",
                "| 2 | 64 | 1.00 | 3.00 | 3.00× | – |",
                "| 2 | 128 | 1.00 | 3.00 | 3.00× | – |"), tableRows(summary));
        assertTrue(summary.contains("flow/single, 1 lane, geometric mean over 1 size: 1.00×\n"), summary);
        assertTrue(summary.contains("flow/single, 2 lanes, geometric mean over 2 sizes: 3.00×\n"), summary);
    }

    @Test
    void the_headline_is_the_callers_choice_and_repeated_runs_are_averaged() {
        BenchPoint a = new BenchPoint("flow", "rss", 4096, 1, 10, NaN, NaN, NaN, 1000, List.of(), NaN, 0, "");
        BenchPoint b = new BenchPoint("flow", "rss", 4096, 1, 10, NaN, NaN, NaN, 3000, List.of(), NaN, 0, "");
        BenchPoint c = new BenchPoint("pcrypt", "rss", 4096, 1, 10, 9.9, NaN, NaN, 500, List.of(), NaN, 0, "");
        String summary = ResultsWriter.summary("app", MACHINE, COMMAND, Headline.REQUESTS, List.of(a, b, c));
        assertTrue(summary.contains("Requests (requests/s), 1 lane:"), summary);
        assertEquals(List.of("| 4096 | 500 | 2000 | – | 4.00× |"), tableRows(summary));
    }

    // -----------------------------------------------------------------------------------------------------------
    // Files

    @Test
    void write_puts_csv_summary_and_chart_in_the_directory_and_returns_the_summary() throws IOException {
        Path out = dir.resolve("results");
        List<BenchPoint> points = List.of(point("flow", 64, 1, 2.0), point("single", 64, 1, 1.0));
        String summary = new ResultsWriter(out, MACHINE, COMMAND)
                .write("micro", "Micro benchmark", Headline.THROUGHPUT, points);
        assertEquals(ResultsWriter.csv("micro", points), Files.readString(out.resolve("micro.csv")));
        assertEquals(summary, Files.readString(out.resolve("micro-summary.txt")));
        assertEquals(ResultsWriter.summary("micro", MACHINE, COMMAND, Headline.THROUGHPUT, points), summary);
        assertTrue(Files.size(out.resolve("micro.png")) > 1000);
    }

    @Test
    void a_benchmark_name_that_is_not_a_plain_file_name_is_refused() {
        ResultsWriter writer = new ResultsWriter(dir, MACHINE, COMMAND);
        assertThrows(IllegalArgumentException.class,
                () -> writer.write("../micro", "t", Headline.THROUGHPUT, List.of()));
        assertFalse(Files.exists(dir.resolve("micro.csv")));
    }
}
