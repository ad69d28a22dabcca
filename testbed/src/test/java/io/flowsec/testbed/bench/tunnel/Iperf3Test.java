package io.flowsec.testbed.bench.tunnel;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * iperf3's JSON reports, captured from Debian 12's iperf3 3.12 on the machine the benchmark was written on (two
 * namespaces joined by a veth pair; 2 s per test).
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class Iperf3Test {
    private static String sample(String name) throws IOException {
        try (InputStream in = Iperf3Test.class.getResourceAsStream("iperf3-3.12-" + name + ".json")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void tcp_with_one_stream_is_what_the_receiver_read_over_its_seconds() throws Exception {
        Iperf3.Result result = Iperf3.parse(sample("tcp1"));

        assertEquals("TCP", result.protocol());
        assertEquals(1_993_605_120L, result.receivedBytes(), "end.sum_received.bytes, not the sender's 1,994,260,480");
        assertEquals(2.011321, result.seconds(), 1e-9);
        assertEquals(7.9295353, result.gigabitsPerSecond(), 1e-6, "sum_received.bits_per_second / 1e9");
        assertEquals(0, result.receivedPackets());
    }

    @Test
    void tcp_with_eight_streams_sums_them_all() throws Exception {
        String json = sample("tcp8");
        Iperf3.Result result = Iperf3.parse(json);

        JsonObject end = new JsonObject(json).getJsonObject("end");
        long streams = end.getJsonArray("streams").stream()
                .mapToLong(s -> ((JsonObject) s).getJsonObject("receiver").getLong("bytes")).sum();
        assertEquals(8, end.getJsonArray("streams").size());
        assertEquals(streams, result.receivedBytes(), "the receiver's bytes of the eight streams together");
        assertEquals(end.getJsonObject("sum_received").getDouble("bits_per_second") / 1e9, result.gigabitsPerSecond(),
                1e-9);
    }

    @Test
    void udp_counts_the_datagrams_the_server_received_not_those_sent() throws Exception {
        Iperf3.Result result = Iperf3.parse(sample("udp64"));

        assertEquals("UDP", result.protocol());
        assertEquals(428_970 - 45_668, result.receivedPackets(), "packets sent less those lost");
        assertEquals(result.receivedPackets() * 64, result.receivedBytes(), "64 bytes each: the same count");
        assertEquals(2.000367, result.seconds(), 1e-9);
        assertEquals(383_302 / 2.000367, result.packetsPerSecond(), 1e-6);
    }

    @Test
    void udp_reports_without_sum_received_are_read_from_end_sum() throws Exception {
        JsonObject report = new JsonObject(sample("udp64"));
        JsonObject end = report.getJsonObject("end");
        end.remove("sum_received");
        end.remove("sum_sent");   // as before iperf3 3.11

        Iperf3.Result result = Iperf3.parse(report.encode());

        assertEquals(383_302, result.receivedPackets());
        assertEquals(383_302 * 64L, result.receivedBytes(), "the datagrams times their size (start.test_start.blksize)");
        assertEquals(2.000367, result.seconds(), 1e-9);
    }

    @Test
    void an_error_in_the_report_fails_with_iperf3s_words() throws Exception {
        IOException e = assertThrows(IOException.class, () -> Iperf3.parse(sample("refused")));

        assertEquals("iperf3: unable to connect to server: Connection refused", e.getMessage());
        assertTrue(!(e instanceof Iperf3.ServerBusy));
    }

    @Test
    void a_busy_server_is_told_apart_so_the_client_tries_again() throws Exception {
        JsonObject report = new JsonObject(sample("refused"))
                .put("error", "the server is busy running a test. try again later");

        assertThrows(Iperf3.ServerBusy.class, () -> Iperf3.parse(report.encode()));
    }

    @Test
    void output_that_is_not_json_is_named() {
        IOException e = assertThrows(IOException.class, () -> Iperf3.parse("iperf3: error - unable to connect\n"));

        assertEquals("iperf3 printed no JSON report: iperf3: error - unable to connect", e.getMessage());
    }

    @Test
    void a_report_without_the_receivers_figures_is_refused() throws Exception {
        JsonObject report = new JsonObject(sample("tcp1"));
        report.getJsonObject("end").remove("sum_received");

        IOException e = assertThrows(IOException.class, () -> Iperf3.parse(report.encode()));
        assertEquals("iperf3's TCP report has no receiver's figures (end.sum_received)", e.getMessage());
    }

    @Test
    void the_client_asks_for_json_a_connect_timeout_and_the_tests_own_options() {
        List<String> command = Iperf3.command(Path.of("/usr/bin/iperf3"), "10.2.0.20", 5201, 10,
                TunnelTest.UDP64.iperfArguments());

        assertEquals(List.of("/usr/bin/iperf3", "-c", "10.2.0.20", "-p", "5201", "-t", "10", "-J", "--connect-timeout",
                "5000", "-u", "-l", "64", "-b", "0"), command);
        assertEquals(List.of("-P", "8"), TunnelTest.TCP8.iperfArguments());
        assertEquals(List.of("-P", "1"), TunnelTest.TCP1.iperfArguments());
    }
}
