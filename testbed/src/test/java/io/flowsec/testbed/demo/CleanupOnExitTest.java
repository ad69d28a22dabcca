package io.flowsec.testbed.demo;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class CleanupOnExitTest {

    @Test
    void closes_in_reverse_order_goes_on_after_a_failure_and_closes_late_additions_at_once(@TempDir Path dir)
            throws Exception {
        List<String> closed = new ArrayList<>();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Path tree = Files.createDirectories(dir.resolve("work/a/b"));
        Files.writeString(tree.resolve("file"), "x");
        CleanupOnExit cleanup = new CleanupOnExit("test", new PrintStream(err, true, StandardCharsets.UTF_8));
        cleanup.addDirectory(dir.resolve("work"));
        cleanup.add(() -> closed.add("first"));
        cleanup.add(() -> {
            throw new IllegalStateException("broken");
        });
        cleanup.add(() -> closed.add("last"));

        cleanup.close();

        assertEquals(List.of("last", "first"), closed);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("test: cleanup: broken"), err.toString(StandardCharsets.UTF_8));
        assertFalse(Files.exists(dir.resolve("work")), "the directory and everything in it is gone");

        // a step still finishing after the cleanup ran (Ctrl-C during a start) is closed, not leaked
        assertThrows(IllegalStateException.class, () -> cleanup.add(() -> closed.add("late")));
        assertEquals(List.of("last", "first", "late"), closed);
    }

    @Test
    void remove_all_ends_the_processes_inside_and_deletes_the_namespaces() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "namespaces need root");
        String prefix = "fsrm" + ProcessHandle.current().pid();
        Topology.run("ip", "netns", "add", prefix + "-one");
        Process sleeper = new ProcessBuilder("ip", "netns", "exec", prefix + "-one", "sleep", "300").start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (Topology.run("ip", "netns", "pids", prefix + "-one").isBlank() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }

            Topology.removeAll(prefix);

            assertTrue(Topology.leftovers(prefix).isEmpty(), "namespace deleted");
            assertTrue(sleeper.waitFor(5, TimeUnit.SECONDS), "the process inside was ended");
        } finally {
            sleeper.destroyForcibly();
            for (String namespace : Topology.leftovers(prefix)) {
                Topology.run("ip", "netns", "del", namespace);
            }
        }
    }
}
