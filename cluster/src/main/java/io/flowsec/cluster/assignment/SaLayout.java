package io.flowsec.cluster.assignment;

import io.flowsec.dataplane.sa.SaGroup;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The first receiver lane of each SA of a tunnel, from the SAs' owning sender lanes. A sender lane can only send a
 * flow on its own SAs, so to reach every receiver lane it needs an SA landing on each: S sender lanes and R receiver
 * lanes want at least S×R SAs per direction, R per sender lane.
 * <p>
 * The plan deals each sender lane's SAs (in SPI order) round-robin over the receiver lanes, starting where the
 * previous sender lane stopped. Each sender lane then reaches min(its SAs, R) receiver lanes with at most one SA more
 * on any of them than on another, and the receiver lanes' totals differ by at most one too. Deterministic: the same
 * SAs give the same plan at both ends.
 */
public final class SaLayout {
    private final int senderLanes;
    private final int receiverLanes;
    private final Map<Integer, Integer> senderLaneBySpi;
    private final Map<Integer, Integer> inboundLanes;
    private final String problem;

    private SaLayout(int senderLanes, int receiverLanes, Map<Integer, Integer> senderLaneBySpi,
                     Map<Integer, Integer> inboundLanes, String problem) {
        this.senderLanes = senderLanes;
        this.receiverLanes = receiverLanes;
        this.senderLaneBySpi = senderLaneBySpi;
        this.inboundLanes = inboundLanes;
        this.problem = problem;
    }

    /**
     * Plans the receiver lanes of the SAs {@code senderLaneBySpi} (SPI → owning sender lane). Refused when a sender
     * lane owns no SA (the data plane refuses such a group too); when some sender lane owns fewer than R SAs the plan
     * is still made, as even as it can be, and {@link #problem} says what is missing.
     */
    public static SaLayout plan(Map<Integer, Integer> senderLaneBySpi, int senderLanes, int receiverLanes) {
        if (senderLanes < 1 || senderLanes > TunnelAssignment.MAX_LANES) {
            throw new IllegalArgumentException("senderLanes: " + senderLanes + " is out of range 1-" + TunnelAssignment.MAX_LANES);
        }
        if (receiverLanes < 1 || receiverLanes > TunnelAssignment.MAX_LANES) {
            throw new IllegalArgumentException("receiverLanes: " + receiverLanes + " is out of range 1-" + TunnelAssignment.MAX_LANES);
        }
        List<List<Integer>> owned = new ArrayList<>();
        for (int lane = 0; lane < senderLanes; lane++) {
            owned.add(new ArrayList<>());
        }
        for (Map.Entry<Integer, Integer> entry : senderLaneBySpi.entrySet()) {
            int spi = entry.getKey();
            int lane = entry.getValue();
            StrictJson.checkSpi(spi, "spi");
            if (lane < 0 || lane >= senderLanes) {
                throw new IllegalArgumentException(StrictJson.spi(spi) + ": sender lane " + lane + " is out of range 0-"
                        + (senderLanes - 1));
            }
            owned.get(lane).add(spi);
        }
        Map<Integer, Integer> inbound = new LinkedHashMap<>();
        String problem = null;
        int next = 0;
        for (int lane = 0; lane < senderLanes; lane++) {
            List<Integer> spis = owned.get(lane);
            if (spis.isEmpty()) {
                throw new IllegalArgumentException("sender lane " + lane + " owns no SA (each sender lane sends on SAs of its own)");
            }
            spis.sort(Integer::compareUnsigned);
            for (int spi : spis) {
                inbound.put(spi, next);
                next = (next + 1) % receiverLanes;
            }
            if (spis.size() < receiverLanes && problem == null) {
                problem = "sender lane " + lane + " owns " + spis.size() + " SA(s) and so reaches only " + spis.size()
                        + " of the receiver's " + receiverLanes + " lanes: give the tunnel at least " + senderLanes
                        + " x " + receiverLanes + " = " + senderLanes * receiverLanes + " SAs per direction, "
                        + receiverLanes + " per sender lane";
            }
        }
        return new SaLayout(senderLanes, receiverLanes, Collections.unmodifiableMap(new LinkedHashMap<>(senderLaneBySpi)),
                Collections.unmodifiableMap(inbound), problem);
    }

    /** SPI → owning lane of a group a running data plane holds ({@link SaGroup#assignOwners} has run). */
    public static Map<Integer, Integer> owners(SaGroup group) {
        Map<Integer, Integer> owners = new LinkedHashMap<>();
        for (int i = 0; i < group.size(); i++) {
            int owner = group.owner(i);
            if (owner == SaGroup.NO_OWNER) {
                throw new IllegalArgumentException(group.member(i).name() + " has no owning lane yet");
            }
            owners.put(group.member(i).spi(), owner);
        }
        return Collections.unmodifiableMap(owners);
    }

    /** Inbound SPI → receiver lane, grouped by sender lane, each in SPI order. */
    public Map<Integer, Integer> inboundLanes() {
        return inboundLanes;
    }

    /** Whether every sender lane reaches every receiver lane. */
    public boolean coversEveryReceiverLane() {
        return problem == null;
    }

    /** What keeps some sender lane from reaching every receiver lane, when something does. */
    public Optional<String> problem() {
        return Optional.ofNullable(problem);
    }

    /** Version 1 of the tunnel's assignment: this plan, every SA at {@code weight}. */
    public TunnelAssignment toAssignment(String tunnel, String author, int weight) {
        List<TunnelAssignment.SaPlacement> sas = new ArrayList<>();
        inboundLanes.forEach((spi, lane) -> sas.add(new TunnelAssignment.SaPlacement(spi, senderLaneBySpi.get(spi), lane, weight)));
        return new TunnelAssignment(tunnel, 1, author, senderLanes, receiverLanes, sas);
    }
}
