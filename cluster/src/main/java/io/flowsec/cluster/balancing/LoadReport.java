package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.StrictJson;
import io.flowsec.cluster.assignment.TunnelAssignment;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What one end measured for one tunnel over a sampling interval ({@link #DEFAULT_INTERVAL_MS} by default): the load of
 * each of its lanes and the packet rate of each of the tunnel's SAs it receives on. Lanes are shared by every tunnel of
 * the member, so each tunnel's report repeats them (a few numbers); per tunnel, a balancer reads one message.
 *
 * @param member             who measured (the receiver, for the balancers)
 * @param assignmentVersion  the tunnel's assignment version in force while measuring: a balancer uses only reports
 *                           taken under the assignment it holds, so it judges its last change by its effect
 * @param timestampMs        the member's clock when the interval ended; only compared with the same member's reports
 * @param lanes              every lane of the member, lane i at index i: busy, packets and drops as the lane saw them,
 *                           and its sockets' backlog and the kernel's drops there, which the lane never saw
 * @param saPacketsPerSecond SPI → packets/s received on that SA, in SPI order; may be empty
 */
public record LoadReport(String member, String tunnel, long assignmentVersion, long timestampMs, List<LaneLoad> lanes,
                         Map<Integer, Double> saPacketsPerSecond) {
    /** How often each appliance publishes its load. */
    public static final long DEFAULT_INTERVAL_MS = 100;
    public static final int MAX_ENCODED_CHARS = 64 * 1024;

    private static final Set<String> FIELDS = Set.of("member", "tunnel", "assignmentVersion", "timestampMs", "lanes",
            "saPacketsPerSecond");
    private static final Set<String> LANE_FIELDS = Set.of("lane", "busy", "packetsPerSecond", "dropsPerSecond", "backlog",
            "socketDropsPerSecond", "queueDelayMs");
    private static final double MAX_RATE = 1e12;

    public LoadReport {
        StrictJson.checkName(member, "member");
        StrictJson.checkName(tunnel, "tunnel");
        if (assignmentVersion < 0) {
            throw new IllegalArgumentException("assignmentVersion: " + assignmentVersion + " is negative");
        }
        if (timestampMs < 0) {
            throw new IllegalArgumentException("timestampMs: " + timestampMs + " is negative");
        }
        if (lanes == null || lanes.isEmpty() || lanes.size() > TunnelAssignment.MAX_LANES) {
            throw new IllegalArgumentException("lanes: must list 1-" + TunnelAssignment.MAX_LANES + " lanes");
        }
        lanes = Collections.unmodifiableList(new ArrayList<>(lanes));
        for (int i = 0; i < lanes.size(); i++) {
            if (lanes.get(i) == null || lanes.get(i).lane() != i) {
                throw new IllegalArgumentException("lanes[" + i + "].lane: " + (lanes.get(i) == null ? "null"
                        : lanes.get(i).lane()) + ", expected " + i + " (every lane, in order)");
            }
        }
        if (saPacketsPerSecond == null) {
            throw new IllegalArgumentException("saPacketsPerSecond: null (an empty map when nothing was measured)");
        }
        Map<Integer, Double> sorted = new TreeMap<>(Integer::compareUnsigned);
        for (Map.Entry<Integer, Double> entry : saPacketsPerSecond.entrySet()) {
            if (entry.getKey() == null) {
                throw new IllegalArgumentException("saPacketsPerSecond: a null SPI");
            }
            StrictJson.checkSpi(entry.getKey(), "saPacketsPerSecond");
            Double rate = entry.getValue();
            if (rate == null || !(rate >= 0) || rate > MAX_RATE) {
                throw new IllegalArgumentException("saPacketsPerSecond." + StrictJson.spi(entry.getKey()) + ": " + rate
                        + " is not a rate");
            }
            sorted.put(entry.getKey(), rate);
        }
        saPacketsPerSecond = Collections.unmodifiableMap(new LinkedHashMap<>(sorted));
    }

    public LaneLoad lane(int lane) {
        return lanes.get(lane);
    }

    /** Packets/s of SA {@code spi}; 0 when the report has none for it. */
    public double saPacketsPerSecond(int spi) {
        return saPacketsPerSecond.getOrDefault(spi, 0.0);
    }

    /** Busiest lane's busy fraction minus the idlest one's (busy alone: the balancers judge by {@link LaneModel}'s load). */
    public double spread() {
        double max = 0;
        double min = 1;
        for (LaneLoad lane : lanes) {
            max = Math.max(max, lane.busy());
            min = Math.min(min, lane.busy());
        }
        return max - min;
    }

    /** {@link #spread} among {@code lanesOfInterest} only; 0 for fewer than two. */
    public double spread(Collection<Integer> lanesOfInterest) {
        double max = 0;
        double min = 1;
        int counted = 0;
        for (int lane : lanesOfInterest) {
            max = Math.max(max, lanes.get(lane).busy());
            min = Math.min(min, lanes.get(lane).busy());
            counted++;
        }
        return counted < 2 ? 0 : max - min;
    }

    // -- JSON -----------------------------------------------------------------------------------------------------------

    public JsonObject toJson() {
        JsonArray laneArray = new JsonArray();
        for (LaneLoad lane : lanes) {
            laneArray.add(new JsonObject()
                    .put("lane", lane.lane())
                    .put("busy", lane.busy())
                    .put("packetsPerSecond", lane.packetsPerSecond())
                    .put("dropsPerSecond", lane.dropsPerSecond())
                    .put("backlog", lane.backlog())
                    .put("socketDropsPerSecond", lane.socketDropsPerSecond())
                    .put("queueDelayMs", lane.queueDelayMs()));
        }
        JsonObject rates = new JsonObject();
        saPacketsPerSecond.forEach((spi, rate) -> rates.put(StrictJson.spi(spi), rate));
        return new JsonObject()
                .put("member", member)
                .put("tunnel", tunnel)
                .put("assignmentVersion", assignmentVersion)
                .put("timestampMs", timestampMs)
                .put("lanes", laneArray)
                .put("saPacketsPerSecond", rates);
    }

    public String encode() {
        return toJson().encode();
    }

    /** Reads an encoded report; anything else than exactly {@link #toJson}'s shape is refused, naming the field. */
    public static LoadReport decode(String text) {
        return fromJson(StrictJson.parseObject(text, "load report", MAX_ENCODED_CHARS));
    }

    public static LoadReport fromJson(JsonObject json) {
        if (json == null) {
            throw new IllegalArgumentException("load report: null");
        }
        StrictJson.requireExactly(json, "", FIELDS);
        String member = StrictJson.name(json, "", "member");
        String tunnel = StrictJson.name(json, "", "tunnel");
        long version = StrictJson.integer(json, "", "assignmentVersion", 0, Long.MAX_VALUE);
        long timestamp = StrictJson.integer(json, "", "timestampMs", 0, Long.MAX_VALUE);
        JsonArray laneArray = StrictJson.array(json, "", "lanes");
        if (laneArray.isEmpty() || laneArray.size() > TunnelAssignment.MAX_LANES) {
            throw new IllegalArgumentException("lanes: must list 1-" + TunnelAssignment.MAX_LANES + " lanes");
        }
        List<LaneLoad> lanes = new ArrayList<>();
        for (int i = 0; i < laneArray.size(); i++) {
            String prefix = "lanes[" + i + "].";
            JsonObject entry = StrictJson.object(laneArray.getValue(i), "lanes[" + i + "]");
            StrictJson.requireExactly(entry, prefix, LANE_FIELDS);
            int lane = (int) StrictJson.integer(entry, prefix, "lane", i, i);
            lanes.add(new LaneLoad(lane,
                    StrictJson.number(entry, prefix, "busy", 0, 1),
                    StrictJson.number(entry, prefix, "packetsPerSecond", 0, MAX_RATE),
                    StrictJson.number(entry, prefix, "dropsPerSecond", 0, MAX_RATE),
                    StrictJson.number(entry, prefix, "backlog", 0, 1),
                    StrictJson.number(entry, prefix, "socketDropsPerSecond", 0, MAX_RATE),
                    StrictJson.number(entry, prefix, "queueDelayMs", 0, LaneLoad.MAX_QUEUE_DELAY_MS)));
        }
        JsonObject rateObject = StrictJson.object(json.getValue("saPacketsPerSecond"), "saPacketsPerSecond");
        if (rateObject.size() > TunnelAssignment.MAX_SAS * 2) {
            throw new IllegalArgumentException("saPacketsPerSecond: " + rateObject.size() + " SAs, more than a tunnel has");
        }
        Map<Integer, Double> rates = new LinkedHashMap<>();
        for (String key : rateObject.fieldNames()) {
            String path = "saPacketsPerSecond." + StrictJson.printable(key);
            int spi = StrictJson.spi(key, path);
            rates.put(spi, StrictJson.number(rateObject.getValue(key), path, 0, MAX_RATE));
        }
        return new LoadReport(member, tunnel, version, timestamp, lanes, rates);
    }
}
