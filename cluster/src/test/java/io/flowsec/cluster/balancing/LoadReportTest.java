package io.flowsec.cluster.balancing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoadReportTest {
    private static final LoadReport REPORT = new LoadReport("router-b", "hq-branch", 4, 1_700_000_000_123L,
            List.of(new LaneLoad(0, 0.25, 1000, 0), new LaneLoad(1, 0.75, 3000.5, 2, 0.625, 5000, 120.5)),
            Map.of(0xfffffff0, 2000.0, 0x1000, 1000.0));

    private static final String JSON = "{\"member\":\"router-b\",\"tunnel\":\"hq-branch\",\"assignmentVersion\":4,"
            + "\"timestampMs\":1700000000123,\"lanes\":[{\"lane\":0,\"busy\":0.25,\"packetsPerSecond\":1000.0,\"dropsPerSecond\":0.0,"
            + "\"backlog\":0.0,\"socketDropsPerSecond\":0.0,\"queueDelayMs\":0.0},"
            + "{\"lane\":1,\"busy\":0.75,\"packetsPerSecond\":3000.5,\"dropsPerSecond\":2.0,"
            + "\"backlog\":0.625,\"socketDropsPerSecond\":5000.0,\"queueDelayMs\":120.5}],"
            + "\"saPacketsPerSecond\":{\"0x00001000\":1000.0,\"0xfffffff0\":2000.0}}";

    @Test
    void shouldEncodeExactlyAndDecodeToAnEqualReportWithTheSocketFigures() {
        assertEquals(JSON, REPORT.encode());
        assertEquals(REPORT, LoadReport.decode(JSON));
        assertEquals(0.625, LoadReport.decode(JSON).lane(1).backlog());
        assertEquals(5000.0, LoadReport.decode(JSON).lane(1).socketDropsPerSecond());
        assertEquals(120.5, LoadReport.decode(JSON).lane(1).queueDelayMs());
    }

    @Test
    void shouldMeasureTheSpreadOverAllLanesOrSome() {
        assertEquals(0.5, REPORT.spread());
        assertEquals(0, REPORT.spread(List.of(1)));
        assertEquals(1000.0, REPORT.saPacketsPerSecond(0x1000));
        assertEquals(0.0, REPORT.saPacketsPerSecond(0x2000));
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
            "\"lane\":1,\"busy\":0.75                 | \"lane\":1,\"busy\":1.5                  | lanes[1].busy: 1.5 is out of range 0.0-1.0",
            "\"lane\":1,                              | \"lane\":2,                              | lanes[1].lane: 2 is out of range 1-1",
            "\"dropsPerSecond\":2.0                   | \"dropsPerSecond\":-2                    | lanes[1].dropsPerSecond: -2 is out of range",
            "\"backlog\":0.625                        | \"backlog\":1.5                          | lanes[1].backlog: 1.5 is out of range 0.0-1.0",
            "\"backlog\":0.625                        | \"backlog\":\"half\"                     | lanes[1].backlog: must be a number",
            "\"socketDropsPerSecond\":5000.0          | \"socketDropsPerSecond\":-1              | lanes[1].socketDropsPerSecond: -1 is out of range",
            "\"socketDropsPerSecond\":5000.0          | \"socketDropsPerSecond\":1e13            | lanes[1].socketDropsPerSecond: 1.0E13 is out of range",
            ",\"backlog\":0.0,\"socketDropsPerSecond\":0.0 | \"\"                              | lanes[0].backlog: missing",
            "\"queueDelayMs\":120.5                 | \"queueDelayMs\":-1                      | lanes[1].queueDelayMs: -1 is out of range",
            "\"queueDelayMs\":120.5                 | \"queueDelayMs\":1e9                     | lanes[1].queueDelayMs: 1.0E9 is out of range",
            ",\"queueDelayMs\":0.0                  | \"\"                                     | lanes[0].queueDelayMs: missing",
            "\"0x00001000\":1000.0                    | \"0x1000\":1000.0                        | saPacketsPerSecond.0x1000: an SPI is written",
            "\"0x00001000\":1000.0                    | \"0xfffffff0\":1000.0                    | load report: not valid JSON (Duplicate field '0xfffffff0'",
            "\"assignmentVersion\":4                  | \"assignmentVersion\":-4                 | assignmentVersion: -4 is out of range",
            "\"member\":\"router-b\",                 | \"\"                                     | member: missing",
            "\"saPacketsPerSecond\":{                 | \"extra\":true,\"saPacketsPerSecond\":{  | extra: unknown field"})
    void shouldRefuseWithOneLineNamingTheField(String replaced, String replacement, String expectedStart) {
        String json = JSON.replace(replaced, replacement.equals("\"\"") ? "" : replacement);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LoadReport.decode(json));
        assertTrue(e.getMessage().startsWith(expectedStart), e.getMessage());
    }

    @Test
    void shouldRefuseLanesOutOfOrderWhenBuiltInJava() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LoadReport("b", "t", 1, 0,
                List.of(new LaneLoad(1, 0, 0, 0)), Map.of()));
        assertEquals("lanes[0].lane: 1, expected 0 (every lane, in order)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LaneLoad(0, Double.NaN, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new LaneLoad(0, 0.5, Double.POSITIVE_INFINITY, 0));
        assertEquals("backlog: 1.5 is out of range 0-1", assertThrows(IllegalArgumentException.class,
                () -> new LaneLoad(0, 0.5, 0, 0, 1.5, 0)).getMessage());
        assertEquals("socketDropsPerSecond: NaN is not a finite rate", assertThrows(IllegalArgumentException.class,
                () -> new LaneLoad(0, 0.5, 0, 0, 0, Double.NaN)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LoadReport("b", "t", 1, 0, List.of(new LaneLoad(0, 0, 0, 0)),
                Map.of(0x1000, Double.NaN)));
    }
}
