package io.flowsec.cluster.balancing;

/**
 * One lane's load over a sampling interval.
 *
 * @param busy                 the fraction of the interval the lane spent in batches, 0 to 1
 * @param packetsPerSecond     packets the lane took in (site packets read and tunnel datagrams received)
 * @param dropsPerSecond       packets it dropped, any reason (what it read and refused)
 * @param backlog              how full its tunnel sockets' receive buffers were at the end of the interval, 0 to 1
 *                             (bytes queued / buffer): a lane falling behind shows here before it drops
 * @param socketDropsPerSecond datagrams the kernel dropped at its full sockets: work offered to the lane that it never
 *                             read, so neither busy nor dropsPerSecond shows it
 * @param queueDelayMs         how long the lane's arrivals waited in its sockets, measured by the data plane's marker
 *                             probes (0 without exact steering): a lane held back by a capped or shared CPU shows it
 *                             before its backlog or drops do, and a sender's flowlet gap must outlast it
 */
public record LaneLoad(int lane, double busy, double packetsPerSecond, double dropsPerSecond, double backlog,
                       double socketDropsPerSecond, double queueDelayMs) {
    /** Longer than any queue a socket buffer holds: a report saying more is wrong. */
    public static final double MAX_QUEUE_DELAY_MS = 60_000;

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
        if (!(backlog >= 0 && backlog <= 1)) {
            throw new IllegalArgumentException("backlog: " + backlog + " is out of range 0-1");
        }
        if (!(socketDropsPerSecond >= 0) || Double.isInfinite(socketDropsPerSecond)) {
            throw new IllegalArgumentException("socketDropsPerSecond: " + socketDropsPerSecond + " is not a finite rate");
        }
        if (!(queueDelayMs >= 0 && queueDelayMs <= MAX_QUEUE_DELAY_MS)) {
            throw new IllegalArgumentException("queueDelayMs: " + queueDelayMs + " is out of range 0-" + MAX_QUEUE_DELAY_MS);
        }
    }

    /** A lane whose queue delay was not measured. */
    public LaneLoad(int lane, double busy, double packetsPerSecond, double dropsPerSecond, double backlog,
                    double socketDropsPerSecond) {
        this(lane, busy, packetsPerSecond, dropsPerSecond, backlog, socketDropsPerSecond, 0);
    }

    /** A lane whose sockets kept up: nothing waiting, nothing dropped by the kernel. */
    public LaneLoad(int lane, double busy, double packetsPerSecond, double dropsPerSecond) {
        this(lane, busy, packetsPerSecond, dropsPerSecond, 0, 0);
    }
}
