package io.flowsec.testbed.system;

import io.flowsec.appliance.Main;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The control API of a real appliance (router B of the test bed), over HTTPS on its management address (loopback in
 * its namespace), with curl as the client: a token made with {@code flowsec token add}, the self-signed certificate
 * made at first start, changes that reach the data plane and the configuration file, and a restart after SIGKILL that
 * comes back in the changed state. Needs root and curl.
 */
@TestMethodOrder(MethodOrderer.MethodName.class)
class ControlApiSystemTest {
    private static final String PREFIX = "fsa" + ProcessHandle.current().pid() % 100000;
    private static final String API = "https://127.0.0.1:8443/api/v1";

    @TempDir
    static Path directory;
    private static Topology topology;
    private static ApplianceProcess routerA;
    private static ApplianceProcess routerB;
    private static Path configB;
    private static String adminToken;
    private static String readToken;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "system tests need root (namespaces, TUN)");
        topology = Topology.create(PREFIX);
        routerA = ApplianceProcess.start(topology.routerA(), config("router-a", "site-a.sa.json", "10.2.0.0/16", false),
                directory.resolve("router-a.sock"), directory.resolve("router-a.log"));
        configB = config("router-b", "site-b.sa.json", "10.1.0.0/16", true);
        adminToken = flowsec("token", "add", "--config", configB.toString(), "--name", "ops", "--role", "admin").strip();
        readToken = flowsec("token", "add", "--config", configB.toString(), "--name", "monitor", "--role", "read-only").strip();
        routerB = startRouterB();
    }

    @AfterAll
    static void stop() throws Exception {
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

    private static ApplianceProcess startRouterB() throws Exception {
        return ApplianceProcess.start(topology.routerB(), configB, directory.resolve("router-b.sock"),
                directory.resolve("router-b.log"), Map.of(), true);
    }

    private static String flowsec(String... args) {
        return RouterConfigs.flowsec(args);
    }

    private record Reply(int status, String body) {
        JsonObject json() {
            return new JsonObject(body);
        }
    }

    /** curl in router B's namespace, trusting only the appliance's own certificate unless told otherwise. */
    private static Reply curl(String method, String path, String token, String body, boolean trustCertificate)
            throws Exception {
        String output = RouterConfigs.curl(topology.routerB(), trustCertificate
                ? directory.resolve("router-b-state/api-cert.pem") : null, token, method, body,
                List.of("-w", "\n%{http_code}"), API + path);
        int newline = output.lastIndexOf('\n');
        String code = output.substring(newline + 1).strip();
        return new Reply(code.matches("\\d{3}") ? Integer.parseInt(code) : -1, output.substring(0, Math.max(0, newline)));
    }

    @Test
    void a_theApiAnswersOverTlsWithItsOwnCertificateOnlyToTokensAndNamesTheAppliance() throws Exception {
        Reply untrusted = curl("GET", "/health", null, null, false);
        assertNotEquals(200, untrusted.status(), "a self-signed certificate the client does not trust: " + untrusted.body());
        Reply health = curl("GET", "/health", null, null, true);
        assertEquals(200, health.status(), health.body() + "\n" + routerB.log());
        assertEquals(401, curl("GET", "/appliance", null, null, true).status());
        Reply appliance = curl("GET", "/appliance", readToken, null, true);
        assertEquals(200, appliance.status(), appliance.body());
        assertEquals("router-b", appliance.json().getString("name"));
        assertEquals(2, appliance.json().getInteger("lanes"));
        assertEquals(Main.VERSION, appliance.json().getString("version"));
        assertEquals(403, curl("PUT", "/mode", readToken, "{\"mode\":\"single\"}", true).status());
        Reply metrics = curl("GET", "/../../metrics", readToken, null, true);
        assertEquals(200, metrics.status(), metrics.body());
        assertTrue(metrics.body().contains("flowsec_lane_tunnel_datagrams_received_total{lane=\"1\"}"), metrics.body());
        String log = routerB.log();
        assertFalse(log.contains(adminToken) || log.contains(readToken), "no token in the log");
    }

    @Test
    void b_changesReachTheDataPlaneAndTheConfigurationAndSurviveAKill() throws Exception {
        Reply mode = curl("PUT", "/mode", adminToken, "{\"mode\":\"pcrypt\"}", true);
        assertEquals(200, mode.status(), mode.body());
        Reply lane = curl("PUT", "/sas/inbound/0x0000b001/lane", adminToken, "{\"lane\":1}", true);
        assertEquals(200, lane.status(), lane.body());
        JsonObject file = new JsonObject(Files.readString(configB));
        assertEquals("pcrypt", file.getString("mode"), "recorded in the configuration");
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(configB)));

        routerB.kill();
        routerB = startRouterB();
        assertEquals("pcrypt", curl("GET", "/mode", readToken, null, true).json().getString("mode"),
                "the restarted appliance comes back in the changed state");
        assertEquals(1, curl("GET", "/sas/inbound/0x0000b001/lane", readToken, null, true).json().getInteger("lane"));
        Reply status = new Reply(200, io.flowsec.appliance.runtime.StatusServer.query(routerB.statusSocket()));
        assertEquals("pcrypt", status.json().getString("mode"), "the control socket agrees");
    }

    @Test
    void c_aBadRequestIsAProblemNamingTheFieldAndChangesNothing() throws Exception {
        Reply bad = curl("PUT", "/mode", adminToken, "{\"mode\":\"turbo\"}", true);
        assertEquals(400, bad.status());
        assertEquals("mode", bad.json().getString("field"));
        Reply unknown = curl("GET", "/no-such-thing", readToken, null, true);
        assertEquals(404, unknown.status());
        assertEquals("pcrypt", new JsonObject(Files.readString(configB)).getString("mode"));
    }
}
