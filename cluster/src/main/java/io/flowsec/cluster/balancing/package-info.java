/**
 * Load feedback (the paper's future work, §4.3 and §7): what each end measures
 * ({@link io.flowsec.cluster.balancing.LoadReport}, {@link io.flowsec.cluster.balancing.LoadSampling}) and the
 * balancers that turn it into the next {@link io.flowsec.cluster.assignment.TunnelAssignment}: the sender reweighting
 * its SAs (usage (a)) or the receiver moving SAs between its lanes (usage (b)). Deterministic and clock-free: the
 * caller passes the time in, so a control verticle drives them from a timer and a test drives them step by step.
 */
package io.flowsec.cluster.balancing;
