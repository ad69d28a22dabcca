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
 * as possible and publishes it with one volatile write. In a running data plane each member is owned by one lane
 * ({@link #assignOwners}) and each lane selects among its own members through {@link #laneTable}, handed to it as
 * a command, so one SA's sequence numbers are only ever taken on one lane. With N = 1 this is plain IPsec.
 * <p>
 * A lane does not move a bucket the moment a reweighting reaches it: its
 * {@link io.flowsec.dataplane.esp.FlowletTable} moves each bucket at a flowlet boundary, when the bucket has had no
 * packet for the flowlet gap, so the last packets of a burst on the old SA cannot arrive after the first ones on the
 * new SA (which may reach another core of the receiver). A lane table names members by slot, so a rekey (a
 * successor in its predecessor's slot) takes effect at once in every bucket, waiting to move or not, and leaves the
 * moves under way as they are.
 */
public final class SaGroup {
    public static final int INDIRECTION_TABLE_SIZE = 128;
    /** Lane of a member no lane owns yet (a group outside a running data plane: tests, the pcap tool). */
    public static final int NO_OWNER = -1;

    private final FlowEncoding encoding;
    /** Members, weights, indirection table and owning lanes, replaced whole (copy-on-write). */
    private volatile State state;
    /** Set by the runtime that installs the group: the index of the group in each lane's outbound tables. */
    private volatile int id = -1;

    private record State(SecurityAssociation[] members, int[] weights, int[] indirection, int[] owners) {
    }

    public SaGroup(List<SecurityAssociation> members, FlowEncoding encoding) {
        if (members.isEmpty()) {
            throw new IllegalArgumentException("an SA group needs at least one SA");
        }
        if (members.size() > INDIRECTION_TABLE_SIZE) {
            throw new IllegalArgumentException("an SA group holds at most " + INDIRECTION_TABLE_SIZE + " SAs");
        }
        SecurityAssociation[] array = members.toArray(new SecurityAssociation[0]);
        this.encoding = encoding;
        validateEncoding(array, encoding);
        int[] equal = new int[array.length];
        Arrays.fill(equal, 1);
        int[] table = new int[INDIRECTION_TABLE_SIZE];
        for (int bucket = 0; bucket < table.length; bucket++) {
            table[bucket] = bucket % array.length;
        }
        int[] owners = new int[array.length];
        Arrays.fill(owners, NO_OWNER);
        this.state = new State(array, equal, table, owners);
    }

    private static void validateEncoding(SecurityAssociation[] members, FlowEncoding encoding) {
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

    /** The group's SA for a flow ID, lane ownership aside (a single-threaded user: tests, the pcap tool). */
    public SecurityAssociation select(int flowId) {
        State current = state;
        return current.members[current.indirection[flowId & (INDIRECTION_TABLE_SIZE - 1)]];
    }

    public int size() {
        return state.members.length;
    }

    public SecurityAssociation member(int index) {
        return state.members[index];
    }

    public List<SecurityAssociation> members() {
        return List.of(state.members);
    }

    public FlowEncoding encoding() {
        return encoding;
    }

    public int id() {
        return id;
    }

    /** The runtime's index for this group in each lane's outbound tables. */
    public void id(int id) {
        this.id = id;
    }

    public int[] weights() {
        return state.weights.clone();
    }

    /** A copy of the current indirection table (bucket → member index). */
    public int[] indirectionTable() {
        return state.indirection.clone();
    }

    /** The lane that owns member {@code index}, or {@link #NO_OWNER}. */
    public int owner(int index) {
        return state.owners[index];
    }

    /**
     * Gives each member an owning lane: a member that has one (it is installed already, maybe through another group
     * object) keeps it, so its sequence counter never changes lanes; the others go to the lanes owning fewest members.
     * Every lane must own at least one member, so each lane encrypts only with its own SAs: a group needs as many SAs
     * as lanes. Nothing changes when it refuses. Control plane only, before the lanes see the group.
     */
    public synchronized void assignOwners(int laneCount) {
        State current = state;
        if (current.members.length < laneCount) {
            throw new IllegalArgumentException("an SA group of " + current.members.length + " SA(s) cannot serve "
                    + laneCount + " lanes: each lane sends on SAs of its own, so give the policy at least "
                    + laneCount + " outbound SAs (or run fewer lanes)");
        }
        int[] owners = new int[current.members.length];
        int[] owned = new int[laneCount];
        for (int i = 0; i < owners.length; i++) {
            int owner = current.members[i].ownerLane();
            if (owner >= laneCount) {
                throw new IllegalArgumentException(current.members[i].name() + " is owned by lane " + owner
                        + ", which this data plane does not have");
            }
            owners[i] = owner < 0 ? NO_OWNER : owner;
            if (owners[i] != NO_OWNER) {
                owned[owners[i]]++;
            }
        }
        for (int i = 0; i < owners.length; i++) {
            if (owners[i] == NO_OWNER) {
                int lane = 0;
                for (int candidate = 1; candidate < laneCount; candidate++) {
                    if (owned[candidate] < owned[lane]) {
                        lane = candidate;
                    }
                }
                owners[i] = lane;
                owned[lane]++;
            }
        }
        for (int lane = 0; lane < laneCount; lane++) {
            if (owned[lane] == 0) {
                throw new IllegalArgumentException("lane " + lane + " would own no SA of the group: its owners are "
                        + Arrays.toString(owners));
            }
        }
        for (int i = 0; i < owners.length; i++) {
            current.members[i].ownerLane(owners[i]);
        }
        state = new State(current.members, current.weights, current.indirection, owners);
    }

    /**
     * Rekey: {@code replacement} takes the member slot of {@code old}, with its weight and owning lane, so its flows
     * keep their lane. Control plane only; the lanes see it through their next outbound tables.
     */
    public synchronized void replaceMember(SecurityAssociation old, SecurityAssociation replacement) {
        State current = state;
        int index = indexOf(current, old);
        if (index < 0) {
            throw new IllegalArgumentException(old.name() + " is not a member of this group");
        }
        SecurityAssociation[] members = current.members.clone();
        members[index] = replacement;
        validateEncoding(members, encoding);
        if (current.owners[index] != NO_OWNER) {
            replacement.ownerLane(current.owners[index]);
        }
        state = new State(members, current.weights, current.indirection, current.owners);
    }

    private static int indexOf(State state, SecurityAssociation sa) {
        for (int i = 0; i < state.members.length; i++) {
            if (state.members[i] == sa) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Lane {@code lane}'s table over the members it owns, weighted as the group's weights say (equal when all its
     * members weigh 0, so the lane can still send); null when the lane owns none. Buckets keep the group table's
     * member where that member is the lane's own. Control plane: built when something changes.
     */
    public LaneTable laneTable(int lane) {
        State current = state;
        int count = current.members.length;
        int[] laneWeights = new int[count];
        long sum = 0;
        int ownedCount = 0;
        for (int i = 0; i < count; i++) {
            if (current.owners[i] == lane) {
                ownedCount++;
                laneWeights[i] = current.weights[i];
                sum += current.weights[i];
            }
        }
        if (ownedCount == 0) {
            return null;
        }
        if (sum == 0) {
            for (int i = 0; i < count; i++) {
                laneWeights[i] = current.owners[i] == lane ? 1 : 0;
            }
            sum = ownedCount;
        }
        int[] table = stableTable(current.indirection, shares(laneWeights, sum));
        byte[] slots = new byte[INDIRECTION_TABLE_SIZE];
        for (int bucket = 0; bucket < slots.length; bucket++) {
            slots[bucket] = (byte) table[bucket];   // at most 128 members: 0..127
        }
        return new LaneTable(current.members.clone(), slots);
    }

    /**
     * One lane's table of the group, immutable once built: the members by slot (index in the group) and, per bucket,
     * the slot of one of the lane's own members. Slots outlive SA objects: a rekey puts the successor in its
     * predecessor's slot, so a lane that compares slots tells a rekey (same slots, new object) from a reweighting
     * (new slots).
     */
    public record LaneTable(SecurityAssociation[] members, byte[] slots) {
        public LaneTable {
            if (slots.length != INDIRECTION_TABLE_SIZE) {
                throw new IllegalArgumentException("a lane table has " + INDIRECTION_TABLE_SIZE + " buckets");
            }
        }

        /** The SA of {@code bucket}. */
        public SecurityAssociation sa(int bucket) {
            return members[slots[bucket]];
        }
    }

    /**
     * Sets relative weights (one per SA, at least one non-zero) and republishes the indirection table. Buckets stay
     * with their SA wherever the new shares allow, so most flows keep their SA; in a running data plane each lane
     * moves the others one by one, each at a flowlet boundary ({@link io.flowsec.dataplane.esp.FlowletTable}).
     * Control plane only.
     */
    public synchronized void weights(int... newWeights) {
        State current = state;
        if (newWeights.length != current.members.length) {
            throw new IllegalArgumentException("need " + current.members.length + " weights, got " + newWeights.length);
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
        int[] table = stableTable(current.indirection, shares(newWeights, sum));
        state = new State(current.members, newWeights.clone(), table, current.owners);
    }

    /** A table giving each member its {@code target} share of buckets, moving as few buckets from {@code previous} as it can. */
    private static int[] stableTable(int[] previous, int[] target) {
        int[] table = previous.clone();
        int[] kept = new int[target.length];
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
                    member = (member + 1) % target.length;
                }
                table[bucket] = member;
                kept[member]++;
            }
        }
        return table;
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
