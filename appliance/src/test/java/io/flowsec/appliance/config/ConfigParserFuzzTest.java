package io.flowsec.appliance.config;

import io.flowsec.appliance.TestPaths;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzzes the configuration and SA-file parsers, proving what the issue asks: every input ends in acceptance or a
 * one-line refusal naming a key, never another exception, a hang or a key in the message. An operator's typo must
 * get the same one-line answer as the cases the hand-written tests foresee, and no document, however odd, may take
 * a start down with a stack trace or print key material to a log.
 *
 * <p>Documents start from the examples and hand-written seeds and are (1) mutated as JSON trees (keys deleted,
 * duplicated, added; values of other types, boundary numbers, hostile unicode, deep nesting, empty and huge lists),
 * (2) mutated as bytes (flips, inserts, deletes, truncation, splices of two documents) or (3) generated at random
 * (bytes, token soup, documents of the format's keys with random values). Each is read from a file
 * ({@link ApplianceConfig#read}, {@link SaFile#read}) and, where it is a tree, also parsed in memory ({@code parse}).
 *
 * <p>The rule for a refusal: a {@link ConfigException} with a non-empty message without line breaks or other control
 * characters, that either starts with its {@link ConfigException#path() path}, a path that leads through the
 * document to a key in it (or one the format knows, where that key is missing), or, with no path, names the file and
 * says why it is no configuration at all (not JSON, not an object, ...); and that shows no 8-digit run of any key
 * that the document holds only as key material. No input may run for 10 s. Everything is
 * reproducible from the printed seed ({@code -Dflowsec.fuzz.seed=S}, {@code -Dflowsec.fuzz.documents=N} per parser,
 * {@code -Dflowsec.fuzz.only=N} for the one document a failure names).
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ConfigParserFuzzTest {
    private static final long SEED = Long.getLong("flowsec.fuzz.seed", 0x5EED_F10_5EC0L);
    /** Documents per parser: the two together make well over 10^5. */
    private static final int DOCUMENTS = Integer.getInteger("flowsec.fuzz.documents", 60_000);
    /** To replay one failing document: its number ({@code -Dflowsec.fuzz.only=N}); -1 runs them all. */
    private static final int ONLY = Integer.getInteger("flowsec.fuzz.only", -1);
    /** Far beyond any document here (the largest take milliseconds): reaching it means a hang. */
    private static final long DEADLINE_SECONDS = 10;

    /** Keys of the hand-written seeds are slices of this string, as in SaFileTest. */
    private static final String KEY_MATERIAL =
            "9f3b1c7e52a84d06e1b7c39a5f208d4e6c1a7b93e05f28d4c6b1a3e97f0d5c28"
            + "b4e1a6c93d7f0e528a1b6c4d9e3f7a0b5c28e1d6f4a9b3c07e5d2a8f1c6b4e93"
            + "d0a7c5e2f81b9d46a3c0e7f52b8d1a6c94e3f0b7d25a8c1e6f49b3d0a7c52e8f"
            + "1b6d4a9c3e0f7b52d8a1c6e94f3b0d7a25c8e1f6b49d3a0c7e52f8b1d6a4c9e3";

    /** Every key of the format, at any level: where a key is missing, a refusal may name it. */
    private static final Set<String> FORMAT_KEYS = Set.of(
            "name", "lanes", "cpus", "mode", "steering", "site", "tunnelMtu", "statusSocket", "stateDirectory", "policies",
            "device", "addresses", "routes", "mtu",
            "local", "remote", "protocol", "localPorts", "remotePorts", "action", "suite", "esn", "replayWindow",
            "encapsulation", "localAddress", "remoteAddress", "port", "encoding", "outbound", "inbound", "nextHop",
            "spi", "key", "integrityKey", "sourcePort", "lifetime", "weights", "lane",
            "softBytes", "hardBytes", "softPackets", "hardPackets", "softSeconds", "hardSeconds");
    private static final List<String> KEY_NAMES = List.copyOf(new java.util.TreeSet<>(FORMAT_KEYS));
    private static final List<String> SUITES = List.of("aes-gcm-128", "aes-gcm-192", "aes-gcm-256",
            "aes-cbc-128-hmac-sha1-96", "aes-cbc-256-hmac-sha256-128", "chacha20-poly1305", "null-hmac-sha256-128");
    /** Why a document without a path in its refusal is no configuration at all. */
    private static final Pattern FILE_REASON = Pattern.compile(
            ".* (is not valid JSON|must hold a JSON object at the top level|does not exist|is not a regular file|is larger than).*");
    /** A key's value in JSON text (for what a document holds outside its keys). */
    private static final Pattern KEY_VALUE = Pattern.compile("\"(key|integrityKey)\"\\s*:\\s*\"(?:[^\"\\\\]|\\\\.)*\"");

    @TempDir
    static Path directory;
    /** Where fuzzed files are written: memory where the machine has it (10^5 rewrites of a file on disk take seconds). */
    private static Path scratch;

    private static ExecutorService worker;
    /** Seeds of each parser: text as written, parsed tree. */
    private static List<Seed> configSeeds;
    private static List<Seed> saSeeds;
    /** Every 8-digit run (lower case) of every key in the seeds. */
    private static Set<String> keyWindows;

    private record Seed(String name, byte[] text, JsonObject tree) {
    }

    /** One generated document: its text, and its tree where it was made as one (then also parsed in memory). */
    private record Document(String generator, byte[] text, JsonObject tree) {
    }

    @BeforeAll
    static void seeds() throws IOException {
        Path shm = Path.of("/dev/shm");
        scratch = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "flowsec-fuzz-") : directory;
        worker = newWorker();
        Path examples = TestPaths.examples();
        configSeeds = List.of(
                seed("examples/router-a.json", Files.readAllBytes(examples.resolve("router-a.json"))),
                seed("examples/router-b.json", Files.readAllBytes(examples.resolve("router-b.json"))),
                seed("full configuration", fullConfig().encodePrettily().getBytes(StandardCharsets.UTF_8)),
                seed("small configuration", smallConfig().encode().getBytes(StandardCharsets.UTF_8)));
        saSeeds = List.of(
                seed("examples/site-a.sa.json", Files.readAllBytes(examples.resolve("site-a.sa.json"))),
                seed("examples/site-b.sa.json", Files.readAllBytes(examples.resolve("site-b.sa.json"))),
                seed("varied SA file", new JsonObject().put("policies", variedPolicies()).encodePrettily()
                        .getBytes(StandardCharsets.UTF_8)),
                seed("small SA file", new JsonObject().put("policies", new JsonArray().add(smallPolicy())).encode()
                        .getBytes(StandardCharsets.UTF_8)));
        keyWindows = new HashSet<>();
        for (Seed seed : concat(configSeeds, saSeeds)) {
            collectKeyWindows(seed.tree(), keyWindows);
        }
        for (int i = 0; i + 8 <= KEY_MATERIAL.length(); i++) {
            keyWindows.add(KEY_MATERIAL.substring(i, i + 8));
        }
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "config-fuzz");
            thread.setDaemon(true); // a hung parse must not keep the JVM alive
            return thread;
        });
    }

    @AfterAll
    static void stopWorker() throws IOException {
        worker.shutdownNow();
        if (!scratch.equals(directory)) {
            try (var files = Files.list(scratch)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(scratch);
        }
    }

    private static Seed seed(String name, byte[] text) {
        return new Seed(name, text, new JsonObject(new String(text, StandardCharsets.UTF_8)));
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static void collectKeyWindows(Object node, Set<String> windows) {
        if (node instanceof JsonObject object) {
            for (String field : object.fieldNames()) {
                Object value = object.getValue(field);
                if ((field.equals("key") || field.equals("integrityKey")) && value instanceof String key) {
                    String lower = key.toLowerCase(Locale.ROOT);
                    for (int i = 0; i + 8 <= lower.length(); i++) {
                        windows.add(lower.substring(i, i + 8));
                    }
                } else {
                    collectKeyWindows(value, windows);
                }
            }
        } else if (node instanceof JsonArray array) {
            for (Object value : array) {
                collectKeyWindows(value, windows);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Hand-written seeds: every suite, both encapsulations, IPv6, lifetimes, bypass and discard policies

    private static String key(int bytes, int offset) {
        return KEY_MATERIAL.substring(offset, offset + 2 * bytes);
    }

    private static JsonArray variedPolicies() {
        return new JsonArray()
                .add(new JsonObject()
                        .put("name", "cbc-esp-v6")
                        .put("local", "2001:db8:1::/48").put("remote", "2001:db8:2::/48")
                        .put("protocol", "tcp").put("localPorts", "1024-65535").put("remotePorts", 443)
                        .put("suite", "aes-cbc-256-hmac-sha256-128").put("esn", true).put("replayWindow", 128)
                        .put("encapsulation", "esp").put("localAddress", "2001:db8::1").put("remoteAddress", "2001:db8::2")
                        .put("encoding", "address")
                        .put("outbound", new JsonArray()
                                .add(new JsonObject().put("name", "cbc-out-1").put("spi", 4097)
                                        .put("key", key(32, 0)).put("integrityKey", key(32, 64)))
                                .add(new JsonObject().put("spi", "0x1002").put("key", key(32, 8))
                                        .put("integrityKey", key(32, 72)).put("localAddress", "2001:db8::3")
                                        .put("lifetime", new JsonObject().put("softBytes", 1_000_000).put("hardBytes", 2_000_000L)
                                                .put("softSeconds", 3600).put("hardSeconds", 7200))))
                        .put("inbound", new JsonArray()
                                .add(new JsonObject().put("spi", "8193").put("key", key(32, 16))
                                        .put("integrityKey", key(32, 80)).put("replayWindow", 65536)
                                        .put("lifetime", new JsonObject().put("softPackets", 100).put("hardPackets", 200)))))
                .add(new JsonObject()
                        .put("name", "chacha-udp")
                        .put("local", "10.1.0.0/16").put("remote", "10.3.0.0/16").put("protocol", 17)
                        .put("suite", "chacha20-poly1305").put("localAddress", "192.0.2.1").put("remoteAddress", "192.0.2.3")
                        .put("port", 4500)
                        .put("outbound", new JsonArray()
                                .add(new JsonObject().put("spi", "0x3001").put("key", key(36, 4)))
                                .add(new JsonObject().put("spi", "0x3002").put("suite", "aes-gcm-256").put("key", key(36, 40))
                                        .put("esn", true)))
                        .put("inbound", new JsonArray()
                                .add(new JsonObject().put("spi", "0x4001").put("suite", "null-hmac-sha256-128")
                                        .put("integrityKey", key(32, 100)).put("replayWindow", 0))
                                .add(new JsonObject().put("spi", "0x4002").put("suite", "aes-cbc-128-hmac-sha1-96")
                                        .put("key", key(16, 130)).put("integrityKey", key(20, 170))
                                        .put("sourcePort", 4600).put("port", 4501))
                                .add(new JsonObject().put("spi", "0x4003").put("suite", "aes-gcm-192")
                                        .put("key", key(28, 190)))))
                .add(new JsonObject().put("name", "to-router").put("action", "bypass")
                        .put("local", "10.1.0.0/16").put("remote", "192.0.2.0/24").put("nextHop", "192.0.2.2"))
                .add(new JsonObject().put("name", "drop-rest").put("action", "discard")
                        .put("local", "any").put("remote", "0.0.0.0/0").put("protocol", "icmp"));
    }

    private static JsonObject smallPolicy() {
        return new JsonObject()
                .put("name", "a-to-b").put("local", "10.1.0.0/16").put("remote", "10.2.0.0/16")
                .put("suite", "aes-gcm-128").put("localAddress", "192.0.2.1").put("remoteAddress", "192.0.2.2")
                .put("outbound", new JsonArray().add(new JsonObject().put("spi", "0x1001").put("key", key(20, 0))))
                .put("inbound", new JsonArray().add(new JsonObject().put("spi", "0x2001").put("key", key(20, 60))));
    }

    private static JsonObject fullConfig() {
        return new JsonObject()
                .put("name", "router-fuzz").put("lanes", 1).put("cpus", new JsonArray().add(0))
                .put("mode", "pcrypt").put("steering", "rss").put("tunnelMtu", 1400)
                .put("site", new JsonObject().put("device", "fs-fuzz0")
                        .put("addresses", new JsonArray().add("10.255.0.1/32").add("fd00:ff::1/128"))
                        .put("routes", new JsonArray().add("10.2.0.0/16").add("2001:db8:2::/48"))
                        .put("mtu", 1300))
                .put("statusSocket", "/tmp/flowsec-fuzz/router-fuzz.sock")
                .put("stateDirectory", "/tmp/flowsec-fuzz/state")
                .put("policies", variedPolicies());
    }

    private static JsonObject smallConfig() {
        return new JsonObject().put("lanes", 1)
                .put("site", new JsonObject().put("device", "fs0").put("addresses", new JsonArray().add("10.255.0.2/32")))
                .put("policies", new JsonArray().add(smallPolicy()));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The tests

    @Test
    void every_seed_is_accepted_from_its_file_and_in_memory() throws Exception {
        for (Seed seed : configSeeds) {
            Path file = Files.write(directory.resolve("seed.json"), seed.text());
            assertDoesNotThrow(() -> ApplianceConfig.read(file), seed.name());
            assertDoesNotThrow(() -> ApplianceConfig.parse(seed.tree().copy()), seed.name());
        }
        for (Seed seed : saSeeds) {
            Path file = Files.write(directory.resolve("seed.sa.json"), seed.text());
            assertDoesNotThrow(() -> SaFile.read(file), seed.name());
            assertDoesNotThrow(() -> SaFile.parse(seed.tree().copy()), seed.name());
        }
    }

    @Test
    void the_configuration_parser_accepts_or_refuses_on_one_line_every_fuzzed_document() throws Exception {
        fuzz(new Target("configuration", 1, configSeeds, scratch.resolve("fuzz-config.json")) {
            @Override
            void read(Path file) throws ConfigException {
                ApplianceConfig.read(file);
            }

            @Override
            void parse(JsonObject tree) throws ConfigException {
                ApplianceConfig.parse(tree);
            }
        });
    }

    @Test
    void the_SA_file_parser_accepts_or_refuses_on_one_line_every_fuzzed_document() throws Exception {
        fuzz(new Target("SA file", 2, saSeeds, scratch.resolve("fuzz.sa.json")) {
            @Override
            void read(Path file) throws ConfigException {
                SaFile.read(file);
            }

            @Override
            void parse(JsonObject tree) throws ConfigException {
                SaFile.parse(tree);
            }
        });
    }

    /** The rule itself: what it must catch, so a green run means something. */
    @Test
    void the_rule_refuses_multi_line_messages_paths_not_in_the_document_and_key_material() {
        JsonObject tree = saSeeds.get(3).tree();
        String outKey = key(20, 0);
        assertNull(violation("policies[0].outbound[0].spi", "is required", tree));
        assertNull(violation("policies[0].outbound[0]", "needs a 20-byte key", tree));
        assertNull(violation("/x/y.json is not valid JSON: z", "", null, null, Path.of("/x/y.json")));
        assertTrue(violation("policies[0].suite", "bad\nsecond line", tree).startsWith("a line break"));
        assertTrue(violation("policies[0].suite", "bad\u2028second line", tree).startsWith("a line break"));
        assertTrue(violation("policies[0].suite", "bad\u001b[31m colour", tree).startsWith("a control character"));
        assertTrue(violation("policies[0].outbound[1].spi", "is required", tree).contains("not in the document"));
        assertTrue(violation("policies[0].sutie", "x", tree).contains("not in the document"));
        assertTrue(violation("policies[0].", "x", tree).contains("not in the document"));
        assertTrue(violation("", "something went wrong", tree).contains("no path"));
        assertTrue(violation("/x/y.json: something went wrong", "", null, null, Path.of("/x/y.json")).contains("no path"));
        assertTrue(violation("policies[0].outbound[0].key", "bad key " + outKey.substring(4, 14), tree)
                .contains("key material"));
        // a key's digits that the document also holds outside a key (here: as a name) may be repeated
        JsonObject named = tree.copy();
        named.getJsonArray("policies").getJsonObject(0).put("name", outKey);
        assertNull(violation("policies[0].name", "policy name '" + outKey + "' is used twice", named));
    }

    private static String violation(String path, String problem, JsonObject tree) {
        return violation(path.isEmpty() ? problem : path + ": " + problem, path, tree, null, null);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The harness

    private abstract static class Target {
        final String name;
        final int id;
        final List<Seed> seeds;
        final Path file;

        Target(String name, int id, List<Seed> seeds, Path file) {
            this.name = name;
            this.id = id;
            this.seeds = seeds;
            this.file = file;
        }

        abstract void read(Path file) throws ConfigException;

        abstract void parse(JsonObject tree) throws ConfigException;
    }

    private static final class Counts {
        int documents;
        int inputs;
        int accepted;
        int refusedWithPath;
        int refusedAsFile;
        final Map<String, Integer> byGenerator = new TreeMap<>();
        final Map<String, Integer> acceptedByGenerator = new TreeMap<>();
        /** The shortest failing input of each kind of failure, so one run shows every bug found. */
        final Map<String, Failure> failures = new TreeMap<>();
        int failed;

        void failure(String kind, String where, byte[] text, String details, Throwable cause) {
            failed++;
            Failure known = failures.get(kind);
            if (known == null || known.text().length > text.length) {
                failures.put(kind, new Failure(where, text, details, cause));
            }
        }
    }

    private record Failure(String where, byte[] text, String details, Throwable cause) {
    }

    private void fuzz(Target target) throws Exception {
        long start = System.nanoTime();
        // the documents run on the worker; this thread watches that no single input runs past the deadline
        Future<Counts> run = worker.submit(() -> run(target));
        Counts finished;
        while (true) {
            try {
                finished = run.get(100, TimeUnit.MILLISECONDS);
                break;
            } catch (TimeoutException e) {
                Running now = running;
                if (now != null && System.nanoTime() - now.since() > TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS)) {
                    run.cancel(true);
                    worker = newWorker(); // the old one may never come back
                    running = null;
                    fail(now.where() + ": still running after " + DEADLINE_SECONDS + " s\n" + show(now.text()));
                }
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Error error ? error : new AssertionError(e.getCause());
            }
        }
        Counts counts = finished;
        long millis = (System.nanoTime() - start) / 1_000_000;
        int refused = counts.refusedWithPath + counts.refusedAsFile;
        System.out.printf("%s parser, seed 0x%x: %d documents %s, %d inputs in %d ms: %d accepted (documents %s), "
                        + "%d refused (%d naming a key, %d naming the file)%n",
                target.name, SEED, counts.documents, counts.byGenerator, counts.inputs, millis, counts.accepted,
                counts.acceptedByGenerator, refused, counts.refusedWithPath, counts.refusedAsFile);
        if (!counts.failures.isEmpty()) {
            StringBuilder report = new StringBuilder(counts.failed + " of " + counts.inputs + " inputs broke the rule, "
                    + counts.failures.size() + " kind(s); the shortest input of each:");
            List<Throwable> causes = new ArrayList<>();
            for (Map.Entry<String, Failure> entry : counts.failures.entrySet()) {
                Failure f = entry.getValue();
                report.append("\n\n[").append(entry.getKey()).append("] ").append(f.where()).append(": ")
                        .append(f.details()).append('\n').append(show(f.text()));
                if (f.cause() != null) {
                    causes.add(f.cause());
                }
            }
            AssertionError failure = new AssertionError(report.toString());
            causes.forEach(failure::addSuppressed);
            throw failure;
        }
        if (ONLY >= 0) {
            return;
        }
        assertEquals(DOCUMENTS, counts.documents);
        // neither answer may be (almost) the only one: a parser refusing everything would pass the rest trivially
        assertTrue(counts.accepted >= counts.inputs / 50, () -> "too few accepted: " + counts.accepted);
        assertTrue(counts.refusedWithPath >= counts.inputs / 10, () -> "too few refused naming a key: " + counts.refusedWithPath);
        assertTrue(counts.refusedAsFile >= counts.inputs / 20, () -> "too few refused as not JSON: " + counts.refusedAsFile);
    }

    /** The input being parsed, since when: what the watching thread reports if it never ends. */
    private record Running(String where, byte[] text, long since) {
    }

    private static volatile Running running;

    private static Counts run(Target target) throws IOException {
        Counts counts = new Counts();
        for (int i = Math.max(ONLY, 0); i < (ONLY >= 0 ? ONLY + 1 : DOCUMENTS); i++) {
            running = null;
            if (Thread.currentThread().isInterrupted()) {
                break; // a hang was reported: this run is over
            }
            Document document = new Generator(new SplittableRandom(mix(SEED, target.id, i)), target.seeds).document();
            counts.documents++;
            counts.byGenerator.merge(document.generator(), 1, Integer::sum);
            String where = target.name + " document #" + i + " (" + document.generator() + ") of seed 0x"
                    + Long.toHexString(SEED) + " (replay: -Dflowsec.fuzz.seed=" + SEED + " -Dflowsec.fuzz.only=" + i + ")";
            Files.write(target.file, document.text());
            boolean accepted = check(where + ", read from a file", document.text(), () -> target.read(target.file),
                    null, target.file, counts);
            if (document.tree() != null) {
                accepted |= check(where + ", parsed in memory", document.text(), () -> target.parse(document.tree()),
                        document.tree(), null, counts);
            }
            if (accepted) {
                counts.acceptedByGenerator.merge(document.generator(), 1, Integer::sum);
            }
        }
        running = null;
        return counts;
    }

    private interface Parse {
        void run() throws Exception;
    }

    /** Runs one input (watched for its deadline) and checks its outcome; true when accepted. */
    private static boolean check(String where, byte[] text, Parse parse, JsonObject tree, Path file, Counts counts) {
        counts.inputs++;
        Throwable thrown = null;
        running = new Running(where, text, System.nanoTime());
        try {
            parse.run();
        } catch (Throwable t) {
            thrown = t;
        }
        if (thrown == null) {
            counts.accepted++;
            return true;
        }
        if (!(thrown instanceof ConfigException refusal)) {
            counts.failure(thrown.getClass().getSimpleName() + " at " + origin(thrown), where, text,
                    thrown + " instead of acceptance or a ConfigException", thrown);
            return false;
        }
        String problem = violation(refusal.getMessage(), refusal.path(), tree, text, file);
        if (problem != null) {
            String kind = problem.replaceAll("'[^']*'|\\d+", "_") + ", at a key " + lastKey(refusal.path());
            counts.failure(kind, where, text, problem + "; message: " + escape(refusal.getMessage(), 4000), null);
            return false;
        }
        if (refusal.path().isEmpty()) {
            counts.refusedAsFile++;
        } else {
            counts.refusedWithPath++;
        }
        return false;
    }

    /**
     * What is wrong with a refusal, or null when it keeps the rule.
     *
     * @param tree the document parsed in memory, or null when it was read from {@code file} (then {@code text} is
     *             what the file held)
     */
    private static String violation(String message, String path, JsonObject tree, byte[] text, Path file) {
        if (message == null || message.isBlank()) {
            return "an empty message";
        }
        for (int i = 0; i < message.length(); i++) {
            char c = message.charAt(i);
            if (c == '\n' || c == '\r' || c == '\u0085' || c == '\u2028' || c == '\u2029') {
                return "a line break in the message at " + i;
            }
            if (Character.isISOControl(c)) {
                return "a control character (" + (int) c + ") in the message at " + i;
            }
        }
        JsonObject document = tree;
        if (path.isEmpty()) {
            if (file == null) {
                return "no path in a refusal of a document in memory";
            }
            if (!message.contains(file.toString()) || !FILE_REASON.matcher(message).matches()) {
                return "no path, and not a refusal of the file as such naming it";
            }
        } else {
            if (!message.startsWith(path + ": ")) {
                return "the message does not start with its path '" + path + "'";
            }
            if (document == null) {
                document = (JsonObject) Json.decodeValue(new String(text, StandardCharsets.UTF_8));
            }
            if (!leadsToKey(document, path, true)) {
                return "the path '" + path + "' is not in the document (nor a missing key of the format)";
            }
        }
        String leak = keyMaterialShown(message, document, text);
        return leak == null ? null : "the message shows key material '" + leak + "'";
    }

    /**
     * Whether {@code path} ({@code policies[0].outbound[1].spi}) leads through {@code node}: every step to an element
     * or key that is there, the last one possibly to a key of the format that is missing.
     */
    private static boolean leadsToKey(Object node, String path, boolean top) {
        if (path.isEmpty()) {
            return true;
        }
        if (node instanceof JsonArray array && path.startsWith("[")) {
            int close = path.indexOf(']');
            if (close < 2) {
                return false;
            }
            int index;
            try {
                index = Integer.parseInt(path.substring(1, close));
            } catch (NumberFormatException e) {
                return false;
            }
            return index >= 0 && index < array.size() && leadsToKey(array.getValue(index), path.substring(close + 1), false);
        }
        if (node instanceof JsonObject object) {
            String rest = top ? path : path.startsWith(".") ? path.substring(1) : null;
            if (rest == null) {
                return false;
            }
            for (String field : object.fieldNames()) {
                String named = field.isEmpty() ? "\"\"" : ConfigException.oneLine(field);
                if (rest.startsWith(named) && (rest.length() == named.length() || rest.charAt(named.length()) == '.'
                        || rest.charAt(named.length()) == '[')
                        && leadsToKey(object.getValue(field), rest.substring(named.length()), false)) {
                    return true;
                }
            }
            return FORMAT_KEYS.contains(rest) && !object.containsKey(rest);
        }
        return false;
    }

    /**
     * An 8-digit run of a seed's key in the message that the document does not also hold outside its keys' values
     * (a key's digits pasted into a name may be repeated as the name), or null.
     */
    private static String keyMaterialShown(String message, JsonObject document, byte[] text) {
        String lower = message.toLowerCase(Locale.ROOT);
        String outsideKeys = null;
        for (int i = 0; i + 8 <= lower.length(); i++) {
            String window = lower.substring(i, i + 8);
            if (keyWindows.contains(window)) {
                if (outsideKeys == null) {
                    String whole = text != null ? new String(text, StandardCharsets.UTF_8) : document.encode();
                    outsideKeys = KEY_VALUE.matcher(whole).replaceAll("").toLowerCase(Locale.ROOT);
                    if (document != null && text != null) {
                        outsideKeys += KEY_VALUE.matcher(document.encode()).replaceAll("").toLowerCase(Locale.ROOT);
                    }
                }
                if (!outsideKeys.contains(window)) {
                    return window;
                }
            }
        }
        return null;
    }

    /** Where in this project's code a throwable comes from. */
    private static String origin(Throwable thrown) {
        for (StackTraceElement frame : thrown.getStackTrace()) {
            if (frame.getClassName().startsWith("io.flowsec") && !frame.getClassName().contains("FuzzTest")) {
                return frame.getClassName().substring(frame.getClassName().lastIndexOf('.') + 1) + "." + frame.getMethodName();
            }
        }
        return "?";
    }

    /** The last key of a path if the format has it, else "other" (unknown keys are many). */
    private static String lastKey(String path) {
        String last = path.replaceAll("\\[\\d+\\]$", "");
        last = last.substring(last.lastIndexOf('.') + 1);
        return FORMAT_KEYS.contains(last) ? last : path.isEmpty() ? "(none)" : "other";
    }

    private static String show(byte[] text) {
        return "input (" + text.length + " bytes, as Java string escapes): \"" + escape(new String(text,
                StandardCharsets.UTF_8), 20_000) + "\"";
    }

    private static String escape(String text, int limit) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length() && out.length() < limit; i++) {
            char c = text.charAt(i);
            if (c == '\\' || c == '"') {
                out.append('\\').append(c);
            } else if (c >= 0x20 && c < 0x7f) {
                out.append(c);
            } else if (c == '\n') {
                out.append("\\n");
            } else {
                out.append(String.format("\\u%04x", (int) c));
            }
        }
        return out.length() < limit ? out.toString() : out + "...(cut)";
    }

    private static long mix(long seed, int target, int index) {
        long z = seed + 0x9E3779B97F4A7C15L * (((long) target << 32) | index);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The generators

    /** Values no tree can hold, put in the text where a marker string stands. */
    private static final List<String> RAW_VALUES = List.of("1e309", "-1e309", "1E400", "1e-400", "-0", "-0.0", "0.0",
            "4500.0", "1.0", "1E2", "2e1", "0x1001", "NaN", "Infinity", "-Infinity", "+1", "01", ".5", "1.", "--1",
            "\"\\ud800\"", "\"\\udfff\\ud800\"", "\"\\u0000\"", "\"\\u2028\"", "\"a\\nb\"", "\"\\\"\"", "\"\\/\"",
            "\"\\x41\"", "nul", "tru", "undefined", "'single'", "\"" + "\\u0030".repeat(40) + "\"",
            "1".repeat(999), "1".repeat(1001), "9".repeat(5000), "0." + "0".repeat(3000) + "1", "1e" + "9".repeat(30),
            "[" + "1,".repeat(3000) + "1]", "{}", "[]", "[{}]", "{\"\":null}");

    private static final class Generator {
        private final SplittableRandom random;
        private final List<Seed> seeds;
        /** Marker strings in the tree and what stands for them in the text. */
        private final Map<String, String> raw = new java.util.HashMap<>();
        private final String marker;

        Generator(SplittableRandom random, List<Seed> seeds) {
            this.random = random;
            this.seeds = seeds;
            this.marker = "\u27e6" + Long.toHexString(random.nextLong()) + ":";
        }

        Document document() {
            int kind = random.nextInt(100);
            if (kind < 45) {
                return treeMutation();
            }
            if (kind < 80) {
                return byteMutation();
            }
            if (kind < 85) {
                return new Document("random bytes", randomBytes(), null);
            }
            if (kind < 90) {
                return new Document("token soup", tokenSoup(), null);
            }
            JsonObject tree = randomDocument();
            return new Document("random document", text(tree), tree);
        }

        private Seed seed() {
            return seeds.get(random.nextInt(seeds.size()));
        }

        // ---- (1) the tree

        private Document treeMutation() {
            JsonObject tree = seed().tree().copy();
            int mutations = random.nextInt(4) == 0 ? 2 + random.nextInt(4) : 1;
            for (int i = 0; i < mutations; i++) {
                mutate(tree);
            }
            return new Document("tree", text(tree), tree);
        }

        /** The tree's text, markers replaced by what they stand for. */
        private byte[] text(JsonObject tree) {
            String text = random.nextBoolean() ? tree.encodePrettily() : tree.encode();
            for (Map.Entry<String, String> entry : raw.entrySet()) {
                text = text.replace(Json.encode(entry.getKey()), entry.getValue());
            }
            return text.getBytes(StandardCharsets.UTF_8);
        }

        private String raw(String text) {
            String name = marker + raw.size() + "\u27e7";
            raw.put(name, text);
            return name;
        }

        /** A place in the tree: a key of an object or an index of a list. */
        private record Slot(Object container, Object at) {
            Object value() {
                return container instanceof JsonObject o ? o.getValue((String) at) : ((JsonArray) container).getValue((Integer) at);
            }

            void set(Object value) {
                if (container instanceof JsonObject o) {
                    o.put((String) at, value);
                } else {
                    ((JsonArray) container).set((Integer) at, value);
                }
            }

            void remove() {
                if (container instanceof JsonObject o) {
                    o.remove((String) at);
                } else {
                    ((JsonArray) container).remove((int) (Integer) at);
                }
            }
        }

        private static void slots(Object node, List<Slot> into, List<Object> containers) {
            if (node instanceof JsonObject object) {
                containers.add(object);
                for (String field : new ArrayList<>(object.fieldNames())) {
                    into.add(new Slot(object, field));
                    slots(object.getValue(field), into, containers);
                }
            } else if (node instanceof JsonArray array) {
                containers.add(array);
                for (int i = 0; i < array.size() && i < 50; i++) {
                    into.add(new Slot(array, i));
                    slots(array.getValue(i), into, containers);
                }
            }
        }

        private void mutate(JsonObject tree) {
            List<Slot> slots = new ArrayList<>();
            List<Object> containers = new ArrayList<>();
            slots(tree, slots, containers);
            if (slots.isEmpty()) {
                tree.put(KEY_NAMES.get(random.nextInt(KEY_NAMES.size())), value(2));
                return;
            }
            Slot slot = slots.get(random.nextInt(slots.size()));
            Object value = slot.value();
            switch (random.nextInt(16)) {
                case 0, 1 -> slot.remove();                                        // delete a key or an element
                case 2, 3 -> slot.set(value(2));                                     // a value of any type
                case 4 -> slot.set(value instanceof String s ? mutateString(s) : string());
                case 5 -> slot.set(number());
                case 6 -> {                                                          // an unknown or misplaced key
                    JsonObject object = object(containers, tree);
                    object.put(keyName(), value(1));
                }
                case 7 -> {                                                          // a key given twice, in the text
                    JsonObject object = object(containers, tree);
                    if (!object.isEmpty()) {
                        List<String> fields = new ArrayList<>(object.fieldNames());
                        String field = fields.get(random.nextInt(fields.size()));
                        Object copy = random.nextBoolean() ? object.getValue(field) : value(1);
                        object.put(raw(Json.encode(field)), copy);
                    }
                }
                case 8 -> slot.set(deep());
                case 9 -> slot.set(random.nextBoolean() ? new JsonArray() : new JsonObject());
                case 10 -> slot.set(huge(value));
                case 11, 12, 13 -> benign(slot, value);
                case 14 -> slots.get(random.nextInt(slots.size())).set(copyOf(value)); // a value moved elsewhere
                default -> {                                                         // an element added or repeated
                    List<JsonArray> lists = new ArrayList<>();
                    for (Object c : containers) {
                        if (c instanceof JsonArray a) {
                            lists.add(a);
                        }
                    }
                    if (!lists.isEmpty()) {
                        JsonArray list = lists.get(random.nextInt(lists.size()));
                        list.add(list.isEmpty() || random.nextInt(3) == 0 ? value(2) : copyOf(list.getValue(random.nextInt(list.size()))));
                    }
                }
            }
        }

        private JsonObject object(List<Object> containers, JsonObject tree) {
            for (int tries = 0; tries < 10; tries++) {
                if (containers.get(random.nextInt(containers.size())) instanceof JsonObject o) {
                    return o;
                }
            }
            return tree;
        }

        private static Object copyOf(Object value) {
            if (value instanceof JsonObject o) {
                return o.copy();
            }
            return value instanceof JsonArray a ? a.copy() : value;
        }

        /** Changes that often keep the document valid, so acceptance is tried too. */
        private void benign(Slot slot, Object value) {
            String at = slot.at() instanceof String s ? s : "";
            switch (at) {
                case "spi" -> {
                    long spi = 256 + random.nextLong(0xFFFF_FFFFL - 255);
                    slot.set(switch (random.nextInt(3)) {
                        case 0 -> "0x" + Long.toHexString(spi);
                        case 1 -> Long.toString(spi);
                        default -> spi;
                    });
                }
                case "port", "sourcePort" -> slot.set(1 + random.nextInt(65535));
                case "lanes" -> slot.set(1);
                case "tunnelMtu" -> slot.set(1280 + random.nextInt(65535 - 1279));
                case "mtu" -> slot.set(576 + random.nextInt(65535 - 575));
                case "replayWindow" -> slot.set(64 * random.nextInt(1025));
                case "mode" -> slot.set(List.of("single", "pcrypt", "flow", " FLOW ", "Single").get(random.nextInt(5)));
                case "steering" -> slot.set(List.of("director", "rss", "single", "RSS").get(random.nextInt(4)));
                case "suite" -> slot.set(SUITES.get(random.nextInt(SUITES.size())));
                case "esn" -> slot.set(random.nextBoolean());
                case "protocol" -> slot.set(random.nextBoolean() ? random.nextInt(256)
                        : List.of("any", "tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "sctp", " TCP").get(random.nextInt(8)));
                case "localPorts", "remotePorts" -> {
                    int first = random.nextInt(65536);
                    slot.set(random.nextBoolean() ? first : first + "-" + (first + random.nextInt(65536 - first)));
                }
                case "encoding" -> slot.set(List.of("spi", "udp-port", "address").get(random.nextInt(3)));
                case "encapsulation" -> slot.set(random.nextBoolean() ? "udp" : "ESP");
                default -> {
                    if (value instanceof String s && !at.equals("key") && !at.equals("integrityKey")) {
                        slot.set(random.nextBoolean() ? " " + s + "\t" : s.toUpperCase(Locale.ROOT)); // strip, case
                    } else if (slot.container() instanceof JsonObject o && !List.of("policies", "site", "outbound", "inbound",
                            "key", "integrityKey", "spi", "addresses", "device").contains(at)) {
                        o.remove(at); // an optional key left out
                    } else if (slot.container() instanceof JsonArray a && a.size() > 1) {
                        Object first = a.getValue(0);         // a list reordered
                        a.set(0, a.getValue(a.size() - 1));
                        a.set(a.size() - 1, first);
                    }
                }
            }
        }

        // ---- values

        private Object value(int depth) {
            return switch (random.nextInt(depth > 0 ? 9 : 7)) {
                case 0, 1 -> string();
                case 2, 3 -> number();
                case 4 -> random.nextBoolean();
                case 5 -> null;
                case 6 -> List.of("any", "0x1001", "4500", "192.0.2.1", "10.0.0.0/8", "aes-gcm-128", "protect", "",
                        key(20, random.nextInt(100)), "fs0", "flow", "udp-port").get(random.nextInt(12));
                case 7 -> {
                    JsonArray array = new JsonArray();
                    for (int i = random.nextInt(4); i > 0; i--) {
                        array.add(value(depth - 1));
                    }
                    yield array;
                }
                default -> {
                    JsonObject object = new JsonObject();
                    for (int i = random.nextInt(4); i > 0; i--) {
                        object.put(keyName(), value(depth - 1));
                    }
                    yield object;
                }
            };
        }

        private Object number() {
            return switch (random.nextInt(6)) {
                case 0 -> raw(RAW_VALUES.get(random.nextInt(random.nextInt(4) == 0 ? RAW_VALUES.size() : 20)));
                case 1 -> random.nextInt();
                case 2 -> random.nextLong();
                case 3 -> random.nextDouble() * Math.pow(10, random.nextInt(-10, 320));
                default -> pick(0, -1, 1, 63, 64, 127, 128, 129, 255, 256, 575, 576, 1023, 1024, 1279, 1280,
                        1500, 4500, 65535, 65536, 65536 * 64 + 64, Integer.MAX_VALUE, Integer.MIN_VALUE, 2147483648L,
                        -2147483649L, 0xFFFF_FFFFL, 0x1_0000_0000L, Long.MAX_VALUE, Long.MIN_VALUE,
                        BigInteger.ONE.shiftLeft(64).add(BigInteger.valueOf(443)), BigInteger.TEN.pow(40).negate(),
                        new BigDecimal("1e400"), Double.NaN, Double.NEGATIVE_INFINITY, 0.5, 1.5, -0.0, 4500.0, 1e-300,
                        -1e300, Double.MAX_VALUE, Double.MIN_VALUE,
                        Float.MAX_VALUE);
            };
        }

        private static final String[] ODD = {"\u0000", "\n", "\r", "\r\n", "\t", "\u0085", "\u2028", "\u2029", "\ufeff",
                "\u200b", "\u202e", "\u007f", "\u001b[31m", "\"", "\\", "'", "/", "..", "%s", "%n", "${x}", "\ud83d\ude00",
                "\u0130", "\u00df", "\ufb00", "\u0301", "\uff10", "\uff11", "\uff19", "\u0660", "\u0669", "\u0966", "\u00a0",
                "\u3000", "\ufffd", "\uffff", " ", "-", ":", "/", ".", "0", "9", "a", "f", "x", "0x", "any", "::", "[", "]"};

        private String string() {
            int kind = random.nextInt(40);
            if (kind == 0) {                                                  // very long
                String piece = ODD[random.nextInt(ODD.length)] + "a0";
                return piece.repeat(random.nextInt(random.nextInt(16) == 0 ? 20_000 : 1_000) + 1);
            }
            StringBuilder out = new StringBuilder();
            for (int i = random.nextInt(kind < 6 ? 1 : 12); i >= 0; i--) {
                if (random.nextBoolean()) {
                    out.append(ODD[random.nextInt(ODD.length)]);
                } else {
                    out.appendCodePoint(random.nextInt(8) == 0 ? random.nextInt(0x20, 0xD800) : random.nextInt(0x20, 0x7f));
                }
            }
            return out.toString();
        }

        private String mutateString(String s) {
            if (s.isEmpty() || random.nextInt(4) == 0) {
                return string();
            }
            int at = random.nextInt(s.length() + 1);
            return switch (random.nextInt(6)) {
                case 0 -> s.substring(0, at) + ODD[random.nextInt(ODD.length)] + s.substring(at);
                case 1 -> s.substring(0, at);
                case 2 -> s.substring(at);
                case 3 -> fullWidthDigits(s);
                case 4 -> s + s;
                default -> at < s.length() ? s.substring(0, at) + (char) random.nextInt(0x20, 0x7f) + s.substring(at + 1) : s;
            };
        }

        private static String fullWidthDigits(String s) {
            StringBuilder out = new StringBuilder();
            for (char c : s.toCharArray()) {
                out.append(c >= '0' && c <= '9' ? (char) (c - '0' + '\uff10') : c);
            }
            return out.toString();
        }

        private String keyName() {
            return switch (random.nextInt(6)) {
                case 0, 1 -> KEY_NAMES.get(random.nextInt(KEY_NAMES.size()));  // known, maybe at the wrong level
                case 2 -> {                                                     // a near miss
                    String known = KEY_NAMES.get(random.nextInt(KEY_NAMES.size()));
                    yield switch (random.nextInt(4)) {
                        case 0 -> known.toUpperCase(Locale.ROOT);
                        case 1 -> known + " ";
                        case 2 -> known.substring(1);
                        default -> known + ODD[random.nextInt(ODD.length)];
                    };
                }
                case 3 -> "";
                default -> string();
            };
        }

        private Object deep() {
            int depth = List.of(10, 100, 999, 1000, 1001, 5000, 50_000).get(random.nextInt(7));
            boolean arrays = random.nextBoolean();
            if (depth <= 100) {
                Object node = random.nextBoolean() ? null : value(0);
                for (int i = 0; i < depth; i++) {
                    node = arrays ? new JsonArray().add(node) : new JsonObject().put(keyName(), node);
                }
                return node;
            }
            String open = arrays ? "[" : "{\"" + KEY_NAMES.get(random.nextInt(KEY_NAMES.size())) + "\":";
            return raw(open.repeat(depth) + "1" + (arrays ? "]" : "}").repeat(depth));
        }

        private Object huge(Object value) {
            Object element = value instanceof JsonArray a && !a.isEmpty() ? a.getValue(0) : value;
            int size = random.nextInt(16) == 0 ? 1000 + random.nextInt(1000) : 100 + random.nextInt(200);
            size = Math.min(size, 200_000 / (encodedLength(element) + 1)); // at most about 200 kB
            JsonArray array = new JsonArray();
            for (int i = 0; i < size; i++) {
                array.add(random.nextInt(10) == 0 ? value(0) : copyOf(element));
            }
            return array;
        }

        /** The length of a value's text (indented, the longer), with what its markers stand for. */
        private int encodedLength(Object value) {
            String text = Json.encodePrettily(value);
            int length = text.length();
            for (Map.Entry<String, String> entry : raw.entrySet()) {
                if (text.contains(entry.getKey())) {
                    length += entry.getValue().length();
                }
            }
            return length;
        }

        // ---- (2) the bytes

        private static final String[] TOKENS = {"{", "}", "[", "]", ":", ",", "\"", "\\", "null", "true", "false", "0",
                "-1", "1e309", "\"policies\"", "\"spi\":", "\"key\":", "\"site\":", "\"lanes\":", "//", "/*", "*/", " ",
                "\n", "\t", "\u0000", "\ufeff", "\u00e9", "\"\\u", "NaN", "'", "\u00ff"};

        private Document byteMutation() {
            byte[] base = random.nextInt(4) == 0 ? treeMutation().text() : seed().text();
            byte[] bytes = base;
            for (int i = random.nextInt(3) == 0 ? 2 + random.nextInt(7) : 1; i > 0; i--) {
                bytes = mutateBytes(bytes);
            }
            return new Document("bytes", bytes, null);
        }

        private byte[] mutateBytes(byte[] in) {
            int n = in.length;
            int at = random.nextInt(n + 1);
            return switch (random.nextInt(10)) {
                case 0 -> {                                                    // flip a bit
                    byte[] out = in.clone();
                    if (n > 0) {
                        out[Math.min(at, n - 1)] ^= (byte) (1 << random.nextInt(8));
                    }
                    yield out;
                }
                case 1 -> {                                                    // a byte replaced
                    byte[] out = in.clone();
                    if (n > 0) {
                        out[Math.min(at, n - 1)] = interestingByte();
                    }
                    yield out;
                }
                case 2 -> insert(in, at, new byte[] {interestingByte()});
                case 3 -> insert(in, at, TOKENS[random.nextInt(TOKENS.length)].getBytes(StandardCharsets.UTF_8));
                case 4 -> {                                                    // a run deleted
                    int end = Math.min(n, at + 1 + random.nextInt(random.nextBoolean() ? 4 : 64));
                    yield concatBytes(slice(in, 0, at), slice(in, end, n));
                }
                case 5 -> {                                                    // a run repeated
                    int end = Math.min(n, at + 1 + random.nextInt(64));
                    yield insert(in, end, slice(in, at, end));
                }
                case 6 -> slice(in, 0, at);                                  // truncated
                case 7 -> {                                                    // two documents spliced
                    byte[] other = seed().text();
                    yield concatBytes(slice(in, 0, at), slice(other, random.nextInt(other.length + 1), other.length));
                }
                case 8 -> {                                                    // a run of another document inserted
                    byte[] other = seed().text();
                    int from = random.nextInt(other.length + 1);
                    yield insert(in, at, slice(other, from, Math.min(other.length, from + 1 + random.nextInt(200))));
                }
                default -> {                                                   // whitespace: often still the same document
                    int p = indexOfStructural(in, at);
                    yield p < 0 ? in : insert(in, p, List.of(" ", "\n", "\t", "\r\n", "  ").get(random.nextInt(5))
                            .getBytes(StandardCharsets.UTF_8));
                }
            };
        }

        private static int indexOfStructural(byte[] in, int from) {
            for (int i = from; i < in.length; i++) {
                if (in[i] == ',' || in[i] == '{' || in[i] == '[') {
                    return i + 1;
                }
            }
            return -1;
        }

        private byte interestingByte() {
            String structural = "\"{}[],:\\\u0000\n 0-e.ntf";
            return random.nextBoolean() ? (byte) random.nextInt(256) : (byte) structural.charAt(random.nextInt(structural.length()));
        }

        private static byte[] slice(byte[] in, int from, int to) {
            return java.util.Arrays.copyOfRange(in, from, to);
        }

        private static byte[] insert(byte[] in, int at, byte[] what) {
            return concatBytes(concatBytes(slice(in, 0, at), what), slice(in, at, in.length));
        }

        private static byte[] concatBytes(byte[] a, byte[] b) {
            byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, out, a.length, b.length);
            return out;
        }

        // ---- (3) at random

        private byte[] randomBytes() {
            byte[] bytes = new byte[random.nextInt(random.nextInt(10) == 0 ? 20_000 : 300)];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) random.nextInt(256);
            }
            if (bytes.length > 0 && random.nextBoolean()) {
                bytes[0] = '{';
            }
            return bytes;
        }

        private byte[] tokenSoup() {
            StringBuilder out = new StringBuilder(random.nextBoolean() ? "{" : "");
            for (int i = random.nextInt(200); i > 0; i--) {
                out.append(switch (random.nextInt(4)) {
                    case 0 -> TOKENS[random.nextInt(TOKENS.length)];
                    case 1 -> Json.encode(KEY_NAMES.get(random.nextInt(KEY_NAMES.size())));
                    case 2 -> RAW_VALUES.get(random.nextInt(RAW_VALUES.size() - 10)); // not the long ones
                    default -> Json.encode(ODD[random.nextInt(ODD.length)]);
                });
            }
            return out.toString().getBytes(StandardCharsets.UTF_8);
        }

        /** A document of the format's keys, with plausible or random values. */
        private JsonObject randomDocument() {
            boolean config = seeds.getFirst().tree().containsKey("site");
            JsonObject root = new JsonObject();
            if (config) {
                maybe(root, "name", 0.3, () -> pick("router-x", "r1", "a.b_c-d", "-bad", "x".repeat(65)));
                maybe(root, "lanes", 0.6, () -> pick(1, 1, 2, 0, 129));
                maybe(root, "cpus", 0.1, () -> new JsonArray().add(0));
                maybe(root, "mode", 0.3, () -> pick("flow", "single", "pcrypt", "parallel"));
                maybe(root, "steering", 0.3, () -> pick("director", "rss", "single"));
                maybe(root, "tunnelMtu", 0.3, () -> pick(1280, 1500, 9000, 1279));
                maybe(root, "statusSocket", 0.2, () -> pick("/run/x.sock", "relative.sock"));
                maybe(root, "stateDirectory", 0.2, () -> pick("/var/lib/x", "state"));
                maybe(root, "site", 0.9, () -> {
                    JsonObject site = new JsonObject();
                    maybe(site, "device", 0.9, () -> pick("fs0", "fs-1", "tun.x", "bad name"));
                    maybe(site, "addresses", 0.9, () -> new JsonArray().add(pick("10.0.0.1/24", "fd00::1/64", "10.0.0.1")));
                    maybe(site, "routes", 0.5, () -> new JsonArray().add(pick("10.2.0.0/16", "2001:db8::/32")));
                    maybe(site, "mtu", 0.3, () -> pick(576, 1400, 575));
                    return site;
                });
            }
            maybe(root, "policies", 0.95, () -> {
                JsonArray policies = new JsonArray();
                for (int i = 1 + random.nextInt(3); i > 0; i--) {
                    policies.add(randomPolicy(i));
                }
                return policies;
            });
            return root;
        }

        private JsonObject randomPolicy(int number) {
            JsonObject p = new JsonObject();
            String suite = pick(SUITES.toArray(new String[0]));
            boolean v6 = random.nextInt(4) == 0;
            maybe(p, "name", 0.7, () -> "p" + number);
            maybe(p, "local", 0.8, () -> v6 ? pick("2001:db8:1::/48", "any") : pick("10.1.0.0/16", "any", "10.1.0.1"));
            maybe(p, "remote", 0.8, () -> v6 ? pick("2001:db8:2::/48", "any") : pick("10.2.0.0/16", "0.0.0.0/0"));
            maybe(p, "protocol", 0.2, () -> pick("tcp", "udp", 6, 0, "any", 300));
            maybe(p, "localPorts", 0.15, () -> pick("any", 443, "1-1024", "9-1"));
            maybe(p, "remotePorts", 0.15, () -> pick("any", 443, "1024-65535"));
            maybe(p, "action", 0.2, () -> pick("protect", "protect", "bypass", "discard"));
            maybe(p, "suite", 0.85, () -> suite);
            maybe(p, "esn", 0.2, random::nextBoolean);
            maybe(p, "replayWindow", 0.2, () -> pick(0, 64, 1024, 65536, 100));
            maybe(p, "encapsulation", 0.2, () -> pick("udp", "esp"));
            maybe(p, "localAddress", 0.85, () -> v6 ? "2001:db8::1" : "192.0.2.1");
            maybe(p, "remoteAddress", 0.85, () -> v6 ? "2001:db8::2" : "192.0.2.2");
            maybe(p, "port", 0.3, () -> pick(4500, 4501, 0));
            maybe(p, "encoding", 0.3, () -> pick("spi", "udp-port", "address"));
            maybe(p, "nextHop", 0.1, () -> "192.0.2.2");
            for (String direction : List.of("outbound", "inbound")) {
                maybe(p, direction, 0.8, () -> {
                    JsonArray sas = new JsonArray();
                    for (int i = random.nextInt(5); i > 0; i--) {
                        sas.add(randomSa(suite, number, i));
                    }
                    return sas;
                });
            }
            return p;
        }

        private JsonObject randomSa(String suite, int policy, int index) {
            JsonObject sa = new JsonObject();
            boolean integrity = suite.contains("hmac");
            boolean encryption = !suite.startsWith("null");
            int keyBytes = switch (suite) {
                case "aes-gcm-128" -> 20;
                case "aes-gcm-192" -> 28;
                case "aes-cbc-128-hmac-sha1-96" -> 16;
                case "aes-cbc-256-hmac-sha256-128" -> 32;
                default -> 36;
            };
            long spi = 256 + random.nextLong(0xFFFF_FFFFL - 255);
            maybe(sa, "name", 0.3, () -> "sa-" + policy + "-" + index + "-" + random.nextInt(1000));
            maybe(sa, "spi", 0.95, () -> pick("0x" + Long.toHexString(spi), Long.toString(spi), spi, 255, "0xzz"));
            maybe(sa, "key", encryption ? 0.95 : 0.05, () -> key(random.nextInt(8) == 0 ? 17 : keyBytes, random.nextInt(40)));
            maybe(sa, "integrityKey", integrity ? 0.95 : 0.05,
                    () -> key(suite.contains("sha1") ? 20 : 32, random.nextInt(60)));
            maybe(sa, "sourcePort", 0.3, () -> 4500 + random.nextInt(100));
            maybe(sa, "port", 0.1, () -> 4500 + random.nextInt(100));
            maybe(sa, "replayWindow", 0.1, () -> pick(0, 128, 65536));
            maybe(sa, "lifetime", 0.15, () -> {
                JsonObject lifetime = new JsonObject();
                for (String limit : List.of("softBytes", "hardBytes", "softPackets", "hardPackets", "softSeconds", "hardSeconds")) {
                    maybe(lifetime, limit, 0.3, () -> pick(0, 100, 1000, 1L << 40, -1));
                }
                return lifetime;
            });
            return sa;
        }

        private void maybe(JsonObject object, String key, double chance, java.util.function.Supplier<Object> value) {
            if (random.nextDouble() < chance) {
                object.put(key, random.nextInt(25) == 0 ? value(1) : value.get());
            }
        }

        @SafeVarargs
        private <T> T pick(T... choices) {
            return choices[random.nextInt(choices.length)];
        }
    }
}
