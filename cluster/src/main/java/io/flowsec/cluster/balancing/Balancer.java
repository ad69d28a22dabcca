package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;

import java.util.Map;
import java.util.Optional;

/**
 * One tunnel's balancer at one end, fed each load report the receiver publishes (every 100 ms by default). It keeps
 * the state that hysteresis needs (consecutive reports over the threshold, the time of its last change), so a tunnel
 * has its own instance, and switching the policy means a new one. Not thread-safe: one control verticle calls it.
 * <p>
 * It never reads a clock and never applies anything: it returns the next assignment (version + 1, authored by its
 * member) for the caller to apply, publish and hand back as {@code current} on the next call, or nothing.
 */
public interface Balancer {
    BalancingPolicy policy();

    /**
     * Considers one report.
     *
     * @param current            the assignment in force
     * @param receiverLoad       the receiver's latest report for this tunnel; one seen already, or one measured under
     *                           another assignment version, only waits
     * @param saPacketsPerSecond SPI → packets/s the caller measured itself (the sender: its outbound SAs, see
     *                           {@link LoadSampling#outboundRates}); empty to use the report's
     * @param nowMs              a monotonic clock in ms (e.g. {@code System.nanoTime() / 1_000_000}), for the cooldown
     * @return the proposed next assignment, or empty for no change
     */
    Optional<TunnelAssignment> onReport(TunnelAssignment current, LoadReport receiverLoad,
                                        Map<Integer, Double> saPacketsPerSecond, long nowMs);

    /** Whether an imbalance is being worked on (it rose over the start threshold and has not yet gone below the stop one). */
    boolean active();

    /** A balancer of {@code policy} whose assignments {@code author} (this member) signs. */
    static Balancer create(BalancingPolicy policy, BalancerSettings settings, String author) {
        return switch (policy) {
            case STATIC -> new StaticBalancer();
            case SENDER -> new SenderBalancer(settings, author);
            case RECEIVER -> new ReceiverBalancer(settings, author);
        };
    }
}
