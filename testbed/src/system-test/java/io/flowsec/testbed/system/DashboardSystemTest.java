package io.flowsec.testbed.system;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.flowsec.testbed.demo.InNamespace.in;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The dashboard of a real appliance (router B of the test bed, its API on its namespace's loopback) in headless
 * Chromium, started in router B's namespace and driven over the DevTools protocol ({@link Chromium}), while host A
 * sends UDP to host B through the tunnel: the page loads under its content security policy, shows the appliance and
 * live load from the event stream, refuses a read-only token's change with the API's problem, and switches the
 * appliance's mode with an admin token. A screenshot is saved to {@code testbed/target/dashboard.png}, and to
 * {@code docs/dashboard.png} for the README when that is missing or {@code -Dflowsec.updateScreenshot=true}.
 * Needs root and Debian's {@code chromium} (skipped without it, unless FLOWSEC_REQUIRE_INTEROP=1).
 */
class DashboardSystemTest {
    private static final String PREFIX = "fsd" + ProcessHandle.current().pid() % 100000;
    private static final String API = "https://127.0.0.1:8443/api/v1";
    private static final String PAGE = "https://127.0.0.1:8443/";
    private static final int FLOWS = 16;
    private static final Duration LIVE_TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    static Path directory;
    private static Path chromiumExecutable;
    private static Topology topology;
    private static ApplianceProcess routerA;
    private static ApplianceProcess routerB;
    private static String adminToken;
    private static String readToken;
    private static volatile boolean sending;
    private static CompletableFuture<Long> traffic;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "system tests need root (namespaces, TUN)");
        chromiumExecutable = Chromium.executable().orElse(null);
        if (chromiumExecutable == null) {
            String problem = "no chromium on the PATH (Debian: apt-get install chromium)";
            if ("1".equals(System.getenv("FLOWSEC_REQUIRE_INTEROP"))) {
                fail(problem + "; FLOWSEC_REQUIRE_INTEROP=1 requires the dashboard's browser test");
            }
            assumeTrue(false, problem + " (FLOWSEC_REQUIRE_INTEROP=1 turns this skip into a failure)");
        }
        topology = Topology.create(PREFIX);
        routerA = ApplianceProcess.start(topology.routerA(), config("router-a", "site-a.sa.json", "10.2.0.0/16", false),
                directory.resolve("router-a.sock"), directory.resolve("router-a.log"));
        Path configB = config("router-b", "site-b.sa.json", "10.1.0.0/16", true);
        adminToken = flowsec("token", "add", "--config", configB.toString(), "--name", "ops", "--role", "admin").strip();
        readToken = flowsec("token", "add", "--config", configB.toString(), "--name", "monitor", "--role", "read-only").strip();
        routerB = ApplianceProcess.start(topology.routerB(), configB, directory.resolve("router-b.sock"),
                directory.resolve("router-b.log"), Map.of(), true);
        sending = true;
        traffic = in(topology.hostA(), DashboardSystemTest::sendUntilStopped);
    }

    @AfterAll
    static void stop() throws Exception {
        sending = false;
        if (traffic != null) {
            try {
                traffic.get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                System.err.println("dashboard test: host A's traffic ended with " + e.getCause());   // the tests saw it
            }
        }
        for (ApplianceProcess router : new ApplianceProcess[] {routerA, routerB}) {
            if (router != null) {
                router.close();
            }
        }
        if (topology != null) {
            topology.close();
        }
    }

    private static Path config(String name, String saFile, String remoteSite, boolean api) throws Exception {
        return RouterConfigs.config(directory, name, saFile, remoteSite, api);
    }

    private static String flowsec(String... args) {
        return RouterConfigs.flowsec(args);
    }

    /** Host A's UDP to host B (the discard port) on {@value #FLOWS} flows, some hundreds of packets a second. */
    private static Long sendUntilStopped() throws Exception {
        InetSocketAddress target = new InetSocketAddress(Topology.HOST_B_ADDRESS, 9);
        DatagramSocket[] sockets = new DatagramSocket[FLOWS];
        long sent = 0;
        try {
            for (int flow = 0; flow < FLOWS; flow++) {
                sockets[flow] = new DatagramSocket(new InetSocketAddress(Topology.HOST_A_ADDRESS, 21000 + flow));
            }
            byte[] payload = new byte[600];
            while (sending) {
                for (DatagramSocket socket : sockets) {
                    socket.send(new DatagramPacket(payload, payload.length, target));
                    sent++;
                }
                Thread.sleep(20);
            }
        } finally {
            for (DatagramSocket socket : sockets) {
                if (socket != null) {
                    socket.close();
                }
            }
        }
        return sent;
    }

    /** The appliance's mode from its control socket, the page's opinion aside. */
    private static String applianceMode() throws Exception {
        return new JsonObject(StatusServer.query(routerB.statusSocket())).getString("mode");
    }

    /** A browser in router B's namespace with the dashboard open and a token entered. */
    private static Chromium dashboard(String token, String log) throws Exception {
        Chromium chromium = Chromium.start(chromiumExecutable, topology.routerB(), directory, directory.resolve(log),
                1280, 1000);
        try {
            chromium.open(PAGE);   // the root redirects to /ui/
            chromium.await("the dashboard's form", "document.readyState === 'complete' && location.pathname === '/ui/'"
                    + " && document.getElementById('token') !== null", Duration.ofSeconds(20));
            chromium.evaluate("document.getElementById('token').value = " + new JsonArray().add(token).encode() + "[0];"
                    + " document.getElementById('connect').click(); true");
            chromium.await("the appliance's name", "document.getElementById('appliance-name').textContent === 'router-b'",
                    Duration.ofSeconds(20));
            return chromium;
        } catch (Exception | AssertionError e) {
            chromium.close();
            throw e;
        }
    }

    @Test
    void theDashboardShowsLiveLoadAndItsModeSwitchChangesTheAppliancesMode() throws Exception {
        try (Chromium chromium = dashboard(adminToken, "chromium-admin.log")) {
            // the header, the SA groups and each inbound SA's lane come from the REST resources
            assertEquals("ok", chromium.evaluate("document.getElementById('appliance-health').textContent"));
            assertEquals(Main.VERSION, chromium.evaluate("document.getElementById('appliance-version').textContent"));
            chromium.await("the SA group of the protect policy", "document.querySelector('#groups tbody').textContent"
                    + ".includes('site-b-to-site-a') && document.querySelectorAll('#groups .sa').length === 4",
                    Duration.ofSeconds(10));
            chromium.await("each inbound SA with its lane", "[...document.querySelectorAll('#inbound tbody tr')]"
                    + ".filter(r => /^0x0000b00[1-4]$/.test(r.dataset.spi) && /^[01]$/.test(r.dataset.lane)).length === 4",
                    Duration.ofSeconds(10));

            // live load from the event stream: the badge says so, and a lane carries packets
            chromium.await("live load from the event stream", "document.getElementById('live').dataset.source === 'websocket'"
                    + " && [...document.querySelectorAll('#lanes .lane')].some(l => Number(l.dataset.packetsPerSecond) > 0)"
                    + " && [...document.querySelectorAll('#lanes .lane')].every(l => /waits [0-9.]+ ms$/.test("
                    + "l.querySelector('.lane-value').textContent))",
                    LIVE_TIMEOUT);
            assertEquals(2L, ((Number) chromium.evaluate("document.querySelectorAll('#lanes .lane').length")).longValue());
            assertEquals(Boolean.FALSE, chromium.evaluate("[...document.querySelectorAll('#drops td')]"
                    + ".some(td => td.textContent === 'marker')"), "the data plane's own markers are not drops");
            chromium.await("a throughput graph", "document.querySelectorAll('#graph polyline').length === 3"
                    + " && document.querySelector('#graph .series-total').getAttribute('points').split(' ').length >= 3",
                    LIVE_TIMEOUT);

            // the switch: the page asks, the appliance changes, the stream tells every page
            assertEquals("flow", applianceMode());
            chromium.evaluate("document.querySelector('#mode-buttons button[data-mode=pcrypt]').click(); true");
            chromium.await("the mode it switched to", "document.getElementById('mode').textContent === 'pcrypt'",
                    Duration.ofSeconds(20));
            assertEquals("pcrypt", applianceMode(), "the appliance's own mode");
            assertEquals("pcrypt", curl("/mode", readToken).getString("mode"), "the API agrees");
            chromium.await("the mode-changed event in the log", "[...document.querySelectorAll('#events li')]"
                    + ".some(li => li.textContent.includes('mode-changed') && li.textContent.includes('pcrypt'))",
                    Duration.ofSeconds(10));
            assertEquals("true", chromium.evaluate("document.querySelector('#mode-buttons button[data-mode=pcrypt]')"
                    + ".getAttribute('aria-pressed')"));

            // the token stays in the tab: not in the address, not in local storage
            assertFalse(((String) chromium.evaluate("location.href")).contains(adminToken));
            assertEquals(0L, ((Number) chromium.evaluate("localStorage.length")).longValue());
            assertEquals(adminToken, chromium.evaluate("sessionStorage.getItem('flowsec.token')"));

            chromium.await("half a minute of graph, for the picture", "document.querySelector('#graph .series-total')"
                    + ".getAttribute('points').split(' ').length >= 30", Duration.ofSeconds(45));
            saveScreenshot(chromium.screenshot());
            assertEquals(List.of(), chromium.console(), "no script error and no content security policy violation");
        }
    }

    @Test
    void aReadOnlyTokenSeesTheApisRefusalAndChangesNothing() throws Exception {
        String before = applianceMode();
        try (Chromium chromium = dashboard(readToken, "chromium-read-only.log")) {
            chromium.evaluate("document.querySelector('#mode-buttons button[data-mode=single]').click(); true");
            chromium.await("the 403 problem", "!document.getElementById('control-problem').hidden"
                    + " && document.getElementById('control-problem').textContent.startsWith('403 Forbidden')",
                    Duration.ofSeconds(20));
            String problem = (String) chromium.evaluate("document.getElementById('control-problem').textContent");
            assertTrue(problem.contains("admin token"), problem);
            assertEquals(before, chromium.evaluate("document.getElementById('mode').textContent"));
            assertEquals(before, applianceMode(), "a read-only token changes nothing");
            assertEquals(List.of(), chromium.console().stream().filter(line -> !line.contains("403")).toList(),
                    "no script error and no content security policy violation (the refused PUT aside)");
        }
    }

    /** curl in router B's namespace (the certificate is the appliance's own, made at its first start). */
    private static JsonObject curl(String path, String token) throws Exception {
        return new JsonObject(RouterConfigs.curl(topology.routerB(), directory.resolve("router-b-state/api-cert.pem"),
                token, "GET", null, List.of(), API + path));
    }

    /** testbed/target/dashboard.png always; docs/dashboard.png when missing or asked for. */
    private static void saveScreenshot(byte[] png) throws Exception {
        assertTrue(png.length > 8 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "a PNG");
        Path repository = TestPaths.examples().getParent();
        Path artifact = repository.resolve("testbed/target/dashboard.png");
        Files.createDirectories(artifact.getParent());
        Files.write(artifact, png);
        Path docs = repository.resolve("docs/dashboard.png");
        if (!Files.exists(docs) || Boolean.getBoolean("flowsec.updateScreenshot")) {
            Files.copy(artifact, docs, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
