package io.flowsec.cluster.balancing;

/**
 * One lane's load over a sampling interval.
 *
 * @param busy             the fraction of the interval the lane spent in batches, 0 to 1
 * @param packetsPerSecond packets the lane took in (site packets read and tunnel datagrams received)
 * @param dropsPerSecond   packets it dropped, any reason
 */
public record LaneLoad(int lane, double busy, double packetsPerSecond, double dropsPerSecond) {
    public LaneLoad {
        if (lane < 0) {
            throw new IllegalArgumentException("lane: " + lane + " is negative");
        }
        if (!(busy >= 0 && busy <= 1)) {
            throw new IllegalArgumentException("busy: " + busy + " is out of range 0-1");
        }
        if (!(packetsPerSecond >= 0) || Double.isInfinite(packetsPerSecond)) {
            throw new IllegalArgumentException("packetsPerSecond: " + packetsPerSecond + " is not a finite rate");
        }
        if (!(dropsPerSecond >= 0) || Double.isInfinite(dropsPerSecond)) {
            throw new IllegalArgumentException("dropsPerSecond: " + dropsPerSecond + " is not a finite rate");
        }
    }
}
