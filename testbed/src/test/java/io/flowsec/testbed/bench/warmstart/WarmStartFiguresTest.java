package io.flowsec.testbed.bench.warmstart;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class WarmStartFiguresTest {
    /** Windows of 100 ms from 0 with these packets/s. */
    private static List<WarmStartRun.Window> windows(double... rates) {
        List<WarmStartRun.Window> windows = new ArrayList<>();
        for (int i = 0; i < rates.length; i++) {
            long packets = Math.round(rates[i] / 10);
            windows.add(new WarmStartRun.Window(i / 10.0, (i + 1) / 10.0, packets, 50_000_000L));
        }
        return windows;
    }

    /** A cold start: 1 s at 10,000 pkt/s, 1 s at 20,000, then 30,000. */
    private static WarmStartRun cold(List<Double> pings) {
        double[] rates = new double[50];
        for (int i = 0; i < rates.length; i++) {
            rates[i] = i < 10 ? 10_000 : i < 20 ? 20_000 : 30_000;
        }
        return new WarmStartRun("without", 0, 900, 1100, pings, windows(rates));
    }

    @Test
    void the_first_second_the_steady_rate_and_their_ratio() {
        WarmStartFigures figures = WarmStartFigures.of(cold(List.of(2.5, 0.4, 0.3, 0.5)), 5, 3);

        assertEquals(10_000, figures.firstSecondRate(), 1e-6);
        assertEquals(30_000, figures.steadyRate(), 1e-6);
        assertEquals(1 / 3.0, figures.ratio(), 1e-9);
        assertEquals(1.9, figures.settledAfterS(), 1e-9, "1.9-2.4 s: 28,000 pkt/s, the first half second at 90 % of steady");
        assertEquals(2.5, figures.firstPingMs());
        assertEquals(0.4, figures.laterPingsMedianMs(), 1e-9);
        assertEquals(50_000_000 / 1000.0, figures.firstSecondCpuNsPerPacket(), 1e-6, "half a CPU at 10,000 pkt/s");
        assertEquals(50_000_000 / 3000.0, figures.steadyCpuNsPerPacket(), 1e-6);
    }

    @Test
    void a_warm_start_is_settled_at_once_and_its_ratio_is_one() {
        double[] rates = new double[30];
        java.util.Arrays.fill(rates, 50_000);
        WarmStartFigures figures = WarmStartFigures.of(new WarmStartRun("with", 0, 400, 500, List.of(0.3),
                windows(rates)), 3, 1);

        assertEquals(1.0, figures.ratio(), 1e-9);
        assertEquals(0.0, figures.settledAfterS());
        assertTrue(Double.isNaN(figures.laterPingsMedianMs()), "no later pings: no median");
    }

    @Test
    void windows_count_by_their_length_and_only_those_inside_the_range() {
        List<WarmStartRun.Window> uneven = List.of(new WarmStartRun.Window(0, 0.1, 100, 1_000_000),
                new WarmStartRun.Window(0.1, 0.4, 900, 3_000_000), new WarmStartRun.Window(0.4, 1.2, 8000, 8_000_000));

        assertEquals(1000 / 0.4, WarmStartFigures.rate(uneven, 0, 1), 1e-6, "the window running past 1 s is left out");
        assertTrue(Double.isNaN(WarmStartFigures.rate(uneven, 2, 3)));
        assertEquals(4_000_000 / 1000.0, WarmStartFigures.cpuNsPerPacket(uneven, 0, 1), 1e-9);
        assertTrue(Double.isNaN(WarmStartFigures.cpuNsPerPacket(uneven, 2, 3)));
    }

    @Test
    void a_rate_that_never_settles_has_no_settled_time() {
        assertTrue(Double.isNaN(WarmStartFigures.settledAfter(windows(1, 2, 3, 4, 5, 6), 100)));
    }

    @Test
    void lost_pings_are_left_out_of_the_median_and_a_lost_first_ping_has_no_time() {
        WarmStartFigures figures = WarmStartFigures.of(cold(List.of(Double.NaN, 0.6, Double.NaN, 0.2, 0.4, 0.8)), 5, 3);

        assertTrue(Double.isNaN(figures.firstPingMs()));
        assertEquals(0.5, figures.laterPingsMedianMs(), 1e-9);
        assertEquals(0.5, WarmStartFigures.mean(List.of(0.4, Double.NaN, 0.6)), 1e-9);
        assertTrue(Double.isNaN(WarmStartFigures.mean(List.of(Double.NaN))));
    }

    @Test
    void ping_output_gives_each_round_trip_by_sequence_number() {
        String output = """
                PING 10.2.0.20 (10.2.0.20) 56(84) bytes of data.
                64 bytes from 10.2.0.20: icmp_seq=1 ttl=62 time=2.84 ms
                64 bytes from 10.2.0.20: icmp_seq=3 ttl=62 time=0.412 ms
                64 bytes from 10.2.0.20: icmp_seq=4 ttl=62 time=0.38 ms

                --- 10.2.0.20 ping statistics ---
                4 packets transmitted, 3 received, 25% packet loss, time 301ms
                """;

        List<Double> times = WarmStartBenchmark.parsePings(output, 4);

        assertEquals(4, times.size());
        assertEquals(2.84, times.get(0));
        assertTrue(Double.isNaN(times.get(1)), "icmp_seq=2 was lost");
        assertEquals(0.412, times.get(2));
        assertEquals(0.38, times.get(3));
    }
}
