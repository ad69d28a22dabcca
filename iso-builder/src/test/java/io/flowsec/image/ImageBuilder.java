package io.flowsec.image;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code iso-builder/build.sh} for the tests. The image the boot tests use is built once per test JVM
 * ({@link #shared()}); the reproducibility test builds a second one and compares.
 */
final class ImageBuilder {
    /** The module's directory (Maven runs the tests there). */
    static final Path MODULE = Path.of("").toAbsolutePath();
    static final Path BUILD_SCRIPT = MODULE.resolve("build.sh");
    private static final long BUILD_TIMEOUT_SECONDS = 600;
    private static Built shared;

    /** A finished build: the image, what build.sh printed, and how long it took. */
    record Built(Path iso, String output, long millis) {
    }

    private ImageBuilder() {
    }

    /** The image in target/image, built on first use. */
    static synchronized Built shared() throws Exception {
        if (shared == null) {
            shared = build(MODULE.resolve("target/image"), Map.of());
        }
        return shared;
    }

    /** Builds into {@code out}; fails with build.sh's output when it fails. */
    static Built build(Path out, Map<String, String> environment, String... arguments) throws Exception {
        Result result = run(out, environment, arguments);
        if (result.status != 0) {
            throw new AssertionError("build.sh failed (" + result.status + "):\n" + result.output);
        }
        return new Built(out.resolve("flowsec.iso"), result.output, result.millis);
    }

    record Result(int status, String output, long millis) {
    }

    /** Runs build.sh with {@code --out out}, returning its status and output whatever they are. */
    static Result run(Path out, Map<String, String> environment, String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("bash", BUILD_SCRIPT.toString(), "--out", out.toString()));
        command.addAll(List.of(arguments));
        Path log = Files.createTempFile("flowsec-image-build", ".log");
        try {
            ProcessBuilder builder = new ProcessBuilder(command).directory(MODULE.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            builder.environment().putAll(environment);
            long started = System.nanoTime();
            Process process = builder.start();
            if (!process.waitFor(BUILD_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                throw new AssertionError("build.sh ran over " + BUILD_TIMEOUT_SECONDS + " s:\n" + read(log));
            }
            return new Result(process.exitValue(), read(log), (System.nanoTime() - started) / 1_000_000);
        } finally {
            Files.deleteIfExists(log);
        }
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8);
    }
}
