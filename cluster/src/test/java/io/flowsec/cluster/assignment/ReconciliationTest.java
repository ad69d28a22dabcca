package io.flowsec.cluster.assignment;

import io.flowsec.cluster.assignment.Reconciliation.Verdict;
import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Both ends pick the same assignment out of the same two, in whatever order they see them. */
class ReconciliationTest {
    private static final TunnelAssignment BASE = TunnelAssignmentTest.twoByTwo();

    @Test
    void shouldKeepTheHigherVersionWhicheverEndAsks() {
        TunnelAssignment newer = BASE.withWeights(Map.of(0x00001000, 8), "router-a");
        assertSame(newer, Reconciliation.newer(BASE, newer));
        assertSame(newer, Reconciliation.newer(newer, BASE));
        assertEquals(Verdict.ADOPT_REMOTE, Reconciliation.reconcile(BASE, newer));
        assertEquals(Verdict.KEEP_LOCAL, Reconciliation.reconcile(newer, BASE));
    }

    @Test
    void shouldAgreeAfterAPartitionInWhichBothEndsMadeTheSameVersion() {
        // cut off from each other, the sender reweighted and the receiver moved an SA: both wrote version 4
        TunnelAssignment sender = BASE.withWeights(Map.of(0x00001000, 8), "router-a");
        TunnelAssignment receiver = BASE.withInboundLanes(Map.of(0x00002000, 1), "router-b");
        assertSame(receiver, Reconciliation.newer(sender, receiver));
        assertSame(receiver, Reconciliation.newer(receiver, sender));
        assertEquals(Verdict.ADOPT_REMOTE, Reconciliation.reconcile(sender, receiver));
        assertEquals(Verdict.KEEP_LOCAL, Reconciliation.reconcile(receiver, sender));
    }

    @Test
    void shouldBreakATieOfVersionAndAuthorByTheContentDigest() {
        TunnelAssignment one = BASE.withWeights(Map.of(0x00001000, 8), "router-a");
        TunnelAssignment other = BASE.withWeights(Map.of(0x00001000, 9), "router-a");
        TunnelAssignment winner = Reconciliation.newer(one, other);
        assertSame(winner, Reconciliation.newer(other, one));
        TunnelAssignment expected = java.util.Arrays.compareUnsigned(one.digest(), other.digest()) > 0 ? one : other;
        assertSame(expected, winner);
    }

    @Test
    void shouldCallEqualAssignmentsTheSame() {
        TunnelAssignment copy = TunnelAssignment.decode(BASE.encode());
        assertEquals(Verdict.SAME, Reconciliation.reconcile(BASE, copy));
        assertEquals(BASE, Reconciliation.newer(copy, BASE));
    }

    @Test
    void shouldBeSymmetricAndTransitiveOverManyRandomAssignments() {
        Random random = new Random(5);
        List<TunnelAssignment> all = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            List<SaPlacement> sas = new ArrayList<>();
            for (int spi = 0x100; spi < 0x104; spi++) {
                sas.add(new SaPlacement(spi, spi % 2, random.nextInt(2), 1 + random.nextInt(3)));
            }
            all.add(new TunnelAssignment("t", 1 + random.nextInt(3), random.nextBoolean() ? "a" : "b", 2, 2, sas));
        }
        for (TunnelAssignment a : all) {
            for (TunnelAssignment b : all) {
                assertEquals(Reconciliation.newer(a, b), Reconciliation.newer(b, a));
                for (TunnelAssignment c : all.subList(0, 10)) {
                    TunnelAssignment left = Reconciliation.newer(Reconciliation.newer(a, b), c);
                    assertEquals(left, Reconciliation.newer(a, Reconciliation.newer(b, c)));
                }
            }
        }
    }

    @Test
    void shouldRefuseAssignmentsOfDifferentTunnels() {
        TunnelAssignment other = new TunnelAssignment("other", 1, "router-a", 1, 1, List.of(new SaPlacement(0x100, 0, 0, 1)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Reconciliation.newer(BASE, other));
        assertEquals("assignments of different tunnels: hq-branch and other", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Reconciliation.newer(BASE, null));
    }
}
