package io.flowsec.appliance.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads a configuration file that must hold one JSON object, with errors that name the file and never echo a key. */
final class JsonFiles {
    private JsonFiles() {
    }

    /** @param what how the file is called in messages, e.g. "SA file" or "configuration" */
    static JsonObject readObject(Path path, String what) throws ConfigException {
        String text;
        try {
            text = Files.readString(path);
        } catch (NoSuchFileException e) {
            throw new ConfigException("", what + " " + path + " does not exist");
        } catch (IOException e) {
            throw new ConfigException("", "cannot read " + what + " " + path + ": " + e.getMessage());
        }
        Object decoded;
        try {
            decoded = Json.decodeValue(text);
        } catch (DecodeException e) {
            String message = e.getMessage() == null ? "malformed" : e.getMessage().lines().findFirst().orElse("malformed");
            // the parser quotes the token it choked on, which may be an unquoted key: leave it out
            throw new ConfigException("", path + " is not valid JSON: "
                    + message.replaceAll("Unrecognized token '[^']*'", "Unrecognized token"));
        }
        if (!(decoded instanceof JsonObject root)) {
            throw new ConfigException("", path + " must hold a JSON object at the top level");
        }
        return root;
    }
}
