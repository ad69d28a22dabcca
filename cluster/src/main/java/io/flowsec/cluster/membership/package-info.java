/**
 * The embedded Hazelcast member ({@link io.flowsec.cluster.membership.ClusterMember}, started in the background so
 * the data plane never waits for it) and the sealed channel over it
 * ({@link io.flowsec.cluster.membership.SealedChannel}): per-tunnel assignments in a map, load reports on a topic,
 * every message sealed going in and opened coming out.
 */
package io.flowsec.cluster.membership;
