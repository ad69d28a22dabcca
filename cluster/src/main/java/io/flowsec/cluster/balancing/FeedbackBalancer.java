package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.StrictJson;
import io.flowsec.cluster.assignment.TunnelAssignment;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the sender and receiver balancers share: which reports count, hysteresis, cooldown and averaging. Per report:
 * <ol>
 *   <li>a new assignment version (ours adopted, or someone else's) empties the averaging window: what was measured
 *       before it says nothing about it; someone else's change also starts a cooldown;</li>
 *   <li>a report of another version, or one already seen (same member, no later timestamp: a timer feeding the last
 *       report again during a partition), changes nothing;</li>
 *   <li>idle: count consecutive reports whose imbalance exceeds the start threshold while a lane is hot (its load at
 *       least {@link #HOT_LOAD}); at K, become active;</li>
 *   <li>active: once the imbalance averaged since the last change is below the stop threshold, or no lane is hot any
 *       more (below {@link #COOL_LOAD}), become idle: lanes that all keep up need nothing, and a lane that was just
 *       relieved must not win its load back because it now looks idle (that flaps);</li>
 *   <li>active, cooldown over and at least K reports measured since the last change: ask the policy for a change,
 *       from the averages; when it has none (what is left is finer than an SA or a weight unit, or the floor is
 *       reached), rest: without that, noise at the margin would make late, pointless changes.</li>
 * </ol>
 */
abstract class FeedbackBalancer implements Balancer {
    /** A lane this loaded (busy, refused work, queue delay: {@link LaneModel}) needs relief; below, none does. */
    static final double HOT_LOAD = 0.7;
    /** Hysteresis: once acting, the balancer rests when the hottest lane is below this. */
    static final double COOL_LOAD = 0.55;
    protected final BalancerSettings settings;
    protected final String author;
    private final Deque<Sample> window = new ArrayDeque<>();
    private boolean active;
    private int reportsAbove;
    private long seenVersion = -1;
    private long proposedVersion = -1;
    private boolean changed;
    private long lastChangeMs;
    private String lastMember;
    private long lastTimestampMs;

    private record Sample(LoadReport report, Map<Integer, Double> rates) {
    }

    FeedbackBalancer(BalancerSettings settings, String author) {
        if (settings == null) {
            throw new IllegalArgumentException("settings: null");
        }
        StrictJson.checkName(author, "author");
        this.settings = settings;
        this.author = author;
    }

    @Override
    public final Optional<TunnelAssignment> onReport(TunnelAssignment current, LoadReport report,
                                                     Map<Integer, Double> saPacketsPerSecond, long nowMs) {
        check(current, report, saPacketsPerSecond);
        if (current.version() != seenVersion) {
            if (seenVersion != -1 && current.version() != proposedVersion) {
                changed = true;
                lastChangeMs = nowMs;
            }
            seenVersion = current.version();
            window.clear();
        }
        if (report.assignmentVersion() != current.version()) {
            return Optional.empty();
        }
        if (report.member().equals(lastMember) && report.timestampMs() <= lastTimestampMs) {
            return Optional.empty();
        }
        lastMember = report.member();
        lastTimestampMs = report.timestampMs();
        Map<Integer, Double> rates = saPacketsPerSecond.isEmpty() ? report.saPacketsPerSecond() : Map.copyOf(saPacketsPerSecond);
        window.addLast(new Sample(report, rates));
        while (window.size() > settings.averagedReports()) {
            window.removeFirst();
        }
        if (!active) {
            reportsAbove = imbalance(current, report) > settings.startImbalance() && hottest(current, report) >= HOT_LOAD
                    ? reportsAbove + 1 : 0;
            if (reportsAbove < settings.triggerReports()) {
                return Optional.empty();
            }
            active = true;
            reportsAbove = 0;
        }
        LoadReport mean = meanReport();
        if (imbalance(current, mean) < settings.stopImbalance() || hottest(current, mean) < COOL_LOAD) {
            active = false;
            return Optional.empty();
        }
        if (changed && nowMs - lastChangeMs < settings.cooldownMs()
                || window.size() < Math.min(settings.triggerReports(), settings.averagedReports())) {
            return Optional.empty();
        }
        Optional<TunnelAssignment> next = propose(current, mean, meanRates());
        if (next.isEmpty()) {
            active = false; // nothing this policy can change helps: rest until the imbalance rises over start again
            return next;
        }
        changed = true;
        lastChangeMs = nowMs;
        proposedVersion = next.get().version();
        window.clear();
        return next;
    }

    private static void check(TunnelAssignment current, LoadReport report, Map<Integer, Double> rates) {
        if (current == null || report == null || rates == null) {
            throw new IllegalArgumentException("a balancer needs the assignment, a report and a (maybe empty) rate map");
        }
        rates.forEach((spi, rate) -> {
            if (spi == null || rate == null || !(rate >= 0) || rate.isInfinite()) {
                throw new IllegalArgumentException("saPacketsPerSecond: " + rate + " for SA "
                        + (spi == null ? "null" : StrictJson.spi(spi)) + " is not a rate");
            }
        });
        if (!report.tunnel().equals(current.tunnel())) {
            throw new IllegalArgumentException("a report of tunnel " + report.tunnel() + " for tunnel " + current.tunnel());
        }
        if (report.lanes().size() != current.receiverLanes()) {
            throw new IllegalArgumentException("the report has " + report.lanes().size() + " lanes, the assignment "
                    + current.receiverLanes() + " receiver lanes: lay the tunnel out again for the new lane count");
        }
    }

    @Override
    public final boolean active() {
        return active;
    }

    /**
     * The imbalance this policy can act on: max − min {@link LaneModel} load (busy plus refused work) over the lanes
     * it can move load between.
     */
    abstract double imbalance(TunnelAssignment current, LoadReport report);

    /** The load of the most loaded lane this policy can move load off. */
    abstract double hottest(TunnelAssignment current, LoadReport report);

    /** The next assignment that narrows the imbalance, from averaged load; empty when nothing helps. */
    abstract Optional<TunnelAssignment> propose(TunnelAssignment current, LoadReport load, Map<Integer, Double> rates);

    /** The window's reports averaged lane by lane (stamped as the latest). */
    private LoadReport meanReport() {
        LoadReport last = window.getLast().report();
        int lanes = last.lanes().size();
        double[] busy = new double[lanes];
        double[] packets = new double[lanes];
        double[] drops = new double[lanes];
        double[] backlog = new double[lanes];
        double[] socketDrops = new double[lanes];
        double[] queueDelay = new double[lanes];
        for (Sample sample : window) {
            for (LaneLoad lane : sample.report().lanes()) {
                busy[lane.lane()] += lane.busy();
                packets[lane.lane()] += lane.packetsPerSecond();
                drops[lane.lane()] += lane.dropsPerSecond();
                backlog[lane.lane()] += lane.backlog();
                socketDrops[lane.lane()] += lane.socketDropsPerSecond();
                queueDelay[lane.lane()] += lane.queueDelayMs();
            }
        }
        int n = window.size();
        List<LaneLoad> mean = new ArrayList<>();
        for (int lane = 0; lane < lanes; lane++) {
            mean.add(new LaneLoad(lane, Math.min(1, busy[lane] / n), packets[lane] / n, drops[lane] / n,
                    Math.min(1, backlog[lane] / n), socketDrops[lane] / n, queueDelay[lane] / n));
        }
        return new LoadReport(last.member(), last.tunnel(), last.assignmentVersion(), last.timestampMs(), mean, Map.of());
    }

    /** The window's per-SA rates averaged; an SA missing from a sample counts as 0 there. */
    private Map<Integer, Double> meanRates() {
        Map<Integer, Double> sum = new HashMap<>();
        for (Sample sample : window) {
            sample.rates().forEach((spi, rate) -> sum.merge(spi, rate, Double::sum));
        }
        int n = window.size();
        sum.replaceAll((spi, rate) -> rate / n);
        return sum;
    }
}
