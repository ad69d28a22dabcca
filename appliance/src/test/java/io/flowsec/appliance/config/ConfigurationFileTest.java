package io.flowsec.appliance.config;

import io.flowsec.appliance.TestPaths;
import io.flowsec.control.config.ConfigurationChange;
import io.flowsec.control.config.ConfigurationChange.InboundLaneSet;
import io.flowsec.control.config.ConfigurationChange.ModeSet;
import io.flowsec.control.config.ConfigurationChange.SaRekeyed;
import io.flowsec.control.config.ConfigurationChange.SaAdded;
import io.flowsec.control.config.ConfigurationChange.SaRemoved;
import io.flowsec.control.config.ConfigurationChange.SteeringSet;
import io.flowsec.control.config.ConfigurationChange.WeightsSet;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** Changes recorded in a copy of examples/router-a.json (2 lanes; one policy of 4 outbound and 4 inbound SAs). */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ConfigurationFileTest {
    private static final String POLICY = "site-a-to-site-b";
    /** Keys the rekeys bring (AES-GCM-128: 16 key bytes and 4 salt bytes); none is a key of the example. */
    private static final String NEW_KEY = "5eed0123456789abcdeffedcba9876543210c0de";
    private static final String OTHER_NEW_KEY = "c0ffee00deadbeef0badf00d1234567890abcdef";

    @TempDir
    Path dir;
    private Path file;
    private final AtomicInteger applied = new AtomicInteger();
    private final Runnable dataplane = applied::incrementAndGet;

    @BeforeEach
    void copyTheExample() throws IOException {
        file = dir.resolve("router-a.json");
        Files.copy(TestPaths.examples().resolve("router-a.json"), file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }

    private ConfigurationFile open() throws Exception {
        return ConfigurationFile.open(file);
    }

    /** The file as a start reads it: what must never fail. */
    private ApplianceConfig restart() throws ConfigException {
        return ApplianceConfig.read(file);
    }

    private PolicyDefinition policyAfterRestart() throws ConfigException {
        return restart().policies().policies().getFirst();
    }

    private JsonObject fileJson() throws IOException {
        return new JsonObject(Files.readString(file));
    }

    private static byte[] hex(String text) {
        return HexFormat.of().parseHex(text);
    }

    private static List<Integer> spis(List<SaDefinition> sas) {
        return sas.stream().map(SaDefinition::spi).toList();
    }

    /** Every key of the example and every key a test brings. */
    private static List<String> allKeys() throws IOException {
        List<String> keys = new ArrayList<>(List.of(NEW_KEY, OTHER_NEW_KEY));
        JsonObject example = new JsonObject(Files.readString(TestPaths.examples().resolve("router-a.json")));
        for (Object policy : example.getJsonArray("policies")) {
            for (String direction : List.of("outbound", "inbound")) {
                for (Object sa : ((JsonObject) policy).getJsonArray(direction)) {
                    keys.add(((JsonObject) sa).getString("key"));
                }
            }
        }
        return keys;
    }

    /** No run of 8 hex digits of any key, in either case. */
    private static void assertNoKeyMaterial(String text) throws IOException {
        String lower = text.toLowerCase(Locale.ROOT);
        for (String key : allKeys()) {
            for (int i = 0; i + 8 <= key.length(); i++) {
                String window = key.substring(i, i + 8);
                assertFalse(lower.contains(window), () -> "shows key material '" + window + "': " + text);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Each change, written and started from

    @Test
    void a_mode_change_is_applied_then_written_and_a_restart_runs_in_that_mode() throws Exception {
        open().commit(new ModeSet(Mode.SINGLE), dataplane);

        assertEquals(1, applied.get());
        assertEquals(Mode.SINGLE, restart().mode());
        assertEquals("single", fileJson().getString("mode"));
    }

    @Test
    void a_steering_change_is_written() throws Exception {
        open().commit(new SteeringSet(Steering.RSS), dataplane);

        assertEquals(Steering.RSS, restart().steering());
    }

    @Test
    void every_other_key_keeps_its_value_and_its_place() throws Exception {
        JsonObject before = fileJson();

        open().commit(new ModeSet(Mode.PCRYPT), dataplane);

        JsonObject after = fileJson();
        assertEquals(new ArrayList<>(before.fieldNames()), new ArrayList<>(after.fieldNames()));
        before.put("mode", "pcrypt");
        assertEquals(before, after);
    }

    @Test
    void weights_are_written_to_their_policy_one_per_outbound_SA() throws Exception {
        open().commit(new WeightsSet(POLICY, new int[]{1, 2, 0, 4}), dataplane);

        assertEquals(List.of(1, 2, 0, 4), policyAfterRestart().weights());
        assertEquals(new JsonArray().add(1).add(2).add(0).add(4),
                fileJson().getJsonArray("policies").getJsonObject(0).getJsonArray("weights"));
    }

    @Test
    void an_inbound_SAs_lane_is_written_to_its_entry() throws Exception {
        open().commit(new InboundLaneSet(0xa002, 1), dataplane);

        List<SaDefinition> inbound = policyAfterRestart().inbound();
        assertEquals(OptionalInt.of(1), inbound.get(1).lane());
        assertEquals(OptionalInt.empty(), inbound.get(0).lane());
    }

    @Test
    void an_outbound_rekey_gives_the_entry_the_new_SPI_and_key_and_keeps_the_rest() throws Exception {
        open().commit(new SaRekeyed(Direction.OUTBOUND, 0xb002, 0xb102, hex(NEW_KEY), null), dataplane);

        SaDefinition rekeyed = policyAfterRestart().outbound().get(1);
        assertEquals(0xb102, rekeyed.spi());
        assertArrayEquals(hex(NEW_KEY), rekeyed.encryptionKey());
        assertEquals(4502, rekeyed.localPort(), "its source port, hence its place in the udp-port encoding");
        assertEquals("site-a-to-site-b-outbound-1", rekeyed.name());
        JsonObject entry = fileJson().getJsonArray("policies").getJsonObject(0).getJsonArray("outbound").getJsonObject(1);
        assertEquals("0x0000b102", entry.getString("spi"));
        assertEquals(NEW_KEY, entry.getString("key"), "the key is in the file: a restart needs it");
    }

    @Test
    void an_inbound_rekey_keeps_the_SAs_name_and_lane() throws Exception {
        JsonObject json = fileJson();
        json.getJsonArray("policies").getJsonObject(0).getJsonArray("inbound").getJsonObject(0).put("name", "from-b-0");
        Files.writeString(file, json.encodePrettily());
        ConfigurationFile configuration = open();
        configuration.commit(new InboundLaneSet(0xa001, 1), dataplane);

        configuration.commit(new SaRekeyed(Direction.INBOUND, 0xa001, 0xa101, hex(NEW_KEY.toUpperCase(Locale.ROOT)), null),
                dataplane);

        SaDefinition rekeyed = policyAfterRestart().inbound().getFirst();
        assertEquals(0xa101, rekeyed.spi());
        assertEquals("from-b-0", rekeyed.name());
        assertEquals(OptionalInt.of(1), rekeyed.lane());
        assertEquals(NEW_KEY, fileJson().getJsonArray("policies").getJsonObject(0).getJsonArray("inbound")
                .getJsonObject(0).getString("key"), "lower-case hex");
    }

    @Test
    void a_rekey_to_a_suite_with_an_integrity_key_writes_both_keys() throws Exception {
        // AES-CBC-128 with HMAC-SHA1-96: a 16-byte key and a 20-byte integrity key
        JsonObject json = fileJson();
        json.getJsonArray("policies").getJsonObject(0).getJsonArray("inbound").getJsonObject(3)
                .put("suite", "aes-cbc-128-hmac-sha1-96").put("key", NEW_KEY.substring(0, 32)).put("integrityKey", NEW_KEY);
        Files.writeString(file, json.encodePrettily());

        open().commit(new SaRekeyed(Direction.INBOUND, 0xa004, 0xa104, hex(OTHER_NEW_KEY.substring(8)),
                hex(OTHER_NEW_KEY)), dataplane);

        SaDefinition rekeyed = policyAfterRestart().inbound().get(3);
        assertArrayEquals(hex(OTHER_NEW_KEY.substring(8)), rekeyed.encryptionKey());
        assertArrayEquals(hex(OTHER_NEW_KEY), rekeyed.integrityKey());
    }

    @Test
    void a_removed_inbound_SA_leaves_the_file() throws Exception {
        open().commit(new SaRemoved(Direction.INBOUND, 0xa003), dataplane);

        assertEquals(List.of(0xa001, 0xa002, 0xa004), spis(policyAfterRestart().inbound()));
    }

    @Test
    void an_added_inbound_SA_takes_its_policys_parameters_and_is_written_with_its_lane() throws Exception {
        ConfigurationFile configuration = open();
        SaAdded added = new SaAdded(POLICY, 0xa0a0, hex(NEW_KEY), null, 4501, 1);
        io.flowsec.dataplane.sa.SecurityAssociation sa = configuration.inboundSa(added);
        assertEquals(0xa0a0, sa.spi());
        io.flowsec.dataplane.sa.SecurityAssociation sibling = restart().policies().buildInbound().getFirst();
        assertEquals(sibling.suite(), sa.suite(), "the policy's suite");
        assertEquals(sibling.outer().toString(), sa.outer().toString(), "and its endpoints, the peer's source port given");
        configuration.commit(added, dataplane);

        PolicyDefinition policy = policyAfterRestart();
        assertEquals(List.of(0xa001, 0xa002, 0xa003, 0xa004, 0xa0a0), spis(policy.inbound()));
        assertEquals(java.util.OptionalInt.of(1), policy.inbound().getLast().lane());
        IllegalArgumentException shortKey = assertThrows(IllegalArgumentException.class,
                () -> configuration.inboundSa(new SaAdded(POLICY, 0xa0a1, hex(NEW_KEY.substring(8)), null, null, null)));
        assertTrue(shortKey.getMessage().contains("policies[0].inbound[5]") && shortKey.getMessage().contains("encryption key"),
                shortKey.getMessage());
    }

    @Test
    void a_removed_outbound_SA_takes_its_weight_with_it() throws Exception {
        ConfigurationFile configuration = open();
        configuration.commit(new WeightsSet(POLICY, new int[]{1, 2, 3, 4}), dataplane);

        configuration.commit(new SaRemoved(Direction.OUTBOUND, 0xb002), dataplane);

        PolicyDefinition policy = policyAfterRestart();
        assertEquals(List.of(0xb001, 0xb003, 0xb004), spis(policy.outbound()));
        assertEquals(List.of(1, 3, 4), policy.weights());
    }

    @Test
    void the_configuration_in_memory_is_the_one_the_file_starts_with() throws Exception {
        ConfigurationFile configuration = open();
        configuration.commit(new ModeSet(Mode.SINGLE), dataplane);
        configuration.commit(new InboundLaneSet(0xa004, 0), dataplane);

        ApplianceConfig inMemory = configuration.config();
        assertEquals(restart().mode(), inMemory.mode());
        assertEquals(Mode.SINGLE, inMemory.mode());
        assertEquals(policyAfterRestart().inbound().get(3).lane(), inMemory.policies().policies().getFirst().inbound().get(3).lane());
        assertEquals(OptionalInt.of(0), inMemory.policies().policies().getFirst().inbound().get(3).lane());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Refusals: nothing applied, nothing written

    static Stream<Arguments> refusedChanges() {
        return Stream.of(
                arguments("weights for two of four SAs", new WeightsSet(POLICY, new int[]{1, 2}), "policies[0].weights"),
                arguments("weights that are all 0", new WeightsSet(POLICY, new int[]{0, 0, 0, 0}), "policies[0].weights"),
                arguments("a negative weight", new WeightsSet(POLICY, new int[]{1, 1, -1, 1}), "policies[0].weights[2]"),
                arguments("weights of a policy that does not exist", new WeightsSet("nowhere", new int[]{1}), "no policy named 'nowhere'"),
                arguments("a lane beyond the two", new InboundLaneSet(0xa002, 2), "policies[0].inbound[1].lane"),
                arguments("a negative lane", new InboundLaneSet(0xa002, -1), "policies[0].inbound[1].lane"),
                arguments("a lane for an SPI that is outbound only", new InboundLaneSet(0xb001, 0), "no inbound SA 0x0000b001"),
                arguments("a rekey to an SPI the group uses", new SaRekeyed(Direction.OUTBOUND, 0xb001, 0xb002, hex(NEW_KEY), null),
                        "policies[0].outbound[1].spi"),
                arguments("a rekey to a reserved SPI", new SaRekeyed(Direction.INBOUND, 0xa001, 0xff, hex(NEW_KEY), null),
                        "policies[0].inbound[0].spi"),
                arguments("a rekey with a key short of its salt", new SaRekeyed(Direction.OUTBOUND, 0xb003, 0xb103,
                        hex(NEW_KEY.substring(0, 32)), null), "policies[0].outbound[2]"),
                arguments("a rekey with an integrity key for AES-GCM", new SaRekeyed(Direction.INBOUND, 0xa001, 0xa101,
                        hex(NEW_KEY), hex(OTHER_NEW_KEY)), "policies[0].inbound[0].integrityKey"),
                arguments("a rekey of an SA that does not exist", new SaRekeyed(Direction.INBOUND, 0xb001, 0xa101,
                        hex(NEW_KEY), null), "no inbound SA 0x0000b001"),
                arguments("removing an SA that does not exist", new SaRemoved(Direction.INBOUND, 0x1234), "no inbound SA 0x00001234"));
    }

    @ParameterizedTest(name = "{0} is refused, naming {2}")
    @MethodSource("refusedChanges")
    void a_change_the_appliance_would_refuse_is_refused_before_the_data_plane_and_the_file_see_it(
            String what, ConfigurationChange change, String named) throws Exception {
        ConfigurationFile configuration = open();
        byte[] before = Files.readAllBytes(file);
        JsonObject shownBefore = configuration.documentWithoutKeys();
        ApplianceConfig configBefore = configuration.config();

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> configuration.commit(change, dataplane));

        assertTrue(refused.getMessage().contains(named), refused::getMessage);
        assertFalse(refused.getMessage().contains("\n"), refused::getMessage);
        assertNoKeyMaterial(refused.getMessage());
        assertEquals(0, applied.get(), "the data plane never saw it");
        assertArrayEquals(before, Files.readAllBytes(file), "the file is byte for byte the same");
        assertEquals(shownBefore, configuration.documentWithoutKeys());
        assertSame(configBefore, configuration.config());
        configuration.commit(new ModeSet(Mode.SINGLE), dataplane);
        assertEquals(Mode.SINGLE, restart().mode(), "and the next change goes through");
    }

    @Test
    void removing_outbound_SAs_is_refused_at_the_one_that_leaves_fewer_than_one_per_lane() throws Exception {
        ConfigurationFile configuration = open();
        configuration.commit(new SaRemoved(Direction.OUTBOUND, 0xb001), dataplane);
        configuration.commit(new SaRemoved(Direction.OUTBOUND, 0xb002), dataplane);
        byte[] before = Files.readAllBytes(file);

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> configuration.commit(new SaRemoved(Direction.OUTBOUND, 0xb003), dataplane));

        assertTrue(refused.getMessage().contains("policies[0].outbound: site-a-to-site-b has 1 outbound SA(s) for 2 lanes"),
                refused::getMessage);
        assertEquals(2, applied.get());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(0xb003, 0xb004), spis(policyAfterRestart().outbound()));
    }

    @Test
    void a_change_the_data_plane_refuses_is_not_written_nor_carried_by_the_next_one() throws Exception {
        ConfigurationFile configuration = open();
        byte[] before = Files.readAllBytes(file);

        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> configuration.commit(new ModeSet(Mode.SINGLE), () -> {
                    throw new IllegalStateException("the data plane is closed");
                }));

        assertEquals("the data plane is closed", refused.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file));
        configuration.commit(new SteeringSet(Steering.RSS), dataplane);
        assertEquals(Mode.FLOW, restart().mode());
        assertEquals(Steering.RSS, restart().steering());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The file itself

    @Test
    void the_written_file_is_readable_by_its_owner_only_whatever_it_was_before() throws Exception {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

        open().commit(new ModeSet(Mode.SINGLE), dataplane);

        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    @Test
    void a_temporary_file_left_by_a_crash_is_written_over_and_the_file_starts() throws Exception {
        Path leftover = dir.resolve(".router-a.json.tmp");
        Files.writeString(leftover, "{\"name\": \"router-a\", \"lanes\": 2, \"polic");   // cut off mid-write
        Files.setPosixFilePermissions(leftover, PosixFilePermissions.fromString("rw-rw-rw-"));
        ApplianceConfig beforeTheCrash = restart();
        assertEquals(Mode.FLOW, beforeTheCrash.mode(), "the crash left the file as it was");

        open().commit(new ModeSet(Mode.SINGLE), dataplane);

        assertEquals(Mode.SINGLE, restart().mode());
        assertFalse(Files.exists(leftover), "renamed over the file");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(List.of(file), listDirectory(), "nothing left beside it");
    }

    @Test
    void a_link_where_the_temporary_file_goes_is_replaced_not_written_through() throws Exception {
        Path victim = dir.resolve("victim");
        Files.writeString(victim, "untouched");
        Files.createSymbolicLink(dir.resolve(".router-a.json.tmp"), victim);

        open().commit(new ModeSet(Mode.SINGLE), dataplane);

        assertEquals("untouched", Files.readString(victim));
        assertEquals(Mode.SINGLE, restart().mode());
    }

    @Test
    void a_configuration_reached_through_a_link_is_replaced_where_it_lies_and_the_link_stays() throws Exception {
        Path link = dir.resolve("current.json");
        Files.createSymbolicLink(link, file);

        ConfigurationFile.open(link).commit(new ModeSet(Mode.SINGLE), dataplane);

        assertTrue(Files.isSymbolicLink(link));
        assertEquals(Mode.SINGLE, ApplianceConfig.read(link).mode());
    }

    @Test
    void a_failed_write_says_the_file_lags_behind_and_the_next_write_catches_up() throws Exception {
        ConfigurationFile configuration = open();
        Path blocker = dir.resolve(".router-a.json.tmp");
        Files.createDirectory(blocker);
        Files.writeString(blocker.resolve("inside"), "a non-empty directory cannot be deleted in its way");
        byte[] before = Files.readAllBytes(file);

        IOException failed = assertThrows(IOException.class, () -> configuration.commit(new ModeSet(Mode.SINGLE), dataplane));

        assertTrue(failed.getMessage().contains("the file lags behind"), failed::getMessage);
        assertEquals(1, applied.get(), "the data plane has the change");
        assertArrayEquals(before, Files.readAllBytes(file));
        Files.delete(blocker.resolve("inside"));
        Files.delete(blocker);
        configuration.commit(new SteeringSet(Steering.RSS), dataplane);
        assertEquals(Mode.SINGLE, restart().mode(), "carried by the next write");
        assertEquals(Steering.RSS, restart().steering());
    }

    @Test
    void a_file_the_appliance_would_refuse_is_not_opened() throws Exception {
        Files.writeString(file, fileJson().put("lanes", 0).encode());

        ConfigException refused = assertThrows(ConfigException.class, this::open);

        assertEquals("lanes", refused.path());
    }

    private List<Path> listDirectory() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.toList();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Keys

    @Test
    void a_rekeys_key_is_in_the_file_but_never_in_the_document_shown_nor_in_a_message() throws Exception {
        ConfigurationFile configuration = open();
        configuration.commit(new SaRekeyed(Direction.OUTBOUND, 0xb001, 0xb101, hex(NEW_KEY), null), dataplane);
        assertTrue(Files.readString(file).contains(NEW_KEY));

        JsonObject shown = configuration.documentWithoutKeys();
        assertNoKeyMaterial(shown.encode());
        JsonObject outbound = shown.getJsonArray("policies").getJsonObject(0).getJsonArray("outbound").getJsonObject(0);
        assertEquals("0x0000b101", outbound.getString("spi"), "all else is shown");
        assertFalse(outbound.containsKey("key"));

        List<ConfigurationChange> refusedRekeys = List.of(
                new SaRekeyed(Direction.OUTBOUND, 0xb002, 0xb101, hex(OTHER_NEW_KEY), null),
                new SaRekeyed(Direction.OUTBOUND, 0xb002, 0xb102, hex(OTHER_NEW_KEY + "00"), null),
                new SaRekeyed(Direction.OUTBOUND, 0xb002, 0xb102, hex(OTHER_NEW_KEY), hex(NEW_KEY)),
                new SaRekeyed(Direction.OUTBOUND, 0xdead, 0xb102, hex(OTHER_NEW_KEY), hex(NEW_KEY)));
        for (ConfigurationChange rekey : refusedRekeys) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> configuration.commit(rekey, dataplane));
            assertNoKeyMaterial(refused.getMessage());
            assertNoKeyMaterial(rekey.toString());
        }
        IllegalStateException fromTheDataplane = assertThrows(IllegalStateException.class, () -> configuration.commit(
                new SaRekeyed(Direction.OUTBOUND, 0xb002, 0xb102, hex(OTHER_NEW_KEY), null), () -> {
                    throw new IllegalStateException("refused");
                }));
        assertNoKeyMaterial(fromTheDataplane.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Concurrency

    @Test
    void one_hundred_changes_from_four_threads_all_land_and_the_file_matches_the_last_of_them() throws Exception {
        ConfigurationFile configuration = open();
        // what the data plane would hold: each change lands there under the commit's lock, in commit order
        Mode[] mode = {Mode.FLOW};
        Steering[] steering = {Steering.DIRECTOR};
        int[][] weights = {null};
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                done.add(threads.submit(() -> {
                    for (int i = 0; i < 25; i++) {
                        int n = thread * 25 + i;
                        Mode m = Mode.values()[n % Mode.values().length];
                        Steering s = Steering.values()[n % Steering.values().length];
                        int[] w = {n + 1, n % 3, 1, 100 - n};
                        switch (n % 3) {
                            case 0 -> configuration.commit(new ModeSet(m), () -> {
                                mode[0] = m;
                                applied.incrementAndGet();
                            });
                            case 1 -> configuration.commit(new SteeringSet(s), () -> {
                                steering[0] = s;
                                applied.incrementAndGet();
                            });
                            default -> configuration.commit(new WeightsSet(POLICY, w), () -> {
                                weights[0] = w;
                                applied.incrementAndGet();
                            });
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> future : done) {
                future.get();
            }
        } finally {
            threads.shutdownNow();
        }

        assertEquals(100, applied.get());
        ApplianceConfig restarted = restart();
        assertEquals(mode[0], restarted.mode());
        assertEquals(steering[0], restarted.steering());
        assertEquals(java.util.Arrays.stream(weights[0]).boxed().toList(), restarted.policies().policies().getFirst().weights());
        assertEquals(List.of(file), listDirectory());
    }
}
