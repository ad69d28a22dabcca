/**
 * The control cluster: an embedded Hazelcast member per appliance that coordinates, per tunnel, which receiver lane
 * serves each inbound SA and how the sender spreads its flow buckets over its SAs (the paper's future work, §4.3 and
 * §7), from load the two ends report to each other. An adapter over the data plane's command interface, like the
 * control API: it never touches lanes. Everything it puts in the cluster is sealed with keys derived from the
 * configured cluster secret, since open-source Hazelcast authenticates no member.
 */
package io.flowsec.cluster;
