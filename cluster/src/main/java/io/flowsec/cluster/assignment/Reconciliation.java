package io.flowsec.cluster.assignment;

import java.util.Arrays;

/**
 * Which of two assignments of one tunnel both ends keep, after a partition or when both changed it at once. Each end
 * keeps its last assignment while cut off; when they hear each other again each end computes the same winner from the
 * same two assignments, whatever order it got them in, so both converge on it with no further round.
 * <p>
 * Order: the higher version; at equal versions the greater author name (two members never share one); then the
 * greater SHA-256 digest of the content; then the greater canonical bytes (only a digest collision gets there).
 * Equal assignments are interchangeable.
 */
public final class Reconciliation {
    /** What an end does with a remote assignment. */
    public enum Verdict {
        /** Both are the same assignment: nothing to do. */
        SAME,
        /** The local one wins: keep it and publish it again, so the other end converges on it. */
        KEEP_LOCAL,
        /** The remote one wins: apply it to the data plane and keep it. */
        ADOPT_REMOTE
    }

    private Reconciliation() {
    }

    /** The winner of {@code a} and {@code b}; {@code newer(a, b)} equals {@code newer(b, a)}. Refused across tunnels. */
    public static TunnelAssignment newer(TunnelAssignment a, TunnelAssignment b) {
        return compare(a, b) >= 0 ? a : b;
    }

    /** What to do with {@code remote} when {@code local} is what this end holds. */
    public static Verdict reconcile(TunnelAssignment local, TunnelAssignment remote) {
        int order = compare(local, remote);
        return order == 0 ? Verdict.SAME : order > 0 ? Verdict.KEEP_LOCAL : Verdict.ADOPT_REMOTE;
    }

    /** A total order over one tunnel's assignments; 0 only for equal ones. */
    static int compare(TunnelAssignment a, TunnelAssignment b) {
        if (a == null || b == null) {
            throw new IllegalArgumentException("reconciliation needs two assignments, got " + a + " and " + b);
        }
        if (!a.tunnel().equals(b.tunnel())) {
            throw new IllegalArgumentException("assignments of different tunnels: " + a.tunnel() + " and " + b.tunnel());
        }
        int order = Long.compare(a.version(), b.version());
        if (order == 0) {
            order = a.author().compareTo(b.author());
        }
        if (order == 0) {
            order = Arrays.compareUnsigned(a.digest(), b.digest());
        }
        if (order == 0) {
            order = Arrays.compareUnsigned(a.canonicalBytes(), b.canonicalBytes());
        }
        return Integer.signum(order);
    }
}
