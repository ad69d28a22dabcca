package io.flowsec.appliance.config;

import io.flowsec.appliance.TestPaths;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The example pair in examples/ stays valid and mirrors itself: what one end sends with, the other receives with. */
class ExampleConfigsTest {

    @Test
    void theExampleRouterConfigurationsParseAndTheirSasMatchEachOther() throws Exception {
        ApplianceConfig a = ApplianceConfig.read(TestPaths.examples().resolve("router-a.json"));
        ApplianceConfig b = ApplianceConfig.read(TestPaths.examples().resolve("router-b.json"));
        assertEquals(List.of("10.2.0.0/16"), a.site().routes());
        assertEquals(List.of("10.1.0.0/16"), b.site().routes());
        PolicyDefinition pa = a.policies().policies().getFirst();
        PolicyDefinition pb = b.policies().policies().getFirst();
        assertEquals(pa.outbound().size(), pb.inbound().size());
        for (int i = 0; i < pa.outbound().size(); i++) {
            assertEquals(pa.outbound().get(i).spi(), pb.inbound().get(i).spi());
            assertEquals(java.util.HexFormat.of().formatHex(pa.outbound().get(i).encryptionKey()),
                    java.util.HexFormat.of().formatHex(pb.inbound().get(i).encryptionKey()));
        }
        assertEquals(pb.outbound().getFirst().spi(), pa.inbound().getFirst().spi());
    }
}
