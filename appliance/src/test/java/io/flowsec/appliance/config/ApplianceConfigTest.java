package io.flowsec.appliance.config;

import io.flowsec.appliance.TestPaths;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.crypto.EspSuite;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ApplianceConfigTest {
    private static final Path SITE_B = TestPaths.examples().resolve("site-b.sa.json");
    private static final int CPUS = Runtime.getRuntime().availableProcessors();
    /** Lanes of the full configuration: two where the machine has two CPUs to pin them to, else one. */
    private static final int FULL_LANES = Math.min(2, CPUS);

    @TempDir
    Path dir;

    // ---------------------------------------------------------------------------------------------------------------
    // Configurations the tests start from

    /** The policies of examples/site-b.sa.json, exactly as in the file (a fresh copy each time). */
    private static JsonArray siteBPolicies() {
        try {
            return new JsonObject(Files.readString(SITE_B)).getJsonArray("policies");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every key (hex) in site-b's policies: no message may show any of them. */
    private static List<String> siteBKeys() {
        List<String> keys = new ArrayList<>();
        for (Object policy : siteBPolicies()) {
            for (String direction : List.of("outbound", "inbound")) {
                for (Object sa : ((JsonObject) policy).getJsonArray(direction)) {
                    for (String field : List.of("key", "integrityKey")) {
                        String key = ((JsonObject) sa).getString(field);
                        if (key != null) {
                            keys.add(key.toLowerCase(Locale.ROOT));
                        }
                    }
                }
            }
        }
        return keys;
    }

    /** Only what has no default: the site's device and addresses, and the policies. */
    private static JsonObject minimal() {
        return new JsonObject()
                .put("site", new JsonObject().put("device", "fs0").put("addresses", new JsonArray().add("10.255.0.2/32")))
                .put("policies", siteBPolicies());
    }

    /** Every key set, none to its default (the README's example, with values the defaults cannot produce). */
    private static JsonObject full() {
        JsonArray cpus = new JsonArray();
        IntStream.range(0, FULL_LANES).forEach(cpus::add);
        return new JsonObject()
                .put("name", "router-b")
                .put("lanes", FULL_LANES)
                .put("cpus", cpus)
                .put("mode", "single")
                .put("steering", "rss")
                .put("tunnelMtu", 1400)
                .put("site", new JsonObject()
                        .put("device", "fs-router-b")
                        .put("addresses", new JsonArray().add("10.255.0.2/32").add("fd00:ff::2/128"))
                        .put("routes", new JsonArray().add("10.1.0.0/16").add("2001:db8:1::/48"))
                        .put("mtu", 1300))
                .put("statusSocket", "/tmp/flowsec-test/router-b.sock")
                .put("policies", siteBPolicies());
    }

    private static JsonObject site(JsonObject config) {
        return config.getJsonObject("site");
    }

    private static JsonObject policy(JsonObject config, int index) {
        return config.getJsonArray("policies").getJsonObject(index);
    }

    private static JsonObject sa(JsonObject config, String direction, int index) {
        return policy(config, 0).getJsonArray(direction).getJsonObject(index);
    }

    private Path write(String name, String text) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    /** Asserts the message shows no key of site-b: no run of 8 hex digits of any of them, in either case. */
    private static void assertNoKeyMaterial(String message) {
        String lower = message.toLowerCase(Locale.ROOT);
        for (String key : siteBKeys()) {
            for (int i = 0; i + 8 <= key.length(); i++) {
                String window = key.substring(i, i + 8);
                assertFalse(lower.contains(window), () -> "message shows key material '" + window + "': " + message);
            }
        }
    }

    private static ConfigException refused(JsonObject config) {
        JsonObject copy = config.copy();
        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.parse(copy),
                () -> "accepted: " + config.encode());
        assertNoKeyMaterial(e.getMessage());
        assertFalse(e.getMessage().contains("\n"), () -> "one line: " + e.getMessage());
        return e;
    }

    private static void assertRefused(JsonObject config, String path, String problem) {
        ConfigException e = refused(config);
        assertEquals(path, e.path(), () -> "path of: " + e.getMessage());
        assertTrue(e.getMessage().startsWith(path + ": "), () -> "message should start with the path: " + e.getMessage());
        assertTrue(e.getMessage().contains(problem), () -> "message should say '" + problem + "': " + e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Good configurations

    @Test
    void a_full_configuration_file_is_read_with_every_field_as_written() throws Exception {
        Path file = write("router-b.json", full().encodePrettily());

        ApplianceConfig config = ApplianceConfig.read(file);

        assertEquals("router-b", config.name());
        assertEquals(FULL_LANES, config.lanes());
        assertEquals(IntStream.range(0, FULL_LANES).boxed().toList(), config.cpus());
        assertEquals(Mode.SINGLE, config.mode());
        assertEquals(Steering.RSS, config.steering());
        assertEquals(1400, config.tunnelMtu());
        assertEquals("fs-router-b", config.site().device());
        assertEquals(List.of("10.255.0.2/32", "fd00:ff::2/128"), config.site().addresses());
        assertEquals(List.of("10.1.0.0/16", "2001:db8:1::/48"), config.site().routes());
        assertEquals(1300, config.site().mtu());
        assertEquals(Path.of("/tmp/flowsec-test/router-b.sock"), config.statusSocket());
    }

    @Test
    void the_policies_are_those_of_the_site_b_example_SA_file() throws Exception {
        ApplianceConfig config = ApplianceConfig.read(write("router-b.json", full().encodePrettily()));
        SaFile example = SaFile.read(SITE_B);

        assertEquals(1, config.policies().policies().size());
        PolicyDefinition policy = config.policies().policies().getFirst();
        PolicyDefinition expected = example.policies().getFirst();
        assertEquals("site-b-to-site-a", policy.name());
        assertEquals(expected.selector().toString(), policy.selector().toString());
        assertEquals(List.of(0xa001, 0xa002, 0xa003, 0xa004), policy.outbound().stream().map(SaDefinition::spi).toList());
        assertEquals(List.of(0xb001, 0xb002, 0xb003, 0xb004), policy.inbound().stream().map(SaDefinition::spi).toList());
        SaDefinition out = policy.outbound().getFirst();
        assertEquals(EspSuite.AES_GCM_128, out.suite());
        assertTrue(out.udpEncapsulation());
        assertEquals(InetAddress.getByName("192.0.2.2"), out.localAddress());
        assertEquals(InetAddress.getByName("192.0.2.1"), out.remoteAddress());
        assertEquals(4500, out.remotePort());
        assertEquals(java.util.Arrays.toString(expected.outbound().getFirst().encryptionKey()),
                java.util.Arrays.toString(out.encryptionKey()));
    }

    @Test
    void omitted_keys_take_the_documented_defaults() throws Exception {
        ApplianceConfig config = ApplianceConfig.parse(minimal());

        assertEquals("flowsec", config.name());
        assertEquals(CPUS, config.lanes(), "lanes default to the number of CPUs");
        assertEquals(List.of(), config.cpus(), "not pinned");
        assertEquals(Mode.FLOW, config.mode());
        assertEquals(Steering.DIRECTOR, config.steering());
        assertEquals(1500, config.tunnelMtu());
        assertEquals(ApplianceConfig.DEFAULT_TUNNEL_MTU, config.tunnelMtu());
        assertEquals(List.of(), config.site().routes());
        assertEquals(0, config.site().mtu(), "0: computed from tunnelMtu and the suites");
        assertEquals(Path.of("/run/flowsec/flowsec.sock"), config.statusSocket());
        assertEquals(new ApiSettings(true, "127.0.0.1", 8443, true, null, null,
                Path.of("/var/lib/flowsec/flowsec/api-tokens.json")), config.api(), "the API on loopback, TLS, self-signed");
    }

    @Test
    void the_api_may_listen_on_a_management_interface_s_address_looked_up_at_start() throws Exception {
        ApiSettings api = ApplianceConfig.parse(minimal().put("api", new JsonObject().put("interface", "lo"))).api();
        assertEquals("lo", api.interfaceName());
        assertEquals(null, api.address(), "found at start, not when the file is read");

        ApiSettings listening = api.atInterfaceAddress();
        assertEquals("127.0.0.1", listening.address(), "the interface's IPv4 address");
        assertEquals("https://127.0.0.1:8443/api/v1", listening.url());

        ApiSettings missing = ApplianceConfig.parse(minimal().put("api", new JsonObject().put("interface", "fsnone9"))).api();
        java.io.IOException refused = assertThrows(java.io.IOException.class, missing::atInterfaceAddress);
        assertEquals("api: no interface fsnone9 (api.interface)", refused.getMessage());
    }

    @Test
    void endpoints_lists_sockets_bound_at_start_for_sas_added_later_ranges_expanded() throws Exception {
        ApplianceConfig config = ApplianceConfig.parse(minimal().put("endpoints",
                new JsonArray().add("0.0.0.0:4500").add(" 192.0.2.1:4501-4503 ").add("[::]:4500")));

        assertEquals(List.of(new java.net.InetSocketAddress(InetAddress.getByName("0.0.0.0"), 4500),
                new java.net.InetSocketAddress(InetAddress.getByName("192.0.2.1"), 4501),
                new java.net.InetSocketAddress(InetAddress.getByName("192.0.2.1"), 4502),
                new java.net.InetSocketAddress(InetAddress.getByName("192.0.2.1"), 4503),
                new java.net.InetSocketAddress(InetAddress.getByName("::"), 4500)), config.endpoints());
        assertEquals(List.of(), ApplianceConfig.parse(minimal()).endpoints(), "none unless listed");
    }

    @ParameterizedTest
    @MethodSource
    void a_bad_endpoint_is_refused_naming_it(Object value, String path, String problem) {
        assertRefused(minimal().put("endpoints", value), path, problem);
    }

    static Stream<Arguments> a_bad_endpoint_is_refused_naming_it() {
        return Stream.of(
                arguments("0.0.0.0:4500", "endpoints", "must be a list"),
                arguments(new JsonArray().add("4500"), "endpoints[0]", "must be \"ADDRESS:PORT\""),
                arguments(new JsonArray().add("::1:4500"), "endpoints[0]", "IPv6 in brackets"),
                arguments(new JsonArray().add(4500), "endpoints[0]", "must be \"ADDRESS:PORT\""),
                arguments(new JsonArray().add("300.1.1.1:4500"), "endpoints[0]", "is not an IP address"),
                arguments(new JsonArray().add("0.0.0.0:0"), "endpoints[0]", "ports must be 1-65535"),
                arguments(new JsonArray().add("0.0.0.0:70000"), "endpoints[0]", "ports must be 1-65535"),
                arguments(new JsonArray().add("0.0.0.0:4503-4500"), "endpoints[0]", "not above its last"),
                arguments(new JsonArray().add("0.0.0.0:4500").add("0.0.0.0:4499-4500"), "endpoints[1]", "listed twice"),
                arguments(new JsonArray().add("0.0.0.0:1000-2000"), "endpoints[0]", "more than 256 endpoints"));
    }

    @Test
    void an_appliance_may_start_with_no_policy_as_on_its_first_boot() throws Exception {
        ApplianceConfig config = ApplianceConfig.parse(minimal().put("policies", new JsonArray()));

        assertEquals(List.of(), config.policies().policies());
    }

    @Test
    void the_api_section_sets_the_management_address_certificate_and_tokens() throws Exception {
        JsonObject json = minimal().put("api", new JsonObject().put("address", "::1").put("port", 9443).put("tls", true)
                .put("certificate", "/etc/flowsec/api.pem").put("privateKey", "/etc/flowsec/api.key")
                .put("tokens", "/etc/flowsec/tokens.json"));
        ApiSettings api = ApplianceConfig.parse(json).api();
        assertEquals(new ApiSettings(true, "0:0:0:0:0:0:0:1", 9443, true, Path.of("/etc/flowsec/api.pem"),
                Path.of("/etc/flowsec/api.key"), Path.of("/etc/flowsec/tokens.json")), api);
        assertEquals("https://[0:0:0:0:0:0:0:1]:9443/api/v1", api.url());
        assertFalse(ApplianceConfig.parse(minimal().put("api", new JsonObject().put("enabled", false))).api().enabled());
    }

    @Test
    void group_weights_and_inbound_lanes_below_the_lane_count_are_kept_for_the_start() throws Exception {
        JsonObject json = full();
        policy(json, 0).put("weights", new JsonArray().add(4).add(3).add(2).add(1));
        sa(json, "inbound", 1).put("lane", FULL_LANES - 1);
        sa(json, "inbound", 2).put("lane", 0);

        PolicyDefinition policy = ApplianceConfig.parse(json).policies().policies().getFirst();
        assertEquals(List.of(4, 3, 2, 1), policy.weights());
        assertEquals(List.of(OptionalInt.empty(), OptionalInt.of(FULL_LANES - 1), OptionalInt.of(0), OptionalInt.empty()),
                policy.inbound().stream().map(SaDefinition::lane).toList());
    }

    @Test
    void the_default_status_socket_is_named_after_the_appliance() throws Exception {
        ApplianceConfig config = ApplianceConfig.parse(minimal().put("name", "router-b"));

        assertEquals(Path.of("/run/flowsec/router-b.sock"), config.statusSocket());
    }

    @Test
    void without_lanes_the_CPU_list_must_name_one_CPU_per_CPU() throws Exception {
        JsonArray cpus = new JsonArray();
        IntStream.range(0, CPUS).forEach(cpus::add);

        ApplianceConfig config = ApplianceConfig.parse(minimal().put("cpus", cpus));

        assertEquals(CPUS, config.lanes());
        assertEquals(IntStream.range(0, CPUS).boxed().toList(), config.cpus());
    }

    @Test
    void more_lanes_than_CPUs_are_allowed_when_not_pinned() throws Exception {
        assertEquals(CPUS + 3, ApplianceConfig.parse(withOutboundSas(minimal(), CPUS + 3).put("lanes", CPUS + 3)).lanes());
    }

    @ParameterizedTest(name = "lanes {0}")
    @ValueSource(ints = {1, 128})
    void the_lane_count_may_be_anything_from_1_to_128(int lanes) throws Exception {
        assertEquals(lanes, ApplianceConfig.parse(withOutboundSas(minimal(), lanes).put("lanes", lanes)).lanes());
    }

    @Test
    void a_policy_with_fewer_outbound_SAs_than_lanes_is_refused_naming_what_to_change() {
        ConfigException refused = assertThrows(ConfigException.class,
                () -> ApplianceConfig.parse(minimal().put("lanes", 5)));
        assertEquals("policies[0].outbound", refused.path());
        assertTrue(refused.getMessage().contains("4 outbound SA(s) for 5 lanes"), refused.getMessage());
        assertTrue(refused.getMessage().contains("set lanes to 4"), refused.getMessage());
    }

    @Test
    void a_bypass_policy_names_the_next_hop_its_packets_are_forwarded_to_in_clear() throws Exception {
        JsonObject bypass = new JsonObject().put("name", "ntp-in-clear").put("local", "10.2.0.0/16")
                .put("remote", "10.1.0.0/16").put("protocol", "udp").put("remotePorts", "123").put("action", "bypass");
        JsonObject config = minimal();
        config.getJsonArray("policies").add(0, bypass.copy());
        ConfigException refused = assertThrows(ConfigException.class, () -> ApplianceConfig.parse(config));
        assertEquals("policies[0].nextHop", refused.path());

        JsonObject routed = minimal();
        routed.getJsonArray("policies").add(0, bypass.copy().put("nextHop", "192.0.2.1"));
        PolicyDefinition policy = ApplianceConfig.parse(routed).policies().policies().getFirst();
        assertEquals(InetAddress.getByName("192.0.2.1"), policy.nextHop());
        assertEquals(InetAddress.getByName("192.0.2.1"),
                ApplianceConfig.parse(routed).policies().buildPolicies().getFirst().nextHop());

        JsonObject misplaced = minimal();
        misplaced.getJsonArray("policies").getJsonObject(0).put("nextHop", "192.0.2.1");
        ConfigException onProtect = assertThrows(ConfigException.class, () -> ApplianceConfig.parse(misplaced));
        assertTrue(onProtect.getMessage().contains("only a bypass policy has a next hop"), onProtect.getMessage());
    }

    /** The configuration with the first policy's outbound SAs grown to {@code count}, each with its own SPI and port. */
    private static JsonObject withOutboundSas(JsonObject config, int count) {
        JsonObject policy = config.getJsonArray("policies").getJsonObject(0);
        JsonObject template = policy.getJsonArray("outbound").getJsonObject(0);
        JsonArray outbound = new JsonArray();
        for (int i = 0; i < Math.max(count, 4); i++) {
            outbound.add(template.copy().put("spi", String.format("0x%08x", 0xe000 + i)).put("sourcePort", 20000 + i));
        }
        policy.put("outbound", outbound);
        return config;
    }

    @ParameterizedTest(name = "tunnelMtu {0}")
    @ValueSource(ints = {1280, 65535})
    void the_tunnel_MTU_may_be_anything_from_1280_to_65535(int mtu) throws Exception {
        assertEquals(mtu, ApplianceConfig.parse(minimal().put("tunnelMtu", mtu)).tunnelMtu());
    }

    @ParameterizedTest(name = "site.mtu {0}")
    @ValueSource(ints = {576, 65535})
    void the_site_MTU_may_be_anything_from_576_to_65535(int mtu) throws Exception {
        JsonObject json = minimal();
        site(json).put("mtu", mtu);
        assertEquals(mtu, ApplianceConfig.parse(json).site().mtu());
    }

    @Test
    void both_modes_that_exist_are_accepted() throws Exception {
        assertEquals(Mode.SINGLE, ApplianceConfig.parse(minimal().put("mode", "single")).mode());
        assertEquals(Mode.PCRYPT, ApplianceConfig.parse(minimal().put("mode", "pcrypt")).mode());
        assertEquals(Mode.FLOW, ApplianceConfig.parse(minimal().put("mode", "flow")).mode());
    }

    @Test
    void every_steering_is_accepted() throws Exception {
        assertEquals(Steering.DIRECTOR, ApplianceConfig.parse(minimal().put("steering", "director")).steering());
        assertEquals(Steering.RSS, ApplianceConfig.parse(minimal().put("steering", "rss")).steering());
        assertEquals(Steering.SINGLE, ApplianceConfig.parse(minimal().put("steering", "single")).steering());
    }

    @ParameterizedTest(name = "device ''{0}''")
    @ValueSource(strings = {"f", "fs0", "fs_router.b-2", "abcdefghijklmno"})
    void device_names_of_1_to_15_letters_digits_underscores_dots_and_dashes_are_accepted(String device) throws Exception {
        JsonObject json = minimal();
        site(json).put("device", device);
        assertEquals(device, ApplianceConfig.parse(json).site().device());
    }

    @Test
    void an_empty_list_of_routes_is_the_same_as_none() throws Exception {
        JsonObject json = minimal();
        site(json).put("routes", new JsonArray());
        assertEquals(List.of(), ApplianceConfig.parse(json).site().routes());
    }

    @Test
    void the_configuration_the_bad_ones_are_made_from_parses() throws Exception {
        ApplianceConfig.parse(full());
        ApplianceConfig.parse(minimal());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Bad files

    @Test
    void a_file_that_is_not_JSON_is_refused_with_its_name_on_one_line() throws IOException {
        Path file = write("broken.json", "{\"name\": \"router-b\", \"lanes\": 2,, }");

        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.read(file));
        assertTrue(e.getMessage().contains(file.toString()), e::getMessage);
        assertTrue(e.getMessage().contains("not valid JSON"), e::getMessage);
        assertFalse(e.getMessage().contains("\n"), e::getMessage);
    }

    @Test
    void an_empty_file_is_refused_as_not_JSON() throws IOException {
        Path file = write("empty.json", "");

        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.read(file));
        assertTrue(e.getMessage().contains("not valid JSON"), e::getMessage);
    }

    @Test
    void a_top_level_array_is_refused_as_such() throws IOException {
        Path file = write("list.json", new JsonArray().add(full()).encode());

        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.read(file));
        assertTrue(e.getMessage().contains(file.toString()), e::getMessage);
        assertTrue(e.getMessage().contains("must hold a JSON object at the top level"), e::getMessage);
        assertNoKeyMaterial(e.getMessage());
    }

    @Test
    void a_missing_file_is_refused_with_its_name() {
        Path file = dir.resolve("nowhere.json");

        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.read(file));
        assertEquals("configuration " + file + " does not exist", e.getMessage());
    }

    @Test
    void a_directory_given_as_the_file_is_refused_with_its_name() {
        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.read(dir));
        assertEquals("configuration " + dir + " is not a regular file", e.getMessage());
    }

    /** Each site-b key written without its quotes: whatever the JSON parser says about the token, no key shows. */
    static Stream<String> siteBKeysForUnquoting() {
        return siteBKeys().stream();
    }

    @ParameterizedTest(name = "key {index} unquoted")
    @MethodSource("siteBKeysForUnquoting")
    void a_JSON_syntax_error_at_an_unquoted_key_does_not_show_the_key(String key) throws IOException {
        String text = full().encodePrettily().replace("\"" + key + "\"", key);
        assertTrue(text.contains(": " + key), "the key is in the text unquoted");
        Path file = write("unquoted.json", text);

        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.read(file));
        assertTrue(e.getMessage().contains("not valid JSON"), e::getMessage);
        assertNoKeyMaterial(e.getMessage());
    }

    @Test
    void a_JSON_error_quoting_a_line_separator_is_escaped_onto_one_line() throws IOException {
        // the JSON parser quotes the duplicated key; U+2029 would end the line in a log viewer (found by ConfigParserFuzzTest)
        Path file = write("separator.json", "{\"a\u2029b\": 1, \"a\u2029b\": 2}");

        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.read(file));
        assertTrue(e.getMessage().contains("Duplicate field 'a\\u2029b'"), e::getMessage);
        assertFalse(e.getMessage().contains("\u2029"), e::getMessage);
    }

    static Stream<Arguments> badConfigurations() {
        return Stream.of(
                // top level
                bad("an empty top-level key", c -> c.put("", 2), "\"\"", "unknown key (allowed: api, cluster, cpus, endpoints, flowletGapMicros, lanes"),
                bad("an api section that is not an object", c -> c.put("api", "on"), "api", "must be an object"),
                bad("an unknown api key", c -> c.put("api", new JsonObject().put("listen", 1)), "api.listen", "unknown key (allowed: address, certificate, enabled"),
                bad("an api address that is a name", c -> c.put("api", new JsonObject().put("address", "mgmt.example")), "api.address", "must be an IP address literal"),
                bad("an api port of 0", c -> c.put("api", new JsonObject().put("port", 0)), "api.port", "must be a whole number 1-65535"),
                bad("an api certificate without its key", c -> c.put("api", new JsonObject().put("certificate", "/etc/flowsec/api.pem")), "api.privateKey", "give both certificate and privateKey"),
                bad("api tls that is not a boolean", c -> c.put("api", new JsonObject().put("tls", "yes")), "api.tls", "must be true or false"),
                bad("an empty site key", c -> site(c).put("", 2), "site.\"\"", "unknown key (allowed: addresses"),
                bad("a top-level key with a line break", c -> c.put("lanes\n", 2), "lanes\\n", "unknown key"),
                bad("an unknown top-level key", c -> c.put("lane", 2), "lane",
                        "unknown key (allowed: api, cluster, cpus, endpoints, flowletGapMicros, lanes, mode, name, offloads, policies, site, stateDirectory, statusSocket, steering, tunnelMtu, warmUpSeconds)"),
                bad("offloads that are a string", c -> c.put("offloads", "on"), "offloads", "must be true, false or an object"),
                bad("an unknown offload", c -> c.put("offloads", new JsonObject().put("tso", false)), "offloads.tso",
                        "unknown key (allowed: tun, tunGro, tunRing, udpBatching, udpGro, udpGso)"),
                bad("an offload that is not a boolean", c -> c.put("offloads", new JsonObject().put("udpGso", 0)),
                        "offloads.udpGso", "must be true or false"),
                bad("TUN GRO without TUN offloads", c -> c.put("offloads", new JsonObject().put("tun", false)),
                        "offloads.tunGro", "needs offloads.tun"),
                bad("UDP GRO without batching", c -> c.put("offloads", new JsonObject().put("udpBatching", false)
                        .put("udpGso", false)), "offloads.udpGro", "needs offloads.udpBatching"),
                bad("a name that is not a string", c -> c.put("name", 7), "name", "must be a non-empty string"),
                bad("an empty name", c -> c.put("name", ""), "name", "must be a non-empty string"),
                bad("a name that climbs out of /run/flowsec", c -> c.put("name", "../../etc/cron.d/x"), "name",
                        "must be 1-64 letters, digits"),
                bad("a name that forges a log line", c -> c.put("name", "b\n2026-12-02T00:00:00Z flowsec forged"), "name",
                        "it names files and log lines"),
                bad("lanes 0", c -> c.put("lanes", 0), "lanes", "must be 1-128, got 0"),
                bad("lanes 129", c -> c.put("lanes", 129), "lanes", "must be 1-128, got 129"),
                bad("negative lanes", c -> c.put("lanes", -2), "lanes", "must be 1-128, got -2"),
                bad("lanes written as a word", c -> c.put("lanes", "two"), "lanes", "must be an integer"),
                bad("lanes written as a string", c -> c.put("lanes", "2"), "lanes", "must be an integer"),
                bad("lanes with a fraction", c -> c.put("lanes", 1.5), "lanes", "must be an integer"),
                bad("lanes beyond 32 bits", c -> c.put("lanes", 4294967297L), "lanes", "must be an integer"),
                // cpus
                bad("more CPUs than lanes", c -> c.put("lanes", 1).put("cpus", new JsonArray().add(0).add(0)), "cpus",
                        "must be a list of 1 CPU numbers, one per lane"),
                bad("fewer CPUs than lanes", c -> c.put("lanes", 2).put("cpus", new JsonArray().add(0)), "cpus",
                        "must be a list of 2 CPU numbers, one per lane"),
                bad("an empty CPU list", c -> c.put("lanes", 1).put("cpus", new JsonArray()), "cpus", "must be a list of 1 CPU"),
                bad("one CPU more than the default lanes", c -> {
                    JsonArray cpus = new JsonArray();
                    IntStream.rangeClosed(0, CPUS).forEach(i -> cpus.add(0));
                    c.remove("lanes");
                    c.put("cpus", cpus);
                }, "cpus", "must be a list of " + CPUS + " CPU numbers"),
                bad("a CPU list that is a number", c -> c.put("lanes", 1).put("cpus", 0), "cpus", "must be a list of 1 CPU"),
                bad("a negative CPU", c -> c.put("lanes", 1).put("cpus", new JsonArray().add(-1)), "cpus[0]", "must be a CPU number"),
                bad("a CPU written as a string", c -> c.put("lanes", 1).put("cpus", new JsonArray().add("0")), "cpus[0]", "must be a CPU number"),
                bad("a CPU with a fraction", c -> c.put("lanes", 1).put("cpus", new JsonArray().add(0.5)), "cpus[0]", "must be a CPU number"),
                bad("a bad second CPU", c -> c.put("lanes", 2).put("cpus", new JsonArray().add(0).add(-3)), "cpus[1]", "must be a CPU number"),
                bad("a CPU that does not exist", c -> c.put("lanes", 1).put("cpus", new JsonArray().add(CPUS)), "cpus[0]",
                        "CPU " + CPUS + " does not exist here (" + CPUS + " CPUs)"),
                // mode and steering
                bad("an unknown mode", c -> c.put("mode", "parallel"), "mode", "must be one of "),
                bad("a mode that is a number", c -> c.put("mode", 1), "mode", "must be one of "),
                bad("an unknown steering", c -> c.put("steering", "hash"), "steering", "must be one of director, rss, single"),
                bad("a steering that is a list", c -> c.put("steering", new JsonArray().add("rss")), "steering", "must be one of director, rss, single"),
                // tunnelMtu
                bad("a tunnel MTU of 1279", c -> c.put("tunnelMtu", 1279), "tunnelMtu", "must be 1280-65535, got 1279"),
                bad("a tunnel MTU of 65536", c -> c.put("tunnelMtu", 65536), "tunnelMtu", "must be 1280-65535, got 65536"),
                bad("a tunnel MTU of 0", c -> c.put("tunnelMtu", 0), "tunnelMtu", "must be 1280-65535, got 0"),
                bad("a tunnel MTU written as a string", c -> c.put("tunnelMtu", "1500"), "tunnelMtu", "must be an integer"),
                // statusSocket
                bad("a status socket that is not a string", c -> c.put("statusSocket", 5), "statusSocket", "must be a non-empty string"),
                bad("an empty status socket path", c -> c.put("statusSocket", ""), "statusSocket", "must be a non-empty string"),
                bad("a status socket path with a NUL character", c -> c.put("statusSocket", "/run/a\u0000b.sock"), "statusSocket",
                        "is not a usable path: Nul character not allowed"),
                bad("a state directory with a NUL character", c -> c.put("stateDirectory", "/var/lib/\u0000"), "stateDirectory",
                        "is not a usable path: Nul character not allowed"),
                // site
                bad("no site", c -> c.remove("site"), "site", "is required"),
                bad("a site that is a device name", c -> c.put("site", "fs0"), "site", "is required"),
                bad("an unknown site key", c -> site(c).put("adresses", site(c).remove("addresses")), "site.adresses",
                        "unknown key (allowed: addresses, device, mtu, routes)"),
                bad("no device", c -> site(c).remove("device"), "site.device", "must be an interface name of 1-15 letters"),
                bad("an empty device name", c -> site(c).put("device", ""), "site.device", "must be an interface name of 1-15"),
                bad("a device name of 16 characters", c -> site(c).put("device", "abcdefghijklmnop"), "site.device", "must be an interface name of 1-15"),
                bad("a device name with a space", c -> site(c).put("device", "fs 0"), "site.device", "must be an interface name"),
                bad("a device name with a slash", c -> site(c).put("device", "fs/0"), "site.device", "must be an interface name"),
                bad("a device name with a colon", c -> site(c).put("device", "fs0:1"), "site.device", "must be an interface name"),
                bad("a device name that is a number", c -> site(c).put("device", 0), "site.device", "must be an interface name"),
                bad("no addresses", c -> site(c).remove("addresses"), "site.addresses", "must be a list of prefixes like \"10.1.0.1/24\""),
                bad("an empty address list", c -> site(c).put("addresses", new JsonArray()), "site.addresses", "must be a list of prefixes"),
                bad("addresses that are one string", c -> site(c).put("addresses", "10.255.0.2/32"), "site.addresses", "must be a list of prefixes"),
                bad("an address without its prefix length", c -> site(c).put("addresses", new JsonArray().add("10.255.0.2")),
                        "site.addresses[0]", "must be a prefix like \"10.1.0.1/24\""),
                bad("an address that is a number", c -> site(c).put("addresses", new JsonArray().add(10)), "site.addresses[0]", "must be a prefix"),
                bad("an IPv4 prefix length of 33", c -> site(c).put("addresses", new JsonArray().add("10.255.0.2/33")),
                        "site.addresses[0]", "prefix length 33 out of range"),
                bad("a prefix length that is not a number", c -> site(c).put("addresses", new JsonArray().add("10.255.0.2/x")),
                        "site.addresses[0]", "bad prefix length in '10.255.0.2/x'"),
                bad("a host name with a prefix length", c -> site(c).put("addresses", new JsonArray().add("router.example/32")),
                        "site.addresses[0]", "is not an IP address"),
                bad("a bad second address", c -> site(c).put("addresses", new JsonArray().add("10.255.0.2/32").add("fd00::2/129")),
                        "site.addresses[1]", "prefix length 129 out of range"),
                bad("routes that are one string", c -> site(c).put("routes", "10.1.0.0/16"), "site.routes", "must be a list of prefixes"),
                bad("a route without its prefix length", c -> site(c).put("routes", new JsonArray().add("10.1.0.0")),
                        "site.routes[0]", "must be a prefix like"),
                bad("a route with three octets", c -> site(c).put("routes", new JsonArray().add("10.1.0/16")),
                        "site.routes[0]", "is not an IPv4 address"),
                bad("a bad second route", c -> site(c).put("routes", new JsonArray().add("10.1.0.0/16").add("10.3.0.0/40")),
                        "site.routes[1]", "prefix length 40 out of range"),
                bad("a site MTU of 575", c -> site(c).put("mtu", 575), "site.mtu", "must be 576-65535"),
                bad("a site MTU of 65536", c -> site(c).put("mtu", 65536), "site.mtu", "must be 576-65535"),
                bad("a site MTU of 0", c -> site(c).put("mtu", 0), "site.mtu", "must be 576-65535"),
                bad("a negative site MTU", c -> site(c).put("mtu", -1400), "site.mtu", "must be 576-65535"),
                bad("a site MTU written as a string", c -> site(c).put("mtu", "1400"), "site.mtu", "must be an integer"),
                // policies
                bad("an API on an address and an interface", c -> c.put("api", new JsonObject().put("address", "127.0.0.1")
                        .put("interface", "eth0")), "api.interface", "give api.address or api.interface, not both"),
                bad("an API interface name with a slash", c -> c.put("api", new JsonObject().put("interface", "eth0/1")),
                        "api.interface", "must be an interface name"),
                bad("an API interface name of 16 characters", c -> c.put("api", new JsonObject().put("interface", "abcdefghijklmnop")),
                        "api.interface", "must be an interface name"),
                bad("no policies", c -> c.remove("policies"), "policies", "a list of policies is required"),
                bad("policies that are an object", c -> c.put("policies", policy(c, 0)), "policies", "a list of policies is required"),
                bad("a policy that is not an object", c -> c.put("policies", new JsonArray().add("site-b-to-site-a")),
                        "policies[0]", "must be an object"),
                bad("a misspelt policy key", c -> policy(c, 0).put("sutie", policy(c, 0).remove("suite")), "policies[0].sutie", "unknown key"),
                bad("an unknown suite", c -> policy(c, 0).put("suite", "aes-gcm-129"), "policies[0].suite", "unknown suite 'aes-gcm-129'"),
                bad("an inbound key without its salt", c -> sa(c, "inbound", 2).put("key", sa(c, "inbound", 2).getString("key").substring(0, 32)),
                        "policies[0].inbound[2]", "needs a 20-byte encryption key (16 key + 4 salt), got 16 bytes"),
                bad("an outbound key with an odd number of digits", c -> sa(c, "outbound", 0).put("key", sa(c, "outbound", 0).getString("key") + "a"),
                        "policies[0].outbound[0].key", "odd number of digits"),
                bad("an outbound key with a non-hex digit", c -> sa(c, "outbound", 0).put("key", sa(c, "outbound", 0).getString("key").substring(0, 38) + "zz"),
                        "policies[0].outbound[0].key", "not a hex digit at position 38"),
                bad("an inbound SPI used twice", c -> sa(c, "inbound", 3).put("spi", "0x0000b001"), "policies[0].inbound[3].spi",
                        "inbound SPI 0xb001 is used twice"),
                bad("a bad second policy", c -> c.getJsonArray("policies").add(policy(c, 0).copy().put("name", "second")
                        .put("outbound", new JsonArray())
                        .put("inbound", new JsonArray().add(new JsonObject().put("spi", 255).put("key", sa(c, "inbound", 0).getString("key"))))),
                        "policies[1].inbound[0].spi", "reserved"),
                bad("an inbound SA on the lane one past the last", c -> sa(c, "inbound", 1).put("lane", FULL_LANES),
                        "policies[0].inbound[1].lane", "lane " + FULL_LANES + " does not exist (lanes 0-" + (FULL_LANES - 1) + ")"),
                bad("an inbound SA on lane 128", c -> sa(c, "inbound", 3).put("lane", 128), "policies[0].inbound[3].lane",
                        "lane 128 does not exist"),
                bad("a negative lane", c -> sa(c, "inbound", 0).put("lane", -1), "policies[0].inbound[0].lane", "must be a lane number"),
                bad("weights for three of four outbound SAs", c -> policy(c, 0).put("weights", new JsonArray().add(1).add(1).add(1)),
                        "policies[0].weights", "must hold one weight per outbound SA, in order (4), got 3"),
                bad("an outbound SPI in two policies' groups", c -> c.getJsonArray("policies").add(policy(c, 0).copy()
                        .put("name", "second").put("inbound", new JsonArray())), "policies[1].outbound[0].spi",
                        "outbound SPI 0xa001 is used twice"),
                bad("a cluster without its management address", c -> c.put("cluster", cluster().copy().put("address", "mgmt")),
                        "cluster.address", "must be an IP address literal"),
                bad("a cluster member without a port", c -> c.put("cluster", cluster().copy()
                        .put("members", new JsonArray().add("192.0.2.1"))), "cluster.members[0]", "must be \"address:port\""),
                bad("a cluster key it does not know", c -> c.put("cluster", cluster().copy().put("multicast", true)),
                        "cluster.multicast", "unknown key"),
                bad("a tunnel over a policy that does not exist", c -> c.put("cluster", cluster().copy().put("tunnels",
                        new JsonArray().add(tunnel().put("policy", "nope")))), "cluster.tunnels[0].policy", "no policy named 'nope'"),
                bad("a tunnel balancing policy it does not know", c -> c.put("cluster", cluster().copy().put("tunnels",
                        new JsonArray().add(tunnel().put("balancing", "magic")))), "cluster.tunnels[0].balancing",
                        "must be static, sender or receiver"),
                bad("a tunnel id given twice", c -> c.put("cluster", cluster().copy().put("tunnels",
                        new JsonArray().add(tunnel()).add(tunnel()))), "cluster.tunnels[1].id", "given twice"),
                bad("a negative flowlet gap", c -> c.put("flowletGapMicros", -1), "flowletGapMicros",
                        "must be 0 (move at once) to 60000000"),
                bad("a warm-up over a minute", c -> c.put("warmUpSeconds", 61), "warmUpSeconds", "must be 0 (none) to 60"),
                bad("a negative warm-up", c -> c.put("warmUpSeconds", -1), "warmUpSeconds", "must be 0 (none) to 60"),
                bad("a load interval below 10 ms", c -> c.put("cluster", cluster().copy().put("loadIntervalMs", 5)),
                        "cluster.loadIntervalMs", "must be a whole number 10-60000"));
    }

    /** Router B's side of a cluster with router A over the tunnel link. */
    private static JsonObject cluster() {
        return new JsonObject().put("address", "192.0.2.2").put("members", new JsonArray().add("192.0.2.1:5701"));
    }

    private static JsonObject tunnel() {
        return new JsonObject().put("id", "a-b").put("policy", "site-b-to-site-a").put("peer", "router-a");
    }

    @Test
    void offloads_are_all_on_by_default_all_off_with_false_and_switched_one_by_one_in_an_object() throws Exception {
        assertEquals(Offloads.ALL, ApplianceConfig.parse(minimal()).offloads());
        assertEquals(Offloads.ALL, ApplianceConfig.parse(minimal().put("offloads", true)).offloads());
        assertEquals(Offloads.NONE, ApplianceConfig.parse(minimal().put("offloads", false)).offloads());
        assertEquals(new Offloads(true, false, true, false, true, true), ApplianceConfig.parse(minimal().put("offloads",
                new JsonObject().put("tunGro", false).put("udpGso", false))).offloads());
        assertEquals(new Offloads(false, false, false, false, false, false), ApplianceConfig.parse(minimal().put("offloads",
                new JsonObject().put("tun", false).put("tunGro", false).put("udpBatching", false).put("udpGso", false)
                        .put("udpGro", false).put("tunRing", false))).offloads());
        assertEquals(new Offloads(true, true, true, true, true, false), ApplianceConfig.parse(minimal().put("offloads",
                new JsonObject().put("tunRing", false))).offloads());
    }

    @Test
    void the_cluster_section_names_the_member_its_peers_secret_and_tunnels_with_defaults() throws Exception {
        assertEquals(ClusterConfig.NONE, ApplianceConfig.parse(minimal()).cluster(), "no section: no cluster");
        assertEquals(java.time.Duration.ofNanos(500_000), ApplianceConfig.parse(minimal()).flowletGap());
        assertEquals(java.time.Duration.ZERO, ApplianceConfig.parse(minimal().put("flowletGapMicros", 0)).flowletGap());
        assertEquals(0, ApplianceConfig.parse(minimal()).warmUpSeconds(), "no warm-up unless asked for");
        assertEquals(3, ApplianceConfig.parse(minimal().put("warmUpSeconds", 3)).warmUpSeconds());
        ClusterConfig cluster = ApplianceConfig.parse(minimal().put("name", "router-b").put("cluster", cluster()
                .put("tunnels", new JsonArray().add(tunnel().put("balancing", "receiver"))))).cluster();
        assertEquals(new ClusterConfig(true, "flowsec", "192.0.2.2", 5701, List.of("192.0.2.1:5701"),
                Path.of("/var/lib/flowsec/router-b/cluster.secret"), 100, 5000,
                List.of(new ClusterConfig.Tunnel("a-b", "site-b-to-site-a", "router-a", "receiver"))), cluster);
        assertEquals("static", ApplianceConfig.parse(minimal().put("cluster", cluster().put("tunnels",
                new JsonArray().add(tunnel()))) ).cluster().tunnels().getFirst().balancing());
    }

    private static Arguments bad(String what, Consumer<JsonObject> change, String path, String problem) {
        JsonObject config = full();
        change.accept(config);
        return arguments(what, config, path, problem);
    }

    @ParameterizedTest(name = "{0} is refused, naming its path and the problem")
    @MethodSource("badConfigurations")
    void a_bad_configuration_is_refused_with_the_path_and_the_problem_but_never_a_key(String what, JsonObject config,
                                                                                     String path, String problem) {
        assertRefused(config, path, problem);
    }

    @Test
    void a_bad_configuration_in_a_file_is_refused_the_same_way() throws IOException {
        JsonObject config = full();
        site(config).put("device", "a device");
        Path file = write("bad.json", config.encodePrettily());

        ConfigException e = assertThrows(ConfigException.class, () -> ApplianceConfig.read(file));
        assertEquals("site.device", e.path());
    }

    @Test
    void an_unknown_key_is_reported_before_any_other_problem() {
        JsonObject config = full().put("lane", 2);
        sa(config, "outbound", 0).put("key", "00");
        assertRefused(config, "lane", "unknown key");
    }
}
