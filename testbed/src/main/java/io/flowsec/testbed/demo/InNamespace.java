package io.flowsec.testbed.demo;

import io.flowsec.dataplane.linux.NetworkNamespace;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Runs code inside a namespace of the test bed, on a thread of its own: the caller's thread stays where it is (the
 * system tests' traffic, the balancing benchmark's flows).
 */
public final class InNamespace {
    private InNamespace() {
    }

    /** Runs {@code body} on a new daemon thread that first enters {@code namespace}. */
    public static <T> CompletableFuture<T> in(String namespace, Callable<T> body) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("in-" + namespace).start(() -> {
            try {
                NetworkNamespace.enter(namespace);
                result.complete(body.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }
}
