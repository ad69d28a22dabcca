package io.flowsec.testbed.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What a command made (namespaces, processes, threads), closed in reverse order when the command ends, also when it
 * ends by Ctrl-C or SIGTERM: a shutdown hook closes whatever is still open.
 */
public final class CleanupOnExit implements AutoCloseable {
    private final String command;
    private final PrintStream err;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final Thread hook;
    /** Set once everything was closed: what is added later (a step still finishing) is closed at once. */
    private boolean closed;

    public CleanupOnExit(String command, PrintStream err) {
        this.command = command;
        this.err = err;
        this.hook = Thread.ofPlatform().unstarted(this::closeAll);
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Registers {@code resource} to be closed before everything registered earlier. */
    public synchronized <T extends AutoCloseable> T add(T resource) {
        if (closed) {
            closeQuietly(resource);
            throw new IllegalStateException(command + " is shutting down");
        }
        resources.add(resource);
        return resource;
    }

    /** Registers a directory to be deleted with everything in it (a command's temporary files). */
    public void addDirectory(Path directory) {
        add(() -> deleteTree(directory));
    }

    /** Deletes {@code directory} and everything below it; nothing when it does not exist. */
    public static void deleteTree(Path directory) throws IOException {
        if (!Files.exists(directory)) {
            return;
        }
        try (var paths = Files.walk(directory)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }

    /** Closes {@code resource} now (if still registered) and forgets it. */
    public void closeNow(AutoCloseable resource) {
        synchronized (this) {
            if (!resources.remove(resource)) {
                return;
            }
        }
        closeQuietly(resource);
    }

    private synchronized void closeAll() {
        closed = true;
        for (AutoCloseable resource : resources.reversed()) {
            closeQuietly(resource);
        }
        resources.clear();
    }

    private void closeQuietly(AutoCloseable resource) {
        try {
            resource.close();
        } catch (Exception e) {
            err.println(command + ": cleanup: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        closeAll();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // Ctrl-C: the hook is running closeAll
        }
    }
}
