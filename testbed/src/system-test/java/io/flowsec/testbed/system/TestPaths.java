package io.flowsec.testbed.system;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the repository's files are: Maven runs the system tests with testbed/ as working directory, an IDE maybe
 * not. (The appliance's unit tests have their own copy: the two modules share no test code.)
 */
final class TestPaths {
    private TestPaths() {
    }

    /** The repository's {@code examples/} directory. */
    static Path examples() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            Path candidate = p.resolve("examples");
            if (Files.isRegularFile(candidate.resolve("site-a.sa.json"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no examples/site-a.sa.json above " + dir);
    }

    /** A helper script of the system tests, in {@code testbed/src/system-test/python/}. */
    static Path pythonScript(String name) {
        return examples().getParent().resolve("testbed/src/system-test/python").resolve(name);
    }
}
