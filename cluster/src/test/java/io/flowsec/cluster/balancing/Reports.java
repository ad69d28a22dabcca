package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Hand-made reports: lanes of equal capacity ({@link #CAPACITY} packets/s at busy 1), each lane's rate split evenly over its SAs. */
final class Reports {
    static final double CAPACITY = 100_000;

    private Reports() {
    }

    static LoadReport of(TunnelAssignment assignment, long timestampMs, double... busy) {
        return of(assignment, assignment.version(), timestampMs, busy);
    }

    /**
     * A receiver whose lane 0 takes 40,000 packets/s at busy 0.4 (SAs 0x1000 and 0x1001, 20,000 each) and whose lane 1
     * takes 10,000 at busy 0.5 (SAs 0x1002 and 0x1003, 5,000 each: a lane capped to a fifth of a core), with lane 1's
     * sockets {@code backlog} full and the kernel dropping {@code socketDrops} datagrams/s there. Its busy figures alone
     * differ by 0.1, under the start threshold.
     */
    static LoadReport cappedLaneOne(TunnelAssignment assignment, long timestampMs, double backlog, double socketDrops) {
        return new LoadReport(LoadModel.RECEIVER, assignment.tunnel(), assignment.version(), timestampMs,
                List.of(new LaneLoad(0, 0.4, 40_000, 0), new LaneLoad(1, 0.5, 10_000, 0, backlog, socketDrops)),
                Map.of(0x1000, 20_000.0, 0x1001, 20_000.0, 0x1002, 5_000.0, 0x1003, 5_000.0));
    }

    /** As {@link #cappedLaneOne}, its sockets keeping up but its arrivals waiting {@code queueDelayMs}. */
    static LoadReport delayedLaneOne(TunnelAssignment assignment, long timestampMs, double queueDelayMs) {
        return new LoadReport(LoadModel.RECEIVER, assignment.tunnel(), assignment.version(), timestampMs,
                List.of(new LaneLoad(0, 0.4, 40_000, 0, 0, 0, 0.2), new LaneLoad(1, 0.5, 10_000, 0, 0, 0, queueDelayMs)),
                Map.of(0x1000, 20_000.0, 0x1001, 20_000.0, 0x1002, 5_000.0, 0x1003, 5_000.0));
    }

    /** The assignment {@link #cappedLaneOne} reports on: one sender lane, SAs 0x1000-0x1003, two on each receiver lane. */
    static TunnelAssignment twoOnEachLane() {
        return new TunnelAssignment("hq-branch", 1, "router-a", 1, 2, List.of(
                new TunnelAssignment.SaPlacement(0x1000, 0, 0, 16), new TunnelAssignment.SaPlacement(0x1001, 0, 0, 16),
                new TunnelAssignment.SaPlacement(0x1002, 0, 1, 16), new TunnelAssignment.SaPlacement(0x1003, 0, 1, 16)));
    }

    /** Feeds {@code balancer} ten reports 100 ms apart, from {@code report}; the first change it proposes, if any. */
    static java.util.Optional<TunnelAssignment> firstChange(Balancer balancer, TunnelAssignment current,
                                                           java.util.function.LongFunction<LoadReport> report) {
        for (long t = 100; t <= 1000; t += 100) {
            java.util.Optional<TunnelAssignment> next = balancer.onReport(current, report.apply(t), Map.of(), t);
            if (next.isPresent()) {
                return next;
            }
        }
        return java.util.Optional.empty();
    }

    static LoadReport of(TunnelAssignment assignment, long version, long timestampMs, double... busy) {
        List<LaneLoad> lanes = new ArrayList<>();
        Map<Integer, Double> rates = new LinkedHashMap<>();
        for (int lane = 0; lane < busy.length; lane++) {
            lanes.add(new LaneLoad(lane, busy[lane], busy[lane] * CAPACITY, 0));
            List<TunnelAssignment.SaPlacement> on = assignment.sasOnReceiverLane(lane);
            for (TunnelAssignment.SaPlacement sa : on) {
                rates.put(sa.spi(), busy[lane] * CAPACITY / on.size());
            }
        }
        return new LoadReport(LoadModel.RECEIVER, assignment.tunnel(), version, timestampMs, lanes, rates);
    }
}
