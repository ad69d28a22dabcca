package io.flowsec.cluster;

import io.flowsec.cluster.balancing.LaneLoad;
import io.flowsec.cluster.balancing.LoadReport;
import io.flowsec.dataplane.runtime.DataplaneControl;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The sender's flowlet gap follows the receiver's queue delays. A flow bucket moved from an SA landing on a lane whose
 * arrivals wait {@code D_slow} to one landing on a lane whose arrivals wait {@code D_fast} must have paused longer than
 * {@code D_slow − D_fast}, or its next packets overtake those still queued (CONGA and LetFlow size their gaps to the
 * paths' delay difference the same way). The receiver measures each lane's delay with the data plane's marker probes
 * and reports it; each sending tunnel asks here for {@link #MARGIN} times the spread of its receiver's delays.
 * <ol>
 *   <li>the data plane has one gap: the one in force is the largest ask, never below the configured one (the floor)
 *       and never above {@link #DEFAULT_CEILING} (a flow that never pauses that long would never move);</li>
 *   <li>it changes only when the wanted gap differs from the one in force by more than a quarter, or falls back to
 *       the floor, so the lanes are not asked to switch every 100 ms;</li>
 *   <li>a tunnel that stops balancing as sender withdraws its ask.</li>
 * </ol>
 * Called from the tunnels' verticles (one thread each): synchronized.
 */
final class FlowletGapFollower {
    static final double MARGIN = 1.5;
    /** Above it, moves that queue delays would reorder are taken anyway: a flow must pause some time to move. */
    static final Duration DEFAULT_CEILING = Duration.ofMillis(250);
    private static final double CHANGE_RATIO = 0.25;
    /** Lanes whose delays differ by a few milliseconds keep up: the configured gap governs, without churn. */
    static final double MIN_FOLLOWED_MS = 5;

    private final DataplaneControl dataplane;
    private final Duration floor;
    private final Duration ceiling;
    private final Consumer<String> log;
    private final Map<String, Duration> asks = new HashMap<>();
    private Duration inForce;

    FlowletGapFollower(DataplaneControl dataplane, Duration ceiling, Consumer<String> log) {
        this.dataplane = dataplane;
        this.floor = dataplane.flowletGap();
        this.ceiling = ceiling.compareTo(floor) < 0 ? floor : ceiling;
        this.log = log;
        this.inForce = floor;
    }

    /**
     * What a sender needs for {@code receiver}'s lanes: {@link #MARGIN} × (the longest queue delay − the shortest), or
     * nothing under {@link #MIN_FOLLOWED_MS}.
     */
    static Duration needed(LoadReport receiver) {
        double longest = 0;
        double shortest = Double.MAX_VALUE;
        for (LaneLoad lane : receiver.lanes()) {
            longest = Math.max(longest, lane.queueDelayMs());
            shortest = Math.min(shortest, lane.queueDelayMs());
        }
        double gapMs = (longest - shortest) * MARGIN;
        return gapMs < MIN_FOLLOWED_MS ? Duration.ZERO : Duration.ofNanos((long) (gapMs * 1e6));
    }

    synchronized void ask(String tunnel, Duration gap) {
        asks.put(tunnel, gap);
        apply();
    }

    synchronized void withdraw(String tunnel) {
        if (asks.remove(tunnel) != null) {
            apply();
        }
    }

    synchronized Duration inForce() {
        return inForce;
    }

    private void apply() {
        Duration wanted = floor;
        for (Duration ask : asks.values()) {
            wanted = ask.compareTo(wanted) > 0 ? ask : wanted;
        }
        wanted = wanted.compareTo(ceiling) > 0 ? ceiling : wanted;
        double ratio = Math.abs(wanted.toNanos() - inForce.toNanos()) / (double) Math.max(1, inForce.toNanos());
        if (wanted.equals(inForce) || ratio <= CHANGE_RATIO && !wanted.equals(floor)) {
            return;
        }
        dataplane.flowletGap(wanted);
        log.accept("cluster: flowlet gap " + micros(inForce) + " -> " + micros(wanted) + " (the receiver's queue delays"
                + (wanted.equals(floor) ? " even out: back to the configured gap)" : " differ)"));
        inForce = wanted;
    }

    private static String micros(Duration gap) {
        return gap.toNanos() / 1000 + " µs";
    }
}
