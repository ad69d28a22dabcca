package io.flowsec.testbed.bench;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BenchSnapshotTest {
    private static final double NaN = Double.NaN;
    private static final double EPSILON = 1e-9;
    private static final long SECOND = 1_000_000_000L;

    /** One lane's io counters, as the status shows them. */
    private record Lane(long busyNanos, long sitePackets, long siteBytes) {
    }

    /** A status shaped like the appliance's: lanes with their io block, and totals by outcome label. */
    private static JsonObject status(JsonObject totals, Lane... lanes) {
        JsonArray array = new JsonArray();
        for (Lane lane : lanes) {
            array.add(new JsonObject()
                    .put("lane", array.size())
                    .put("io", new JsonObject()
                            .put("busy-nanos", lane.busyNanos())
                            .put("site-packets-written", lane.sitePackets())
                            .put("site-bytes-written", lane.siteBytes())
                            .put("tunnel-datagrams-received", 123_456L)));
        }
        return new JsonObject().put("mode", "flow").put("lanes", array).put("totals", totals);
    }

    private static BenchTestBed.Snapshot earlier() {
        JsonObject totals = new JsonObject()
                .put("accepted", 100L).put("bypass", 7L)
                .put("replay-too-old", 1L).put("authentication-failed", 4L).put("unknown-spi", 2L);
        return BenchTestBed.Snapshot.of(status(totals,
                        new Lane(100_000_000L, 10, 1_000),
                        new Lane(0, 20, 2_000)),
                SECOND, 500_000_000L);
    }

    /** Two seconds later: lane 0 busy half the time, lane 1 "busy" 125% (clock skew), 3000 packets, 2.5 MB. */
    private static BenchTestBed.Snapshot later() {
        JsonObject totals = new JsonObject()
                .put("accepted", 5_000_000L).put("bypass", 50L)
                .put("replay-too-old", 4L)                // +3
                .put("authentication-failed", 5L)         // +1
                .put("unknown-spi", 2L)                   // +0: not listed
                .put("malformed", 2L)                     // new since the first snapshot: +2
                .put("no-such-outcome", 99L);             // not an outcome: ignored
        return BenchTestBed.Snapshot.of(status(totals,
                        new Lane(1_100_000_000L, 1_010, 1_001_000),
                        new Lane(2_500_000_000L, 2_020, 1_502_000)),
                3 * SECOND, 506_000_000L);
    }

    @Test
    void of_reads_lanes_sums_the_site_counters_and_keeps_only_drop_outcomes() {
        BenchTestBed.Snapshot snapshot = later();
        assertEquals(3 * SECOND, snapshot.nanos());
        assertArrayEquals(new long[]{1_100_000_000L, 2_500_000_000L}, snapshot.laneBusyNanos());
        assertEquals(3_030, snapshot.sitePackets());
        assertEquals(2_503_000, snapshot.siteBytes());
        assertEquals(506_000_000L, snapshot.cpuNanos());
        assertEquals(Map.of("replay-too-old", 4L, "authentication-failed", 5L, "unknown-spi", 2L, "malformed", 2L),
                snapshot.drops());
        assertFalse(snapshot.drops().containsKey("accepted"));
        assertFalse(snapshot.drops().containsKey("bypass"));
    }

    @Test
    void point_until_turns_two_snapshots_into_rates() {
        BenchPoint point = earlier().pointUntil(later(), "flow", "director", 1400, NaN, 0.75, NaN, "");

        assertEquals("flow", point.mode());
        assertEquals("director", point.steering());
        assertEquals(1400, point.size());
        assertEquals(2, point.lanes());
        assertEquals(2.0, point.seconds(), EPSILON);
        // 2 500 000 bytes * 8 / 2 s = 10 Mbit/s
        assertEquals(0.01, point.throughputGbps(), EPSILON);
        assertEquals(0.75, point.applicationGbps(), EPSILON);
        assertEquals(1_500.0, point.packetsPerSecond(), EPSILON);
        assertTrue(Double.isNaN(point.requestsPerSecond()));
        // lane 0: 1 s of 2 s; lane 1: 2.5 s of 2 s, capped
        assertEquals(2, point.cpuPerLane().size());
        assertEquals(0.5, point.cpuPerLane().get(0), EPSILON);
        assertEquals(1.0, point.cpuPerLane().get(1), EPSILON);
        // 6 ms of CPU for 3000 packets
        assertEquals(2_000.0, point.cpuNanosPerPacket(), EPSILON);
        assertEquals(6, point.drops());
        assertEquals("authentication-failed=1 malformed=2 replay-too-old=3", point.dropReasons());
    }

    @Test
    void a_headline_given_replaces_the_transmit_rate_and_extra_drops_are_appended() {
        BenchPoint point = earlier().pointUntil(later(), "pcrypt", "rss", 4096, 1.25, NaN, 321.5, "failed-requests=7");

        assertEquals(1.25, point.throughputGbps(), EPSILON);
        assertEquals(321.5, point.requestsPerSecond(), EPSILON);
        assertTrue(Double.isNaN(point.applicationGbps()));
        assertEquals(1_500.0, point.packetsPerSecond(), EPSILON, "the packet rate is still router B's");
        assertEquals(6, point.drops(), "extra drops are named, not counted");
        assertEquals("authentication-failed=1 malformed=2 replay-too-old=3 failed-requests=7", point.dropReasons());
    }

    @Test
    void extra_drops_alone_have_no_leading_space() {
        JsonObject totals = new JsonObject().put("accepted", 10L).put("replay", 3L);
        BenchTestBed.Snapshot a = BenchTestBed.Snapshot.of(status(totals, new Lane(0, 0, 0)), 0, 0);
        BenchTestBed.Snapshot b = BenchTestBed.Snapshot.of(status(totals.copy().put("accepted", 20L),
                new Lane(SECOND / 4, 10, 15_000)), SECOND, 1_000);

        BenchPoint point = a.pointUntil(b, "single", "director", 1024, NaN, NaN, NaN, "failed-requests=2");

        assertEquals(0, point.drops());
        assertEquals("failed-requests=2", point.dropReasons());
        assertEquals(15_000 * 8 / 1e9, point.throughputGbps(), EPSILON);
        assertEquals(10.0, point.packetsPerSecond(), EPSILON);
        assertEquals(List.of(0.25), point.cpuPerLane());
        assertEquals(100.0, point.cpuNanosPerPacket(), EPSILON);
    }

    @Test
    void accepted_packets_are_never_drops() {
        JsonObject before = new JsonObject().put("accepted", 0L).put("bypass", 0L);
        JsonObject after = new JsonObject().put("accepted", 1_000_000L).put("bypass", 500L);
        BenchTestBed.Snapshot a = BenchTestBed.Snapshot.of(status(before, new Lane(0, 0, 0), new Lane(0, 0, 0)), 0, 0);
        BenchTestBed.Snapshot b = BenchTestBed.Snapshot.of(status(after, new Lane(0, 0, 0), new Lane(0, 0, 0)),
                SECOND, 0);

        assertTrue(b.drops().isEmpty(), () -> "drops: " + b.drops());
        assertTrue(a.dropsUntil(b).isEmpty());
        BenchPoint point = a.pointUntil(b, "flow", "director", 64, NaN, NaN, NaN, "");
        assertEquals(0, point.drops());
        assertEquals("", point.dropReasons());
    }

    @Test
    void no_packets_leave_the_cpu_per_packet_undefined() {
        JsonObject totals = new JsonObject().put("accepted", 0L);
        BenchTestBed.Snapshot a = BenchTestBed.Snapshot.of(status(totals, new Lane(0, 5, 500)), 0, 0);
        BenchTestBed.Snapshot b = BenchTestBed.Snapshot.of(status(totals, new Lane(SECOND, 5, 500)), SECOND, 7_000);

        BenchPoint point = a.pointUntil(b, "flow", "director", 64, NaN, NaN, NaN, "");

        assertTrue(Double.isNaN(point.cpuNanosPerPacket()), "no packets: " + point.cpuNanosPerPacket());
        assertEquals(0.0, point.throughputGbps(), EPSILON);
        assertEquals(0.0, point.packetsPerSecond(), EPSILON);
        assertEquals(List.of(1.0), point.cpuPerLane());
    }

    @Test
    void drops_until_lists_only_reasons_that_moved() {
        assertEquals(Map.of("replay-too-old", 3L, "authentication-failed", 1L, "malformed", 2L),
                earlier().dropsUntil(later()));
        assertEquals(List.of("authentication-failed", "malformed", "replay-too-old"),
                List.copyOf(earlier().dropsUntil(later()).keySet()), "sorted by reason");
    }
}
