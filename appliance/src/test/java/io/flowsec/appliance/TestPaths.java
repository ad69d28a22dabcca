package io.flowsec.appliance;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository's examples are: Maven runs the tests with appliance/ as working directory, an IDE maybe not. */
public final class TestPaths {
    private TestPaths() {
    }

    public static Path examples() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            Path candidate = p.resolve("examples");
            if (Files.isRegularFile(candidate.resolve("site-a.sa.json"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no examples/site-a.sa.json above " + dir);
    }
}
