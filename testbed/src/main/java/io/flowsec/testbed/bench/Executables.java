package io.flowsec.testbed.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Finds the external tools the benchmarks run (nginx, ab, fc-list). */
public final class Executables {
    /** Where Debian installs them, searched before PATH: sudo and ip netns exec may leave /usr/sbin off PATH. */
    private static final List<String> SYSTEM_DIRECTORIES = List.of("/usr/sbin", "/usr/bin", "/sbin", "/bin",
            "/usr/local/sbin", "/usr/local/bin");

    private Executables() {
    }

    /** The executable {@code name} in the system directories or on PATH. */
    public static Optional<Path> find(String name) {
        List<String> directories = new ArrayList<>(SYSTEM_DIRECTORIES);
        directories.addAll(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        for (String directory : directories) {
            if (!directory.isEmpty() && Files.isExecutable(Path.of(directory, name))) {
                return Optional.of(Path.of(directory, name));
            }
        }
        return Optional.empty();
    }
}
