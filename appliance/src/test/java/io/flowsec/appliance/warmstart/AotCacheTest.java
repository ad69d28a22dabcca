package io.flowsec.appliance.warmstart;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.TestPaths;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An AOT cache never stops a start: a missing one, one the jars changed under, one of garbage; the appliance starts
 * without it and says why on stderr only (its stdout stays its own). And {@link AotCache#isCurrent} tells beforehand
 * which one the JVM would take.
 */
class AotCacheTest {
    private static final List<String> JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED");
    private static final Path JAVA = Path.of(System.getProperty("java.home"), "bin", "java");
    @TempDir
    static Path shared;
    /** The appliance as jars only (a cache holds no classes from directories): its classes jarred, its dependencies. */
    private static String classPath;
    private static Path applianceJar;

    @TempDir
    Path directory;

    @BeforeAll
    static void jarTheAppliance() throws Exception {
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        applianceJar = shared.resolve("appliance.jar");
        jar(classes, applianceJar, null);
        List<String> entries = new ArrayList<>(List.of(applianceJar.toString()));
        int jarred = 0;
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path path = Path.of(entry);
            if (entry.endsWith(".jar") && Files.isRegularFile(path)) {
                entries.add(entry);
            } else if (Files.isDirectory(path) && !path.equals(classes)) {   // a sibling module's classes, in a reactor
                entries.add(jar(path, shared.resolve("classes-" + jarred++ + ".jar"), null).toString());
            }
        }
        classPath = String.join(java.io.File.pathSeparator, entries);
    }

    @Test
    void aMissingCacheStartsTheApplianceWithoutItAndSaysSoOnStderrOnly() throws Exception {
        Result result = version(AotCache.useOptions(directory.resolve("none.aot")));

        assertEquals(0, result.status(), result.toString());
        assertEquals("flowsec " + Main.VERSION + "\n", result.out(), "stdout is the command's alone: " + result);
        assertTrue(result.err().contains("[aot]"), "the JVM says why it started without the cache: " + result);
    }

    @Test
    void aCacheOfGarbageIsSkippedAndTheApplianceStarts() throws Exception {
        Path cache = Files.write(directory.resolve("garbage.aot"), new byte[4096]);

        Result result = version(AotCache.useOptions(cache));

        assertEquals(0, result.status(), result.toString());
        assertEquals("flowsec " + Main.VERSION + "\n", result.out(), result.toString());
    }

    @Test
    void aCurrentCacheIsTakenAndOneTheJarsChangedUnderIsRefusedYetTheApplianceStarts() throws Exception {
        // recorded from a pcap run (a run that uses classes of several jars: the JVM then checks each jar at start)
        Path cache = directory.resolve("pcap.aot");
        Path examples = TestPaths.examples();
        Result recording = flowsec(List.of(AotCache.recordOption(cache)), "pcap", "encrypt", "--sa",
                examples.resolve("site-a.sa.json").toString(), examples.resolve("site-a-clear.pcap").toString(),
                directory.resolve("out.pcap").toString(), "--quiet");
        assertEquals(0, recording.status(), recording.toString());
        assertTrue(Files.isRegularFile(cache), "recorded: " + recording);
        Files.writeString(AotCache.stampOf(cache), AotCache.stamp(Path.of(System.getProperty("java.home"))));
        Files.setLastModifiedTime(cache, FileTime.fromMillis(System.currentTimeMillis() + 1000));
        assertTrue(AotCache.isCurrent(cache, classPath, Path.of(System.getProperty("java.home"))));

        Result taken = version(AotCache.useOptions(cache));
        assertEquals(0, taken.status(), taken.toString());
        assertEquals("flowsec " + Main.VERSION + "\n", taken.out(), taken.toString());
        assertEquals("", taken.err(), "a cache that fits is taken without a word: " + taken);

        // a build after the recording: the jar is newer than the cache
        FileTime original = Files.getLastModifiedTime(applianceJar);
        try {
            Files.setLastModifiedTime(applianceJar, FileTime.fromMillis(System.currentTimeMillis() + 60_000));
            assertFalse(AotCache.isCurrent(cache, classPath, Path.of(System.getProperty("java.home"))));
            Result refused = version(AotCache.useOptions(cache));
            assertEquals(0, refused.status(), refused.toString());
            assertEquals("flowsec " + Main.VERSION + "\n", refused.out(), refused.toString());
            assertTrue(refused.err().contains("timestamp has changed"), "the JVM names the jar that changed: " + refused);
        } finally {
            Files.setLastModifiedTime(applianceJar, original);
        }
    }

    @Test
    void aCacheIsCurrentOnlyWithTheStampOfTheJdkThatRuns() throws Exception {
        Path jar = jar(Files.createDirectories(directory.resolve("empty")), directory.resolve("a.jar"), null);
        Path cache = Files.writeString(directory.resolve("a.aot"), "cache");
        Files.setLastModifiedTime(jar, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
        Path javaHome = Path.of(System.getProperty("java.home"));
        assertFalse(AotCache.isCurrent(cache, jar.toString(), javaHome), "no stamp");

        Files.writeString(AotCache.stampOf(cache), AotCache.stamp(javaHome) + "IMPLEMENTOR_VERSION=\"another\"\n");
        assertFalse(AotCache.isCurrent(cache, jar.toString(), javaHome), "another JDK's stamp");

        Files.writeString(AotCache.stampOf(cache), AotCache.stamp(javaHome));
        assertTrue(AotCache.isCurrent(cache, jar.toString(), javaHome));
        assertFalse(AotCache.isCurrent(directory.resolve("missing.aot"), jar.toString(), javaHome));
    }

    @Test
    void theClassPathFilesFollowEachJarsManifestAndRefuseDirectoriesAndMissingEntries() throws Exception {
        Path empty = Files.createDirectories(directory.resolve("empty"));
        Path lib = Files.createDirectories(directory.resolve("lib"));
        Path b = jar(empty, lib.resolve("b.jar"), null);
        Path c = jar(empty, lib.resolve("c.jar"), null);
        Path a = jar(empty, directory.resolve("a.jar"), "lib/b.jar lib/c.jar");

        assertEquals(List.of(a, b, c), AotCache.classPathFiles(a.toString()).orElseThrow());
        assertTrue(AotCache.classPathFiles(a + ":" + empty).isEmpty(), "a directory on the class path");
        assertTrue(AotCache.classPathFiles(directory.resolve("missing.jar").toString()).isEmpty());
        Path d = jar(empty, directory.resolve("d.jar"), "lib/missing.jar lib/b.jar");
        assertEquals(List.of(d, b), AotCache.classPathFiles(d.toString()).orElseThrow(),
                "a jar a manifest names is skipped when missing, as the JVM skips it");
        Path e = jar(empty, directory.resolve("e.jar"), "lib/");
        assertTrue(AotCache.classPathFiles(e.toString()).isEmpty(), "a manifest naming a directory");
    }

    private record Result(int status, String out, String err) {
    }

    /** {@code java OPTIONS... -cp APPLIANCE io.flowsec.appliance.Main --version}. */
    private Result version(List<String> options) throws Exception {
        return flowsec(options, "--version");
    }

    private Result flowsec(List<String> options, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(JAVA.toString()));
        command.addAll(JVM_OPTIONS);
        command.addAll(options);
        command.addAll(List.of("-cp", classPath, Main.class.getName()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(directory, "out", ".txt");
        Path err = Files.createTempFile(directory, "err", ".txt");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IOException("java did not finish: " + command);
        }
        return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** A jar of {@code classes}' files, with {@code Class-Path} in its manifest when given. */
    private static Path jar(Path classes, Path jar, String manifestClassPath) throws IOException {
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (manifestClassPath != null) {
            manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, manifestClassPath);
        }
        try (OutputStream file = Files.newOutputStream(jar);
             JarOutputStream out = new JarOutputStream(file, manifest);
             Stream<Path> paths = Files.walk(classes)) {
            for (Path path : paths.filter(Files::isRegularFile).sorted().toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(path).toString().replace('\\', '/')));
                Files.copy(path, out);
                out.closeEntry();
            }
        }
        return jar;
    }
}
