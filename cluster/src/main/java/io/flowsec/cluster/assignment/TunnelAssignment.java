package io.flowsec.cluster.assignment;

import io.flowsec.dataplane.sa.SaGroup;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One tunnel's versioned assignment, immutable: for each SA of the tunnel's group (one direction), the sender lane
 * that owns it (it encrypts on that lane only), the receiver lane that serves it, and its weight among the SAs of its
 * sender lane. The sender's outbound SPI X is the receiver's inbound SPI X: one SA, two ends, so one entry carries
 * both ends' halves and the two can never disagree on which SAs exist.
 * <p>
 * The sender applies {@link #groupWeights} with {@code DataplaneControl.groupWeights}; the receiver applies
 * {@link #inboundMoves} with {@code DataplaneControl.moveInbound}. A flow never changes sender lane (the kernel put it
 * on a TUN queue), so the sender moves it to another receiver lane by choosing another SA of its own lane: weights
 * only mean something among the SAs of one sender lane, and each sender lane always keeps some weight.
 * <p>
 * Versions order assignments: the higher one wins ({@link Reconciliation}); {@code author}, the member that made
 * it, breaks ties between two made concurrently. SAs are kept in unsigned SPI order, so equal assignments encode to
 * equal bytes. JSON: {@code {"tunnel","version","author","senderLanes","receiverLanes","sas":[{"spi":"0x00001000",
 * "senderLane","receiverLane","weight"}]}}, read strictly by {@link #decode}.
 */
public final class TunnelAssignment {
    /** A data plane has at most this many lanes (each lane owns an SA of every group, a group holds 128). */
    public static final int MAX_LANES = SaGroup.INDIRECTION_TABLE_SIZE;
    public static final int MAX_SAS = SaGroup.INDIRECTION_TABLE_SIZE;
    /** Weights are relative within a sender lane; a lane's table has 128 buckets, so more resolution buys nothing. */
    public static final int MAX_WEIGHT = 0xFFFF;
    /** An encoded assignment of 128 SAs takes about 10,000 characters. */
    public static final int MAX_ENCODED_CHARS = 64 * 1024;

    private static final Set<String> FIELDS = Set.of("tunnel", "version", "author", "senderLanes", "receiverLanes", "sas");
    private static final Set<String> SA_FIELDS = Set.of("spi", "senderLane", "receiverLane", "weight");
    private static final Comparator<SaPlacement> BY_SPI = (a, b) -> Integer.compareUnsigned(a.spi(), b.spi());

    /**
     * One SA: its SPI (both ends), the sender lane that owns it, the receiver lane that serves it, its weight.
     * Lane bounds against the lane counts are checked by the assignment that holds it.
     */
    public record SaPlacement(int spi, int senderLane, int receiverLane, int weight) {
        public SaPlacement {
            StrictJson.checkSpi(spi, "spi");
            if (senderLane < 0 || senderLane >= MAX_LANES) {
                throw new IllegalArgumentException("senderLane: " + senderLane + " is out of range 0-" + (MAX_LANES - 1));
            }
            if (receiverLane < 0 || receiverLane >= MAX_LANES) {
                throw new IllegalArgumentException("receiverLane: " + receiverLane + " is out of range 0-" + (MAX_LANES - 1));
            }
            if (weight < 0 || weight > MAX_WEIGHT) {
                throw new IllegalArgumentException("weight: " + weight + " is out of range 0-" + MAX_WEIGHT);
            }
        }

        public SaPlacement withReceiverLane(int lane) {
            return new SaPlacement(spi, senderLane, lane, weight);
        }

        public SaPlacement withWeight(int newWeight) {
            return new SaPlacement(spi, senderLane, receiverLane, newWeight);
        }

        @Override
        public String toString() {
            return StrictJson.spi(spi) + " s" + senderLane + "->r" + receiverLane + " w" + weight;
        }
    }

    private final String tunnel;
    private final long version;
    private final String author;
    private final int senderLanes;
    private final int receiverLanes;
    private final List<SaPlacement> sas;
    private final Map<Integer, SaPlacement> bySpi;

    /**
     * Checks everything a data plane would refuse later, so a bad assignment never reaches one: lanes within the
     * counts, SPIs unique, every sender lane owning an SA and giving some weight to one (else it could not send).
     */
    public TunnelAssignment(String tunnel, long version, String author, int senderLanes, int receiverLanes,
                            Collection<SaPlacement> sas) {
        StrictJson.checkName(tunnel, "tunnel");
        if (version <= 0) {
            throw new IllegalArgumentException("version: " + version + " is not positive");
        }
        StrictJson.checkName(author, "author");
        checkLaneCount(senderLanes, "senderLanes");
        checkLaneCount(receiverLanes, "receiverLanes");
        if (sas == null || sas.isEmpty()) {
            throw new IllegalArgumentException("sas: an assignment needs at least one SA");
        }
        if (sas.size() > MAX_SAS) {
            throw new IllegalArgumentException("sas: " + sas.size() + " SAs, more than an SA group's " + MAX_SAS);
        }
        Map<Integer, SaPlacement> index = new HashMap<>();
        int[] owned = new int[senderLanes];
        long[] weight = new long[senderLanes];
        int i = 0;
        for (SaPlacement sa : sas) {
            String path = "sas[" + i++ + "]";
            if (sa == null) {
                throw new IllegalArgumentException(path + ": null");
            }
            if (sa.senderLane() >= senderLanes) {
                throw new IllegalArgumentException(path + ".senderLane: " + sa.senderLane() + " is out of range 0-"
                        + (senderLanes - 1) + " (the sender has " + senderLanes + " lanes)");
            }
            if (sa.receiverLane() >= receiverLanes) {
                throw new IllegalArgumentException(path + ".receiverLane: " + sa.receiverLane() + " is out of range 0-"
                        + (receiverLanes - 1) + " (the receiver has " + receiverLanes + " lanes)");
            }
            if (index.putIfAbsent(sa.spi(), sa) != null) {
                throw new IllegalArgumentException(path + ".spi: " + StrictJson.spi(sa.spi()) + " appears twice");
            }
            owned[sa.senderLane()]++;
            weight[sa.senderLane()] += sa.weight();
        }
        for (int lane = 0; lane < senderLanes; lane++) {
            if (owned[lane] == 0) {
                throw new IllegalArgumentException("sas: sender lane " + lane + " owns no SA (each sender lane sends on SAs of its own)");
            }
            if (weight[lane] == 0) {
                throw new IllegalArgumentException("sas: every SA of sender lane " + lane + " weighs 0 (its flows would have no SA)");
            }
        }
        List<SaPlacement> sorted = new ArrayList<>(sas);
        sorted.sort(BY_SPI);
        Map<Integer, SaPlacement> ordered = new LinkedHashMap<>();
        for (SaPlacement sa : sorted) {
            ordered.put(sa.spi(), sa);
        }
        this.tunnel = tunnel;
        this.version = version;
        this.author = author;
        this.senderLanes = senderLanes;
        this.receiverLanes = receiverLanes;
        this.sas = List.copyOf(sorted);
        this.bySpi = Collections.unmodifiableMap(ordered);
    }

    private static void checkLaneCount(int lanes, String field) {
        if (lanes < 1 || lanes > MAX_LANES) {
            throw new IllegalArgumentException(field + ": " + lanes + " is out of range 1-" + MAX_LANES);
        }
    }

    // -- what it says -------------------------------------------------------------------------------------------------

    public String tunnel() {
        return tunnel;
    }

    public long version() {
        return version;
    }

    public String author() {
        return author;
    }

    public int senderLanes() {
        return senderLanes;
    }

    public int receiverLanes() {
        return receiverLanes;
    }

    /** Every SA, in unsigned SPI order. */
    public List<SaPlacement> sas() {
        return sas;
    }

    public boolean contains(int spi) {
        return bySpi.containsKey(spi);
    }

    /** The SA {@code spi}; refused when the tunnel has none. */
    public SaPlacement sa(int spi) {
        SaPlacement sa = bySpi.get(spi);
        if (sa == null) {
            throw new IllegalArgumentException("tunnel " + tunnel + " has no SA " + StrictJson.spi(spi));
        }
        return sa;
    }

    /** The receiver lane that sender SA {@code spi}'s packets land on. */
    public int receiverLaneOf(int spi) {
        return sa(spi).receiverLane();
    }

    public int senderLaneOf(int spi) {
        return sa(spi).senderLane();
    }

    /** Sender lane {@code lane}'s SAs, in SPI order: the only SAs its flows can take. */
    public List<SaPlacement> sasOfSenderLane(int lane) {
        return sas.stream().filter(sa -> sa.senderLane() == lane).toList();
    }

    /** The SAs receiver lane {@code lane} serves, in SPI order. */
    public List<SaPlacement> sasOnReceiverLane(int lane) {
        return sas.stream().filter(sa -> sa.receiverLane() == lane).toList();
    }

    /** The receiver lanes sender lane {@code lane} can reach: those one of its SAs lands on. */
    public Set<Integer> receiverLanesReachedBy(int lane) {
        Set<Integer> reached = new TreeSet<>();
        for (SaPlacement sa : sas) {
            if (sa.senderLane() == lane) {
                reached.add(sa.receiverLane());
            }
        }
        return Collections.unmodifiableSet(reached);
    }

    /** Whether every sender lane has an SA landing on every receiver lane: the sender can then move any flow anywhere. */
    public boolean coversEveryReceiverLane() {
        for (int lane = 0; lane < senderLanes; lane++) {
            if (receiverLanesReachedBy(lane).size() < receiverLanes) {
                return false;
            }
        }
        return true;
    }

    /** Inbound SPI → receiver lane, in SPI order. */
    public Map<Integer, Integer> inboundLanes() {
        Map<Integer, Integer> lanes = new LinkedHashMap<>();
        sas.forEach(sa -> lanes.put(sa.spi(), sa.receiverLane()));
        return Collections.unmodifiableMap(lanes);
    }

    /** Outbound SPI → weight, in SPI order. */
    public Map<Integer, Integer> weights() {
        Map<Integer, Integer> weights = new LinkedHashMap<>();
        sas.forEach(sa -> weights.put(sa.spi(), sa.weight()));
        return Collections.unmodifiableMap(weights);
    }

    // -- applying it to a data plane ----------------------------------------------------------------------------------

    /**
     * The weights in the group's member order, for {@code DataplaneControl.groupWeights(policy, weights)};
     * {@code groupSpis} are the group's SPIs in member order and must be exactly this assignment's.
     */
    public int[] groupWeights(List<Integer> groupSpis) {
        if (groupSpis.size() != sas.size()) {
            throw new IllegalArgumentException("the group has " + groupSpis.size() + " SAs, tunnel " + tunnel + " "
                    + sas.size());
        }
        int[] weights = new int[groupSpis.size()];
        Set<Integer> seen = new TreeSet<>();
        for (int i = 0; i < weights.length; i++) {
            int spi = groupSpis.get(i);
            if (!seen.add(spi)) {
                throw new IllegalArgumentException("the group names SA " + StrictJson.spi(spi) + " twice");
            }
            weights[i] = sa(spi).weight();
        }
        return weights;
    }

    /**
     * The moves that bring {@code installed} ({@code DataplaneControl.inboundLanes()}) to this assignment: SPI →
     * lane, for each of this tunnel's SAs installed on another lane. SAs of other tunnels, and SAs not installed
     * (yet), are left alone.
     */
    public Map<Integer, Integer> inboundMoves(Map<Integer, Integer> installed) {
        Map<Integer, Integer> moves = new LinkedHashMap<>();
        for (SaPlacement sa : sas) {
            Integer lane = installed.get(sa.spi());
            if (lane != null && lane != sa.receiverLane()) {
                moves.put(sa.spi(), sa.receiverLane());
            }
        }
        return Collections.unmodifiableMap(moves);
    }

    // -- the next version ---------------------------------------------------------------------------------------------

    /** The next version, by {@code author}, with {@code newSas} (same tunnel, same lane counts). */
    public TunnelAssignment next(String author, Collection<SaPlacement> newSas) {
        if (version == Long.MAX_VALUE) {
            throw new IllegalArgumentException("version: " + version + " has no successor");
        }
        return new TunnelAssignment(tunnel, version + 1, author, senderLanes, receiverLanes, newSas);
    }

    /** The next version with some SAs on other receiver lanes (SPI → lane); unknown SPIs are refused. */
    public TunnelAssignment withInboundLanes(Map<Integer, Integer> lanes, String author) {
        lanes.keySet().forEach(this::sa);
        return next(author, sas.stream()
                .map(sa -> lanes.containsKey(sa.spi()) ? sa.withReceiverLane(lanes.get(sa.spi())) : sa)
                .toList());
    }

    /** The next version with some SAs reweighted (SPI → weight); unknown SPIs are refused. */
    public TunnelAssignment withWeights(Map<Integer, Integer> weights, String author) {
        weights.keySet().forEach(this::sa);
        return next(author, sas.stream()
                .map(sa -> weights.containsKey(sa.spi()) ? sa.withWeight(weights.get(sa.spi())) : sa)
                .toList());
    }

    /** The next version after a rekey: {@code newSpi} takes {@code oldSpi}'s lanes and weight, as the data plane does. */
    public TunnelAssignment withSpiReplaced(int oldSpi, int newSpi, String author) {
        SaPlacement old = sa(oldSpi);
        if (contains(newSpi)) {
            throw new IllegalArgumentException("tunnel " + tunnel + " already has SA " + StrictJson.spi(newSpi));
        }
        SaPlacement replacement = new SaPlacement(newSpi, old.senderLane(), old.receiverLane(), old.weight());
        return next(author, sas.stream().map(sa -> sa == old ? replacement : sa).toList());
    }

    // -- JSON -----------------------------------------------------------------------------------------------------------

    public JsonObject toJson() {
        JsonArray array = new JsonArray();
        for (SaPlacement sa : sas) {
            array.add(new JsonObject()
                    .put("spi", StrictJson.spi(sa.spi()))
                    .put("senderLane", sa.senderLane())
                    .put("receiverLane", sa.receiverLane())
                    .put("weight", sa.weight()));
        }
        return new JsonObject()
                .put("tunnel", tunnel)
                .put("version", version)
                .put("author", author)
                .put("senderLanes", senderLanes)
                .put("receiverLanes", receiverLanes)
                .put("sas", array);
    }

    public String encode() {
        return toJson().encode();
    }

    /** Reads an encoded assignment; anything else than exactly {@link #toJson}'s shape is refused, naming the field. */
    public static TunnelAssignment decode(String text) {
        return fromJson(StrictJson.parseObject(text, "assignment", MAX_ENCODED_CHARS));
    }

    public static TunnelAssignment fromJson(JsonObject json) {
        if (json == null) {
            throw new IllegalArgumentException("assignment: null");
        }
        StrictJson.requireExactly(json, "", FIELDS);
        String tunnel = StrictJson.name(json, "", "tunnel");
        long version = StrictJson.integer(json, "", "version", 1, Long.MAX_VALUE);
        String author = StrictJson.name(json, "", "author");
        int senderLanes = (int) StrictJson.integer(json, "", "senderLanes", 1, MAX_LANES);
        int receiverLanes = (int) StrictJson.integer(json, "", "receiverLanes", 1, MAX_LANES);
        JsonArray array = StrictJson.array(json, "", "sas");
        if (array.size() > MAX_SAS) {
            throw new IllegalArgumentException("sas: " + array.size() + " SAs, more than an SA group's " + MAX_SAS);
        }
        List<SaPlacement> sas = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            String prefix = "sas[" + i + "].";
            JsonObject entry = StrictJson.object(array.getValue(i), "sas[" + i + "]");
            StrictJson.requireExactly(entry, prefix, SA_FIELDS);
            int spi = StrictJson.spi(entry.getValue("spi"), prefix + "spi");
            int senderLane = (int) StrictJson.integer(entry, prefix, "senderLane", 0, senderLanes - 1);
            int receiverLane = (int) StrictJson.integer(entry, prefix, "receiverLane", 0, receiverLanes - 1);
            int weight = (int) StrictJson.integer(entry, prefix, "weight", 0, MAX_WEIGHT);
            sas.add(new SaPlacement(spi, senderLane, receiverLane, weight));
        }
        return new TunnelAssignment(tunnel, version, author, senderLanes, receiverLanes, sas);
    }

    // -- identity -------------------------------------------------------------------------------------------------------

    /**
     * A fixed binary form of everything (field by field, SAs in SPI order), independent of JSON formatting, so both
     * ends compare the same bytes for the same assignment.
     */
    byte[] canonicalBytes() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeUTF(tunnel);
            out.writeLong(version);
            out.writeUTF(author);
            out.writeInt(senderLanes);
            out.writeInt(receiverLanes);
            out.writeInt(sas.size());
            for (SaPlacement sa : sas) {
                out.writeInt(sa.spi());
                out.writeInt(sa.senderLane());
                out.writeInt(sa.receiverLane());
                out.writeInt(sa.weight());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** SHA-256 of {@link #canonicalBytes}: the content's fingerprint, the last tie-breaker of {@link Reconciliation}. */
    public byte[] digest() {
        try {
            return MessageDigest.getInstance("SHA-256").digest(canonicalBytes());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof TunnelAssignment that
                && version == that.version
                && senderLanes == that.senderLanes
                && receiverLanes == that.receiverLanes
                && tunnel.equals(that.tunnel)
                && author.equals(that.author)
                && sas.equals(that.sas);
    }

    @Override
    public int hashCode() {
        return ((tunnel.hashCode() * 31 + Long.hashCode(version)) * 31 + author.hashCode()) * 31 + sas.hashCode();
    }

    @Override
    public String toString() {
        return "TunnelAssignment[" + tunnel + " v" + version + " by " + author + ", " + senderLanes + " sender x "
                + receiverLanes + " receiver lanes, " + sas + "]";
    }
}
