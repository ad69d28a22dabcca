package io.flowsec.appliance.cli;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.TestPaths;
import io.flowsec.control.security.TokenStore;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code flowsec token}: a new token on standard output once, and only its hash in the configuration's tokens file;
 * list and remove by name; refusals in one line.
 */
class TokenCommandTest {
    @TempDir
    Path directory;
    private Path config;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @BeforeEach
    void writeConfiguration() throws Exception {
        JsonObject json = new JsonObject(Files.readString(TestPaths.examples().resolve("router-b.json")))
                .put("stateDirectory", directory.resolve("state").toString());
        config = Files.writeString(directory.resolve("router-b.json"), json.encodePrettily());
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
    }

    private int flowsec(String... args) {
        out.reset();
        err.reset();
        return Main.run(List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void aNewTokenIsPrintedOnceAndOnlyItsHashIsKept() throws Exception {
        assertEquals(0, flowsec("token", "add", "--config", config.toString(), "--name", "ops", "--role", "admin"));
        String token = out.toString(StandardCharsets.UTF_8).strip();
        assertTrue(token.startsWith("fsk_") && !token.contains("\n"), "standard output holds the token alone: " + token);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("shown only now"));
        Path tokens = directory.resolve("state").resolve("api-tokens.json");
        assertFalse(Files.readString(tokens).contains(token), "the file keeps the hash, not the token");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tokens)));
        assertEquals("ops", TokenStore.open(tokens).authenticate(token).orElseThrow().name());

        assertEquals(0, flowsec("token", "add", "--config", config.toString(), "--name", "monitor", "--role", "read-only"));
        assertEquals(0, flowsec("token", "list", "--config", config.toString()));
        assertEquals("ops\tadmin\nmonitor\tread-only\n", out.toString(StandardCharsets.UTF_8));
        assertEquals(0, flowsec("token", "remove", "--config", config.toString(), "--name", "ops"));
        assertTrue(TokenStore.open(tokens).authenticate(token).isEmpty(), "a removed token no longer authenticates");
    }

    @Test
    void aBadRoleAnUnknownNameAndAMissingConfigurationAreOneLineRefusals() {
        assertEquals(2, flowsec("token", "add", "--config", config.toString(), "--name", "ops", "--role", "root"));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("flowsec: ") && err.toString(StandardCharsets.UTF_8).contains("read-only"),
                err.toString(StandardCharsets.UTF_8));
        assertEquals(2, flowsec("token", "remove", "--config", config.toString(), "--name", "nobody"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("no token named 'nobody'"), err.toString(StandardCharsets.UTF_8));
        assertEquals(2, flowsec("token", "list", "--config", directory.resolve("missing.json").toString()));
        assertEquals(1, err.toString(StandardCharsets.UTF_8).strip().lines().count(), err.toString(StandardCharsets.UTF_8));
    }
}
