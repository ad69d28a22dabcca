package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.sa.SecurityAssociation;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The data plane's command interface: everything that reads or changes a running data plane goes through here
 * (the appliance's configuration loader and control socket, the REST API, the cluster). None of them touches lanes.
 * <p>
 * A change is applied on the lanes' own threads between batches and the call returns once every lane has applied
 * it. A request the data plane cannot honour is refused with an {@link IllegalArgumentException} that says why,
 * before anything changed. Calls are serialised: one change at a time.
 */
public interface DataplaneControl {
    /** How long a replaced inbound SA keeps accepting after a rekey unless told otherwise. */
    Duration DEFAULT_REKEY_GRACE = Duration.ofSeconds(5);

    /**
     * How long a flow bucket must have had no packet before a reweighting moves it to another SA. 500 µs is longer
     * than the pauses inside a burst at these rates (packets microseconds apart; a lane takes about 200 µs for a
     * 64-packet batch of 1400-byte packets, ~3 µs each for TUN read, GCM and send), so a burst is not split, and
     * longer than the one batch by which the receiver's core for the new SA can get ahead of the old one's; yet
     * shorter than a tunnel's round trip (milliseconds), so the pauses of a TCP flow waiting for acknowledgements
     * are boundaries and a move every few hundred milliseconds takes effect within about a round trip.
     */
    Duration DEFAULT_FLOWLET_GAP = Duration.ofNanos(500_000);

    int laneCount();

    // -- mode and steering --------------------------------------------------------------------------------------------

    Mode mode();

    /** Changes the mode while traffic flows, losing and reordering nothing. */
    void mode(Mode mode);

    /** The configured steering (what {@code flow} mode uses). */
    Steering steering();

    /** What arrivals are steered by now: the configured steering in {@code flow} mode, else {@code single}. */
    Steering steeringInEffect();

    void steering(Steering steering);

    // -- SAs ------------------------------------------------------------------------------------------------------------

    /** Installs an inbound SA on the lane that serves fewest; steering learns it before this returns. */
    void installSa(SecurityAssociation inbound);

    /** Installs an inbound SA on lane {@code lane}. */
    void installSa(SecurityAssociation inbound, int lane);

    /**
     * Rekey, make-before-break. Outbound: {@code replacement} takes the old SA's place in its group and lane
     * between two batches. Inbound: {@code replacement} is installed on the old SA's lane, and the old one keeps
     * accepting for {@code grace}, then is removed ({@link DataplaneEvent.SaRemoved}).
     */
    void replaceSa(int oldSpi, SecurityAssociation.Direction direction, SecurityAssociation replacement, Duration grace);

    /** Removes an inbound SA now. Outbound SAs leave with their policy ({@link #replacePolicies}) or a rekey. */
    void removeSa(int spi, SecurityAssociation.Direction direction);

    /** Every installed SA (keys stay inside: {@link SecurityAssociation#toString} never shows them). */
    List<SecurityAssociation> sas();

    // -- policies and SA groups -----------------------------------------------------------------------------------------

    /**
     * Replaces the SPD atomically: each lane goes from the old list to the new one between two batches. Outbound
     * SAs of the new groups are installed (each group needs at least as many SAs as there are lanes: each lane
     * sends on SAs of its own); those no policy references any more are removed.
     */
    void replacePolicies(List<SecurityPolicy> policies);

    List<SecurityPolicy> policies();

    /** The weights of the named policy's SA group, one per SA in group order. */
    int[] groupWeights(String policy);

    /**
     * Reweights the named policy's SA group (load feedback); flows move between SAs as little as possible. The new
     * tables reach every lane before this returns, but a flow bucket whose SA changes moves only at a flowlet
     * boundary: at the first packet that finds it idle for the {@link #flowletGap} (at once when it is idle already,
     * or when the gap is 0), so a burst is never split between two SAs and reordered. A bucket that stays busy keeps
     * its SA until it pauses; lanes count the moves ({@code flowlet-moves}) and show how many wait
     * ({@link DataplaneSnapshot.LaneSnapshot#flowletPending}). A rekey leaves the moves under way as they are, with
     * the successor in its predecessor's place; a policy replacement applies its groups' tables at once.
     */
    void groupWeights(String policy, int... weights);

    /** How long a flow bucket must be idle before a reweighting moves it ({@link #groupWeights}); 0: at once. */
    Duration flowletGap();

    /**
     * Changes the flowlet gap on every lane; buckets waiting to move that have been idle for the new gap move now
     * (all of them with 0). Refuses a gap below 0 or above a minute.
     */
    void flowletGap(Duration gap);

    // -- lanes ----------------------------------------------------------------------------------------------------------

    /** Inbound SPI → the lane that serves it (the receiver's flow-ID → lane map). */
    Map<Integer, Integer> inboundLanes();

    /** Moves an inbound SA to another lane: the steering program is rebuilt live and nothing is lost or reordered. */
    void moveInbound(int spi, int lane);

    // -- observation ----------------------------------------------------------------------------------------------------

    DataplaneSnapshot snapshot();

    /**
     * The batching and offload paths of the lanes' queues (TUN offloads and GRO, UDP batching, GSO and GRO): which
     * are in use, and why each other one is not (not asked for, or the kernel's refusal).
     */
    default List<io.flowsec.dataplane.lane.Offload> offloads() {
        return List.of();
    }

    void addListener(DataplaneListener listener);

    void removeListener(DataplaneListener listener);
}
