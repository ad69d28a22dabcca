package io.flowsec.appliance.cli;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.TestPaths;
import io.flowsec.appliance.pcap.PcapReader;
import io.flowsec.appliance.pcap.PcapWriter;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PcapCommandTest {
    private static final Path EXAMPLES = TestPaths.examples();
    private static final Path SITE_A = EXAMPLES.resolve("site-a.sa.json");
    private static final Path SITE_B = EXAMPLES.resolve("site-b.sa.json");
    private static final Path CLEAR = EXAMPLES.resolve("site-a-clear.pcap");
    /** Records in the example capture, and how many of them site-a's policy covers. */
    private static final int EXAMPLE_PACKETS = 18;
    private static final int EXAMPLE_PROTECTED = 17;

    @TempDir
    Path dir;

    // ---------------------------------------------------------------------------------------------------------------
    // Running the command line and reading what it wrote

    record Result(int code, String out, String err) {
        List<String> outLines() {
            return out.isEmpty() ? List.of() : List.of(out.split("\n"));
        }

        /** Every stdout line as JSON (each must parse); the last one is the summary. */
        List<JsonObject> json() {
            return outLines().stream().map(JsonObject::new).toList();
        }

        List<JsonObject> packetLines() {
            List<JsonObject> lines = json();
            assertTrue(lines.getLast().containsKey("summary"), () -> "the last line is the summary: " + out);
            return lines.subList(0, lines.size() - 1);
        }

        JsonObject summary() {
            return json().getLast().getJsonObject("summary");
        }

        List<String> outcomes() {
            return packetLines().stream().map(line -> line.getString("outcome")).toList();
        }
    }

    private static Result run(Object... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> list = Arrays.stream(args).map(String::valueOf).toList();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = Main.run(list, o, e);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static Result succeeds(Object... args) {
        Result result = run(args);
        assertEquals(0, result.code(), () -> "exit status; stderr: " + result.err());
        return result;
    }

    /** One record: timestamp, the whole frame, and the IP packet in it (trimmed to its IP length), or null. */
    record Rec(long seconds, int nanos, byte[] frame, byte[] ip) {
    }

    private static List<Rec> records(Path file) throws Exception {
        List<Rec> records = new ArrayList<>();
        try (PcapReader reader = PcapReader.open(file)) {
            while (reader.next()) {
                byte[] frame = Arrays.copyOf(reader.data(), reader.capturedLength());
                int offset = reader.ipOffset();
                byte[] ip = null;
                if (offset >= 0) {
                    int length = (frame[offset] & 0xF0) == 0x40 ? u16(frame, offset + 2) : 40 + u16(frame, offset + 4);
                    ip = Arrays.copyOfRange(frame, offset, offset + length);
                }
                records.add(new Rec(reader.timestampSeconds(), reader.timestampNanos(), frame, ip));
            }
        }
        return records;
    }

    private static int u16(byte[] b, int i) {
        return ((b[i] & 0xFF) << 8) | (b[i + 1] & 0xFF);
    }

    private static long u32(byte[] b, int i) {
        return ((long) u16(b, i) << 16) | u16(b, i + 2);
    }

    /** A raw-IP capture of the given packets, one second apart. */
    private Path rawCapture(String name, List<byte[]> packets) throws IOException {
        Path file = dir.resolve(name);
        try (PcapWriter writer = PcapWriter.create(file)) {
            for (int i = 0; i < packets.size(); i++) {
                writer.write(1_700_000_000L + i, 0, packets.get(i), 0, packets.get(i).length);
            }
        }
        return file;
    }

    private Path encryptExample() {
        Path tunnel = dir.resolve("tunnel.pcap");
        succeeds("pcap", "encrypt", "--sa", SITE_A, CLEAR, tunnel, "--quiet");
        return tunnel;
    }

    private Path saFile(String name, Path template, Consumer<JsonObject> change) throws IOException {
        JsonObject json = new JsonObject(Files.readString(template));
        change.accept(json);
        Path file = dir.resolve(name);
        Files.writeString(file, json.encodePrettily());
        return file;
    }

    private static JsonObject firstPolicy(JsonObject root) {
        return root.getJsonArray("policies").getJsonObject(0);
    }

    /** The protected originals, in order: what a decryption of the tunnel capture must give back. */
    private static List<Rec> protectedOriginals(Result encrypt) throws Exception {
        List<Rec> originals = records(CLEAR);
        List<String> outcomes = encrypt.outcomes();
        List<Rec> kept = new ArrayList<>();
        for (int i = 0; i < originals.size(); i++) {
            if (outcomes.get(i).equals("accepted")) {
                kept.add(originals.get(i));
            }
        }
        return kept;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // A tunnel both ways

    @Test
    void encrypting_the_example_reports_every_packet_and_a_summary_with_the_one_packet_no_policy_covers() throws Exception {
        Path tunnel = dir.resolve("tunnel.pcap");
        Result result = succeeds("pcap", "encrypt", "--sa", SITE_A, CLEAR, tunnel);

        List<JsonObject> lines = result.packetLines();
        assertEquals(EXAMPLE_PACKETS, lines.size());
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(i + 1, lines.get(i).getInteger("packet"));
        }
        assertEquals(EXAMPLE_PROTECTED, result.outcomes().stream().filter("accepted"::equals).count());
        assertEquals(1, result.outcomes().stream().filter("no-policy"::equals).count());
        assertEquals(new JsonObject().put("packets", EXAMPLE_PACKETS).put("accepted", EXAMPLE_PROTECTED).put("bypass", 0)
                .put("dropped", new JsonObject().put("no-policy", 1)), result.summary());
        assertEquals(1, result.err().strip().lines().count(), result.err());
        assertTrue(result.err().contains("18 packets, 17 written to " + tunnel), result.err());
    }

    @Test
    void every_encrypted_packet_is_ESP_in_UDP_from_the_source_port_of_the_SA_that_sealed_it() throws Exception {
        Path tunnel = dir.resolve("tunnel.pcap");
        Result result = succeeds("pcap", "encrypt", "--sa", SITE_A, CLEAR, tunnel);

        List<JsonObject> accepted = result.packetLines().stream().filter(l -> l.getString("outcome").equals("accepted")).toList();
        List<Rec> originals = protectedOriginals(result);
        List<Rec> outer = records(tunnel);
        assertEquals(EXAMPLE_PROTECTED, outer.size());
        java.util.Map<Long, Long> lastSeq = new java.util.HashMap<>();
        for (int i = 0; i < outer.size(); i++) {
            byte[] p = outer.get(i).ip();
            assertEquals(p.length, outer.get(i).frame().length, "raw IP output, nothing around the packet");
            assertEquals(0x45, p[0] & 0xFF);
            assertEquals(17, p[9], "UDP");
            assertArrayEquals(new byte[] {(byte) 192, 0, 2, 1, (byte) 192, 0, 2, 2}, Arrays.copyOfRange(p, 12, 20));
            long spi = u32(p, 28);
            assertEquals(Long.parseLong(accepted.get(i).getString("spi").substring(2), 16), spi);
            assertTrue(spi >= 0xb001 && spi <= 0xb004, "SPI 0x" + Long.toHexString(spi));
            assertEquals(4500 + (spi - 0xb000), u16(p, 20), "source port of SPI 0x" + Long.toHexString(spi));
            assertEquals(4500, u16(p, 22));
            long seq = u32(p, 32);
            assertEquals(seq, accepted.get(i).getLong("seq"));
            assertEquals(lastSeq.getOrDefault(spi, 0L) + 1, seq, "sequence numbers count up per SA");
            lastSeq.put(spi, seq);
            assertEquals(p.length, accepted.get(i).getInteger("length"));
            assertEquals(originals.get(i).seconds(), outer.get(i).seconds(), "timestamps are kept");
            assertEquals(originals.get(i).nanos(), outer.get(i).nanos());
            int innerLength = originals.get(i).ip().length;
            assertFalse(Arrays.equals(originals.get(i).ip(), Arrays.copyOfRange(p, 36, 36 + innerLength)),
                    "the inner packet does not show in clear");
        }
        assertTrue(lastSeq.size() > 1, "the example's flows spread over more than one SA: " + lastSeq.keySet());
    }

    @Test
    void decrypting_with_the_peer_file_gives_back_every_original_IP_packet() throws Exception {
        Path tunnel = dir.resolve("tunnel.pcap");
        Result encrypt = succeeds("pcap", "encrypt", "--sa", SITE_A, CLEAR, tunnel);
        Path clear = dir.resolve("clear.pcap");

        Result decrypt = succeeds("pcap", "decrypt", "--sa", SITE_B, tunnel, clear);

        assertEquals(EXAMPLE_PROTECTED, decrypt.packetLines().size());
        assertTrue(decrypt.outcomes().stream().allMatch("accepted"::equals), decrypt::out);
        assertEquals(new JsonObject().put("packets", EXAMPLE_PROTECTED).put("accepted", EXAMPLE_PROTECTED).put("bypass", 0)
                .put("dropped", new JsonObject()), decrypt.summary());
        List<Rec> originals = protectedOriginals(encrypt);
        List<Rec> decrypted = records(clear);
        assertEquals(originals.size(), decrypted.size());
        for (int i = 0; i < decrypted.size(); i++) {
            assertArrayEquals(originals.get(i).ip(), decrypted.get(i).frame(), "packet " + (i + 1));
            assertEquals(originals.get(i).seconds(), decrypted.get(i).seconds());
            assertEquals(originals.get(i).nanos(), decrypted.get(i).nanos());
            JsonObject line = decrypt.packetLines().get(i);
            assertEquals(originals.get(i).ip().length, line.getInteger("length"));
            assertTrue(line.getString("sa").startsWith("site-b-to-site-a-inbound-"), line::encode);
        }
    }

    @Test
    void decrypting_with_the_senders_own_file_works_through_its_mirrored_outbound_SAs() throws Exception {
        Path tunnel = dir.resolve("tunnel.pcap");
        Result encrypt = succeeds("pcap", "encrypt", "--sa", SITE_A, CLEAR, tunnel);
        Path clear = dir.resolve("clear.pcap");

        Result decrypt = succeeds("pcap", "decrypt", "--sa", SITE_A, tunnel, clear);

        assertTrue(decrypt.outcomes().stream().allMatch("accepted"::equals), decrypt::out);
        assertEquals(EXAMPLE_PROTECTED, decrypt.summary().getInteger("accepted"));
        List<Rec> originals = protectedOriginals(encrypt);
        List<Rec> decrypted = records(clear);
        assertEquals(originals.size(), decrypted.size());
        for (int i = 0; i < decrypted.size(); i++) {
            assertArrayEquals(originals.get(i).ip(), decrypted.get(i).frame(), "packet " + (i + 1));
        }
        assertTrue(decrypt.packetLines().getFirst().getString("sa").startsWith("site-a-to-site-b-outbound-"));
    }

    @Test
    void a_key_that_differs_in_one_byte_fails_authentication_for_every_packet() throws Exception {
        Path tunnel = encryptExample();
        Path wrong = saFile("wrong-key.sa.json", SITE_B, root -> {
            JsonArray inbound = firstPolicy(root).getJsonArray("inbound");
            for (int i = 0; i < inbound.size(); i++) {
                String key = inbound.getJsonObject(i).getString("key");
                char flipped = key.charAt(6) == '0' ? '1' : '0';
                inbound.getJsonObject(i).put("key", key.substring(0, 6) + flipped + key.substring(7));
            }
        });
        Path clear = dir.resolve("clear.pcap");

        Result decrypt = succeeds("pcap", "decrypt", "--sa", wrong, tunnel, clear);

        assertEquals(EXAMPLE_PROTECTED, decrypt.packetLines().size());
        assertTrue(decrypt.outcomes().stream().allMatch("authentication-failed"::equals), decrypt::out);
        assertEquals(new JsonObject().put("packets", EXAMPLE_PROTECTED).put("accepted", 0).put("bypass", 0)
                .put("dropped", new JsonObject().put("authentication-failed", EXAMPLE_PROTECTED)), decrypt.summary());
        assertTrue(records(clear).isEmpty(), "nothing is written");
    }

    @Test
    void a_duplicated_ESP_packet_is_dropped_as_a_replay() throws Exception {
        List<byte[]> packets = new ArrayList<>(records(encryptExample()).stream().map(Rec::ip).toList());
        packets.add(2, packets.get(1));
        Path replayed = rawCapture("replayed.pcap", packets);
        Path clear = dir.resolve("clear.pcap");

        Result decrypt = succeeds("pcap", "decrypt", "--sa", SITE_B, replayed, clear);

        List<String> outcomes = decrypt.outcomes();
        assertEquals(EXAMPLE_PROTECTED + 1, outcomes.size());
        assertEquals("accepted", outcomes.get(1));
        assertEquals("replay", outcomes.get(2), "the copy of packet 2");
        assertEquals(EXAMPLE_PROTECTED, outcomes.stream().filter("accepted"::equals).count());
        assertEquals(new JsonObject().put("replay", 1), decrypt.summary().getJsonObject("dropped"));
        assertEquals(EXAMPLE_PROTECTED, records(clear).size());
    }

    @Test
    void a_frame_that_is_not_IP_is_reported_as_not_ip_and_counted() throws Exception {
        byte[] ip = records(CLEAR).getFirst().frame();
        byte[] arp = Arrays.copyOf(ip, 60);
        arp[12] = 0x08;
        arp[13] = 0x06;
        Path capture = dir.resolve("arp.pcap");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.writeBytes(ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(0xa1b2c3d4).putShort((short) 2)
                .putShort((short) 4).putInt(0).putInt(0).putInt(65535).putInt(PcapReader.LINKTYPE_ETHERNET).array());
        for (byte[] frame : List.of(arp, ip)) {
            bytes.writeBytes(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(0)
                    .putInt(frame.length).putInt(frame.length).array());
            bytes.writeBytes(frame);
        }
        Files.write(capture, bytes.toByteArray());

        Result encrypt = succeeds("pcap", "encrypt", "--sa", SITE_A, capture, dir.resolve("out.pcap"));

        assertEquals(List.of("not-ip", "accepted"), encrypt.outcomes());
        assertEquals(new JsonObject().put("packets", 2).put("accepted", 1).put("bypass", 0)
                .put("dropped", new JsonObject().put("not-ip", 1)), encrypt.summary());
    }

    @Test
    void quiet_prints_only_the_summary() throws Exception {
        Result result = succeeds("pcap", "encrypt", "--quiet", "--sa", SITE_A, CLEAR, dir.resolve("t.pcap"));

        assertEquals(1, result.outLines().size(), result.out());
        assertEquals(EXAMPLE_PACKETS, result.summary().getInteger("packets"));
    }

    @Test
    void a_record_too_big_for_the_packet_slot_is_dropped_and_never_replaced_by_the_packet_before_it() throws Exception {
        // site-a's policy, then bypass for everything else: a stale slot (the ESP packet of record 1) would go out
        Path sa = saFile("bypass-rest.sa.json", SITE_A, root -> root.getJsonArray("policies")
                .add(new JsonObject().put("name", "rest").put("action", "bypass")));
        byte[] jumbo = new byte[70_000];
        System.arraycopy(records(CLEAR).getFirst().ip(), 0, jumbo, 0, 20);
        Path capture = rawCapture("jumbo.pcap", List.of(records(CLEAR).getFirst().ip(), jumbo));
        Path out = dir.resolve("out.pcap");

        Result encrypt = succeeds("pcap", "encrypt", "--sa", sa, capture, out);

        assertEquals("accepted", encrypt.outcomes().get(0));
        assertNotEquals("bypass", encrypt.outcomes().get(1), encrypt::out);
        assertNotEquals("accepted", encrypt.outcomes().get(1), encrypt::out);
        assertEquals(1, records(out).size(), "only the first packet is written");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Bad use and bad input: exit status 2 and one line, never a stack trace

    private static Result failsWithOneLine(String expected, Object... args) {
        Result result = run(args);
        assertEquals(2, result.code(), () -> "exit status; stderr: " + result.err());
        String err = result.err();
        assertTrue(err.endsWith("\n"), err);
        assertEquals(1, err.lines().count(), () -> "one line: " + err);
        assertTrue(err.startsWith("flowsec: "), err);
        assertFalse(err.contains("Exception"), err);
        assertFalse(err.contains("\tat "), err);
        assertTrue(err.contains(expected), () -> "stderr should say '" + expected + "': " + err);
        return result;
    }

    @Test
    void without_sa_the_command_fails_with_exit_status_2() {
        failsWithOneLine("--sa SA.json is required", "pcap", "decrypt", CLEAR, dir.resolve("o.pcap"));
    }

    @Test
    void sa_without_a_file_fails_with_exit_status_2() {
        failsWithOneLine("--sa needs a file", "pcap", "decrypt", CLEAR, dir.resolve("o.pcap"), "--sa");
    }

    @Test
    void without_the_output_file_the_command_fails_with_exit_status_2() {
        failsWithOneLine("need IN.pcap and OUT.pcap", "pcap", "encrypt", "--sa", SITE_A, CLEAR);
    }

    @Test
    void a_missing_SA_file_fails_with_exit_status_2() {
        Path absent = dir.resolve("absent.sa.json");
        failsWithOneLine("SA file " + absent + " does not exist", "pcap", "decrypt", "--sa", absent, CLEAR, dir.resolve("o.pcap"));
    }

    @Test
    void a_missing_input_capture_fails_with_exit_status_2_naming_it() {
        Path absent = dir.resolve("absent.pcap");
        failsWithOneLine(absent.toString(), "pcap", "decrypt", "--sa", SITE_B, absent, dir.resolve("o.pcap"));
    }

    @Test
    void an_input_that_is_not_a_pcap_fails_with_exit_status_2() {
        failsWithOneLine("bad capture: " + SITE_A + " is not a pcap file", "pcap", "decrypt", "--sa", SITE_B, SITE_A,
                dir.resolve("o.pcap"));
    }

    @Test
    void a_truncated_capture_fails_with_exit_status_2_after_the_packets_before_the_cut() throws Exception {
        Path tunnel = encryptExample();
        byte[] content = Files.readAllBytes(tunnel);
        Path cut = dir.resolve("cut.pcap");
        Files.write(cut, Arrays.copyOf(content, content.length - 5));

        Result result = failsWithOneLine("bad capture: truncated file: record 17 is cut short", "pcap", "decrypt", "--sa",
                SITE_B, cut, dir.resolve("o.pcap"));
        assertEquals(16, result.json().size(), "the 16 complete records were reported");
    }

    @Test
    void an_unknown_suite_in_the_SA_file_fails_with_exit_status_2() throws Exception {
        Path sa = saFile("bad-suite.sa.json", SITE_B, root -> firstPolicy(root).put("suite", "aes-gcm-512"));
        Result result = failsWithOneLine("bad SA file: policies[0].suite: unknown suite 'aes-gcm-512'", "pcap", "decrypt",
                "--sa", sa, CLEAR, dir.resolve("o.pcap"));
        assertEquals("", result.out());
    }

    @Test
    void a_key_of_the_wrong_length_fails_with_exit_status_2_without_showing_the_key() throws Exception {
        String shortKey = "00112233445566778899aabbccddeeff";
        Path sa = saFile("short-key.sa.json", SITE_B, root ->
                firstPolicy(root).getJsonArray("inbound").getJsonObject(2).put("key", shortKey));
        Result result = failsWithOneLine("bad SA file: policies[0].inbound[2]", "pcap", "decrypt", "--sa", sa, CLEAR,
                dir.resolve("o.pcap"));
        assertTrue(result.err().contains("needs a 20-byte encryption key"), result.err());
        assertFalse(result.err().contains("00112233"), result.err());
    }

    @Test
    void an_unknown_option_fails_with_exit_status_2() {
        failsWithOneLine("unknown option --fast", "pcap", "decrypt", "--fast", "--sa", SITE_B, CLEAR, dir.resolve("o.pcap"));
    }

    @Test
    void an_unknown_pcap_operation_fails_with_exit_status_2() {
        failsWithOneLine("unknown pcap operation 'decode'", "pcap", "decode", "--sa", SITE_B, CLEAR, dir.resolve("o.pcap"));
    }

    @Test
    void an_unknown_command_fails_with_exit_status_2() {
        Result result = failsWithOneLine("unknown command 'frobnicate'", "frobnicate");
        assertEquals("", result.out());
    }

    @Test
    void help_prints_the_usage_and_exits_0() {
        Result result = succeeds("--help");
        assertTrue(result.out().contains("Usage: flowsec COMMAND"), result.out());
        assertTrue(result.out().contains("pcap decrypt --sa SA.json IN.pcap OUT.pcap"), result.out());
        assertEquals("", result.err());
    }

    @Test
    void pcap_help_prints_the_pcap_usage_and_exits_0() {
        Result result = succeeds("pcap", "decrypt", "--help");
        assertTrue(result.out().startsWith("Usage: flowsec pcap decrypt"), result.out());
        assertTrue(result.out().contains("--quiet"), result.out());
    }

    @Test
    void version_prints_the_version_and_exits_0() {
        assertEquals("flowsec " + Main.VERSION + "\n", succeeds("--version").out().replace("\r\n", "\n"));
    }

    @Test
    void no_arguments_print_the_usage_on_stderr_and_exit_2() {
        Result result = run();
        assertEquals(2, result.code());
        assertTrue(result.err().contains("Usage: flowsec COMMAND"), result.err());
        assertEquals("", result.out());
    }

    @Test
    void an_output_that_is_the_input_is_refused_and_the_input_left_whole_also_through_a_link() throws Exception {
        Path input = dir.resolve("capture.pcap");
        Files.copy(CLEAR, input);
        byte[] before = Files.readAllBytes(input);
        Path link = Files.createSymbolicLink(dir.resolve("link.pcap"), input);
        for (Path output : new Path[] {input, link}) {
            Result result = run("pcap", "encrypt", "--sa", SITE_A, input, output);
            assertEquals(2, result.code(), result.err());
            assertTrue(result.err().contains("would destroy the input"), result.err());
        }
        assertArrayEquals(before, Files.readAllBytes(input), "the input is intact");
    }

    @Test
    void an_output_appears_whole_or_not_at_all() throws Exception {
        Path output = dir.resolve("out.pcap");
        Result failed = run("pcap", "encrypt", "--sa", SITE_A, dir.resolve("missing.pcap"), output);
        assertEquals(2, failed.code(), failed.err());
        assertFalse(Files.exists(output), "no output for a failed run");
        try (var files = Files.list(dir)) {
            assertEquals(0, files.filter(f -> f.getFileName().toString().endsWith(".partial")).count(), "nothing left behind");
        }
        Result done = run("pcap", "encrypt", "--sa", SITE_A, CLEAR, output);
        assertEquals(0, done.code(), done.err());
        assertTrue(Files.size(output) > 24, "the whole capture");
    }
}
