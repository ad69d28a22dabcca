package io.flowsec.appliance.warmstart;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * An appliance JVM's AOT cache (JDK 25: the classes loaded and linked, JEP 483, and the methods' profiles, JEP 515),
 * recorded in one step (JEP 514, {@code -XX:AOTCacheOutput}) from a run of {@code flowsec train}, and used by later
 * starts of the same JDK with the same JVM options and class path ({@code -XX:AOTCache}).
 * <p>
 * A cache never stops a start: the JVM checks it (JDK build, module options, every class path jar's size and time)
 * and starts without it when it does not fit, saying why on stderr ({@link #useOptions}). {@link #isCurrent} makes the
 * same checks beforehand, so that a start is not handed a cache that will be refused, and a build knows to record
 * it again. Beside each cache, {@code CACHE.jdk} names the JDK that recorded it ({@link #stamp}); the launcher's
 * {@code scripts/aot-cache.sh} writes the same.
 */
public final class AotCache {
    /** The stamp's file: {@code CACHE} + this. */
    public static final String STAMP_SUFFIX = ".jdk";

    private AotCache() {
    }

    /**
     * The JVM options that start a JVM with {@code cache}. AOT mode {@code auto} (the default): a cache that does not
     * fit is skipped. The JVM's AOT messages go to stderr, warnings and errors only, never to stdout, where commands
     * print their results.
     */
    public static List<String> useOptions(Path cache) {
        return List.of("-XX:AOTCache=" + cache, "-Xlog:aot*=off", "-Xlog:aot*=warning:stderr");
    }

    /** The JVM option that records a cache at the JVM's exit (training and assembly in one step). */
    public static String recordOption(Path cache) {
        return "-XX:AOTCacheOutput=" + cache;
    }

    /**
     * What identifies the JDK at {@code javaHome}: its real path and its {@code release} file (vendor, version,
     * build). A JDK updated in place, or another one, has another stamp.
     */
    public static String stamp(Path javaHome) throws IOException {
        Path home = javaHome.toRealPath();
        Path release = home.resolve("release");
        return "java.home=" + home + "\n" + (Files.isRegularFile(release) ? Files.readString(release, StandardCharsets.UTF_8) : "");
    }

    /** The JDK that runs {@code java} (its {@code bin/java}). */
    public static Path javaHomeOf(Path java) throws IOException {
        return java.toRealPath().getParent().getParent();
    }

    /**
     * The files a JVM checks a cache against for {@code classPath}: each entry and the entries its jar manifest's
     * {@code Class-Path} adds, in order (the JVM skips those that do not exist, as the class loader does: the test
     * bed's copy of the appliance jar names a {@code lib/} beside it that is not there). Empty when a cache cannot serve
     * it: an entry is a directory (the JVM records no classes from directories) or a missing jar.
     */
    public static Optional<List<Path>> classPathFiles(String classPath) throws IOException {
        List<Path> files = new ArrayList<>();
        for (String entry : classPath.split(java.io.File.pathSeparator)) {
            if (entry.isEmpty()) {
                continue;
            }
            if (!addJar(Path.of(entry).toAbsolutePath(), files, 0)) {
                return Optional.empty();
            }
        }
        return files.isEmpty() ? Optional.empty() : Optional.of(List.copyOf(files));
    }

    private static boolean addJar(Path jar, List<Path> files, int depth) throws IOException {
        if (!Files.isRegularFile(jar) || depth > 8) {
            return false;
        }
        if (files.contains(jar)) {
            return true;
        }
        files.add(jar);
        Manifest manifest;
        try (JarFile file = new JarFile(jar.toFile())) {
            manifest = file.getManifest();
        }
        String classPath = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
        if (classPath == null) {
            return true;
        }
        for (String entry : classPath.trim().split("\\s+")) {
            Path path;
            try {
                path = entry.startsWith("file:") ? Path.of(java.net.URI.create(entry))
                        : jar.getParent().resolve(java.net.URLDecoder.decode(entry, StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                return false;
            }
            if (Files.isDirectory(path)) {
                return false;
            }
            if (Files.exists(path) && !addJar(path.normalize(), files, depth + 1)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether {@code cache} fits a start of {@code classPath} on the JDK at {@code javaHome}: recorded by that JDK
     * (its stamp), after every class path file last changed. (The JVM options are the caller's to keep the same.)
     */
    public static boolean isCurrent(Path cache, String classPath, Path javaHome) throws IOException {
        Path stamp = stampOf(cache);
        if (!Files.isRegularFile(cache) || !Files.isRegularFile(stamp)
                || !Files.readString(stamp, StandardCharsets.UTF_8).equals(stamp(javaHome))) {
            return false;
        }
        Optional<List<Path>> files = classPathFiles(classPath);
        if (files.isEmpty()) {
            return false;
        }
        FileTime recorded = Files.getLastModifiedTime(cache);
        for (Path file : files.get()) {
            if (Files.getLastModifiedTime(file).compareTo(recorded) >= 0) {
                return false;
            }
        }
        return true;
    }

    /** {@code CACHE.jdk}. */
    public static Path stampOf(Path cache) {
        return cache.resolveSibling(cache.getFileName() + STAMP_SUFFIX);
    }

    /** What one recording took and made. */
    public record Recorded(Path cache, long bytes, long millis) {
    }

    /**
     * Records {@code cache} for starts of {@code java} with {@code jvmOptions} and {@code classPath}: runs
     * {@code java OPTIONS -XX:AOTCacheOutput=... -cp CLASS_PATH io.flowsec.appliance.Main train --seconds N}, its
     * output in {@code log}, and puts the cache and its stamp in place only when the run succeeded (a failed one
     * leaves the previous cache, if any, alone). At most {@code timeoutSeconds}.
     */
    public static Recorded record(Path java, List<String> jvmOptions, String classPath, Path cache, int trainSeconds,
                                  Path log, int timeoutSeconds) throws IOException, InterruptedException {
        if (classPathFiles(classPath).isEmpty()) {
            throw new IOException("no AOT cache can serve class path " + classPath
                    + ": the JVM records classes from jars only, and every jar must exist");
        }
        long startNs = System.nanoTime();
        Path partial = cache.resolveSibling("." + cache.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        List<String> command = new ArrayList<>();
        command.add(java.toString());
        command.addAll(jvmOptions);
        command.add(recordOption(partial));
        command.addAll(List.of("-cp", classPath, io.flowsec.appliance.Main.class.getName(), "train", "--seconds",
                Integer.toString(trainSeconds)));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            Files.deleteIfExists(partial);
            throw new IOException("recording the AOT cache took over " + timeoutSeconds + " s (log: " + log + ")");
        }
        Files.deleteIfExists(partial.resolveSibling(partial.getFileName() + ".config"));
        if (process.exitValue() != 0 || !Files.isRegularFile(partial)) {
            Files.deleteIfExists(partial);
            throw new IOException("recording the AOT cache failed (exit " + process.exitValue() + "): "
                    + lastLines(log, 5));
        }
        // the stamp first: a cache without its stamp is never used; then the cache, whole or not at all
        Files.writeString(stampOf(cache), stamp(javaHomeOf(java)), StandardCharsets.UTF_8);
        Files.move(partial, cache, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Recorded(cache, Files.size(cache), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
    }

    private static String lastLines(Path log, int count) throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - count), lines.size()));
    }
}
