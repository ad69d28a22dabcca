package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;

/**
 * The paper's usage (b): the receiver balances by its own load, moving inbound SAs from its busiest lane
 * ({@code DataplaneControl.moveInbound}). An SA moves whole, with every flow the sender put on it, so the size of a
 * move is the SA's packet rate, known per SA.
 * <p>
 * Lanes are judged by {@link LaneModel}'s load: busy plus the work the kernel dropped at the lane's full sockets, so a
 * lane that drops is the busiest even while its busy fraction looks moderate.
 * <p>
 * A move of SA x from the busiest lane h to lane d is allowed only when, in the lane model (load grows by the lane's
 * cost per packet), (1) d ends at least {@code minImprovement} below where h was, and (2) the gap between h and d
 * narrows by at least {@code minImprovement}: x's load, counted where it leaves and where it arrives, is under twice
 * the gap. An SA heavier than that would only move the hot spot (and the next change would move it back); that is
 * how "never move an SA larger than the gap it fixes" reads once the two lanes' costs differ. Among allowed moves the
 * one leaving the pair's busier lane least busy wins; ties keep a sender lane reaching h, then the lower lane, then
 * the lower SPI. Each move takes one busiest-lane value away and puts back two smaller ones, so the sorted busy
 * vector falls in every step: a fixed load cannot make moves cycle. Up to {@code maxMovesPerChange} moves a change.
 */
public final class ReceiverBalancer extends FeedbackBalancer {
    public ReceiverBalancer(BalancerSettings settings, String author) {
        super(settings, author);
    }

    @Override
    public BalancingPolicy policy() {
        return BalancingPolicy.RECEIVER;
    }

    /** Every lane: an SA can go to any of them. */
    @Override
    double imbalance(TunnelAssignment current, LoadReport report) {
        return LaneModel.spread(report, IntStream.range(0, report.lanes().size()).boxed().toList());
    }

    @Override
    double hottest(TunnelAssignment current, LoadReport report) {
        return LaneModel.hottest(report, IntStream.range(0, report.lanes().size()).boxed().toList());
    }

    @Override
    Optional<TunnelAssignment> propose(TunnelAssignment current, LoadReport load, Map<Integer, Double> rates) {
        int lanes = current.receiverLanes();
        List<SaPlacement> sas = current.sas();
        double[] rate = saRates(current, load, rates);
        int[] laneOf = new int[sas.size()];
        double[] tunnelRate = new double[lanes];
        for (int i = 0; i < sas.size(); i++) {
            laneOf[i] = sas.get(i).receiverLane();
            tunnelRate[laneOf[i]] += rate[i];
        }
        LaneModel model = LaneModel.of(load, tunnelRate);
        if (model == null) {
            return Optional.empty();
        }
        double[] busy = model.load.clone();   // what each lane is asked to carry, refused work included
        boolean[] moved = new boolean[sas.size()];
        Map<Integer, Integer> moves = new LinkedHashMap<>();
        double margin = settings.minImprovement();
        for (int step = 0; step < settings.maxMovesPerChange(); step++) {
            int hot = 0;
            for (int lane = 1; lane < lanes; lane++) {
                if (busy[lane] > busy[hot]) {
                    hot = lane;
                }
            }
            int bestSa = -1;
            int bestLane = -1;
            double bestPeak = Double.MAX_VALUE;
            boolean bestKeepsReach = false;
            for (int i = 0; i < sas.size(); i++) {
                if (laneOf[i] != hot || moved[i] || rate[i] <= 0) {
                    continue;
                }
                boolean keepsReach = senderStillReaches(sas, laneOf, i, hot);
                for (int lane = 0; lane < lanes; lane++) {
                    if (lane == hot) {
                        continue;
                    }
                    double hotAfter = busy[hot] - rate[i] * model.cost[hot];
                    double laneAfter = busy[lane] + rate[i] * model.cost[lane];
                    double gap = busy[hot] - busy[lane];
                    if (laneAfter > busy[hot] - margin || Math.abs(hotAfter - laneAfter) > gap - margin) {
                        continue;
                    }
                    double peak = Math.max(hotAfter, laneAfter);
                    boolean better = bestSa < 0 || peak < bestPeak
                            || peak == bestPeak && keepsReach && !bestKeepsReach;
                    if (better) {
                        bestSa = i;
                        bestLane = lane;
                        bestPeak = peak;
                        bestKeepsReach = keepsReach;
                    }
                }
            }
            if (bestSa < 0) {
                break;
            }
            busy[hot] -= rate[bestSa] * model.cost[hot];
            busy[bestLane] += rate[bestSa] * model.cost[bestLane];
            laneOf[bestSa] = bestLane;
            moved[bestSa] = true;
            moves.put(sas.get(bestSa).spi(), bestLane);
        }
        return moves.isEmpty() ? Optional.empty() : Optional.of(current.withInboundLanes(moves, author));
    }

    /** Whether SA {@code i}'s sender lane keeps another SA on {@code lane} after {@code i} leaves it. */
    private static boolean senderStillReaches(List<SaPlacement> sas, int[] laneOf, int i, int lane) {
        for (int j = 0; j < sas.size(); j++) {
            if (j != i && laneOf[j] == lane && sas.get(j).senderLane() == sas.get(i).senderLane()) {
                return true;
            }
        }
        return false;
    }

    /** Per SA, its packets/s: the caller's or the report's; without either, each lane's rate split evenly. */
    private static double[] saRates(TunnelAssignment current, LoadReport load, Map<Integer, Double> rates) {
        List<SaPlacement> sas = current.sas();
        double[] rate = new double[sas.size()];
        int[] count = new int[current.receiverLanes()];
        sas.forEach(sa -> count[sa.receiverLane()]++);
        for (int i = 0; i < rate.length; i++) {
            SaPlacement sa = sas.get(i);
            rate[i] = rates.isEmpty() ? load.lane(sa.receiverLane()).packetsPerSecond() / count[sa.receiverLane()]
                    : rates.getOrDefault(sa.spi(), 0.0);
        }
        return rate;
    }
}
