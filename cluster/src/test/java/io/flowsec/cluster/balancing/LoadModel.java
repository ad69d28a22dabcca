package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.SaLayout;
import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A tunnel in miniature for closed-loop tests. Each sender lane offers a fixed packet rate and spreads it over its own
 * SAs by weight, each SA's buckets a little heavier or lighter than average (flows are not even); each receiver lane
 * is as busy as the packets of the SAs it serves divided by its capacity (a CPU hog halves one lane's capacity).
 * Reports carry uniform noise of ±{@code noise} on busy and ±{@code noise} relative on rates.
 */
final class LoadModel {
    static final String TUNNEL = "hq-branch";
    static final String RECEIVER = "router-b";

    private final double[] offered;
    private final double[] capacity;
    private final Map<Integer, Double> skew = new HashMap<>();
    private final Random random;
    private double noise;

    LoadModel(double[] offeredPerSenderLane, double[] capacityPerReceiverLane, List<Integer> spis, long seed) {
        this.offered = offeredPerSenderLane.clone();
        this.capacity = capacityPerReceiverLane.clone();
        this.random = new Random(seed);
        for (int spi : spis) {
            skew.put(spi, 0.7 + 0.6 * random.nextDouble());
        }
    }

    /** S sender lanes × R receiver lanes with {@code perPair} SAs each, laid out by {@link SaLayout}, weights even. */
    static TunnelAssignment layout(int senderLanes, int receiverLanes, int perPair) {
        Map<Integer, Integer> owners = new LinkedHashMap<>();
        int spi = 0x1000;
        for (int lane = 0; lane < senderLanes; lane++) {
            for (int i = 0; i < receiverLanes * perPair; i++) {
                owners.put(spi++, lane);
            }
        }
        return SaLayout.plan(owners, senderLanes, receiverLanes).toAssignment(TUNNEL, "router-a", BalancerSettings.DEFAULT_EVEN_WEIGHT);
    }

    LoadModel noise(double plusMinus) {
        this.noise = plusMinus;
        return this;
    }

    /** Each SA's true packets/s under {@code assignment}'s weights. */
    Map<Integer, Double> rates(TunnelAssignment assignment) {
        Map<Integer, Double> rates = new LinkedHashMap<>();
        for (int lane = 0; lane < offered.length; lane++) {
            List<SaPlacement> own = assignment.sasOfSenderLane(lane);
            double sum = 0;
            for (SaPlacement sa : own) {
                sum += sa.weight() * skew.get(sa.spi());
            }
            for (SaPlacement sa : own) {
                rates.put(sa.spi(), offered[lane] * sa.weight() * skew.get(sa.spi()) / sum);
            }
        }
        return rates;
    }

    /** Each receiver lane's true busy fraction. */
    double[] busy(TunnelAssignment assignment) {
        double[] packets = packets(assignment);
        double[] busy = new double[capacity.length];
        for (int lane = 0; lane < busy.length; lane++) {
            busy[lane] = Math.min(1, packets[lane] / capacity[lane]);
        }
        return busy;
    }

    double spread(TunnelAssignment assignment) {
        double[] busy = busy(assignment);
        double max = 0;
        double min = 1;
        for (double b : busy) {
            max = Math.max(max, b);
            min = Math.min(min, b);
        }
        return max - min;
    }

    private double[] packets(TunnelAssignment assignment) {
        double[] packets = new double[capacity.length];
        rates(assignment).forEach((spi, rate) -> packets[assignment.receiverLaneOf(spi)] += rate);
        return packets;
    }

    /** What the receiver would publish at {@code nowMs}, measured under {@code assignment}. */
    LoadReport report(TunnelAssignment assignment, long nowMs) {
        double[] busy = busy(assignment);
        double[] packets = packets(assignment);
        List<LaneLoad> lanes = new ArrayList<>();
        for (int lane = 0; lane < busy.length; lane++) {
            double noisy = Math.clamp(busy[lane] + noise * (2 * random.nextDouble() - 1), 0, 1);
            lanes.add(new LaneLoad(lane, noisy, packets[lane], 0));
        }
        Map<Integer, Double> rates = new LinkedHashMap<>();
        rates(assignment).forEach((spi, rate) -> rates.put(spi, rate * (1 + noise * (2 * random.nextDouble() - 1))));
        return new LoadReport(RECEIVER, assignment.tunnel(), assignment.version(), nowMs, lanes, rates);
    }
}
