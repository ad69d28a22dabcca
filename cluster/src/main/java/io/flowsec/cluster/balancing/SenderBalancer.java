package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The paper's usage (a): the receiver cannot move work by itself, so the sender, fed the receiver's load, reweights
 * its SAs: weight leaves the SAs landing on busy receiver lanes for those landing on idle ones. A flow never changes
 * sender lane, so weight moves only among the SAs of one sender lane, each keeping {@code evenWeight} × its SAs in all.
 * <p>
 * One change:
 * <ol>
 *   <li>this tunnel's packets/s on each receiver lane, from per-SA rates (the caller's or the report's; without
 *       either, each lane's rate split by weight);</li>
 *   <li>the rates at which every reachable lane would be equally loaded ({@link LaneModel}: busy plus the work its
 *       full sockets refused), from each lane's measured cost per packet, water-filled (a lane loaded enough with
 *       other work gets none of this tunnel);</li>
 *   <li>move {@code gain} of the way there (damping: the model is only a model), as each receiver lane's share;</li>
 *   <li>each sender lane aims for those shares among the lanes it reaches, converting packets to weight by the
 *       packets per weight each of its SA sets carries now (flows are not spread evenly over buckets);</li>
 *   <li>at most {@code maxStepFraction} of a sender lane's weight moves, no SA below {@code floorWeight}; SAs landing
 *       on one receiver lane keep their relative weights.</li>
 * </ol>
 */
public final class SenderBalancer extends FeedbackBalancer {
    public SenderBalancer(BalancerSettings settings, String author) {
        super(settings, author);
    }

    @Override
    public BalancingPolicy policy() {
        return BalancingPolicy.SENDER;
    }

    /** Only lanes some SA lands on: the sender cannot send to, nor relieve, any other. */
    @Override
    double imbalance(TunnelAssignment current, LoadReport report) {
        return LaneModel.spread(report, reached(current));
    }

    @Override
    double hottest(TunnelAssignment current, LoadReport report) {
        return LaneModel.hottest(report, reached(current));
    }

    /** The receiver lanes this sender's SAs land on: the ones it can move load between. */
    private static Set<Integer> reached(TunnelAssignment current) {
        Set<Integer> reached = new TreeSet<>();
        current.sas().forEach(sa -> reached.add(sa.receiverLane()));
        return reached;
    }

    @Override
    Optional<TunnelAssignment> propose(TunnelAssignment current, LoadReport load, Map<Integer, Double> rates) {
        int lanes = current.receiverLanes();
        List<SaPlacement> sas = current.sas();
        double[] rate = saRates(current, load, rates);
        double[] tunnelRate = new double[lanes];
        boolean[] reached = new boolean[lanes];
        double total = 0;
        for (int i = 0; i < sas.size(); i++) {
            tunnelRate[sas.get(i).receiverLane()] += rate[i];
            reached[sas.get(i).receiverLane()] = true;
            total += rate[i];
        }
        LaneModel model = LaneModel.of(load, tunnelRate);
        if (total <= 0 || model == null) {
            return Optional.empty();
        }
        double[] balanced = waterFill(model, tunnelRate, total, reached);
        double[] share = new double[lanes];
        for (int lane = 0; lane < lanes; lane++) {
            if (reached[lane]) {
                share[lane] = (tunnelRate[lane] + settings.gain() * (balanced[lane] - tunnelRate[lane])) / total;
            }
        }
        Map<Integer, Integer> changes = new HashMap<>();
        for (int senderLane = 0; senderLane < current.senderLanes(); senderLane++) {
            reweight(sas, rate, share, senderLane, lanes, changes);
        }
        return changes.isEmpty() ? Optional.empty() : Optional.of(current.withWeights(changes, author));
    }

    /** Per SA (in the assignment's order), its packets/s. */
    private static double[] saRates(TunnelAssignment current, LoadReport load, Map<Integer, Double> rates) {
        List<SaPlacement> sas = current.sas();
        double[] rate = new double[sas.size()];
        if (!rates.isEmpty()) {
            for (int i = 0; i < rate.length; i++) {
                rate[i] = rates.getOrDefault(sas.get(i).spi(), 0.0);
            }
            return rate;
        }
        double[] laneWeight = new double[current.receiverLanes()];
        int[] laneCount = new int[current.receiverLanes()];
        for (SaPlacement sa : sas) {
            laneWeight[sa.receiverLane()] += sa.weight();
            laneCount[sa.receiverLane()]++;
        }
        for (int i = 0; i < rate.length; i++) {
            SaPlacement sa = sas.get(i);
            double packets = load.lane(sa.receiverLane()).packetsPerSecond();
            rate[i] = laneWeight[sa.receiverLane()] > 0 ? packets * sa.weight() / laneWeight[sa.receiverLane()]
                    : packets / laneCount[sa.receiverLane()];
        }
        return rate;
    }

    /**
     * The tunnel's packets/s per lane that make every reached lane equally busy: lane j's busy from other work is
     * {@code base = busy - rate × cost}; find the level L with Σ (L − base)/cost = total over the lanes whose base is
     * below L (water-filling), the others get nothing.
     */
    private static double[] waterFill(LaneModel model, double[] tunnelRate, double total, boolean[] reached) {
        int lanes = tunnelRate.length;
        double[] base = new double[lanes];
        boolean[] filled = reached.clone();
        for (int lane = 0; lane < lanes; lane++) {
            // refused work counts in the base: the kernel dropped it before any SA's rate could count it
            base[lane] = Math.max(0, model.load[lane] - tunnelRate[lane] * model.cost[lane]);
        }
        double level;
        boolean dropped;
        do {
            double numerator = total;
            double denominator = 0;
            for (int lane = 0; lane < lanes; lane++) {
                if (filled[lane]) {
                    numerator += base[lane] / model.cost[lane];
                    denominator += 1 / model.cost[lane];
                }
            }
            level = numerator / denominator;
            dropped = false;
            for (int lane = 0; lane < lanes; lane++) {
                if (filled[lane] && base[lane] >= level) {
                    filled[lane] = false;
                    dropped = true;
                }
            }
        } while (dropped);
        double[] target = new double[lanes];
        for (int lane = 0; lane < lanes; lane++) {
            target[lane] = filled[lane] ? (level - base[lane]) / model.cost[lane] : 0;
        }
        return target;
    }

    /** Sender lane {@code senderLane}'s new weights toward {@code share}, into {@code changes} where they differ. */
    private void reweight(List<SaPlacement> sas, double[] rate, double[] share, int senderLane, int lanes,
                          Map<Integer, Integer> changes) {
        List<Integer> own = new java.util.ArrayList<>();
        double weightSum = 0;
        double packets = 0;
        for (int i = 0; i < sas.size(); i++) {
            if (sas.get(i).senderLane() == senderLane) {
                own.add(i);
                weightSum += sas.get(i).weight();
                packets += rate[i];
            }
        }
        int total = own.size() * settings.evenWeight();
        if (packets <= 0) {
            return; // nothing measured on this lane: no basis to move its flows
        }
        double[] weight = new double[own.size()];
        double[] setWeight = new double[lanes];
        double[] setRate = new double[lanes];
        int[] setSize = new int[lanes];
        for (int k = 0; k < own.size(); k++) {
            SaPlacement sa = sas.get(own.get(k));
            weight[k] = sa.weight() * total / weightSum;
            setWeight[sa.receiverLane()] += weight[k];
            setRate[sa.receiverLane()] += rate[own.get(k)];
            setSize[sa.receiverLane()]++;
        }
        double shareSum = 0;
        for (int lane = 0; lane < lanes; lane++) {
            if (setSize[lane] > 0) {
                shareSum += share[lane];
            }
        }
        if (shareSum <= 0) {
            return;
        }
        double packetsPerWeight = packets / total;
        double[] wanted = new double[lanes];
        double wantedSum = 0;
        for (int lane = 0; lane < lanes; lane++) {
            if (setSize[lane] > 0) {
                double perWeight = setRate[lane] > 0 && setWeight[lane] > 0 ? setRate[lane] / setWeight[lane] : packetsPerWeight;
                wanted[lane] = share[lane] / shareSum / perWeight;
                wantedSum += wanted[lane];
            }
        }
        double moved = 0;
        double[] delta = new double[lanes];
        for (int lane = 0; lane < lanes; lane++) {
            if (setSize[lane] > 0) {
                delta[lane] = total * wanted[lane] / wantedSum - setWeight[lane];
                moved += Math.max(0, delta[lane]);
            }
        }
        double limit = settings.maxStepFraction() * total;
        double scale = moved > limit ? limit / moved : 1;
        double[] target = new double[own.size()];
        for (int k = 0; k < own.size(); k++) {
            int lane = sas.get(own.get(k)).receiverLane();
            double setTarget = setWeight[lane] + delta[lane] * scale;
            target[k] = setWeight[lane] > 0 ? setTarget * weight[k] / setWeight[lane] : setTarget / setSize[lane];
        }
        int[] result = apportion(target, total, settings.floorWeight());
        for (int k = 0; k < own.size(); k++) {
            SaPlacement sa = sas.get(own.get(k));
            if (result[k] != sa.weight()) {
                changes.put(sa.spi(), result[k]);
            }
        }
    }

    /**
     * Integer weights summing to {@code total}, none below {@code floor}, proportional to {@code target} otherwise:
     * SAs under the floor are pinned to it and the rest shared again, then largest remainders round.
     */
    static int[] apportion(double[] target, int total, int floor) {
        int n = target.length;
        boolean[] pinned = new boolean[n];
        double[] exact = new double[n];
        boolean pinnedMore;
        do {
            int pinnedCount = 0;
            double freeTarget = 0;
            for (int i = 0; i < n; i++) {
                if (pinned[i]) {
                    pinnedCount++;
                } else {
                    freeTarget += Math.max(0, target[i]);
                }
            }
            double free = total - (double) floor * pinnedCount;
            pinnedMore = false;
            for (int i = 0; i < n; i++) {
                if (!pinned[i]) {
                    exact[i] = freeTarget > 0 ? Math.max(0, target[i]) * free / freeTarget : free / (n - pinnedCount);
                    if (exact[i] < floor) {
                        pinned[i] = true;
                        pinnedMore = true;
                    }
                }
            }
        } while (pinnedMore);
        int[] result = new int[n];
        int assigned = 0;
        for (int i = 0; i < n; i++) {
            result[i] = pinned[i] ? floor : (int) Math.floor(exact[i]);
            assigned += result[i];
        }
        while (assigned < total) {
            int best = -1;
            double bestRemainder = -1;
            for (int i = 0; i < n; i++) {
                double remainder = pinned[i] ? -0.5 : exact[i] - result[i];
                if (remainder > bestRemainder) {
                    best = i;
                    bestRemainder = remainder;
                }
            }
            result[best]++;
            exact[best] = result[best]; // served: its remainder is spent
            pinned[best] = false;
            assigned++;
        }
        return result;
    }
}
