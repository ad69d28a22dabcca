package io.flowsec.dataplane.linux;

import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/** Runs code with the calling thread inside a named network namespace ({@code /var/run/netns/NAME}, as iproute2 makes). */
public final class NetworkNamespace {
    private NetworkNamespace() {
    }

    /**
     * Moves the calling thread into namespace {@code name} for good. Use on a thread of its own (a lane, or a
     * short-lived helper thread): the rest of the process stays where it was.
     */
    public static void enter(String name) throws NativeException {
        int fd = Syscalls.open("/var/run/netns/" + name, Syscalls.O_CLOEXEC);
        try {
            Syscalls.enterNetworkNamespace(fd, name);
        } finally {
            Syscalls.close(fd);
        }
    }

    /**
     * Runs {@code body} inside namespace {@code name} and returns its result: on a fresh platform thread that enters
     * the namespace and ends with the call, so the caller's thread stays where it is. Sockets made by {@code body}
     * belong to that namespace for good, whichever thread uses them later. An IOException of {@code body} comes
     * back as it is; anything else wrapped in one.
     */
    public static <T> T callInside(String name, Callable<T> body) throws IOException, InterruptedException {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("in-" + name).start(() -> {
            try {
                enter(name);
                result.complete(body.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        try {
            return result.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("in namespace " + name + ": " + e.getCause(), e.getCause());
        }
    }
}
