package io.flowsec.cluster.membership;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.fail;

/** Polling for what Hazelcast does on its own threads; short sleeps, and a message that says what never happened. */
public final class Await {
    public static final Duration CLUSTER_TIMEOUT = Duration.ofSeconds(15);

    private Await() {
    }

    public static void until(String what, BooleanSupplier condition) {
        until(what, condition, () -> "");
    }

    public static void until(String what, BooleanSupplier condition, Supplier<String> lastSeen) {
        long deadlineNs = System.nanoTime() + CLUSTER_TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadlineNs) {
                fail("waited " + CLUSTER_TIMEOUT.toSeconds() + " s for " + what + "; last seen: " + lastSeen.get());
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting for " + what);
            }
        }
    }
}
