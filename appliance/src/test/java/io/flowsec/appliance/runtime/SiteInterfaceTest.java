package io.flowsec.appliance.runtime;

import io.flowsec.appliance.TestPaths;
import io.flowsec.appliance.config.ApplianceConfig;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The TUN MTU: the largest inner packet every outbound SA carries in one tunnel-MTU outer packet. */
class SiteInterfaceTest {
    private static ApplianceConfig routerB(String suite, String key, String integrityKey, int tunnelMtu) throws Exception {
        JsonObject sa = new JsonObject(Files.readString(TestPaths.examples().resolve("site-b.sa.json")));
        JsonArray policies = sa.getJsonArray("policies");
        JsonObject policy = policies.getJsonObject(0).put("suite", suite);
        for (String direction : new String[] {"outbound", "inbound"}) {
            JsonArray sas = policy.getJsonArray(direction);
            for (int i = 0; i < sas.size(); i++) {
                sas.getJsonObject(i).put("key", key);
                if (integrityKey != null) {
                    sas.getJsonObject(i).put("integrityKey", integrityKey);
                }
            }
        }
        return ApplianceConfig.parse(new JsonObject().put("lanes", 2).put("tunnelMtu", tunnelMtu)
                .put("site", new JsonObject().put("device", "fs0").put("addresses", new JsonArray().add("10.255.0.2/32")))
                .put("policies", policies));
    }

    @Test
    void shouldLeaveRoomForAesGcmOverEspInUdpAndIpv4Exactly() throws Exception {
        // 1500 - 20 (IPv4) - 8 (UDP) - 8 (ESP) - 8 (IV) - 16 (ICV) = 1440 = inner + 2 (trailer), a multiple of 4
        assertEquals(1438, SiteInterface.mtu(routerB("aes-gcm-128", "00".repeat(20), null, 1500)));
    }

    @Test
    void shouldPadToTheCipherBlockForAesCbc() throws Exception {
        // 1500 - 28 - 8 - 16 (IV) - 12 (ICV) = 1436, down to a multiple of 16 = 1424, less the trailer
        assertEquals(1422, SiteInterface.mtu(routerB("aes-cbc-128-hmac-sha1-96", "00".repeat(16), "00".repeat(20), 1500)));
    }

    @Test
    void shouldFollowTheTunnelMtu() throws Exception {
        assertEquals(8938, SiteInterface.mtu(routerB("aes-gcm-128", "00".repeat(20), null, 9000)));
    }
}
