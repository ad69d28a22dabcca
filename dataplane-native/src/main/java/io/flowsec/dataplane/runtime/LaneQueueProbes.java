package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.lane.Lane;

import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Predicate;

/**
 * Each lane's queue delay, measured as a datagram lives it: every {@link #INTERVAL_MS} a marker goes through each
 * exactly steered endpoint to each lane's socket, and the time from sending it to the lane reading it is how long the
 * lane's arrivals wait there. A lane whose CPU is capped or taken by other work shows it here before it drops anything
 * (its busy fraction does not: while descheduled it is neither busy nor idle); a sender moving flows off a lane must
 * wait at least this long between a flow's packets, or the later ones overtake the queued ones (the flowlet gap).
 * <ol>
 *   <li>a probe that arrived gives the delay, and the next one goes out;</li>
 *   <li>one still out counts as a delay of at least its age (a stuck or drowning lane shows a delay that grows);</li>
 *   <li>one out longer than {@link #LOST_AFTER_NS} and twice the last delay may have been lost to a full socket:
 *       another goes behind it, timed from the first (the slot remembers the later one, read after the first).</li>
 * </ol>
 * Runs on the data plane's clock thread only; {@link #delayNanos} may be read from any thread.
 */
final class LaneQueueProbes {
    static final long INTERVAL_MS = 100;
    private static final long LOST_AFTER_NS = 250_000_000L;

    private final Lane[] lanes;
    private final List<TunnelPort> ports;
    private final long markerKey;
    /** Per lane × port: the probe out (token 0: none), when it left, the last delay measured. */
    private final long[][] tokens;
    private final long[][] sentNs;
    private final long[][] lastDelayNs;
    private final AtomicLongArray delayByLane;
    private int sequence;

    LaneQueueProbes(Lane[] lanes, List<TunnelPort> ports, long markerKey) {
        if (ports.size() >= EspProcessor.HAND_OVER_MARKER_SLOT) {
            throw new IllegalArgumentException("at most " + EspProcessor.HAND_OVER_MARKER_SLOT + " tunnel endpoints");
        }
        this.lanes = lanes;
        this.ports = ports;
        this.markerKey = markerKey;
        this.tokens = new long[lanes.length][ports.size()];
        this.sentNs = new long[lanes.length][ports.size()];
        this.lastDelayNs = new long[lanes.length][ports.size()];
        this.delayByLane = new AtomicLongArray(lanes.length);
    }

    /** One round: {@code exact} says which endpoints steer exactly (only their programs send markers to a lane). */
    void probe(long nowNs, Predicate<TunnelPort> exact) {
        for (int p = 0; p < ports.size(); p++) {
            TunnelPort port = ports.get(p);
            boolean steered = exact.test(port);
            for (int lane = 0; lane < lanes.length; lane++) {
                if (!steered) {
                    tokens[lane][p] = 0;
                    lastDelayNs[lane][p] = 0;
                    continue;
                }
                long token = tokens[lane][p];
                boolean resend = false;
                if (token != 0) {
                    long arrivedNs = lanes[lane].processor().markerArrival(token);
                    long ageNs = nowNs - sentNs[lane][p];
                    if (arrivedNs != 0) {
                        lastDelayNs[lane][p] = Math.max(0, arrivedNs - sentNs[lane][p]);
                    } else if (ageNs < Math.max(LOST_AFTER_NS, 2 * lastDelayNs[lane][p])) {
                        continue;   // still queued: wait for it
                    } else {
                        resend = true;   // perhaps lost: another goes behind it, timed from the first
                    }
                }
                long next = EspProcessor.markerToken(markerKey, p, sequence++);
                if (port.sendMarker(lane, next)) {
                    tokens[lane][p] = next;
                    sentNs[lane][p] = resend ? sentNs[lane][p] : nowNs;
                } else if (!resend) {
                    tokens[lane][p] = 0;
                }
            }
        }
        for (int lane = 0; lane < lanes.length; lane++) {
            long delay = 0;
            for (int p = 0; p < ports.size(); p++) {
                long outNs = tokens[lane][p] == 0 ? 0 : nowNs - sentNs[lane][p];
                delay = Math.max(delay, Math.max(lastDelayNs[lane][p], outNs));
            }
            delayByLane.set(lane, delay);
        }
    }

    /** The lane's queue delay, the longest over its endpoints, from the last round; 0 without exact steering. */
    long delayNanos(int lane) {
        return delayByLane.get(lane);
    }
}
