package io.flowsec.testbed.bench.warmstart;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class WarmStartResultsTest {
    @TempDir
    Path out;

    /** 3 s of 100-ms windows: {@code first} pkt/s in the first second, {@code steady} after. */
    private static WarmStartRun run(String variant, int round, long ready, double first, double steady, double ping) {
        List<WarmStartRun.Window> windows = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            windows.add(new WarmStartRun.Window(i / 10.0, (i + 1) / 10.0, Math.round((i < 10 ? first : steady) / 10),
                    i < 10 ? 60_000_000L : 30_000_000L));
        }
        return new WarmStartRun(variant, round, ready, ready + 100, List.of(ping, 0.3, Double.NaN), windows);
    }

    private static final List<WarmStartRun> RUNS = List.of(run("without", 0, 2000, 20_000, 60_000, 3.0),
            run("with", 0, 1000, 50_000, 60_000, 1.0), run("with", 1, 1200, 40_000, 60_000, 1.4),
            run("without", 1, 2200, 30_000, 60_000, 2.0));

    private static WarmStartResults.Setup setup() {
        return new WarmStartResults.Setup("2 cores, a CPU, Linux, JDK 25", "flowsec bench warmstart --seconds 3",
                "router A and router B (2 lanes each)", 64, 64, 3, 1, 3,
                Optional.of(new WarmStartBenchmark.Cache(Path.of("/t/appliance-processes.aot"), 55L << 20, -1)));
    }

    @Test
    void the_summary_gives_each_variants_means_the_ratios_and_each_start() {
        String summary = WarmStartResults.summary(setup(), RUNS);

        assertTrue(summary.startsWith("flowsec bench warmstart on 2 cores, a CPU, Linux, JDK 25\n"), summary);
        assertTrue(summary.contains("AOT cache: /t/appliance-processes.aot (55 MB, recorded by the build)"), summary);
        assertTrue(summary.contains("| without | 2 | 2100 | 2200 | 25,000 | 60,000 | 0.42 | 1.0 | 2.50 | 0.30 | 25.00 | 5.00 |"), summary);
        assertTrue(summary.contains("| with | 2 | 1100 | 1200 | 45,000 | 60,000 | 0.75 | 0.8 | 1.20 | 0.30 | 13.50 | 5.00 |"), summary);
        assertTrue(summary.contains("with / without: ready (the later router) 0.55x, first-second rate 1.80x, steady rate "
                + "1.00x, first ping 0.48x, B's CPU per packet in the first second 0.54x, steady 1.00x"), summary);
        assertTrue(summary.contains("| with | 2 | 1200 | 1300 | 40,000 | 60,000 | 0.67 | 0.9 | 15.00, 5.00 | 1.40 0.30 lost |"), summary);
    }

    @Test
    void the_files_hold_every_window_and_ping_and_the_chart_is_a_png() throws Exception {
        String summary = WarmStartResults.write(out, setup(), RUNS);

        List<String> csv = Files.readAllLines(out.resolve("warmstart.csv"));
        assertEquals("variant,round,ready_ms_router_a,ready_ms_router_b,from_s,to_s,packets,packets_per_s,cpu_ns",
                csv.getFirst());
        assertEquals(1 + 4 * 30, csv.size());
        assertEquals("without,1,2000,2100,0.000,0.100,2000,20000,60000000", csv.get(1));
        List<String> pings = Files.readAllLines(out.resolve("warmstart-pings.csv"));
        assertEquals(List.of("variant,round,ping,rtt_ms", "without,1,1,3.000", "without,1,2,0.300", "without,1,3,lost"),
                pings.subList(0, 4));
        assertEquals(summary, Files.readString(out.resolve("warmstart-summary.txt")));
        byte[] png = Files.readAllBytes(out.resolve("warmstart.png"));
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
    }
}
