package io.flowsec.appliance.warmstart;

import io.flowsec.appliance.TestPaths;
import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.dataplane.crypto.EspSuite;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The appliance's warm-up at start: a loopback tunnel like its configuration, run for real without root. */
class WarmUpTest {
    private static JsonObject routerB() throws Exception {
        return new JsonObject(Files.readString(TestPaths.examples().resolve("router-b.json")));
    }

    @Test
    void theWarmUpRunsTheConfigurationsLanesModeSteeringAndSuites() throws Exception {
        JsonObject json = routerB().put("lanes", 2).put("mode", "pcrypt").put("steering", "rss");
        JsonObject policy = json.getJsonArray("policies").getJsonObject(0);
        JsonObject ipv6 = policy.copy().put("name", "v6").put("local", "fd02::/64").put("remote", "fd01::/64")
                .put("suite", "aes-cbc-128-hmac-sha1-96");
        renumber(ipv6, 0x100);
        for (String group : List.of("outbound", "inbound")) {
            for (int i = 0; i < ipv6.getJsonArray(group).size(); i++) {
                JsonObject sa = ipv6.getJsonArray(group).getJsonObject(i);
                sa.put("key", "00".repeat(16)).put("integrityKey", "00".repeat(20));
            }
        }
        json.getJsonArray("policies").add(ipv6);

        LoopbackTunnel.Setup setup = WarmUp.setupFor(ApplianceConfig.parse(json));

        assertEquals(2, setup.lanes());
        assertEquals("pcrypt", setup.mode());
        assertEquals("rss", setup.steering());
        assertEquals(List.of(EspSuite.valueOf(suiteOf(policy)), EspSuite.AES_CBC_128_HMAC_SHA1_96, EspSuite.valueOf(suiteOf(policy))),
                setup.policies().stream().map(LoopbackTunnel.PolicySpec::suite).toList(), "a policy per suite, then IPv6");
        assertTrue(setup.policies().getLast().siteA().contains(":"), "IPv6 sites, as the configuration has them");
        assertTrue(!setup.api(), "no API in a warm-up");
    }

    @Test
    void aWarmUpCarriesPacketsThroughTheConfigurationsPathAndLeavesNothing() throws Exception {
        WarmUp.Result result = WarmUp.run(ApplianceConfig.parse(routerB().put("lanes", 2)), 1, line -> { });

        assertTrue(result.packets() > 0, "packets went through: " + result);
        assertTrue(result.millis() >= 1000, result.toString());
    }

    private static String suiteOf(JsonObject policy) {
        return EspSuite.fromConfigName(policy.getString("suite")).name();
    }

    private static void renumber(JsonObject policy, int offset) {
        for (String group : List.of("outbound", "inbound")) {
            JsonArray sas = policy.getJsonArray(group);
            for (int i = 0; i < sas.size(); i++) {
                JsonObject sa = sas.getJsonObject(i);
                sa.put("spi", String.format("0x%08x", Integer.decode(sa.getString("spi")) + offset));
                if (sa.containsKey("name")) {
                    sa.put("name", sa.getString("name") + "-v6");
                }
            }
        }
    }
}
