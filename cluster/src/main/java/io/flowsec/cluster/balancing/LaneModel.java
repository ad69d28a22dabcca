package io.flowsec.cluster.balancing;

import java.util.Collection;

/**
 * A linear model of the receiver's lanes: each lane's load grows by {@code cost} per packet/s it takes on.
 * The cost is measured (busy / packets), so a lane sharing its core with a CPU hog shows a higher cost and gets less
 * traffic for the same busy fraction. Good enough to pick a direction and a size; the balancers then measure the
 * effect before the next change, so model error costs a step, not stability.
 * <p>
 * The load a lane is asked to carry is what it did plus what it refused: {@code busy + socketDropsPerSecond × cost}.
 * A lane whose CPU share is capped shows little busy until it saturates, and from then on the kernel drops what it
 * cannot take at its full socket, unseen by busy; counted here, that lane reads above 1 in proportion to its overload.
 * A lane whose sockets are more than {@link #FULL_BACKLOG} full is falling behind whatever its busy says, so it counts
 * as at least fully loaded; so, in proportion, does a lane whose arrivals wait: {@code queueDelayMs /}
 * {@link #FULL_QUEUE_DELAY_MS} at least (a lane that keeps up serves its socket within a millisecond; one held back by
 * a capped or shared CPU waits tens of milliseconds before its buffer fills). Both balancers see lanes only through this, for the imbalance that starts and stops them
 * as for the changes they propose.
 */
final class LaneModel {
    /** A lane measured at almost no cost per packet would look able to absorb everything; floor it. */
    private static final double MIN_COST_RATIO = 0.1;
    /** Sockets fuller than this (queued / buffer) mean the lane reads slower than datagrams arrive. */
    static final double FULL_BACKLOG = 0.5;
    /** A queue delay that counts as a fully loaded lane. */
    static final double FULL_QUEUE_DELAY_MS = 50;

    /** The load asked of each lane, 0 up (above 1: more than it can carry). */
    final double[] load;
    final double[] cost;

    private LaneModel(double[] load, double[] cost) {
        this.load = load;
        this.cost = cost;
    }

    /**
     * The model of {@code report}'s lanes, where {@code tunnelRate[j]} is this tunnel's packets/s on lane j (part of
     * the lane's packets, or all when the report's count lags); null when no lane carries traffic or none is busy.
     */
    static LaneModel of(LoadReport report, double[] tunnelRate) {
        int lanes = report.lanes().size();
        double[] busy = new double[lanes];
        double[] packets = new double[lanes];
        double busySum = 0;
        double packetSum = 0;
        for (int lane = 0; lane < lanes; lane++) {
            busy[lane] = report.lane(lane).busy();
            packets[lane] = Math.max(report.lane(lane).packetsPerSecond(), tunnelRate[lane]);
            if (packets[lane] > 0) {
                busySum += busy[lane];
                packetSum += packets[lane];
            }
        }
        if (packetSum <= 0 || busySum <= 0) {
            return null;
        }
        double meanCost = busySum / packetSum;
        double[] cost = new double[lanes];
        double[] load = new double[lanes];
        for (int lane = 0; lane < lanes; lane++) {
            cost[lane] = packets[lane] > 0 ? Math.max(busy[lane] / packets[lane], meanCost * MIN_COST_RATIO) : meanCost;
            load[lane] = load(report.lane(lane), cost[lane]);
        }
        return new LaneModel(load, cost);
    }

    /**
     * Busy plus the work the kernel refused for the lane, at least 1 once its sockets fill, and at least its queue
     * delay's share of {@link #FULL_QUEUE_DELAY_MS} (up to 1).
     */
    private static double load(LaneLoad lane, double cost) {
        double load = Math.max(lane.busy() + lane.socketDropsPerSecond() * cost,
                Math.min(1, lane.queueDelayMs() / FULL_QUEUE_DELAY_MS));
        return lane.backlog() > FULL_BACKLOG ? Math.max(1, load) : load;
    }

    /**
     * Each lane's load as {@link #of} models it; where no cost can be measured (nothing busy or no packets), busy
     * alone, with the backlog rule still applied.
     */
    static double[] loads(LoadReport report) {
        LaneModel model = of(report, new double[report.lanes().size()]);
        if (model != null) {
            return model.load;
        }
        double[] load = new double[report.lanes().size()];
        for (int lane = 0; lane < load.length; lane++) {
            load[lane] = load(report.lane(lane), 0);
        }
        return load;
    }

    /** The most loaded lane's load among {@code lanesOfInterest}; 0 for none. */
    static double hottest(LoadReport report, Collection<Integer> lanesOfInterest) {
        double[] load = loads(report);
        double max = 0;
        for (int lane : lanesOfInterest) {
            max = Math.max(max, load[lane]);
        }
        return max;
    }

    /** The most loaded lane's load minus the least loaded one's, among {@code lanesOfInterest}; 0 for fewer than two. */
    static double spread(LoadReport report, Collection<Integer> lanesOfInterest) {
        double[] load = loads(report);
        double max = Double.NEGATIVE_INFINITY;
        double min = Double.POSITIVE_INFINITY;
        int counted = 0;
        for (int lane : lanesOfInterest) {
            max = Math.max(max, load[lane]);
            min = Math.min(min, load[lane]);
            counted++;
        }
        return counted < 2 ? 0 : max - min;
    }
}
