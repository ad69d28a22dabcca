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
