/**
 * What protects the cluster's data, since open-source Hazelcast authenticates no member and encrypts nothing: a
 * shared {@link io.flowsec.cluster.security.ClusterSecret}, keys derived from it with HKDF-SHA256, and sealed
 * envelopes (AES-256-GCM, header as AAD, a key per sender epoch, a counter nonce) that a
 * {@link io.flowsec.cluster.security.Opener} accepts only when authentic, fresh and not replayed. Knows nothing of
 * Hazelcast: the envelope is bytes in, bytes out.
 */
package io.flowsec.cluster.security;
