package io.flowsec.appliance.config;

import io.flowsec.appliance.TestPaths;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.sa.ReplayWindow;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SaFileTest {

    /**
     * Every key in these tests is a slice of this string, so "no message shows key material" can be checked by
     * looking for any 8-digit run of it in the message.
     */
    private static final String KEY_MATERIAL =
            "a4c123b1612dd272d1371c17149d439536b3216fdaeeb975729fae923d5a4fd12aabfe228f219e9cb0eb53f16947ccf25ec84d8dbc74254770f58904dba41ecc"
            + "cc3fc1626e53a13043b026c48bbf33feff9243a8f506b40928b5b7a767c76fb008f86bebb2737f6a6f0fb23c6f5da2cec255404e4fb440034d6608697a8d41be";

    private static String key(int bytes, int offset) {
        return KEY_MATERIAL.substring(offset, offset + 2 * bytes);
    }

    private static final String OUT_KEY = key(20, 0);
    private static final String IN_KEY = key(20, 60);

    /** A small valid file: one protect policy with one outbound and one inbound SA. */
    private static JsonObject validRoot() {
        return new JsonObject()
                .put("policies", new JsonArray().add(new JsonObject()
                        .put("name", "a-to-b")
                        .put("local", "10.1.0.0/16")
                        .put("remote", "10.2.0.0/16")
                        .put("suite", "aes-gcm-128")
                        .put("localAddress", "192.0.2.1")
                        .put("remoteAddress", "192.0.2.2")
                        .put("outbound", new JsonArray().add(new JsonObject().put("spi", "0x1001").put("key", OUT_KEY)))
                        .put("inbound", new JsonArray().add(new JsonObject().put("spi", "0x2001").put("key", IN_KEY)))));
    }

    private static JsonObject policy(JsonObject root, int index) {
        return root.getJsonArray("policies").getJsonObject(index);
    }

    private static JsonObject outbound(JsonObject root, int index) {
        return policy(root, 0).getJsonArray("outbound").getJsonObject(index);
    }

    private static JsonObject inbound(JsonObject root, int index) {
        return policy(root, 0).getJsonArray("inbound").getJsonObject(index);
    }

    private static JsonObject secondPolicy() {
        return new JsonObject()
                .put("name", "a-to-c")
                .put("local", "10.1.0.0/16")
                .put("remote", "10.3.0.0/16")
                .put("suite", "aes-gcm-128")
                .put("localAddress", "192.0.2.1")
                .put("remoteAddress", "192.0.2.3")
                .put("outbound", new JsonArray().add(new JsonObject().put("spi", "0x3001").put("key", key(20, 20))))
                .put("inbound", new JsonArray().add(new JsonObject().put("spi", "0x4001").put("key", key(20, 80))));
    }

    /** Asserts the message names no key material: no run of 8 hex digits of any key used here, in either case. */
    private static void assertNoKeyMaterial(String message) {
        String lower = message.toLowerCase(Locale.ROOT);
        for (int i = 0; i + 8 <= KEY_MATERIAL.length(); i++) {
            String window = KEY_MATERIAL.substring(i, i + 8);
            assertFalse(lower.contains(window), () -> "message shows key material '" + window + "': " + message);
        }
    }

    private static ConfigException refused(JsonObject root) {
        JsonObject copy = root.copy();
        ConfigException e = assertThrows(ConfigException.class, () -> SaFile.parse(copy));
        assertNoKeyMaterial(e.getMessage());
        return e;
    }

    private static void assertRefused(JsonObject root, String path, String problem) {
        ConfigException e = refused(root);
        assertEquals(path, e.path(), () -> "path of: " + e.getMessage());
        assertTrue(e.getMessage().startsWith(path + ": "), () -> "message should start with the path: " + e.getMessage());
        assertTrue(e.getMessage().contains(problem), () -> "message should say '" + problem + "': " + e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Valid files

    @Test
    void the_site_a_example_parses_into_one_udp_port_group_of_four_SAs_and_four_inbound_SAs() throws Exception {
        SaFile file = SaFile.read(TestPaths.examples().resolve("site-a.sa.json"));

        assertEquals(1, file.policies().size());
        PolicyDefinition p = file.policies().getFirst();
        assertEquals("site-a-to-site-b", p.name());
        assertEquals(PolicyAction.PROTECT, p.action());
        assertEquals(FlowEncoding.UDP_PORT, p.encoding());
        assertEquals("10.1.0.0/16", p.selector().local().toString());
        assertEquals("10.2.0.0/16", p.selector().remote().toString());
        assertEquals(List.of(0xb001, 0xb002, 0xb003, 0xb004), p.outbound().stream().map(SaDefinition::spi).toList());
        assertEquals(List.of(4501, 4502, 4503, 4504), p.outbound().stream().map(SaDefinition::localPort).toList());
        for (SaDefinition sa : p.outbound()) {
            assertFalse(sa.inbound());
            assertEquals(EspSuite.AES_GCM_128, sa.suite());
            assertEquals(20, sa.encryptionKey().length);
            assertEquals(0, sa.integrityKey().length);
            assertTrue(sa.udpEncapsulation());
            assertEquals(4500, sa.remotePort());
            assertEquals(InetAddress.getByName("192.0.2.1"), sa.localAddress());
            assertEquals(InetAddress.getByName("192.0.2.2"), sa.remoteAddress());
        }
        assertArrayEquals(hex("00112233445566778899aabbccddeeff01020304"), p.outbound().getFirst().encryptionKey());
        assertEquals(4, p.inbound().size());
        SaDefinition in = p.inbound().getFirst();
        assertTrue(in.inbound());
        assertEquals(0xa001, in.spi());
        assertEquals(4500, in.localPort());
        // one inbound SA per lane of router B's outbound group, each from its own source port (udp-port encoding)
        assertEquals(List.of(4501, 4502, 4503, 4504), p.inbound().stream().map(SaDefinition::remotePort).toList());
        assertEquals(ReplayWindow.DEFAULT_SIZE, in.replayWindow());
    }

    @Test
    void the_site_b_example_parses_as_the_mirror_of_site_a() throws Exception {
        SaFile file = SaFile.read(TestPaths.examples().resolve("site-b.sa.json"));

        PolicyDefinition p = file.policies().getFirst();
        assertEquals(FlowEncoding.UDP_PORT, p.encoding());
        assertEquals("10.2.0.0/16", p.selector().local().toString());
        assertEquals(List.of(0xa001, 0xa002, 0xa003, 0xa004), p.outbound().stream().map(SaDefinition::spi).toList());
        assertEquals(List.of(0xb001, 0xb002, 0xb003, 0xb004), p.inbound().stream().map(SaDefinition::spi).toList());
        // an inbound SA's sourcePort is the port the peer sends it from: what director steering reads
        assertEquals(List.of(4501, 4502, 4503, 4504), p.inbound().stream().map(SaDefinition::remotePort).toList());
        assertEquals(List.of(4500, 4500, 4500, 4500), p.inbound().stream().map(SaDefinition::localPort).toList());
    }

    @Test
    void a_replay_window_of_0_turns_anti_replay_off() throws Exception {
        JsonObject root = validRoot();
        inbound(root, 0).put("replayWindow", 0);

        SaDefinition in = SaFile.parse(root).policies().getFirst().inbound().getFirst();
        assertEquals(ReplayWindow.DISABLED, in.replayWindow());
        assertFalse(new ReplayWindow(in.replayWindow()).enabled());
    }

    @Test
    void SAs_inherit_the_policy_level_defaults() throws Exception {
        JsonObject root = validRoot();
        policy(root, 0).put("esn", true).put("replayWindow", 2048).put("port", 4600).put("encapsulation", "esp");

        PolicyDefinition p = SaFile.parse(root).policies().getFirst();
        for (SaDefinition sa : List.of(p.outbound().getFirst(), p.inbound().getFirst())) {
            assertEquals(EspSuite.AES_GCM_128, sa.suite());
            assertTrue(sa.extendedSequenceNumbers());
            assertEquals(2048, sa.replayWindow());
            assertFalse(sa.udpEncapsulation());
            assertEquals(4600, sa.remotePort());
            assertEquals(4600, sa.localPort());
            assertEquals(InetAddress.getByName("192.0.2.1"), sa.localAddress());
            assertEquals(InetAddress.getByName("192.0.2.2"), sa.remoteAddress());
            assertEquals(p.selector(), sa.selector());
        }
    }

    @Test
    void an_SA_overrides_every_policy_level_default_it_sets_itself() throws Exception {
        JsonObject root = validRoot();
        policy(root, 0).put("esn", true).put("replayWindow", 2048).put("port", 4600);
        inbound(root, 0).put("suite", "aes-cbc-256-hmac-sha256-128").put("key", key(32, 4)).put("integrityKey", key(32, 70))
                .put("esn", false).put("replayWindow", 128).put("port", 4700)
                .put("localAddress", "198.51.100.1").put("remoteAddress", "198.51.100.2");
        outbound(root, 0).put("sourcePort", 4601);

        PolicyDefinition p = SaFile.parse(root).policies().getFirst();
        SaDefinition in = p.inbound().getFirst();
        assertEquals(EspSuite.AES_CBC_256_HMAC_SHA256_128, in.suite());
        assertArrayEquals(hex(key(32, 4)), in.encryptionKey());
        assertArrayEquals(hex(key(32, 70)), in.integrityKey());
        assertFalse(in.extendedSequenceNumbers());
        assertEquals(128, in.replayWindow());
        assertEquals(4700, in.localPort());
        assertEquals(4700, in.remotePort());
        assertEquals(InetAddress.getByName("198.51.100.1"), in.localAddress());
        assertEquals(InetAddress.getByName("198.51.100.2"), in.remoteAddress());

        SaDefinition out = p.outbound().getFirst();
        assertEquals(EspSuite.AES_GCM_128, out.suite(), "the override on one SA leaves the others alone");
        assertTrue(out.extendedSequenceNumbers());
        assertEquals(4601, out.localPort());
        assertEquals(4600, out.remotePort());
    }

    @Test
    void omitted_keys_take_the_documented_defaults() throws Exception {
        PolicyDefinition p = SaFile.parse(validRoot()).policies().getFirst();

        assertEquals(PolicyAction.PROTECT, p.action());
        assertEquals(FlowEncoding.SPI, p.encoding());
        assertEquals(0, p.selector().protocol());
        assertTrue(p.selector().localPorts().isAny());
        assertTrue(p.selector().remotePorts().isAny());
        SaDefinition in = p.inbound().getFirst();
        assertFalse(in.extendedSequenceNumbers());
        assertEquals(ReplayWindow.DEFAULT_SIZE, in.replayWindow());
        assertTrue(in.udpEncapsulation());
        assertEquals(IpProtocol.NAT_T_PORT, in.localPort());
        assertEquals(IpProtocol.NAT_T_PORT, in.remotePort());
        assertEquals("a-to-b-inbound-0", in.name());
        assertEquals("a-to-b-outbound-0", p.outbound().getFirst().name());
        assertEquals(List.of(), p.weights(), "equal weights");
        assertEquals(OptionalInt.empty(), in.lane(), "the data plane picks the lane");
    }

    /** The first policy's outbound group grown to {@code count} SAs (the SPI encoding: distinct SPIs suffice). */
    private static void withOutboundSas(JsonObject root, int count) {
        JsonArray outbound = new JsonArray();
        for (int i = 0; i < count; i++) {
            outbound.add(new JsonObject().put("spi", 0x1001 + i).put("key", key(20, 2 * i)));
        }
        policy(root, 0).put("outbound", outbound);
    }

    @Test
    void weights_and_an_inbound_SAs_lane_are_read_as_written() throws Exception {
        JsonObject root = validRoot();
        withOutboundSas(root, 3);
        policy(root, 0).put("weights", new JsonArray().add(0).add(Integer.MAX_VALUE).add(5L));
        inbound(root, 0).put("lane", 3);

        PolicyDefinition p = SaFile.parse(root).policies().getFirst();
        assertEquals(List.of(0, Integer.MAX_VALUE, 5), p.weights());
        assertEquals(OptionalInt.of(3), p.inbound().getFirst().lane());
        assertEquals(OptionalInt.empty(), p.outbound().getFirst().lane());
    }

    @Test
    void selectors_ports_and_protocols_are_read_in_every_documented_form() throws Exception {
        JsonObject root = validRoot();
        policy(root, 0).put("protocol", "TCP").put("localPorts", "1024-65535").put("remotePorts", 443);
        JsonObject second = secondPolicy().put("protocol", 132).put("local", "2001:db8:1::/48").put("remote", "any")
                .put("localAddress", "2001:db8::1").put("remoteAddress", "2001:db8::2");
        root.getJsonArray("policies").add(second);

        List<PolicyDefinition> policies = SaFile.parse(root).policies();
        assertEquals(IpProtocol.TCP, policies.get(0).selector().protocol());
        assertEquals(1024, policies.get(0).selector().localPorts().first());
        assertEquals(65535, policies.get(0).selector().localPorts().last());
        assertEquals(443, policies.get(0).selector().remotePorts().first());
        assertEquals(443, policies.get(0).selector().remotePorts().last());
        assertEquals(132, policies.get(1).selector().protocol());
        assertEquals("2001:db8:1::/48", policies.get(1).selector().local().toString().replace(":0:0:0:0:0", "::"));
        assertTrue(policies.get(1).selector().remote().isAny());
        assertEquals(InetAddress.getByName("2001:db8::2"), policies.get(1).inbound().getFirst().remoteAddress());
    }

    @Test
    void SPIs_are_read_as_decimal_numbers_decimal_strings_and_hex_up_to_0xffffffff() throws Exception {
        JsonObject root = validRoot();
        policy(root, 0).put("inbound", new JsonArray()
                .add(new JsonObject().put("spi", 256).put("key", IN_KEY))
                .add(new JsonObject().put("spi", "4096").put("key", IN_KEY))
                .add(new JsonObject().put("spi", "0XFFFFFFFF").put("key", IN_KEY))
                .add(new JsonObject().put("spi", 4294967294L).put("key", IN_KEY)));

        List<Integer> spis = SaFile.parse(root).policies().getFirst().inbound().stream().map(SaDefinition::spi).toList();
        assertEquals(List.of(256, 4096, 0xFFFFFFFF, 0xFFFFFFFE), spis);
    }

    @Test
    void bypass_and_discard_policies_need_no_SAs() throws Exception {
        JsonObject root = validRoot();
        root.getJsonArray("policies")
                .add(new JsonObject().put("name", "mgmt").put("remote", "192.0.2.0/24").put("action", "bypass"))
                .add(new JsonObject().put("name", "rest").put("action", "DISCARD"));

        List<PolicyDefinition> policies = SaFile.parse(root).policies();
        assertEquals(PolicyAction.BYPASS, policies.get(1).action());
        assertEquals(PolicyAction.DISCARD, policies.get(2).action());
        assertTrue(policies.get(1).outbound().isEmpty());
        assertTrue(policies.get(2).inbound().isEmpty());
    }

    @Test
    void an_SA_definition_prints_without_its_keys() throws Exception {
        JsonObject root = validRoot();
        inbound(root, 0).put("suite", "aes-cbc-128-hmac-sha1-96").put("key", key(16, 10)).put("integrityKey", key(20, 90));
        SaDefinition in = SaFile.parse(root).policies().getFirst().inbound().getFirst();

        assertTrue(in.toString().contains("0x2001"), in::toString);
        assertNoKeyMaterial(in.toString());
        assertNoKeyMaterial(SaFile.build(in).toString());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Bad files

    @Test
    void a_file_that_is_not_JSON_is_refused_with_its_name(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("broken.sa.json");
        Files.writeString(file, "{\"policies\": [ {\"name\": \"x\", } ");

        ConfigException e = assertThrows(ConfigException.class, () -> SaFile.read(file));
        assertTrue(e.getMessage().contains(file.toString()), e::getMessage);
        assertTrue(e.getMessage().contains("not valid JSON"), e::getMessage);
        assertFalse(e.getMessage().contains("\n"), e::getMessage);
    }

    @Test
    void an_empty_file_is_refused_as_not_JSON(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("empty.json");
        Files.writeString(file, "");

        ConfigException e = assertThrows(ConfigException.class, () -> SaFile.read(file));
        assertTrue(e.getMessage().contains("not valid JSON"), e::getMessage);
    }

    @Test
    void a_JSON_syntax_error_next_to_a_key_does_not_show_the_key(@TempDir Path dir) throws IOException {
        // the key's quotes forgotten: the JSON parser's own message quotes the offending token
        Path file = dir.resolve("unquoted.sa.json");
        Files.writeString(file, "{\"policies\": [{\"suite\": \"aes-gcm-128\", \"outbound\": [{\"spi\": 4097, \"key\": "
                + key(20, 40).replaceFirst("^[0-9]*", "") + "}]}]}");

        ConfigException e = assertThrows(ConfigException.class, () -> SaFile.read(file));
        assertTrue(e.getMessage().contains("not valid JSON"), e::getMessage);
        assertNoKeyMaterial(e.getMessage());
    }

    @Test
    void a_top_level_that_is_not_an_object_is_refused_as_such(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("list.json");
        Files.writeString(file, "[{\"policies\": []}]");

        ConfigException e = assertThrows(ConfigException.class, () -> SaFile.read(file));
        assertTrue(e.getMessage().contains(file.toString()), e::getMessage);
        assertTrue(e.getMessage().contains("must hold a JSON object at the top level"), e::getMessage);
    }

    @Test
    void a_missing_file_is_refused_with_its_name(@TempDir Path dir) {
        Path file = dir.resolve("nowhere.json");

        ConfigException e = assertThrows(ConfigException.class, () -> SaFile.read(file));
        assertEquals("SA file " + file + " does not exist", e.getMessage());
    }

    static Stream<Arguments> badFiles() {
        return Stream.of(
                bad("a file without policies", r -> r.remove("policies"), "policies", "at least one policy is required"),
                bad("an empty list of policies", r -> r.put("policies", new JsonArray()), "policies", "at least one policy"),
                bad("policies that are not a list", r -> r.put("policies", new JsonObject()), "policies", "must be a list"),
                bad("a policy that is not an object", r -> r.put("policies", new JsonArray().add("a-to-b")), "policies[0]", "must be an object"),
                bad("an unknown top-level key", r -> r.put("polices", new JsonArray()), "polices", "unknown key"),
                bad("a misspelt policy key", r -> policy(r, 0).put("sutie", policy(r, 0).remove("suite")), "policies[0].sutie", "unknown key (allowed: "),
                bad("a misspelt SA key", r -> outbound(r, 0).put("kye", outbound(r, 0).remove("key")), "policies[0].outbound[0].kye", "unknown key"),
                bad("an SA that is not an object", r -> policy(r, 0).getJsonArray("inbound").add(42), "policies[0].inbound[1]", "must be an object"),
                bad("a policy name that is not a string", r -> policy(r, 0).put("name", 7), "policies[0].name", "must be a string"),
                bad("a prefix that is not a string", r -> policy(r, 0).put("local", 10), "policies[0].local", "must be a string"),
                bad("esn that is not a boolean", r -> policy(r, 0).put("esn", "yes"), "policies[0].esn", "must be true or false"),
                bad("a replay window written as a string", r -> inbound(r, 0).put("replayWindow", "1024"), "policies[0].inbound[0].replayWindow", "must be an integer"),
                bad("a replay window with a fraction", r -> policy(r, 0).put("replayWindow", 1024.5), "policies[0].replayWindow", "must be an integer"),
                bad("outbound SAs that are not a list", r -> policy(r, 0).put("outbound", new JsonObject()), "policies[0].outbound", "must be a list"),
                bad("a key that is not a string", r -> outbound(r, 0).put("key", 12345678), "policies[0].outbound[0].key", "must be a hex string"),
                bad("a port written as a string", r -> policy(r, 0).put("port", "4500"), "policies[0].port", "must be an integer"),
                bad("an SPI that is a boolean", r -> outbound(r, 0).put("spi", true), "policies[0].outbound[0].spi", "must be a number or 0x-prefixed hex"),
                bad("an unknown suite on the policy", r -> policy(r, 0).put("suite", "aes-gcm-129"), "policies[0].suite", "unknown suite 'aes-gcm-129'"),
                bad("an unknown suite on an SA", r -> inbound(r, 0).put("suite", "3des"), "policies[0].inbound[0].suite", "unknown suite '3des' (known: aes-gcm-128"),
                bad("no suite anywhere", r -> policy(r, 0).remove("suite"), "policies[0].outbound[0].suite", "no suite given"),
                bad("an integrity key for an AEAD suite", r -> outbound(r, 0).put("integrityKey", key(20, 30)), "policies[0].outbound[0].integrityKey", "this suite takes no such key"),
                bad("a CBC suite without its integrity key", r -> inbound(r, 0).put("suite", "aes-cbc-128-hmac-sha1-96").put("key", key(16, 2)), "policies[0].inbound[0].integrityKey", "is required for this suite"),
                bad("an encryption key for the NULL suite", r -> outbound(r, 0).put("suite", "null-hmac-sha256-128").put("integrityKey", key(32, 6)), "policies[0].outbound[0].key", "this suite takes no such key"),
                bad("a missing key", r -> inbound(r, 0).remove("key"), "policies[0].inbound[0].key", "is required for this suite"),
                bad("a key with a non-hex digit", r -> outbound(r, 0).put("key", OUT_KEY.substring(0, 38) + "zz"), "policies[0].outbound[0].key", "not a hex digit at position 38"),
                bad("a key with an odd number of digits", r -> outbound(r, 0).put("key", OUT_KEY + "a"), "policies[0].outbound[0].key", "odd number of digits"),
                bad("a GCM key without its salt", r -> outbound(r, 0).put("key", key(16, 0)), "policies[0].outbound[0]", "needs a 20-byte encryption key (16 key + 4 salt), got 16 bytes"),
                bad("a missing SPI", r -> outbound(r, 0).remove("spi"), "policies[0].outbound[0].spi", "is required"),
                bad("the reserved SPI 255", r -> outbound(r, 0).put("spi", 255), "policies[0].outbound[0].spi", "reserved"),
                bad("the reserved SPI 0x1", r -> inbound(r, 0).put("spi", "0x1"), "policies[0].inbound[0].spi", "reserved"),
                bad("the SPI 0", r -> inbound(r, 0).put("spi", 0), "policies[0].inbound[0].spi", "must be 256 to 0xffffffff"),
                bad("a negative SPI", r -> inbound(r, 0).put("spi", -300), "policies[0].inbound[0].spi", "must be 256 to 0xffffffff"),
                bad("an SPI of 0x100000000", r -> outbound(r, 0).put("spi", "0x100000000"), "policies[0].outbound[0].spi", "must be 256 to 0xffffffff"),
                bad("an SPI of 4294967296", r -> outbound(r, 0).put("spi", 4294967296L), "policies[0].outbound[0].spi", "must be 256 to 0xffffffff"),
                bad("an SPI that is not a number", r -> outbound(r, 0).put("spi", "0xb00g"), "policies[0].outbound[0].spi", "must be a number or 0x-prefixed hex, got '0xb00g'"),
                bad("an inbound SPI used twice in one policy", r -> policy(r, 0).getJsonArray("inbound").add(new JsonObject().put("spi", 8193).put("key", key(20, 50))), "policies[0].inbound[1].spi", "inbound SPI 0x2001 is used twice"),
                bad("an inbound SPI used twice across policies", r -> r.getJsonArray("policies").add(secondPolicy().put("inbound", new JsonArray().add(new JsonObject().put("spi", "0x2001").put("key", key(20, 50))))), "policies[1].inbound[0].spi", "inbound SPI 0x2001 is used twice"),
                bad("an outbound SPI used twice in one group", r -> policy(r, 0).getJsonArray("outbound").add(new JsonObject().put("spi", "0x1001").put("key", key(20, 50))), "policies[0].outbound[1].spi", "outbound SPI 0x1001 is used twice"),
                bad("a prefix that is a host name", r -> policy(r, 0).put("remote", "branch.example.com/24"), "policies[0].remote", "is not an IP address"),
                bad("a prefix with three octets", r -> policy(r, 0).put("local", "10.1.0/16"), "policies[0].local", "is not an IPv4 address"),
                bad("a prefix length that is not a number", r -> policy(r, 0).put("local", "10.1.0.0/x"), "policies[0].local", "bad prefix length in '10.1.0.0/x'"),
                bad("an IPv4 prefix length of 33", r -> policy(r, 0).put("local", "10.1.0.0/33"), "policies[0].local", "prefix length 33 out of range"),
                bad("an IPv6 prefix length of 129", r -> policy(r, 0).put("remote", "2001:db8::/129"), "policies[0].remote", "prefix length 129 out of range"),
                bad("a negative prefix length", r -> policy(r, 0).put("remote", "10.2.0.0/-1"), "policies[0].remote", "out of range"),
                bad("local and remote prefixes of different families", r -> policy(r, 0).put("remote", "2001:db8::/32"), "policies[0]", "are of different families"),
                bad("a port range running backwards", r -> policy(r, 0).put("localPorts", "2000-1000"), "policies[0].localPorts", "bad port range 2000-1000"),
                bad("a port range that is a name", r -> policy(r, 0).put("remotePorts", "https"), "policies[0].remotePorts", "bad port range 'https'"),
                bad("a port above 65535 in a selector", r -> policy(r, 0).put("remotePorts", 70000), "policies[0].remotePorts", "bad port range"),
                bad("an unknown protocol name", r -> policy(r, 0).put("protocol", "tcpp"), "policies[0].protocol", "must be any, tcp, udp, icmp, icmpv6, sctp or a number"),
                bad("a protocol number above 255", r -> policy(r, 0).put("protocol", 256), "policies[0].protocol", "must be 0-255, got 256"),
                bad("an unknown action", r -> policy(r, 0).put("action", "allow"), "policies[0].action", "must be protect, bypass or discard"),
                bad("an unknown encapsulation", r -> policy(r, 0).put("encapsulation", "gre"), "policies[0].encapsulation", "must be udp (ESP-in-UDP, RFC 3948) or esp"),
                bad("an unknown flow encoding", r -> policy(r, 0).put("encoding", "rss"), "policies[0].encoding", "unknown encoding 'rss'"),
                bad("the udp-port encoding with one source port for two SAs", r -> {
                    policy(r, 0).put("encoding", "udp-port");
                    outbound(r, 0).put("sourcePort", 4501);
                    policy(r, 0).getJsonArray("outbound").add(new JsonObject().put("spi", "0x1002").put("key", key(20, 50)).put("sourcePort", 4501));
                }, "policies[0].outbound", "needs a distinct source port per SA (4501 used twice)"),
                bad("the udp-port encoding without ESP-in-UDP", r -> policy(r, 0).put("encoding", "udp-port").put("encapsulation", "esp"), "policies[0].outbound", "encoding udp-port needs ESP-in-UDP"),
                bad("the address encoding with one address pair for two SAs", r -> {
                    policy(r, 0).put("encoding", "address");
                    policy(r, 0).getJsonArray("outbound").add(new JsonObject().put("spi", "0x1002").put("key", key(20, 50)));
                }, "policies[0].outbound", "needs a distinct outer address pair per SA (192.0.2.1>192.0.2.2 used twice)"),
                bad("a replay window of 1000 on an inbound SA", r -> inbound(r, 0).put("replayWindow", 1000), "policies[0].inbound[0]", "replay window must be a multiple of 64 between 64 and 65536, or 0 for no anti-replay, got 1000"),
                bad("a replay window of 32", r -> inbound(r, 0).put("replayWindow", 32), "policies[0].inbound[0]", "replay window must be a multiple of 64"),
                bad("no anti-replay (window 0) with ESN", r -> {
                    policy(r, 0).put("esn", true);
                    inbound(r, 0).put("replayWindow", 0);
                }, "policies[0].inbound[0].replayWindow", "0 (no anti-replay) cannot go with esn"),
                bad("a replay window above 65536", r -> inbound(r, 0).put("replayWindow", 65536 + 64), "policies[0].inbound[0]", "replay window must be a multiple of 64"),
                bad("outer addresses of different families", r -> policy(r, 0).put("remoteAddress", "2001:db8::2"), "policies[0].outbound[0]", "are of different families"),
                bad("outer addresses of different families on one SA", r -> inbound(r, 0).put("localAddress", "2001:db8::1"), "policies[0].inbound[0]", "are of different families"),
                bad("no outer addresses", r -> policy(r, 0).remove("remoteAddress"), "policies[0].outbound[0]", "outer localAddress and remoteAddress are required"),
                bad("an outer address that is a host name", r -> policy(r, 0).put("localAddress", "gw.example.com"), "policies[0].localAddress", "is not an IP address"),
                bad("an outer address with a prefix length", r -> inbound(r, 0).put("remoteAddress", "192.0.2.0/24"), "policies[0].inbound[0].remoteAddress", "is not an IP address"),
                bad("a UDP port of 0", r -> policy(r, 0).put("port", 0), "policies[0].port", "must be a port number 1-65535, got 0"),
                bad("a source port above 65535", r -> outbound(r, 0).put("sourcePort", 65536), "policies[0].outbound[0].sourcePort", "must be a port number 1-65535, got 65536"),
                bad("two policies with one name", r -> r.getJsonArray("policies").add(secondPolicy().put("name", "a-to-b")), "policies[1].name", "policy name 'a-to-b' is used twice"),
                bad("a bypass policy with outbound SAs", r -> policy(r, 0).put("action", "bypass"), "policies[0].outbound", "a bypass policy has no SAs"),
                bad("a discard policy with inbound SAs", r -> {
                    policy(r, 0).put("action", "discard");
                    policy(r, 0).remove("outbound");
                }, "policies[0].inbound", "a discard policy has no SAs"),
                bad("a protect policy without SAs", r -> {
                    policy(r, 0).remove("outbound");
                    policy(r, 0).remove("inbound");
                }, "policies[0]", "a protect policy needs outbound and/or inbound SAs"),
                bad("weights that are not a list", r -> policy(r, 0).put("weights", 1), "policies[0].weights", "must be a list"),
                bad("one weight too many", r -> policy(r, 0).put("weights", new JsonArray().add(1).add(1)), "policies[0].weights",
                        "must hold one weight per outbound SA, in order (1), got 2"),
                bad("one weight too few", r -> {
                    withOutboundSas(r, 3);
                    policy(r, 0).put("weights", new JsonArray().add(1).add(1));
                }, "policies[0].weights", "must hold one weight per outbound SA, in order (3), got 2"),
                bad("an empty list of weights", r -> policy(r, 0).put("weights", new JsonArray()), "policies[0].weights", "(1), got 0"),
                bad("a negative third weight", r -> {
                    withOutboundSas(r, 3);
                    policy(r, 0).put("weights", new JsonArray().add(1).add(2).add(-1));
                }, "policies[0].weights[2]", "must be a whole number from 0 to 2147483647"),
                bad("a weight beyond 32 bits", r -> policy(r, 0).put("weights", new JsonArray().add(2147483648L)), "policies[0].weights[0]", "must be a whole number"),
                bad("a weight with a fraction", r -> policy(r, 0).put("weights", new JsonArray().add(1.5)), "policies[0].weights[0]", "must be a whole number"),
                bad("a weight written as a string", r -> policy(r, 0).put("weights", new JsonArray().add("1")), "policies[0].weights[0]", "must be a whole number"),
                bad("weights that are all 0", r -> {
                    withOutboundSas(r, 2);
                    policy(r, 0).put("weights", new JsonArray().add(0).add(0));
                }, "policies[0].weights", "at least one weight must be positive"),
                bad("weights for a policy without outbound SAs", r -> {
                    policy(r, 0).remove("outbound");
                    policy(r, 0).put("weights", new JsonArray().add(1));
                }, "policies[0].weights", "weighs the outbound SAs of the policy's group, and it has none"),
                bad("weights on a bypass policy", r -> r.getJsonArray("policies").add(new JsonObject().put("name", "mgmt")
                        .put("action", "bypass").put("weights", new JsonArray().add(1))), "policies[1].weights", "a bypass policy has no SAs"),
                bad("a negative lane", r -> inbound(r, 0).put("lane", -1), "policies[0].inbound[0].lane", "must be a lane number, 0 or more"),
                bad("a lane written as a string", r -> inbound(r, 0).put("lane", "1"), "policies[0].inbound[0].lane", "must be a lane number"),
                bad("a lane with a fraction", r -> inbound(r, 0).put("lane", 0.5), "policies[0].inbound[0].lane", "must be a lane number"),
                bad("a lane beyond 32 bits", r -> inbound(r, 0).put("lane", 4294967296L), "policies[0].inbound[0].lane", "must be a lane number"),
                bad("a lane on an outbound SA", r -> outbound(r, 0).put("lane", 0), "policies[0].outbound[0].lane", "only an inbound SA has a lane"),
                bad("a problem in the third policy", r -> r.getJsonArray("policies").add(secondPolicy())
                        .add(secondPolicy().put("name", "third").put("sutie", "aes-gcm-128")), "policies[2].sutie", "unknown key"));
    }

    private static Arguments bad(String what, Consumer<JsonObject> change, String path, String problem) {
        JsonObject root = validRoot();
        change.accept(root);
        return arguments(what, root, path, problem);
    }

    @ParameterizedTest(name = "{0} is refused, naming its path and the problem")
    @MethodSource("badFiles")
    void a_bad_file_is_refused_with_the_path_and_the_problem_but_never_a_key(String what, JsonObject root, String path,
                                                                              String problem) {
        assertRefused(root, path, problem);
    }

    @Test
    void the_valid_file_the_bad_ones_are_made_from_parses() throws Exception {
        assertEquals(1, SaFile.parse(validRoot()).policies().size());
    }

    static Stream<Arguments> keyLengths() {
        return Stream.of(EspSuite.values()).map(s -> arguments(s, s.encryptionKeyLength(), s.integrityKeyLength()));
    }

    private static JsonObject withSuite(EspSuite suite, int keyBytes, int integrityBytes) {
        JsonObject root = validRoot();
        policy(root, 0).put("suite", suite.configName());
        for (JsonObject sa : List.of(outbound(root, 0), inbound(root, 0))) {
            sa.remove("key");
            if (keyBytes > 0) {
                sa.put("key", key(keyBytes, 0));
            }
            if (integrityBytes > 0) {
                sa.put("integrityKey", key(integrityBytes, 64));
            }
        }
        return root;
    }

    @ParameterizedTest(name = "{0} takes a {1}-byte key and a {2}-byte integrity key")
    @MethodSource("keyLengths")
    void every_suite_accepts_keys_of_its_own_lengths(EspSuite suite, int keyBytes, int integrityBytes) throws Exception {
        SaDefinition in = SaFile.parse(withSuite(suite, keyBytes, integrityBytes)).policies().getFirst().inbound().getFirst();

        assertEquals(suite, in.suite());
        assertEquals(keyBytes, in.encryptionKey().length);
        assertEquals(integrityBytes, in.integrityKey().length);
    }

    @ParameterizedTest(name = "{0} refuses an encryption key one byte short")
    @EnumSource(value = EspSuite.class, mode = EnumSource.Mode.EXCLUDE, names = "NULL_HMAC_SHA256_128")
    void every_suite_refuses_an_encryption_key_one_byte_short(EspSuite suite) {
        JsonObject root = withSuite(suite, suite.encryptionKeyLength() - 1, suite.integrityKeyLength());

        assertRefused(root, "policies[0].outbound[0]", "needs a " + suite.encryptionKeyLength() + "-byte encryption key");
    }

    @ParameterizedTest(name = "{0} refuses an encryption key one byte long")
    @EnumSource(value = EspSuite.class, mode = EnumSource.Mode.EXCLUDE, names = "NULL_HMAC_SHA256_128")
    void every_suite_refuses_an_encryption_key_one_byte_long(EspSuite suite) {
        JsonObject root = withSuite(suite, suite.encryptionKeyLength() + 1, suite.integrityKeyLength());

        assertRefused(root, "policies[0].outbound[0]", "got " + (suite.encryptionKeyLength() + 1) + " bytes");
    }

    @Test
    void a_GCM_256_key_must_hold_32_key_bytes_and_4_salt_bytes() {
        JsonObject root = withSuite(EspSuite.AES_GCM_256, 32, 0);

        assertRefused(root, "policies[0].outbound[0]", "needs a 36-byte encryption key (32 key + 4 salt), got 32 bytes");
    }

    @ParameterizedTest(name = "{0} refuses an integrity key one byte short")
    @EnumSource(value = EspSuite.class, names = {"AES_CBC_128_HMAC_SHA1_96", "AES_CBC_256_HMAC_SHA256_128", "NULL_HMAC_SHA256_128"})
    void every_suite_with_an_integrity_key_refuses_one_a_byte_short(EspSuite suite) {
        JsonObject root = withSuite(suite, suite.encryptionKeyLength(), suite.integrityKeyLength() - 1);

        assertRefused(root, "policies[0].outbound[0]", "needs a " + suite.integrityKeyLength() + "-byte integrity key, got "
                + (suite.integrityKeyLength() - 1) + " bytes");
    }

    @Test
    void a_replay_window_that_is_not_a_multiple_of_64_is_refused_even_without_inbound_SAs() {
        // the decrypt tables turn outbound SAs into inbound ones, so the window must be valid for them too
        JsonObject root = validRoot();
        policy(root, 0).remove("inbound");
        policy(root, 0).put("replayWindow", 100);

        ConfigException e = refused(root);
        assertTrue(e.getMessage().startsWith("policies[0]"), e::getMessage);
        assertTrue(e.getMessage().contains("multiple of 64"), e::getMessage);
    }

    @Test
    void an_SPI_too_large_for_64_bits_is_refused_rather_than_wrapped() {
        JsonObject root = validRoot();
        outbound(root, 0).put("spi", new java.math.BigInteger("18446744073709551872")); // 2^64 + 256

        assertRefused(root, "policies[0].outbound[0].spi", "");
    }

    @Test
    void an_SPI_with_a_fraction_is_refused_rather_than_truncated() {
        JsonObject root = validRoot();
        outbound(root, 0).put("spi", 4097.5);

        assertRefused(root, "policies[0].outbound[0].spi", "");
    }

    @Test
    void a_selector_port_with_a_fraction_or_beyond_64_bits_is_refused_rather_than_truncated_to_another_port() {
        JsonObject fraction = validRoot();
        policy(fraction, 0).put("remotePorts", 443.9);
        assertRefused(fraction, "policies[0].remotePorts", "must be a port, a range N-M or any, got 443.9");

        JsonObject wrapped = validRoot();
        policy(wrapped, 0).put("localPorts", java.math.BigInteger.ONE.shiftLeft(64).add(java.math.BigInteger.valueOf(443)));
        assertRefused(wrapped, "policies[0].localPorts", "must be a port, a range N-M or any");
    }

    @Test
    void an_empty_top_level_key_is_named_as_such_not_left_out_of_the_message() {
        assertRefused(validRoot().put("", 1), "\"\"", "unknown key (allowed: policies)");
    }

    /** Found by ConfigParserFuzzTest: messages quote values and keys as written, line breaks and all. */
    static Stream<Arguments> lineBreakingValues() {
        return Stream.of(
                arguments("a suite", (Consumer<JsonObject>) r -> policy(r, 0).put("suite", "aes-gcm\n128"),
                        "policies[0].suite: unknown suite 'aes-gcm\\n128'"),
                arguments("a prefix", (Consumer<JsonObject>) r -> policy(r, 0).put("local", "10.1.0.0/1\r\n6"),
                        "policies[0].local: bad prefix length in '10.1.0.0/1\\r\\n6'"),
                arguments("an outer address", (Consumer<JsonObject>) r -> policy(r, 0).put("localAddress", "192.0\u2028.2.1"),
                        "policies[0].localAddress: '192.0\\u2028.2.1' is not an IP address"),
                arguments("a port range", (Consumer<JsonObject>) r -> policy(r, 0).put("remotePorts", "44\u20293"),
                        "policies[0].remotePorts: bad port range '44\\u20293'"),
                arguments("an encoding", (Consumer<JsonObject>) r -> policy(r, 0).put("encoding", "udp\u0085port"),
                        "policies[0].encoding: unknown encoding 'udp\\u0085port'"),
                arguments("an SPI", (Consumer<JsonObject>) r -> outbound(r, 0).put("spi", "0x10\u000001"),
                        "policies[0].outbound[0].spi: must be a number or 0x-prefixed hex, got '0x10\\u000001'"),
                arguments("an unknown key", (Consumer<JsonObject>) r -> policy(r, 0).put("sui\nte", "aes-gcm-128"),
                        "policies[0].sui\\nte: unknown key"),
                arguments("a policy name used twice", (Consumer<JsonObject>) r -> {
                    policy(r, 0).put("name", "a\nb");
                    r.getJsonArray("policies").add(secondPolicy().put("name", "a\nb"));
                }, "policies[1].name: policy name 'a\\nb' is used twice"),
                arguments("an SA name in the data plane's own message", (Consumer<JsonObject>) r ->
                        outbound(r, 0).put("name", "out\u001b[2K").put("key", key(16, 0)),
                        "policies[0].outbound[0]: out\\u001b[2K: aes-gcm-128 needs a 20-byte encryption key"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lineBreakingValues")
    void a_line_break_or_control_character_quoted_in_a_message_is_escaped_so_the_message_stays_one_line(
            String what, Consumer<JsonObject> change, String expected) {
        JsonObject root = validRoot();
        change.accept(root);

        ConfigException e = refused(root);
        assertTrue(e.getMessage().startsWith(expected), () -> "expected '" + expected + "...', got: " + e.getMessage());
        assertTrue(e.getMessage().chars().noneMatch(c -> Character.isISOControl(c) || c == '\u2028' || c == '\u2029'),
                e::getMessage);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Tables

    private static JsonObject twoPoliciesAndABypass() {
        JsonObject root = validRoot();
        policy(root, 0).put("encoding", "udp-port");
        policy(root, 0).getJsonArray("outbound")
                .add(new JsonObject().put("spi", "0x1002").put("key", key(20, 2)).put("sourcePort", 4502));
        outbound(root, 0).put("sourcePort", 4501);
        root.getJsonArray("policies")
                .add(secondPolicy())
                .add(new JsonObject().put("name", "mgmt").put("action", "bypass").put("remote", "192.0.2.0/24"));
        return root;
    }

    @Test
    void the_tables_hold_policies_in_file_order_outbound_groups_and_inbound_SAs_by_SPI() throws Exception {
        SaFile.Tables tables = SaFile.parse(twoPoliciesAndABypass()).buildTables();

        List<SecurityPolicy> spd = tables.spd().policies();
        assertEquals(List.of("a-to-b", "a-to-c", "mgmt"), spd.stream().map(SecurityPolicy::name).toList());
        assertEquals(List.of(0x1001, 0x1002), spd.get(0).outboundGroup().members().stream().map(SecurityAssociation::spi).toList());
        assertEquals(FlowEncoding.UDP_PORT, spd.get(0).outboundGroup().encoding());
        assertEquals(List.of(0x3001), spd.get(1).outboundGroup().members().stream().map(SecurityAssociation::spi).toList());
        assertEquals(PolicyAction.BYPASS, spd.get(2).action());
        assertNull(spd.get(2).outboundGroup());

        for (int spi : new int[] {0x2001, 0x4001}) {
            SecurityAssociation sa = tables.sad().inbound(spi);
            assertNotNull(sa, "inbound SPI 0x" + Integer.toHexString(spi));
            assertEquals(SecurityAssociation.Direction.INBOUND, sa.direction());
        }
        for (int spi : new int[] {0x1001, 0x1002, 0x3001}) {
            assertNull(tables.sad().inbound(spi), "outbound SPI 0x" + Integer.toHexString(spi) + " is not an inbound one");
        }
        assertEquals(5, tables.sad().all().size());
        SecurityAssociation out = spd.get(0).outboundGroup().member(1);
        assertEquals(SecurityAssociation.Direction.OUTBOUND, out.direction());
        assertEquals(4502, out.outer().localPort());
        assertEquals(4500, out.outer().remotePort());
        assertEquals(InetAddress.getByName("192.0.2.1"), out.outer().local());
    }

    @Test
    void the_decrypt_tables_hold_the_inbound_SAs_and_the_outbound_ones_mirrored() throws Exception {
        SaFile.Tables tables = SaFile.parse(twoPoliciesAndABypass()).buildDecryptTables();

        assertTrue(tables.spd().policies().isEmpty());
        assertEquals(5, tables.sad().all().size());
        for (int spi : new int[] {0x2001, 0x4001, 0x1001, 0x1002, 0x3001}) {
            SecurityAssociation sa = tables.sad().inbound(spi);
            assertNotNull(sa, "SPI 0x" + Integer.toHexString(spi));
            assertEquals(SecurityAssociation.Direction.INBOUND, sa.direction());
        }
        SecurityAssociation inbound = tables.sad().inbound(0x2001);
        assertEquals(InetAddress.getByName("192.0.2.1"), inbound.outer().local());
        assertEquals("10.1.0.0/16", inbound.selector().local().toString());

        SecurityAssociation mirrored = tables.sad().inbound(0x1002);
        assertEquals("a-to-b-outbound-1", mirrored.name());
        assertEquals(InetAddress.getByName("192.0.2.2"), mirrored.outer().local());
        assertEquals(InetAddress.getByName("192.0.2.1"), mirrored.outer().remote());
        assertEquals(4500, mirrored.outer().localPort());
        assertEquals(4502, mirrored.outer().remotePort());
        assertEquals("10.2.0.0/16", mirrored.selector().local().toString());
        assertEquals("10.1.0.0/16", mirrored.selector().remote().toString());
    }

    @Test
    void in_the_decrypt_tables_an_inbound_SA_wins_over_an_outbound_one_with_the_same_SPI() throws Exception {
        JsonObject root = validRoot();
        inbound(root, 0).put("spi", "0x1001").put("name", "the-inbound-one");

        SaFile.Tables tables = SaFile.parse(root).buildDecryptTables();
        assertEquals(1, tables.sad().all().size());
        assertEquals("the-inbound-one", tables.sad().inbound(0x1001).name());
    }

    @Test
    void the_decrypt_tables_of_site_a_hold_all_five_SPIs_of_the_tunnel() throws Exception {
        SaFile.Tables tables = SaFile.read(TestPaths.examples().resolve("site-a.sa.json")).buildDecryptTables();

        for (int spi : new int[] {0xa001, 0xb001, 0xb002, 0xb003, 0xb004}) {
            assertNotNull(tables.sad().inbound(spi), "SPI 0x" + Integer.toHexString(spi));
        }
        assertNull(tables.sad().inbound(0xb005));
    }

    private static byte[] hex(String hex) {
        return java.util.HexFormat.of().parseHex(hex);
    }
}
