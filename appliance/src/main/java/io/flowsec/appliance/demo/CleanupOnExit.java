package io.flowsec.appliance.demo;

import java.io.PrintStream;
import java.util.ArrayList;
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

    public CleanupOnExit(String command, PrintStream err) {
        this.command = command;
        this.err = err;
        this.hook = Thread.ofPlatform().unstarted(this::closeAll);
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Registers {@code resource} to be closed before everything registered earlier. */
    public synchronized <T extends AutoCloseable> T add(T resource) {
        resources.add(resource);
        return resource;
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
