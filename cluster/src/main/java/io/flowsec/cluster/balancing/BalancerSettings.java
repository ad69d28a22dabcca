package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.StrictJson;
import io.flowsec.cluster.assignment.TunnelAssignment;
import io.vertx.core.json.JsonObject;

import java.util.Set;

/**
 * The balancers' tunables. Imbalance is the busiest lane's busy fraction minus the idlest one's: busy fractions are
 * already per core and 0 to 1, so the difference is headroom one core lacks and another has; a ratio would call
 * 0.02 against 0.01 a 2× imbalance at a load where nothing needs balancing.
 *
 * @param startImbalance    act when the imbalance exceeds this ...
 * @param triggerReports    ... in this many consecutive reports (one spike is not a trend)
 * @param stopImbalance     stop acting once the averaged imbalance is below this (lower than start: hysteresis)
 * @param cooldownMs        after a change, wait this long so its effect is measured before the next one
 * @param averagedReports   decide on the mean of up to this many reports since the last change (noise)
 * @param gain              sender: the share of the modelled correction applied per change (damping)
 * @param maxStepFraction   sender: the most of a sender lane's weight that one change moves
 * @param evenWeight        sender: an SA's weight when all are equal; a sender lane's SAs weigh this × their number
 * @param floorWeight       sender: no SA weighs less (0 lets the balancer starve an SA)
 * @param maxMovesPerChange receiver: the most SAs one change moves
 * @param minImprovement    receiver: a move must narrow the modelled imbalance by at least this much
 */
public record BalancerSettings(double startImbalance, int triggerReports, double stopImbalance, long cooldownMs,
                               int averagedReports, double gain, double maxStepFraction, int evenWeight, int floorWeight,
                               int maxMovesPerChange, double minImprovement) {
    public static final double DEFAULT_START_IMBALANCE = 0.25;
    public static final int DEFAULT_TRIGGER_REPORTS = 3;
    public static final double DEFAULT_STOP_IMBALANCE = 0.10;
    public static final long DEFAULT_COOLDOWN_MS = 1000;
    public static final int DEFAULT_AVERAGED_REPORTS = 8;
    public static final double DEFAULT_GAIN = 0.5;
    public static final double DEFAULT_MAX_STEP_FRACTION = 0.25;
    public static final int DEFAULT_EVEN_WEIGHT = 16;
    public static final int DEFAULT_FLOOR_WEIGHT = 1;
    public static final int DEFAULT_MAX_MOVES_PER_CHANGE = 2;
    public static final double DEFAULT_MIN_IMPROVEMENT = 0.05;

    public static final BalancerSettings DEFAULTS = new BalancerSettings(DEFAULT_START_IMBALANCE, DEFAULT_TRIGGER_REPORTS,
            DEFAULT_STOP_IMBALANCE, DEFAULT_COOLDOWN_MS, DEFAULT_AVERAGED_REPORTS, DEFAULT_GAIN,
            DEFAULT_MAX_STEP_FRACTION, DEFAULT_EVEN_WEIGHT, DEFAULT_FLOOR_WEIGHT, DEFAULT_MAX_MOVES_PER_CHANGE,
            DEFAULT_MIN_IMPROVEMENT);

    private static final Set<String> FIELDS = Set.of("startImbalance", "triggerReports", "stopImbalance", "cooldownMs",
            "averagedReports", "gain", "maxStepFraction", "evenWeight", "floorWeight", "maxMovesPerChange",
            "minImprovement");

    public BalancerSettings {
        within("startImbalance", startImbalance, 0, 1);
        if (startImbalance == 0) {
            throw new IllegalArgumentException("startImbalance: must be above 0");
        }
        within("triggerReports", triggerReports, 1, 1000);
        within("stopImbalance", stopImbalance, 0, 1);
        if (stopImbalance >= startImbalance) {
            throw new IllegalArgumentException("stopImbalance: " + stopImbalance + " must be below startImbalance "
                    + startImbalance + " (else the balancer would flap)");
        }
        within("cooldownMs", cooldownMs, 0, 3_600_000);
        within("averagedReports", averagedReports, 1, 1000);
        within("gain", gain, 0, 1);
        if (gain == 0) {
            throw new IllegalArgumentException("gain: must be above 0");
        }
        within("maxStepFraction", maxStepFraction, 0, 1);
        if (maxStepFraction == 0) {
            throw new IllegalArgumentException("maxStepFraction: must be above 0");
        }
        // a sender lane of up to 128 SAs weighs evenWeight × 128 in all, which must fit one SA weight (MAX_WEIGHT)
        within("evenWeight", evenWeight, 1, TunnelAssignment.MAX_WEIGHT / TunnelAssignment.MAX_SAS);
        within("floorWeight", floorWeight, 0, evenWeight - 1);
        within("maxMovesPerChange", maxMovesPerChange, 1, TunnelAssignment.MAX_SAS);
        within("minImprovement", minImprovement, 0, 1);
    }

    private static void within(String field, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw new IllegalArgumentException(field + ": " + value + " is out of range " + min + "-" + max);
        }
    }

    private static void within(String field, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(field + ": " + value + " is out of range " + min + "-" + max);
        }
    }

    public BalancerSettings withThresholds(double start, double stop) {
        return new BalancerSettings(start, triggerReports, stop, cooldownMs, averagedReports, gain, maxStepFraction,
                evenWeight, floorWeight, maxMovesPerChange, minImprovement);
    }

    public BalancerSettings withTriggerReports(int reports) {
        return new BalancerSettings(startImbalance, reports, stopImbalance, cooldownMs, averagedReports, gain,
                maxStepFraction, evenWeight, floorWeight, maxMovesPerChange, minImprovement);
    }

    public BalancerSettings withCooldownMs(long ms) {
        return new BalancerSettings(startImbalance, triggerReports, stopImbalance, ms, averagedReports, gain,
                maxStepFraction, evenWeight, floorWeight, maxMovesPerChange, minImprovement);
    }

    public BalancerSettings withFloorWeight(int weight) {
        return new BalancerSettings(startImbalance, triggerReports, stopImbalance, cooldownMs, averagedReports, gain,
                maxStepFraction, evenWeight, weight, maxMovesPerChange, minImprovement);
    }

    public BalancerSettings withMaxMovesPerChange(int moves) {
        return new BalancerSettings(startImbalance, triggerReports, stopImbalance, cooldownMs, averagedReports, gain,
                maxStepFraction, evenWeight, floorWeight, moves, minImprovement);
    }

    // -- JSON (configuration) -------------------------------------------------------------------------------------------

    public JsonObject toJson() {
        return new JsonObject()
                .put("startImbalance", startImbalance)
                .put("triggerReports", triggerReports)
                .put("stopImbalance", stopImbalance)
                .put("cooldownMs", cooldownMs)
                .put("averagedReports", averagedReports)
                .put("gain", gain)
                .put("maxStepFraction", maxStepFraction)
                .put("evenWeight", evenWeight)
                .put("floorWeight", floorWeight)
                .put("maxMovesPerChange", maxMovesPerChange)
                .put("minImprovement", minImprovement);
    }

    /** Settings from configuration: a missing field takes its default, an unknown one is refused. */
    public static BalancerSettings fromJson(JsonObject json) {
        if (json == null) {
            throw new IllegalArgumentException("balancer settings: null");
        }
        for (String key : json.fieldNames()) {
            if (!FIELDS.contains(key)) {
                throw new IllegalArgumentException(StrictJson.printable(key) + ": unknown field (allowed: "
                        + String.join(", ", new java.util.TreeSet<>(FIELDS)) + ")");
            }
        }
        BalancerSettings d = DEFAULTS;
        return new BalancerSettings(
                real(json, "startImbalance", d.startImbalance),
                (int) whole(json, "triggerReports", d.triggerReports),
                real(json, "stopImbalance", d.stopImbalance),
                whole(json, "cooldownMs", d.cooldownMs),
                (int) whole(json, "averagedReports", d.averagedReports),
                real(json, "gain", d.gain),
                real(json, "maxStepFraction", d.maxStepFraction),
                (int) whole(json, "evenWeight", d.evenWeight),
                (int) whole(json, "floorWeight", d.floorWeight),
                (int) whole(json, "maxMovesPerChange", d.maxMovesPerChange),
                real(json, "minImprovement", d.minImprovement));
    }

    private static double real(JsonObject json, String field, double fallback) {
        return json.containsKey(field) ? StrictJson.number(json, "", field, -Double.MAX_VALUE, Double.MAX_VALUE) : fallback;
    }

    private static long whole(JsonObject json, String field, long fallback) {
        return json.containsKey(field) ? StrictJson.integer(json, "", field, Integer.MIN_VALUE, Integer.MAX_VALUE) : fallback;
    }
}
