package io.flowsec.cluster.security;

import java.time.Instant;
import java.time.InstantSource;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/** Secrets from a seed, and a clock the test moves. */
final class TestSecrets {
    private TestSecrets() {
    }

    static ClusterSecret secret(long seed) {
        byte[] bytes = new byte[32];
        new Random(seed).nextBytes(bytes);
        return ClusterSecret.ofBytes(bytes);
    }

    /** A clock that stands still until the test sets it. */
    static final class ManualClock implements InstantSource {
        private final AtomicLong nowMs;

        ManualClock(long nowMs) {
            this.nowMs = new AtomicLong(nowMs);
        }

        void set(long ms) {
            nowMs.set(ms);
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(nowMs.get());
        }
    }
}
