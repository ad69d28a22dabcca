package io.flowsec.appliance.cli;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.TestPaths;
import io.flowsec.appliance.runtime.StatusServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RunAndStatusCommandTest {
    /** A device name no one else uses: the run tests check it never appears (or is gone again). */
    private static final String DEVICE = "fscfgt" + (ProcessHandle.current().pid() % 100_000);
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    @TempDir
    Path dir;

    // ---------------------------------------------------------------------------------------------------------------
    // Running the command line

    record Result(int code, String out, String err) {
        List<String> errLines() {
            return err.isEmpty() ? List.of() : List.of(err.split("\n"));
        }

        /** Bad usage or input: exit 2, nothing on stdout, one line on stderr, no stack trace. */
        String usageError() {
            assertEquals(2, code, () -> "exit status; stderr: " + err);
            assertEquals("", out, "nothing on stdout");
            assertEquals(1, errLines().size(), () -> "one line on stderr: " + err);
            assertFalse(err.contains("\tat "), () -> "no stack trace: " + err);
            assertTrue(err.startsWith("flowsec: "), () -> "said by flowsec: " + err);
            return errLines().getFirst();
        }
    }

    private static Result run(Object... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> list = java.util.Arrays.stream(args).map(String::valueOf).toList();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = Main.run(list, o, e);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** A configuration as the README shows it, with site-b's policies and this test's device name. */
    private JsonObject config() throws IOException {
        JsonArray policies = new JsonObject(Files.readString(TestPaths.examples().resolve("site-b.sa.json")))
                .getJsonArray("policies");
        return new JsonObject()
                .put("name", "router-b")
                .put("lanes", 1)
                .put("site", new JsonObject().put("device", DEVICE)
                        .put("addresses", new JsonArray().add("10.254.77.1/32")))
                .put("statusSocket", dir.resolve("status/router-b.sock").toString())
                .put("stateDirectory", dir.resolve("state").toString())
                .put("policies", policies);
    }

    private Path write(String name, JsonObject config) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, config.encodePrettily());
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    private static boolean deviceExists(String device) throws IOException, InterruptedException {
        Process ip = new ProcessBuilder("ip", "link", "show", device).redirectErrorStream(true).start();
        ip.getInputStream().readAllBytes();
        assertTrue(ip.waitFor(10, TimeUnit.SECONDS), "ip link show finishes");
        return ip.exitValue() == 0;
    }

    /** Where we may look: as root, the device must not exist (the check is meaningless otherwise, so skipped). */
    private static void assertNoDevice() throws IOException, InterruptedException {
        if (ROOT) {
            assertFalse(deviceExists(DEVICE), "no TUN device " + DEVICE + " is left");
        }
    }

    /** After a failed test: a device left behind must not outlive it (nor break the next run of these tests). */
    private static void removeDevice() throws IOException, InterruptedException {
        if (deviceExists(DEVICE)) {
            new ProcessBuilder("ip", "link", "delete", DEVICE).redirectErrorStream(true).start().waitFor(10, TimeUnit.SECONDS);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // flowsec run

    @Test
    void run_without_a_configuration_is_a_usage_error() {
        String line = run("run").usageError();
        assertEquals("flowsec: run needs --config FILE [--fresh-sa-state] [--allow-readable-keys] (see flowsec --help)", line);
    }

    @Test
    void run_with_config_but_no_file_name_is_a_usage_error() {
        assertTrue(run("run", "--config").usageError().contains("run needs --config FILE"));
    }

    @Test
    void run_with_a_second_file_is_a_usage_error() throws IOException {
        Path file = write("router-b.json", config());
        assertTrue(run("run", "--config", file, file).usageError().contains("run needs --config FILE"));
    }

    @Test
    void run_with_a_file_that_does_not_exist_names_the_file() throws Exception {
        Path missing = dir.resolve("missing.json");

        String line = run("run", "--config", missing).usageError();

        assertEquals("flowsec: bad configuration: configuration " + missing + " does not exist", line);
        assertNoDevice();
    }

    @Test
    void run_with_a_file_that_is_not_JSON_names_the_file() throws Exception {
        Path file = dir.resolve("broken.json");
        Files.writeString(file, "{\"name\": \"router-b\",");

        String line = run("run", "--config", file).usageError();

        assertTrue(line.startsWith("flowsec: bad configuration: "), line);
        assertTrue(line.contains(file + " is not valid JSON"), line);
    }

    @Test
    void run_with_an_unknown_key_says_bad_configuration_with_the_key_and_starts_nothing() throws Exception {
        Path file = write("bad.json", config().put("lane", 2));

        String line = run("run", "--config", file).usageError();

        assertTrue(line.startsWith("flowsec: bad configuration: lane: unknown key (allowed: "), line);
        assertNoDevice();
        assertFalse(Files.exists(dir.resolve("status")), "no status socket (nor its directory)");
    }

    @Test
    void run_with_a_bad_policy_the_last_thing_read_starts_nothing_either() throws Exception {
        JsonObject config = config();
        config.getJsonArray("policies").getJsonObject(0).put("suite", "aes-gcm-129");
        Path file = write("bad-policy.json", config);

        String line = run("run", "--config", file).usageError();

        assertTrue(line.startsWith("flowsec: bad configuration: policies[0].suite: unknown suite 'aes-gcm-129'"), line);
        assertNoDevice();
        assertFalse(Files.exists(dir.resolve("status")), "no status socket (nor its directory)");
    }

    @Test
    void run_with_a_bad_key_never_shows_the_key() throws Exception {
        JsonObject config = config();
        JsonObject sa = config.getJsonArray("policies").getJsonObject(0).getJsonArray("inbound").getJsonObject(1);
        String key = sa.getString("key");
        sa.put("key", key.substring(0, 36));
        Path file = write("short-key.json", config);

        String line = run("run", "--config", file).usageError();

        assertTrue(line.contains("policies[0].inbound[1]"), line);
        for (int i = 0; i + 8 <= key.length(); i++) {
            assertFalse(line.contains(key.substring(i, i + 8)), line);
        }
    }

    @Test
    void run_help_prints_its_usage_and_succeeds() {
        for (String help : List.of("--help", "-h")) {
            Result result = run("run", help);
            assertEquals(0, result.code(), result::err);
            assertTrue(result.out().startsWith("Usage: flowsec run --config FILE"), result::out);
            assertEquals("", result.err());
        }
    }

    /**
     * Root only: the TUN device is made, then binding the tunnel socket fails (the port is taken by a socket without
     * SO_REUSEPORT). The appliance must close what it opened: the device is gone, no status socket appears.
     */
    @Test
    void a_failure_after_the_TUN_device_was_made_removes_it_again() throws Exception {
        assumeTrue(ROOT, "needs root (TUN device)");
        assumeFalse(deviceExists(DEVICE), "device " + DEVICE + " exists already");
        try (DatagramSocket taken = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            JsonObject config = config();
            config.getJsonArray("policies").getJsonObject(0)
                    .put("localAddress", "127.0.0.1").put("remoteAddress", "127.0.0.2").put("port", taken.getLocalPort());
            Path file = write("port-taken.json", config);

            Result result = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> run("run", "--config", file));

            assertEquals(1, result.code(), () -> "failure while running; stderr: " + result.err());
            assertFalse(result.err().contains("\tat "), result::err);
            String last = result.errLines().getLast();
            assertTrue(last.startsWith("flowsec: ") && last.contains("127.0.0.1:" + taken.getLocalPort()), last);
            assertFalse(deviceExists(DEVICE), "the TUN device is removed again");
            assertFalse(Files.exists(dir.resolve("status/router-b.sock")), "no status socket");
        } finally {
            removeDevice();
        }
    }

    /**
     * Root only: the appliance starts, then its status socket cannot be made (its directory would be a file). Run must
     * close the appliance again rather than leave the device behind.
     */
    @Test
    void a_status_socket_that_cannot_be_made_stops_the_started_appliance_again() throws Exception {
        assumeTrue(ROOT, "needs root (TUN device)");
        assumeFalse(deviceExists(DEVICE), "device " + DEVICE + " exists already");
        int port;
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            port = probe.getLocalPort();
        }
        Path notADirectory = Files.writeString(dir.resolve("plain-file"), "");
        JsonObject config = config().put("statusSocket", notADirectory.resolve("router-b.sock").toString());
        config.getJsonArray("policies").getJsonObject(0)
                .put("localAddress", "127.0.0.1").put("remoteAddress", "127.0.0.2").put("port", port);
        Path file = write("status-unmakeable.json", config);
        try {
            Result result = assertTimeoutPreemptively(Duration.ofSeconds(60),
                    () -> run("run", "--config", file, "--fresh-sa-state"));

            assertEquals(1, result.code(), () -> "failure while running; stderr: " + result.err());
            assertFalse(result.err().contains("\tat "), result::err);
            assertFalse(deviceExists(DEVICE), "the TUN device is removed again");
        } finally {
            removeDevice();
        }
    }

    @Test
    void a_configuration_holding_keys_that_others_can_read_is_refused_like_an_ssh_private_key() throws Exception {
        Path file = write("readable.json", config());
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        Result result = run("run", "--config", file);
        assertEquals(2, result.code(), result.err());
        assertTrue(result.err().contains("holds keys and group or others can reach it (rw-r--r--): chmod 600 it"),
                result.err());
        assertFalse(result.err().contains("\tat "), result.err());
    }

    @Test
    void a_site_device_that_exists_already_is_never_joined() throws Exception {
        assumeTrue(ROOT, "needs root (TUN device)");
        assumeFalse(deviceExists(DEVICE), "device " + DEVICE + " exists already");
        Process add = new ProcessBuilder("ip", "tuntap", "add", "dev", DEVICE, "mode", "tun", "multi_queue")
                .redirectErrorStream(true).start();
        assertEquals(0, add.waitFor(), new String(add.getInputStream().readAllBytes()));
        try {
            Path file = write("taken-device.json", config());
            Result result = assertTimeoutPreemptively(Duration.ofSeconds(60),
                    () -> run("run", "--config", file, "--fresh-sa-state"));
            assertEquals(1, result.code(), result::err);
            assertTrue(result.err().contains("site.device " + DEVICE + " exists already"), result.err());
            assertTrue(deviceExists(DEVICE), "the other owner's device is left alone");
        } finally {
            new ProcessBuilder("ip", "tuntap", "del", "dev", DEVICE, "mode", "tun", "multi_queue").start().waitFor();
        }
    }

    @Test
    void an_aead_sa_without_sequence_state_is_refused_unless_its_key_is_declared_fresh() throws Exception {
        assumeTrue(ROOT, "needs root (TUN device)");
        assumeFalse(deviceExists(DEVICE), "device " + DEVICE + " exists already");
        int port;
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            port = probe.getLocalPort();
        }
        JsonObject config = config();
        config.getJsonArray("policies").getJsonObject(0)
                .put("localAddress", "127.0.0.1").put("remoteAddress", "127.0.0.2").put("port", port);
        Path file = write("no-state.json", config);
        try {
            Result result = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> run("run", "--config", file));

            assertEquals(2, result.code(), result::err);
            assertTrue(result.err().contains("no sequence state for this manually keyed aes-gcm-128 SA"), result.err());
            assertTrue(result.err().contains("--fresh-sa-state"), result.err());
            assertFalse(result.err().contains("\tat "), result::err);
            assertFalse(deviceExists(DEVICE), "the TUN device is removed again");
            try (var files = Files.list(dir.resolve("state"))) {
                assertEquals(0, files.filter(entry -> entry.toString().endsWith(".state")).count(),
                        "nothing was reserved for a refused start");
            }
        } finally {
            removeDevice();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // flowsec status

    @Test
    void status_without_a_socket_asks_the_api_and_without_a_token_says_how_to_get_one() {
        assumeTrue(System.getenv("FLOWSEC_TOKEN") == null, "a token in the environment would be used");
        assertTrue(run("status").usageError().startsWith("flowsec: no API token: give --token-file PATH"));
    }

    @Test
    void status_with_socket_but_no_path_is_a_usage_error() {
        assertTrue(run("status", "--socket").usageError().contains("status needs --socket PATH"));
    }

    @Test
    void status_help_prints_its_usage_and_succeeds() {
        for (String help : List.of("--help", "-h")) {
            Result result = run("status", help);
            assertEquals(0, result.code(), result::err);
            assertTrue(result.out().startsWith("Usage: flowsec [CONNECTION] [--json] COMMAND"), result::out);
            assertTrue(result.out().contains("'flowsec status --socket PATH'"), "the socket's form too: " + result.out());
            assertEquals("", result.err());
        }
    }

    @Test
    void status_on_a_path_where_nothing_is_says_no_appliance_listens_there() {
        String line = run("status", "--socket", "/nonexistent/flowsec/router-b.sock").usageError();

        assertTrue(line.startsWith("flowsec: no appliance is listening on /nonexistent/flowsec/router-b.sock"), line);
        assertTrue(line.contains("is it running?"), line);
    }

    @Test
    void status_on_a_plain_file_says_no_appliance_answers_there() throws IOException {
        Path file = Files.writeString(dir.resolve("not-a-socket"), "{}");

        String line = run("status", "--socket", file).usageError();

        assertTrue(line.startsWith("flowsec: no appliance answers on " + file), line);
    }

    @Test
    void status_on_the_socket_of_an_appliance_that_died_says_no_appliance_answers_there() throws IOException {
        Path path = dir.resolve("stale.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(Files.exists(path), "a dead process leaves its socket file");

        String line = run("status", "--socket", path).usageError();

        assertTrue(line.startsWith("flowsec: no appliance answers on " + path), line);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The status server and flowsec status together

    private static final String STATUS = new JsonObject().put("name", "router-b").put("transport", "io_uring")
            .put("lanes", new JsonArray().add(new JsonObject().put("lane", 0).put("io", new JsonObject().put("batches", 7))))
            .put("totals", new JsonObject().put("accepted", 12)).encodePrettily();

    @Test
    void status_prints_what_the_status_server_answers() throws Exception {
        Path path = dir.resolve("run/flowsec/router-b.sock");
        try (StatusServer server = StatusServer.start(path, () -> STATUS)) {
            Result result = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> run("status", "--socket", path));

            assertEquals(0, result.code(), result::err);
            assertEquals("", result.err());
            assertEquals(STATUS + "\n", result.out());
            assertEquals(new JsonObject(STATUS), new JsonObject(result.out()));
        }
    }

    @Test
    void the_control_socket_is_for_its_owner_only_since_rekey_requests_carry_keys() throws Exception {
        Path path = dir.resolve("owner-only.sock");
        try (StatusServer server = StatusServer.start(path, () -> STATUS)) {
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    java.nio.file.Files.getPosixFilePermissions(path)));
        }
    }

    @Test
    void every_status_query_gets_the_status_of_that_moment() throws Exception {
        Path path = dir.resolve("router-b.sock");
        AtomicInteger calls = new AtomicInteger();
        try (StatusServer server = StatusServer.start(path, () -> new JsonObject().put("query", calls.incrementAndGet()).encode())) {
            for (int i = 1; i <= 3; i++) {
                Result result = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> run("status", "--socket", path));
                assertEquals(0, result.code(), result::err);
                assertEquals(i, new JsonObject(result.out()).getInteger("query"));
            }
        }
    }

    @Test
    void a_status_larger_than_one_read_arrives_whole() throws Exception {
        Path path = dir.resolve("big.sock");
        JsonArray sas = new JsonArray();
        for (int i = 0; i < 5000; i++) {
            sas.add(new JsonObject().put("name", "sa-" + i).put("spi", String.format("0x%08x", 0x1000 + i)).put("packets", i));
        }
        String big = new JsonObject().put("sas", sas).encode();
        assertTrue(big.length() > 100_000);
        try (StatusServer server = StatusServer.start(path, () -> big)) {
            Result result = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> run("status", "--socket", path));

            assertEquals(0, result.code(), result::err);
            assertEquals(big + "\n", result.out());
        }
    }

    @Test
    void closing_the_status_server_removes_its_socket_file() throws Exception {
        Path path = dir.resolve("router-b.sock");
        StatusServer server = StatusServer.start(path, () -> STATUS);
        assertTrue(Files.exists(path), "the socket file is there while it runs");

        server.close();

        assertFalse(Files.exists(path), "the socket file is removed");
        assertTrue(run("status", "--socket", path).usageError().contains("no appliance is listening on " + path));
    }

    @Test
    void a_status_server_replaces_a_socket_file_left_by_a_dead_appliance() throws Exception {
        Path path = dir.resolve("router-b.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        try (StatusServer server = StatusServer.start(path, () -> STATUS)) {
            Result result = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> run("status", "--socket", path));
            assertEquals(0, result.code(), result::err);
            assertEquals(STATUS + "\n", result.out());
        }
    }

    @Test
    void a_status_that_fails_once_does_not_stop_the_status_server() throws Exception {
        Path path = dir.resolve("router-b.sock");
        AtomicInteger calls = new AtomicInteger();
        try (StatusServer server = StatusServer.start(path, () -> {
            if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("counters not ready");
            }
            return STATUS;
        })) {
            Result failed = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> run("status", "--socket", path));
            assertFalse(failed.code() == 0 && failed.out().isBlank(),
                    () -> "a query the appliance could not answer does not pass for an empty status: " + failed);

            Result result = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> run("status", "--socket", path),
                    "the second query is answered rather than left hanging");
            assertEquals(0, result.code(), result::err);
            assertEquals(STATUS + "\n", result.out());
        }
    }
}
