package io.flowsec.appliance.cli;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The command line's client of a running appliance's control API. Where to connect and as whom comes, first found
 * first, from the flags ({@code --api URL}, {@code --token-file PATH}, {@code --cacert PATH}), the environment
 * ({@code FLOWSEC_API}, {@code FLOWSEC_TOKEN}, {@code FLOWSEC_CACERT}) and a client file ({@code FLOWSEC_CLIENT_CONFIG}
 * or {@code ~/.config/flowsec/client.json}: {@code {"api": URL, "tokenFile": PATH, "cacert": PATH}}). A token is never
 * taken from the command line itself, where {@code ps} would show it. A refusal comes back as the problem's title,
 * detail and field in one line.
 */
final class ApiClient {
    static final String DEFAULT_API = "https://127.0.0.1:8443/api/v1";
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final URI base;
    private final String token;
    private final HttpClient http;

    private ApiClient(URI base, String token, HttpClient http) {
        this.base = base;
        this.token = token;
        this.http = http;
    }

    /** Takes the connection flags out of {@code args} (what is left goes to the command) and connects lazily. */
    static ApiClient from(List<String> args, Map<String, String> environment) throws UsageException, IOException {
        JsonObject file = clientFile(environment);
        String api = first(take(args, "--api"), environment.get("FLOWSEC_API"), file.getString("api"), DEFAULT_API);
        String tokenFile = first(take(args, "--token-file"), null, file.getString("tokenFile"), null);
        String cacert = first(take(args, "--cacert"), environment.get("FLOWSEC_CACERT"), file.getString("cacert"), null);
        String token = tokenFile != null ? Files.readString(Path.of(tokenFile)).strip() : environment.get("FLOWSEC_TOKEN");
        if (token == null || token.isBlank()) {
            throw new UsageException("no API token: give --token-file PATH, set FLOWSEC_TOKEN, or name tokenFile in "
                    + "the client file (make one with: flowsec token add --config FILE --name NAME --role read-only)");
        }
        URI base;
        try {
            base = URI.create(api.endsWith("/") ? api : api + "/");
        } catch (IllegalArgumentException e) {
            throw new UsageException("--api must be a URL like " + DEFAULT_API + ", got '" + api + "'");
        }
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        if (cacert != null) {
            builder.sslContext(trusting(Path.of(cacert)));
        }
        return new ApiClient(base, token.strip(), builder.build());
    }

    record Reply(int status, String body) {
    }

    /** Sends one request; a problem reply becomes a {@link UsageException} (4xx) or an {@link IOException}. */
    String send(String method, String path, JsonObject body) throws UsageException, IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path.startsWith("/") ? path.substring(1) : path))
                .timeout(TIMEOUT).header("Authorization", "Bearer " + token).header("Accept", "application/json");
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body.encode()));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (java.net.ConnectException e) {
            throw new IOException("no API answers at " + base + " (is the appliance running? see its api section)");
        } catch (javax.net.ssl.SSLHandshakeException e) {
            throw new IOException("TLS with " + base + " failed (" + e.getMessage() + "); give the appliance's "
                    + "certificate with --cacert STATE_DIRECTORY/api-cert.pem");
        }
        if (response.statusCode() >= 400) {
            String problem = describe(response);
            if (response.statusCode() < 500) {
                throw new UsageException(problem);
            }
            throw new IOException(problem);
        }
        return response.body();
    }

    private static String describe(HttpResponse<String> response) {
        try {
            JsonObject problem = new JsonObject(response.body());
            String field = problem.getString("field");
            return problem.getString("title", "HTTP " + response.statusCode()) + ": " + problem.getString("detail", "")
                    + (field == null ? "" : " (field " + field + ")");
        } catch (DecodeException | ClassCastException e) {
            return "HTTP " + response.statusCode();
        }
    }

    private static SSLContext trusting(Path certificate) throws UsageException {
        try (InputStream in = Files.newInputStream(certificate)) {
            Certificate trusted = CertificateFactory.getInstance("X.509").generateCertificate(in);
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            store.setCertificateEntry("flowsec-api", trusted);
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            throw new UsageException("--cacert " + certificate + ": not a readable PEM certificate (" + e.getMessage() + ")");
        }
    }

    private static JsonObject clientFile(Map<String, String> environment) throws UsageException {
        String configured = environment.get("FLOWSEC_CLIENT_CONFIG");
        Path path = configured != null ? Path.of(configured)
                : Path.of(environment.getOrDefault("HOME", "/root"), ".config", "flowsec", "client.json");
        if (!Files.isRegularFile(path)) {
            if (configured != null) {
                throw new UsageException("FLOWSEC_CLIENT_CONFIG names " + path + ", which is not a file");
            }
            return new JsonObject();
        }
        try {
            return new JsonObject(Files.readString(path));
        } catch (IOException | DecodeException e) {
            throw new UsageException("client file " + path + " is not a JSON object: " + e.getMessage());
        }
    }

    /** Removes {@code --flag VALUE} from {@code args}; returns VALUE or null. */
    static String take(List<String> args, String flag) throws UsageException {
        int at = args.indexOf(flag);
        if (at < 0) {
            return null;
        }
        if (at + 1 >= args.size()) {
            throw new UsageException(flag + " needs a value");
        }
        String value = args.get(at + 1);
        args.remove(at + 1);
        args.remove(at);
        return value;
    }

    private static String first(String... candidates) {
        for (String candidate : candidates) {
            if (candidate != null && !candidate.isBlank()) {
                return candidate;
            }
        }
        return null;
    }

    static List<String> mutable(List<String> args) {
        return new ArrayList<>(args);
    }
}
