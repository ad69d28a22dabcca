package io.flowsec.cluster.balancing;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BalancerSettingsTest {
    @Test
    void shouldDefaultToTheDocumentedValues() {
        BalancerSettings d = BalancerSettings.DEFAULTS;
        assertEquals(0.25, d.startImbalance());
        assertEquals(3, d.triggerReports());
        assertEquals(0.10, d.stopImbalance());
        assertEquals(1000, d.cooldownMs());
        assertEquals(16, d.evenWeight());
        assertEquals(1, d.floorWeight());
        assertEquals(d, BalancerSettings.fromJson(new JsonObject()));
        assertEquals(d, BalancerSettings.fromJson(d.toJson()));
    }

    @Test
    void shouldTakeWhatTheConfigurationSetsAndDefaultTheRest() {
        BalancerSettings settings = BalancerSettings.fromJson(new JsonObject().put("cooldownMs", 2500).put("stopImbalance", 0.05));
        assertEquals(2500, settings.cooldownMs());
        assertEquals(0.05, settings.stopImbalance());
        assertEquals(BalancerSettings.DEFAULT_START_IMBALANCE, settings.startImbalance());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "{\"startImbalance\": 0}                       | startImbalance: must be above 0",
            "{\"startImbalance\": 1.5}                     | startImbalance: 1.5 is out of range 0.0-1.0",
            "{\"stopImbalance\": 0.3}                      | stopImbalance: 0.3 must be below startImbalance 0.25",
            "{\"triggerReports\": 0}                       | triggerReports: 0 is out of range 1-1000",
            "{\"triggerReports\": 2.5}                     | triggerReports: must be an integer, got 2.5",
            "{\"cooldownMs\": -1}                          | cooldownMs: -1 is out of range 0-3600000",
            "{\"gain\": 0}                                 | gain: must be above 0",
            "{\"maxStepFraction\": 2}                      | maxStepFraction: 2.0 is out of range 0.0-1.0",
            "{\"evenWeight\": 600}                         | evenWeight: 600 is out of range 1-511",
            "{\"floorWeight\": 16}                         | floorWeight: 16 is out of range 0-15",
            "{\"maxMovesPerChange\": 0}                    | maxMovesPerChange: 0 is out of range 1-128",
            "{\"minImprovement\": \"a lot\"}               | minImprovement: must be a number, got a string",
            "{\"cooldown\": 5}                             | cooldown: unknown field"})
    void shouldRefuseABadFieldNamingIt(String json, String expectedStart) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BalancerSettings.fromJson(new JsonObject(json)));
        assertTrue(e.getMessage().startsWith(expectedStart), e.getMessage());
    }
}
