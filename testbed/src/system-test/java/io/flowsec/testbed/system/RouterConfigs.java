package io.flowsec.testbed.system;

import io.flowsec.appliance.Main;
import io.flowsec.testbed.bench.balance.RouterApi;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What system tests share: a router's configuration from the example SA files (its API on or off), the CLI, and curl
 * against a router's API.
 */
final class RouterConfigs {
    private RouterConfigs() {
    }

    /** Router {@code name}'s configuration (0600) in {@code directory}: the example SA file, 2 lanes, flow mode. */
    static Path config(Path directory, String name, String saFile, String remoteSite, boolean api) throws Exception {
        JsonObject sa = new JsonObject(Files.readString(TestPaths.examples().resolve(saFile)));
        JsonObject config = new JsonObject().put("name", name).put("lanes", 2).put("mode", "flow")
                .put("site", new JsonObject().put("device", "fs0")
                        .put("addresses", new JsonArray().add(name.endsWith("a") ? "10.255.0.1/32" : "10.255.0.2/32"))
                        .put("routes", new JsonArray().add(remoteSite)))
                .put("statusSocket", directory.resolve(name + ".sock").toString())
                .put("stateDirectory", directory.resolve(name + "-state").toString())
                .put("api", new JsonObject().put("enabled", api))
                .put("policies", sa.getJsonArray("policies"));
        Path path = directory.resolve(name + ".json");
        Files.writeString(path, config.encodePrettily());
        Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return path;
    }

    /** {@code flowsec ARGS} in this JVM; its standard output, after checking it succeeded. */
    static String flowsec(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }

    /** curl in {@code namespace} against each of {@code urls}, as {@link RouterApi#curl} runs it. */
    static String curl(String namespace, Path caCertificate, String token, String method, String body,
                       List<String> extra, String... urls) throws Exception {
        return RouterApi.curl(namespace, caCertificate, token, method, body, extra, urls);
    }
}
