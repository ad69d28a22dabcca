package io.flowsec.testbed.bench.balance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A router's control API through curl in its namespace ({@code https://127.0.0.1:8443/api/v1}, trusting the
 * appliance's own certificate, a bearer token): curl because the API listens on the namespace's loopback, where a
 * socket of this JVM would have to be made on a thread inside it.
 */
public final class RouterApi {
    public static final String BASE = "https://127.0.0.1:8443/api/v1";
    /** Written by curl after each body: where one ends and its HTTP status. */
    private static final String SEPARATOR = "\n--flowsec-separator-- ";

    private final String namespace;
    private final Path certificate;
    private final String token;

    /** {@code certificate}: the appliance's {@code api-cert.pem} in its state directory. */
    public RouterApi(String namespace, Path certificate, String token) {
        this.namespace = namespace;
        this.certificate = certificate;
        this.token = token;
    }

    /** GET of each of {@code paths} (below {@link #BASE}) over one connection; the bodies in order. */
    public List<String> get(String... paths) throws IOException, InterruptedException {
        String[] urls = new String[paths.length];
        for (int i = 0; i < paths.length; i++) {
            urls[i] = BASE + paths[i];
        }
        String output = curl(namespace, certificate, token, "GET", null, List.of("-w", SEPARATOR + "%{http_code}\n"), urls);
        String[] parts = output.split(SEPARATOR, -1);
        if (parts.length != paths.length + 1) {
            throw new IOException(namespace + " GET " + String.join(" ", paths) + ": " + output);
        }
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < paths.length; i++) {
            String body = i == 0 ? parts[0] : parts[i].substring(parts[i].indexOf('\n') + 1);
            String status = parts[i + 1].lines().findFirst().orElse("");
            if (!status.startsWith("2")) {
                throw new IOException(namespace + " GET " + paths[i] + ": HTTP " + status + " " + body);
            }
            bodies.add(body);
        }
        return bodies;
    }

    /** PUT of {@code json} at {@code path}; the answer's body, or an IOException naming a refusal. */
    public String put(String path, String json) throws IOException, InterruptedException {
        String output = curl(namespace, certificate, token, "PUT", json, List.of("-w", SEPARATOR + "%{http_code}"), BASE + path);
        int mark = output.lastIndexOf(SEPARATOR);
        String status = mark < 0 ? "" : output.substring(mark + SEPARATOR.length()).strip();
        if (!status.startsWith("2")) {
            throw new IOException(namespace + " PUT " + path + " " + json + ": HTTP " + status + " " + output);
        }
        return output.substring(0, mark);
    }

    /**
     * curl in {@code namespace} against each of {@code urls}: with {@code caCertificate} it trusts that certificate
     * only (null: the system's, which an appliance's self-signed one is not), with {@code token} as bearer (null:
     * none), {@code body} as JSON (null: none), {@code extra} (e.g. {@code -w}) before the URLs. Its output, stderr
     * included.
     */
    public static String curl(String namespace, Path caCertificate, String token, String method, String body,
                              List<String> extra, String... urls) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", namespace, "curl", "-sS",
                "--max-time", "20", "-X", method));
        if (caCertificate != null) {
            command.addAll(List.of("--cacert", caCertificate.toString()));
        }
        if (token != null) {
            command.addAll(List.of("-H", "Authorization: Bearer " + token));
        }
        if (body != null) {
            command.addAll(List.of("-H", "Content-Type: application/json", "--data", body));
        }
        command.addAll(extra);
        command.addAll(List.of(urls));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IOException("curl in " + namespace + " did not finish in 30 s");
        }
        return output;
    }
}
