package io.flowsec.cluster.balancing;

/**
 * A linear model of the receiver's lanes: each lane's busy fraction grows by {@code cost} per packet/s it takes on.
 * The cost is measured (busy / packets), so a lane sharing its core with a CPU hog shows a higher cost and gets less
 * traffic for the same busy fraction. Good enough to pick a direction and a size; the balancers then measure the
 * effect before the next change, so model error costs a step, not stability.
 */
final class LaneModel {
    /** A lane measured at almost no cost per packet would look able to absorb everything; floor it. */
    private static final double MIN_COST_RATIO = 0.1;

    final double[] busy;
    final double[] cost;

    private LaneModel(double[] busy, double[] cost) {
        this.busy = busy;
        this.cost = cost;
    }

    /**
     * The model of {@code load}'s lanes, where {@code tunnelRate[j]} is this tunnel's packets/s on lane j (part of
     * the lane's packets, or all when the report's count lags); null when no lane carries traffic or none is busy.
     */
    static LaneModel of(LoadReport load, double[] tunnelRate) {
        int lanes = load.lanes().size();
        double[] busy = new double[lanes];
        double[] packets = new double[lanes];
        double busySum = 0;
        double packetSum = 0;
        for (int lane = 0; lane < lanes; lane++) {
            busy[lane] = load.lane(lane).busy();
            packets[lane] = Math.max(load.lane(lane).packetsPerSecond(), tunnelRate[lane]);
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
        for (int lane = 0; lane < lanes; lane++) {
            cost[lane] = packets[lane] > 0 ? Math.max(busy[lane] / packets[lane], meanCost * MIN_COST_RATIO) : meanCost;
        }
        return new LaneModel(busy, cost);
    }
}
