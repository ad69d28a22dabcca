package io.flowsec.appliance.config;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads a configuration file that must hold one JSON object, with errors that name the file and never echo a key.
 * <ol>
 *   <li>only a regular file (not a device, a FIFO or a directory; links are followed), of at most
 *       {@link #MAX_BYTES}, read with that bound, so /dev/zero or a FIFO cannot exhaust memory or hang a start;</li>
 *   <li>strict JSON: a key given twice in one object and comments are refused (the last key would silently win, and
 *       a comment hides what a reviewer reads);</li>
 *   <li>one object at the top level.</li>
 * </ol>
 */
final class JsonFiles {
    /** Far above any configuration (65,536 SAs of about 150 bytes each fit), far below trouble. */
    static final int MAX_BYTES = 16 << 20;
    private static final JsonFactory STRICT = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    private JsonFiles() {
    }

    /** @param what how the file is called in messages, e.g. "SA file" or "configuration" */
    static JsonObject readObject(Path path, String what) throws ConfigException {
        return parseObject(readRegularFile(path, what), path);
    }

    /**
     * Steps 2 and 3, on text read from {@code path} or about to be written there: {@link ConfigurationFile} checks
     * what it writes with them, so that it writes only what {@link #readObject} accepts.
     */
    static JsonObject parseObject(String text, Path path) throws ConfigException {
        try (JsonParser parser = STRICT.createParser(text)) {
            while (parser.nextToken() != null) {
                // walking every token is the check: duplicates and comments throw here
            }
        } catch (IOException e) {
            String message = e.getMessage() == null ? "malformed" : e.getMessage().lines().findFirst().orElse("malformed");
            // the parser quotes the token it choked on, which may be an unquoted key: leave it out
            throw new ConfigException("", path + " is not valid JSON: "
                    + message.replaceAll("Unrecognized token '[^']*'", "Unrecognized token")
                    + location(e));
        }
        Object decoded;
        try {
            decoded = Json.decodeValue(text);
        } catch (DecodeException e) {
            throw new ConfigException("", path + " is not valid JSON");
        }
        if (!(decoded instanceof JsonObject root)) {
            throw new ConfigException("", path + " must hold a JSON object at the top level");
        }
        return root;
    }

    private static String location(IOException e) {
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException processing && processing.getLocation() != null) {
            return " (line " + processing.getLocation().getLineNr() + ", column " + processing.getLocation().getColumnNr() + ")";
        }
        return "";
    }

    private static String readRegularFile(Path path, String what) throws ConfigException {
        if (!Files.exists(path)) {
            throw new ConfigException("", what + " " + path + " does not exist");
        }
        if (!Files.isRegularFile(path)) {
            throw new ConfigException("", what + " " + path + " is not a regular file");
        }
        try (InputStream in = Files.newInputStream(path)) {
            byte[] bytes = in.readNBytes(MAX_BYTES + 1);
            if (bytes.length > MAX_BYTES) {
                throw new ConfigException("", what + " " + path + " is larger than " + (MAX_BYTES >> 20) + " MiB");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException("", what + " " + path + " does not exist");
        } catch (IOException e) {
            throw new ConfigException("", "cannot read " + what + " " + path + ": " + e.getMessage());
        }
    }
}
