/**
 * Per tunnel, the versioned assignment the two ends share: which receiver lane serves each SA, which sender lane owns
 * it and how much of that lane's flows it carries. Pure values and rules, no transport: the first layout
 * ({@link io.flowsec.cluster.assignment.SaLayout}), the assignment and its strict JSON
 * ({@link io.flowsec.cluster.assignment.TunnelAssignment}), and which of two versions wins
 * ({@link io.flowsec.cluster.assignment.Reconciliation}).
 */
package io.flowsec.cluster.assignment;
