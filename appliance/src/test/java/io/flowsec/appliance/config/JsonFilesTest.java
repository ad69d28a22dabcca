package io.flowsec.appliance.config;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a configuration file may be: a bounded regular file of strict JSON. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class JsonFilesTest {
    @TempDir
    Path directory;

    private String refusal(Path file) {
        return assertThrows(ConfigException.class, () -> JsonFiles.readObject(file, "configuration")).getMessage();
    }

    @Test
    void aKeyGivenTwiceInOneObjectIsRefusedNotSilentlyTheLastOne() throws Exception {
        Path file = Files.writeString(directory.resolve("twice.json"), "{\n  \"lanes\": 2,\n  \"lanes\": 4\n}\n");
        String message = refusal(file);
        assertTrue(message.contains("Duplicate field 'lanes'"), message);
        assertTrue(message.contains("line 3"), message);
    }

    @Test
    void commentsAreRefused() throws Exception {
        Path file = Files.writeString(directory.resolve("commented.json"), "{ // lanes\n \"lanes\": 2 }");
        assertTrue(refusal(file).contains("not valid JSON"));
    }

    @Test
    void aDeviceIsRefusedAtOnceInsteadOfReadUntilMemoryRunsOut() {
        String message = refusal(Path.of("/dev/zero"));
        assertTrue(message.contains("is not a regular file"), message);
    }

    @Test
    void aFifoIsRefusedInsteadOfWaitedOnForEver() throws Exception {
        Path fifo = directory.resolve("fifo.json");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertEquals(0, mkfifo.waitFor());
        assertTrue(refusal(fifo).contains("is not a regular file"));
    }

    @Test
    void aFileLargerThanAnyConfigurationIsRefused() throws Exception {
        Path large = directory.resolve("large.json");
        Files.write(large, new byte[JsonFiles.MAX_BYTES + 1]);
        assertTrue(refusal(large).contains("is larger than 16 MiB"));
    }

    @Test
    void aSoundFileReadsAsItsObject() throws Exception {
        Path file = Files.writeString(directory.resolve("ok.json"), "{\"name\": \"router-b\", \"lanes\": 2}");
        assertEquals(new JsonObject().put("name", "router-b").put("lanes", 2), JsonFiles.readObject(file, "configuration"));
    }

    @Test
    void keysAreAsciiHexOnlyNotFullWidthOrOtherScriptsDigits() {
        JsonObject sa = new JsonObject().put("policies", new io.vertx.core.json.JsonArray().add(new JsonObject()
                .put("name", "p").put("local", "10.1.0.0/16").put("remote", "10.2.0.0/16").put("suite", "aes-gcm-128")
                .put("localAddress", "192.0.2.1").put("remoteAddress", "192.0.2.2")
                .put("outbound", new io.vertx.core.json.JsonArray().add(new JsonObject().put("spi", "0x1001")
                        .put("key", "０１" + "00".repeat(19))))));
        ConfigException refused = assertThrows(ConfigException.class, () -> SaFile.parse(sa));
        assertTrue(refused.getMessage().contains("not a hex digit at position 0"), refused.getMessage());
        assertFalse(refused.getMessage().contains("０１"), "the key is not repeated");
    }
}
