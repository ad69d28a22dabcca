package io.flowsec.dataplane.sa;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The paper's extension: one SP maps to N outbound SAs with identical selectors (RFC 9611's per-resource SAs).
 * The flow ID of an inner packet picks a bucket of an indirection table, as a NIC's RSS table does, and the bucket
 * names the SA. Every packet of a flow therefore takes one SA (no reordering inside a flow), and each SA shows
 * itself in the outer header by its {@link FlowEncoding}.
 * <p>
 * Weights can change at run time (load feedback): the control plane builds a new table that moves as few buckets
 * as possible and publishes it with one volatile write; lanes read it once per packet. With N = 1 this is plain IPsec.
 */
public final class SaGroup {
    public static final int INDIRECTION_TABLE_SIZE = 128;

    private final SecurityAssociation[] members;
    private final FlowEncoding encoding;
    private volatile int[] indirection;
    private volatile int[] weights;

    public SaGroup(List<SecurityAssociation> members, FlowEncoding encoding) {
        if (members.isEmpty()) {
            throw new IllegalArgumentException("an SA group needs at least one SA");
        }
        if (members.size() > INDIRECTION_TABLE_SIZE) {
            throw new IllegalArgumentException("an SA group holds at most " + INDIRECTION_TABLE_SIZE + " SAs");
        }
        this.members = members.toArray(new SecurityAssociation[0]);
        this.encoding = encoding;
        validateEncoding();
        int[] equal = new int[this.members.length];
        Arrays.fill(equal, 1);
        int[] table = new int[INDIRECTION_TABLE_SIZE];
        for (int bucket = 0; bucket < table.length; bucket++) {
            table[bucket] = bucket % this.members.length;
        }
        this.indirection = table;
        this.weights = equal;
    }

    private void validateEncoding() {
        Set<Integer> spis = new HashSet<>();
        Set<Integer> ports = new HashSet<>();
        Set<String> pairs = new HashSet<>();
        for (SecurityAssociation sa : members) {
            if (sa.direction() != SecurityAssociation.Direction.OUTBOUND) {
                throw new IllegalArgumentException(sa.name() + ": an SA group holds outbound SAs");
            }
            if (!spis.add(sa.spi())) {
                throw new IllegalArgumentException(sa.name() + ": SPI 0x" + Integer.toHexString(sa.spi()) + " used twice in one group");
            }
            if (encoding == FlowEncoding.UDP_PORT) {
                if (!sa.outer().isUdp()) {
                    throw new IllegalArgumentException(sa.name() + ": encoding udp-port needs ESP-in-UDP");
                }
                if (members.length > 1 && !ports.add(sa.outer().localPort())) {
                    throw new IllegalArgumentException(sa.name() + ": encoding udp-port needs a distinct source port per SA ("
                            + sa.outer().localPort() + " used twice)");
                }
            }
            if (encoding == FlowEncoding.ADDRESS && members.length > 1) {
                String pair = sa.outer().local().getHostAddress() + ">" + sa.outer().remote().getHostAddress();
                if (!pairs.add(pair)) {
                    throw new IllegalArgumentException(sa.name() + ": encoding address needs a distinct outer address pair per SA ("
                            + pair + " used twice)");
                }
            }
        }
    }

    /** Hot path: the SA for a flow ID. */
    public SecurityAssociation select(int flowId) {
        int[] table = indirection;
        return members[table[flowId & (table.length - 1)]];
    }

    public int size() {
        return members.length;
    }

    public SecurityAssociation member(int index) {
        return members[index];
    }

    public List<SecurityAssociation> members() {
        return List.of(members);
    }

    public FlowEncoding encoding() {
        return encoding;
    }

    public int[] weights() {
        return weights.clone();
    }

    /** A copy of the current indirection table (bucket → member index). */
    public int[] indirectionTable() {
        return indirection.clone();
    }

    /**
     * Sets relative weights (one per SA, at least one non-zero) and republishes the indirection table. Buckets stay
     * with their SA wherever the new shares allow, so most flows keep their SA. Control plane only.
     */
    public synchronized void weights(int... newWeights) {
        if (newWeights.length != members.length) {
            throw new IllegalArgumentException("need " + members.length + " weights, got " + newWeights.length);
        }
        long sum = 0;
        for (int weight : newWeights) {
            if (weight < 0) {
                throw new IllegalArgumentException("weights must not be negative");
            }
            sum += weight;
        }
        if (sum == 0) {
            throw new IllegalArgumentException("at least one weight must be positive");
        }
        int[] target = shares(newWeights, sum);
        int[] table = indirection.clone();
        int[] kept = new int[members.length];
        boolean[] free = new boolean[table.length];
        for (int bucket = 0; bucket < table.length; bucket++) {
            int member = table[bucket];
            if (kept[member] < target[member]) {
                kept[member]++;
            } else {
                free[bucket] = true;
            }
        }
        int member = 0;
        for (int bucket = 0; bucket < table.length; bucket++) {
            if (free[bucket]) {
                while (kept[member] >= target[member]) {
                    member = (member + 1) % members.length;
                }
                table[bucket] = member;
                kept[member]++;
            }
        }
        this.weights = newWeights.clone();
        this.indirection = table;
    }

    /** Largest-remainder apportionment of the table's buckets to the weights. */
    private static int[] shares(int[] weights, long sum) {
        int[] target = new int[weights.length];
        double[] remainder = new double[weights.length];
        int assigned = 0;
        for (int i = 0; i < weights.length; i++) {
            double exact = (double) weights[i] * INDIRECTION_TABLE_SIZE / sum;
            target[i] = (int) Math.floor(exact);
            remainder[i] = exact - target[i];
            assigned += target[i];
        }
        while (assigned < INDIRECTION_TABLE_SIZE) {
            int best = 0;
            for (int i = 1; i < weights.length; i++) {
                if (remainder[i] > remainder[best]) {
                    best = i;
                }
            }
            target[best]++;
            remainder[best] = -1;
            assigned++;
        }
        return target;
    }
}
