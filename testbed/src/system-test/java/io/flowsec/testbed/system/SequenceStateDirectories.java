package io.flowsec.testbed.system;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** System tests that are not about resuming start their routers afresh: without sequence state, as with new keys. */
final class SequenceStateDirectories {
    private SequenceStateDirectories() {
    }

    /** Removes the state files of the named routers' state directories ({@code NAME-state} under {@code directory}). */
    static void forget(Path directory, String... routers) throws IOException {
        for (String router : routers) {
            Path state = directory.resolve(router + "-state");
            if (Files.isDirectory(state)) {
                try (var files = Files.list(state)) {
                    for (Path file : files.toList()) {
                        Files.delete(file);
                    }
                }
            }
        }
    }
}
