package io.flowsec.dataplane.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flowsec.dataplane.crypto.EspSuite;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * scapy's IPsec layer as an ESP peer: {@code src/test/python/scapy_esp_peer.py} run by Debian's
 * {@code /usr/bin/python3} (not a pyenv or venv python, which lacks python3-scapy), one process per batch of jobs,
 * JSON on stdin and stdout.
 */
final class ScapyPeer {
    /** The interpreter with Debian's python3-scapy; FLOWSEC_SCAPY_PYTHON overrides it. */
    static final String PYTHON = System.getenv().getOrDefault("FLOWSEC_SCAPY_PYTHON", "/usr/bin/python3");
    private static final long TIMEOUT_SECONDS = 120;
    static final ObjectMapper JSON = new ObjectMapper();

    private final Path script;
    private final String version;
    private final Map<EspSuite, Boolean> esnSupported;
    private final Map<EspSuite, String> lacking;
    private final boolean natTIpv4UdpLengthRight;
    private final boolean natTIpv6UdpChecksum;

    private ScapyPeer(Path script, JsonNode capabilities) {
        this.script = script;
        this.version = capabilities.path("scapy").asText("?");
        this.esnSupported = new HashMap<>();
        this.lacking = new HashMap<>();
        for (EspSuite suite : EspSuite.values()) {
            JsonNode entry = capabilities.path("suites").path(suite.configName());
            if (entry.isMissingNode()) {
                continue;
            }
            if (entry.path("available").asBoolean(false)) {
                esnSupported.put(suite, entry.path("esn").asBoolean(false));
            } else {
                lacking.put(suite, entry.path("lacking").toString());
            }
        }
        this.natTIpv4UdpLengthRight = capabilities.path("natTIpv4UdpLengthRight").asBoolean(true);
        this.natTIpv6UdpChecksum = capabilities.path("natTIpv6UdpChecksum").asBoolean(true);
    }

    /** Why the peer cannot run: python or scapy or python3-cryptography missing. Anything else is a failure. */
    static final class Unavailable extends Exception {
        Unavailable(String message) {
            super(message);
        }
    }

    /** Starts the script once to learn what the installed scapy can do. */
    static ScapyPeer locate() throws Unavailable {
        Path script = findScript();
        if (!Files.isExecutable(Path.of(PYTHON))) {
            throw new Unavailable(PYTHON + " does not exist or is not executable");
        }
        ObjectNode request = JSON.createObjectNode().put("op", "capabilities");
        Result result = run(script, request);
        if (result.exitCode == 3) {
            JsonNode answer = result.json();
            throw new Unavailable(answer.path("error").asText() + ": " + answer.path("detail").asText());
        }
        JsonNode answer = result.jsonOrFail();
        return new ScapyPeer(script, answer);
    }

    private static Path findScript() {
        List<Path> candidates = new ArrayList<>();
        String basedir = System.getProperty("basedir");
        if (basedir != null) {
            candidates.add(Path.of(basedir, "src/test/python/scapy_esp_peer.py"));
        }
        candidates.add(Path.of("src/test/python/scapy_esp_peer.py"));
        candidates.add(Path.of("dataplane-native/src/test/python/scapy_esp_peer.py"));
        for (Path candidate : candidates) {
            if (Files.isRegularFile(candidate)) {
                return candidate.toAbsolutePath();
            }
        }
        throw new IllegalStateException("scapy_esp_peer.py not found; looked at " + candidates);
    }

    String version() {
        return version;
    }

    /** False for a flowsec suite the script has no scapy algorithm names for: the script needs updating. */
    boolean maps(EspSuite suite) {
        return esnSupported.containsKey(suite) || lacking.containsKey(suite);
    }

    /** False where the installed scapy lacks an algorithm of the suite; {@link #lacking} names it. */
    boolean supports(EspSuite suite) {
        return esnSupported.containsKey(suite);
    }

    String lacking(EspSuite suite) {
        return lacking.getOrDefault(suite, "[]");
    }

    /** Whether scapy's ESP output for the suite authenticates the ESN high half (probed, not assumed). */
    boolean supportsEsn(EspSuite suite) {
        return esnSupported.getOrDefault(suite, false);
    }

    /** False where scapy writes UDP length 8 into its IPv4 NAT-T header (the script then repairs that field). */
    boolean natTIpv4UdpLengthRight() {
        return natTIpv4UdpLengthRight;
    }

    boolean natTIpv6UdpChecksum() {
        return natTIpv6UdpChecksum;
    }

    /** Runs a batch of jobs in one process; returns the result packets of each job by id. */
    Map<String, JsonNode> batch(List<ObjectNode> jobs) {
        ObjectNode request = JSON.createObjectNode().put("op", "batch");
        ArrayNode array = request.putArray("jobs");
        jobs.forEach(array::add);
        JsonNode answer = run(script, request).jsonOrFail();
        Map<String, JsonNode> byId = new HashMap<>();
        for (JsonNode result : answer.path("results")) {
            byId.put(result.path("id").asText(), result.path("packets"));
        }
        return byId;
    }

    private record Result(int exitCode, String stdout, String stderr) {
        JsonNode json() {
            try {
                return JSON.readTree(stdout);
            } catch (IOException e) {
                throw new AssertionError("scapy_esp_peer.py (exit " + exitCode + ") wrote no JSON: " + stdout
                        + "\nstderr:\n" + stderr, e);
            }
        }

        JsonNode jsonOrFail() {
            if (exitCode != 0) {
                throw new AssertionError("scapy_esp_peer.py failed with exit " + exitCode + ": " + stdout
                        + "\nstderr:\n" + stderr);
            }
            return json();
        }
    }

    private static Result run(Path script, JsonNode request) {
        Path stderrFile = null;
        Process process = null;
        try {
            stderrFile = Files.createTempFile("scapy-peer", ".stderr");
            process = new ProcessBuilder(PYTHON, script.toString())
                    .redirectError(stderrFile.toFile())
                    .start();
            try (OutputStream stdin = process.getOutputStream()) {
                JSON.writeValue(stdin, request);
            }
            byte[] stdout = process.getInputStream().readAllBytes();
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new AssertionError("scapy_esp_peer.py took more than " + TIMEOUT_SECONDS + " s");
            }
            return new Result(process.exitValue(), new String(stdout, StandardCharsets.UTF_8),
                    Files.readString(stderrFile));
        } catch (IOException e) {
            throw new AssertionError("cannot run " + PYTHON + " " + script + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while scapy worked", e);
        } finally {
            if (process != null && process.isAlive()) {
                process.destroyForcibly();
            }
            if (stderrFile != null) {
                try {
                    Files.deleteIfExists(stderrFile);
                } catch (IOException ignored) {
                    // a temp file left behind
                }
            }
        }
    }
}
