package io.flowsec.testbed.system;

import io.flowsec.testbed.TestbedMain;
import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.demo.Topology;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code flowsec bench warmstart} end to end with short starts: it records an AOT cache for the test bed's jar (the
 * test runner's own class path holds directories, which no cache serves), starts the routers without it, with it and
 * with it and their warm-up at start, measures each, writes the CSVs, chart and summary, and leaves no namespace or process behind. The figures are the
 * README's to report; this checks that each is measured.
 */
class WarmStartSystemTest {
    @TempDir
    Path out;

    @BeforeEach
    void needsRootAndAQuietTestBed() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the benchmarks need root");
        assumeTrue(Topology.leftovers(BenchTestBed.PREFIX).isEmpty() && Topology.leftovers("fsdemo").isEmpty(),
                "a benchmark or demo is running on this machine");
    }

    @Test
    void warmstart_measures_fresh_routers_without_and_with_the_cache_and_warmed_up_and_removes_everything() throws Exception {
        Path jar = Path.of("target", "flowsec-testbed.jar").toAbsolutePath();   // packaged before the system tests
        assertTrue(Files.isRegularFile(jar), "the test bed's jar: " + jar);
        Path cache = out.resolve("appliance-processes.aot");
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        // this JVM runs the other system tests too: what their processes leave exiting is not this test's
        java.util.Set<Long> before = ProcessHandle.current().descendants().map(ProcessHandle::pid)
                .collect(java.util.stream.Collectors.toSet());

        int status = TestbedMain.run(List.of("bench", "warmstart", "--rounds", "1", "--seconds", "3", "--steady", "1",
                        "--pings", "3", "--train-seconds", "1", "--warm-up", "1", "--classpath", jar.toString(), "--cache", cache.toString(),
                        "--out", out.toString()), new PrintStream(stdout, true, StandardCharsets.UTF_8),
                new PrintStream(stderr, true, StandardCharsets.UTF_8));

        String printed = stdout.toString(StandardCharsets.UTF_8) + stderr.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, printed);
        assertTrue(printed.contains("recording the AOT cache " + cache), printed);
        assertTrue(Files.size(cache) > 1 << 20 && Files.isRegularFile(Path.of(cache + ".jdk")), "the cache and its stamp");

        List<String> csv = Files.readAllLines(out.resolve("warmstart.csv"));
        for (String variant : List.of("without", "with", "warm")) {
            List<String[]> windows = csv.stream().skip(1).map(line -> line.split(","))
                    .filter(cells -> cells[0].equals(variant)).toList();
            assertTrue(windows.size() >= 25, variant + ": about 30 windows of 100 ms in 3 s: " + windows.size());
            assertTrue(Long.parseLong(windows.getFirst()[2]) > 0 && Long.parseLong(windows.getFirst()[3]) > 0,
                    variant + ": both routers' ready times");
            assertTrue(windows.stream().skip(20).mapToLong(cells -> Long.parseLong(cells[6])).sum() > 0,
                    variant + ": host B received through the tunnel in the last second: " + printed);
        }
        List<String> pings = Files.readAllLines(out.resolve("warmstart-pings.csv"));
        assertEquals(1 + 3 * 3, pings.size(), pings.toString());
        assertTrue(pings.stream().skip(1).anyMatch(line -> !line.endsWith(",lost")), "pings went through: " + pings);

        String summary = Files.readString(out.resolve("warmstart-summary.txt"));
        assertTrue(summary.startsWith("flowsec bench warmstart on "), summary);
        assertTrue(summary.contains("| without | 1 | ") && summary.contains("| with | 1 | ")
                && summary.contains("| warm | 1 | "), summary);
        assertTrue(summary.contains("with / without: ready") && summary.contains("warm / without: ready"), summary);
        byte[] png = Files.readAllBytes(out.resolve("warmstart.png"));
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "a PNG chart");

        assertTrue(Topology.leftovers(BenchTestBed.PREFIX).isEmpty(), "the benchmark removed its namespaces");
        for (ProcessHandle process : ProcessHandle.current().descendants().toList()) {
            if (before.contains(process.pid())) {
                continue;
            }
            // asked to end, a JVM may still be writing its last words (an AOT cache) on a loaded machine: 60 s to go
            try {
                process.onExit().get(60, java.util.concurrent.TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException stillRunning) {
                List<String> arguments = java.util.Arrays.asList(process.info().arguments().orElse(new String[0]));
                throw new AssertionError("a process it started is still running (started "
                        + process.info().startInstant().orElse(null) + "), its last arguments: "
                        + arguments.subList(Math.max(0, arguments.size() - 8), arguments.size()));
            }
        }
    }
}
