package io.flowsec.cluster.membership;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Cluster settings: the documented defaults, and refusals that name what is wrong. */
class ClusterSettingsTest {

    @Test
    void omittedSettingsTakeTheDocumentedDefaults() {
        ClusterSettings settings = ClusterSettings.of("router-a", "192.0.2.1", List.of("192.0.2.2:5701"));

        assertEquals("flowsec", settings.clusterName());
        assertEquals(5701, settings.port());
        assertEquals(Duration.ofSeconds(5), settings.joinTimeout());
        assertEquals(Duration.ofSeconds(5), settings.peerLossTimeout());
    }

    @ParameterizedTest
    @ValueSource(strings = {"192.0.2.2:5701", "router-b.example:5701", "[2001:db8::2]:5701"})
    void membersAreHostAndPort(String member) {
        assertEquals(List.of(member), ClusterSettings.of("a", "192.0.2.1", List.of(member)).members());
    }

    @ParameterizedTest
    @ValueSource(strings = {"192.0.2.2", "192.0.2.2:", "192.0.2.2:0", "192.0.2.2:65536", ":5701", "2001:db8::2:5701",
            "[2001:db8::2:5701", "host:port", " "})
    void aMemberWithoutAValidPortIsRefused(String member) {
        IllegalArgumentException refusal = assertThrows(IllegalArgumentException.class,
                () -> ClusterSettings.of("a", "192.0.2.1", List.of(member)));
        assertTrue(refusal.getMessage().contains("member"), refusal.getMessage());
    }

    @Test
    void theBindAddressMustBeAnIpAddressNotAName() {
        IllegalArgumentException refusal = assertThrows(IllegalArgumentException.class,
                () -> ClusterSettings.of("a", "router-a.example", List.of()));
        assertEquals("bind address must be an IP address, got router-a.example", refusal.getMessage());
    }

    @Test
    void namesAndTimeoutsOutOfBoundsAreRefused() {
        ClusterSettings settings = ClusterSettings.of("a", "192.0.2.1", List.of());

        assertThrows(IllegalArgumentException.class, () -> ClusterSettings.of(" ", "192.0.2.1", List.of()));
        assertThrows(IllegalArgumentException.class, () -> ClusterSettings.of("x".repeat(65), "192.0.2.1", List.of()));
        assertThrows(IllegalArgumentException.class, () -> settings.withClusterName(""));
        assertThrows(IllegalArgumentException.class, () -> settings.withPort(0));
        assertThrows(IllegalArgumentException.class,
                () -> settings.withTimeouts(Duration.ofMillis(500), Duration.ofSeconds(5)));
        assertThrows(IllegalArgumentException.class,
                () -> settings.withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(1)));
    }
}
