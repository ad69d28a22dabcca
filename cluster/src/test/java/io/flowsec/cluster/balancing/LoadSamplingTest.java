package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.lane.TunnelSocket.ReceiveQueue;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.runtime.DataplaneSnapshot.LaneSnapshot;
import io.flowsec.dataplane.runtime.DataplaneSnapshot.SaSnapshot;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Rates from two counter snapshots half a second apart. */
class LoadSamplingTest {
    private static final long HALF_SECOND_NS = 500_000_000L;
    private static final TunnelAssignment ASSIGNMENT = new TunnelAssignment("hq-branch", 5, "router-a", 1, 2,
            List.of(new SaPlacement(0x1000, 0, 0, 16), new SaPlacement(0x1001, 0, 1, 16)));

    private static DataplaneSnapshot snapshot(long busy0, long packets0, long drops0, long busy1, long packets1,
                                              long sa0Inbound, long sa1Inbound, long sa0Outbound) {
        return snapshot(busy0, packets0, drops0, busy1, packets1, sa0Inbound, sa1Inbound, sa0Outbound, ReceiveQueue.UNKNOWN);
    }

    /** The same with lane 0's sockets' receive queue. */
    private static DataplaneSnapshot snapshot(long busy0, long packets0, long drops0, long busy1, long packets1,
                                              long sa0Inbound, long sa1Inbound, long sa0Outbound, ReceiveQueue queue0) {
        List<LaneSnapshot> lanes = List.of(
                new LaneSnapshot(0, Map.of(IoCounter.BUSY_NANOS, busy0, IoCounter.TUNNEL_DATAGRAMS_RECEIVED, packets0),
                        Map.of(Outcome.ACCEPTED, packets0, Outcome.REPLAY, drops0), 0, queue0),
                new LaneSnapshot(1, Map.of(IoCounter.BUSY_NANOS, busy1, IoCounter.SITE_PACKETS_READ, packets1), Map.of()));
        List<SaSnapshot> sas = List.of(
                new SaSnapshot("in-0", 0x1000, Direction.INBOUND, 0, sa0Inbound, 0, 0, Map.of(), "active"),
                new SaSnapshot("in-1", 0x1001, Direction.INBOUND, 1, sa1Inbound, 0, 0, Map.of(), "active"),
                new SaSnapshot("out-0", 0x1000, Direction.OUTBOUND, 0, sa0Outbound, 0, 0, Map.of(), "active"),
                new SaSnapshot("other", 0x9000, Direction.INBOUND, 1, 777, 0, 0, Map.of(), "active"));
        return new DataplaneSnapshot(Mode.FLOW, Steering.DIRECTOR, Steering.DIRECTOR, Map.of(), Map.of(), lanes, sas, Map.of());
    }

    @Test
    void shouldReportEachLanesBusyPacketsAndDropsAndEachInboundSasRate() {
        DataplaneSnapshot earlier = snapshot(1_000_000_000L, 10_000, 5, 0, 500, 4_000, 6_000, 100);
        DataplaneSnapshot later = snapshot(1_200_000_000L, 15_000, 10, 400_000_000L, 1_500, 6_500, 8_500, 1_100);
        LoadReport report = LoadSampling.report("router-b", ASSIGNMENT, earlier, later, HALF_SECOND_NS, 42);
        assertEquals(new LoadReport("router-b", "hq-branch", 5, 42,
                List.of(new LaneLoad(0, 0.4, 10_000, 10), new LaneLoad(1, 0.8, 2_000, 0)),
                Map.of(0x1000, 5_000.0, 0x1001, 5_000.0)), report);
        assertEquals(Map.of(0x1000, 2_000.0), LoadSampling.outboundRates(ASSIGNMENT, earlier, later, HALF_SECOND_NS));
    }

    @Test
    void shouldReportTheBacklogAtTheLaterSnapshotAndTheRateOfTheKernelsDrops() {
        DataplaneSnapshot earlier = snapshot(1_000_000_000L, 10_000, 5, 0, 500, 4_000, 6_000, 100,
                new ReceiveQueue(8 << 20, 8 << 20, 1_000));
        DataplaneSnapshot later = snapshot(1_200_000_000L, 15_000, 10, 400_000_000L, 1_500, 6_500, 8_500, 1_100,
                new ReceiveQueue(6 << 20, 8 << 20, 3_500));
        LoadReport report = LoadSampling.report("router-b", ASSIGNMENT, earlier, later, HALF_SECOND_NS, 42);
        assertEquals(new LaneLoad(0, 0.4, 10_000, 10, 0.75, 5_000), report.lane(0));
        assertEquals(new LaneLoad(1, 0.8, 2_000, 0, 0, 0), report.lane(1), "no buffer known: no backlog");

        DataplaneSnapshot restarted = snapshot(0, 0, 0, 0, 0, 0, 0, 0, new ReceiveQueue(0, 8 << 20, 0));
        assertEquals(0, LoadSampling.report("router-b", ASSIGNMENT, later, restarted, HALF_SECOND_NS, 43)
                .lane(0).socketDropsPerSecond(), "a new socket's count starts again: nothing, not negative");
    }

    @Test
    void shouldCountACounterThatWentBackwardsAsNothing() {
        DataplaneSnapshot earlier = snapshot(1_000_000_000L, 10_000, 5, 0, 500, 4_000, 6_000, 100);
        DataplaneSnapshot restarted = snapshot(0, 0, 0, 0, 0, 0, 0, 0);
        LoadReport report = LoadSampling.report("router-b", ASSIGNMENT, earlier, restarted, HALF_SECOND_NS, 42);
        assertEquals(0, report.lane(0).busy());
        assertEquals(0, report.lane(0).packetsPerSecond());
        assertEquals(0.0, report.saPacketsPerSecond(0x1000));
    }
}
