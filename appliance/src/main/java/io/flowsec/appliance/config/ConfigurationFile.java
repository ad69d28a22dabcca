package io.flowsec.appliance.config;

import io.flowsec.control.config.ConfigurationChange;
import io.flowsec.control.config.ConfigurationChange.BalancingSet;
import io.flowsec.control.config.ConfigurationChange.InboundLaneSet;
import io.flowsec.control.config.ConfigurationChange.ModeSet;
import io.flowsec.control.config.ConfigurationChange.PolicyRemoved;
import io.flowsec.control.config.ConfigurationChange.PolicySet;
import io.flowsec.control.config.ConfigurationChange.SaAdded;
import io.flowsec.control.config.ConfigurationChange.SaRekeyed;
import io.flowsec.control.config.ConfigurationChange.SaRemoved;
import io.flowsec.control.config.ConfigurationChange.SteeringSet;
import io.flowsec.control.config.ConfigurationChange.WeightsSet;
import io.flowsec.control.config.PersistentConfiguration;
import io.flowsec.control.config.RefusedChange;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

/**
 * The appliance's configuration file as the API changes it, so that a restart comes back in the state the API left.
 * The document read at {@link #open} is the source of truth: each change edits it and rewrites the whole file, keeping
 * every key and its order. A change takes these steps and stops at the first that fails:
 * <ol>
 *   <li>edit a copy of the document (a policy or SPI it does not hold: {@link IllegalArgumentException});</li>
 *   <li>check the copy's text as {@code flowsec run} reads it ({@link ApplianceConfig#parse}): a refusal becomes an
 *       {@link IllegalArgumentException} naming the key at fault, and nothing is applied;</li>
 *   <li>apply the change to the data plane: a refusal there propagates, and nothing is written;</li>
 *   <li>write {@code .NAME.tmp} beside the file (created 0600: it holds keys), force it, rename it over the file and
 *       force the directory, so a crash leaves the old file or the new one, never a part, and both start.</li>
 * </ol>
 * A crash's leftover temporary file is deleted and written afresh by the next change.
 * <p>
 * A rekeyed SA keeps its {@code name}: a name labels the SA's place in its policy, which the successor takes (as the
 * default names {@code POLICY-outbound-N} do); its entry shows the new SPI. Key material is written to the file (a
 * restart needs it) but appears in no message and not in {@link #documentWithoutKeys}.
 */
public final class ConfigurationFile implements PersistentConfiguration {
    private static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    private static final Set<String> KEY_FIELDS = Set.of("key", "integrityKey");

    private final Path path;
    private final Path temporary;
    /** What the file holds (or, after a failed write, should hold), and its parse: they always match. */
    private JsonObject document;
    private ApplianceConfig config;

    private ConfigurationFile(Path path, JsonObject document, ApplianceConfig config) {
        this.path = path;
        this.temporary = path.resolveSibling("." + path.getFileName() + ".tmp");
        this.document = document;
        this.config = config;
    }

    /**
     * Reads and checks the configuration as {@code flowsec run} does. A link is resolved once here: changes replace
     * the file it points to, in that file's directory, and leave the link alone.
     */
    public static ConfigurationFile open(Path path) throws IOException, ConfigException {
        JsonObject document = JsonFiles.readObject(path, "configuration");
        ApplianceConfig config = ApplianceConfig.parse(document);
        return new ConfigurationFile(path.toRealPath(), document, config);
    }

    /** The configuration a restart would run with: the file's, with every change committed so far. */
    public synchronized ApplianceConfig config() {
        return config;
    }

    /** The document as the file holds it, without {@code key} and {@code integrityKey}: for the API to show. */
    public synchronized JsonObject documentWithoutKeys() {
        JsonObject copy = document.copy();
        removeKeys(copy);
        return copy;
    }

    @Override
    public synchronized void commit(ConfigurationChange change, Runnable applyToDataplane) throws IOException {
        // 1. edit a copy
        JsonObject edited = document.copy();
        edit(edited, change);
        // 2. check the text to be written as a start reads it
        byte[] text = (edited.encodePrettily() + "\n").getBytes(StandardCharsets.UTF_8);
        ApplianceConfig checked = check(text, change, changedPolicy(edited, change));
        // 3. the data plane; from here on the document follows it, so a later write carries this change if this one fails
        applyToDataplane.run();
        document = edited;
        config = checked;
        // 4. write it whole
        write(text);
    }

    // -----------------------------------------------------------------------------------------------------------
    // 1. the edit

    private void edit(JsonObject edited, ConfigurationChange change) {
        switch (change) {
            case ModeSet(var mode) -> edited.put("mode", mode.configName());
            case SteeringSet(var steering) -> edited.put("steering", steering.configName());
            case WeightsSet(var policy, var weights) -> {
                JsonArray array = new JsonArray();
                for (int weight : weights) {
                    array.add(weight);
                }
                policyEntry(edited, policyIndex(policy)).put("weights", array);
            }
            case InboundLaneSet(var spi, var lane) -> saEntry(edited, find(Direction.INBOUND, spi)).put("lane", lane);
            case SaRekeyed rekey -> rekey(saEntry(edited, find(rekey.direction(), rekey.oldSpi())), rekey);
            case SaRemoved(var direction, var spi) -> remove(edited, find(direction, spi));
            case PolicySet set -> setPolicy(edited, set);
            case PolicyRemoved(var name) -> edited.getJsonArray("policies").remove(policyIndex(name));
            case BalancingSet(var tunnel, var policy) -> tunnelEntry(edited, tunnel).put("balancing", policy);
            case SaAdded added -> {
                JsonObject sa = new JsonObject().put("spi", String.format("0x%08x", added.spi()));
                putOrRemoveKey(sa, "key", added.encryptionKey());
                putOrRemoveKey(sa, "integrityKey", added.integrityKey());
                if (added.sourcePort() != null) {
                    sa.put("sourcePort", added.sourcePort());
                }
                if (added.lane() != null) {
                    sa.put("lane", added.lane());
                }
                JsonObject policy = policyEntry(edited, policyIndex(added.policy()));
                if (!(policy.getValue("inbound") instanceof JsonArray)) {
                    policy.put("inbound", new JsonArray());
                }
                policy.getJsonArray("inbound").add(sa);
            }
        }
    }

    @Override
    public synchronized io.flowsec.dataplane.sa.SecurityAssociation inboundSa(SaAdded added) {
        JsonObject edited = document.copy();
        edit(edited, added);
        ApplianceConfig checked = check((edited.encodePrettily() + "\n").getBytes(StandardCharsets.UTF_8), added, -1);
        for (io.flowsec.dataplane.sa.SecurityAssociation sa : checked.policies().buildInbound()) {
            if (sa.spi() == added.spi()) {
                return sa;
            }
        }
        throw new IllegalStateException(added.describe() + ": not found after adding it");
    }

    @Override
    public synchronized PolicyDraft policy(PolicySet set) {
        JsonObject edited = document.copy();
        edit(edited, set);
        int index = changedPolicy(edited, set);
        ApplianceConfig checked = check((edited.encodePrettily() + "\n").getBytes(StandardCharsets.UTF_8), set, index);
        PolicyDefinition definition = checked.policies().policies().get(index);
        if (set.replacing()) {
            checkKeptSas(config.policies().policies().get(policyIndex(set.name())), definition);
        }
        SecurityPolicy policy = null;
        for (SecurityPolicy built : checked.policies().buildPolicies()) {
            if (built.name().equals(definition.name())) {
                policy = built;
            }
        }
        List<SecurityAssociation> inbound = new ArrayList<>();
        Map<Integer, Integer> lanes = new HashMap<>();
        for (SaDefinition sa : definition.inbound()) {
            inbound.add(SaFile.build(sa, definition.encoding()));
            sa.lane().ifPresent(lane -> lanes.put(sa.spi(), lane));
        }
        return new PolicyDraft(definition.name(), definition.selector(), policy, inbound, lanes,
                definition.weights().stream().mapToInt(Integer::intValue).toArray());
    }

    @Override
    public synchronized List<Integer> inboundSpis(String policy) {
        return config.policies().policies().get(policyIndex(policy)).inbound().stream().map(SaDefinition::spi).toList();
    }

    /**
     * A new policy is appended; a replacement takes the old entry's place, and each SA it lists by an SPI the old
     * policy has, without keys, gets the old entry's keys (the client cannot know them: keys are write-only).
     */
    private void setPolicy(JsonObject edited, PolicySet set) {
        JsonObject entry = set.entry();
        entry.put("name", set.name());
        JsonArray policies = edited.getJsonArray("policies");
        if (!set.replacing()) {
            policies.add(entry);
            return;
        }
        int index = policyIndex(set.name());
        PolicyDefinition old = config.policies().policies().get(index);
        fillKeptKeys(entry.getValue("outbound"), old.outbound());
        fillKeptKeys(entry.getValue("inbound"), old.inbound());
        policies.set(index, entry);
    }

    private static void fillKeptKeys(Object list, List<SaDefinition> old) {
        if (!(list instanceof JsonArray sas)) {
            return;   // the check refuses it, naming the key
        }
        for (Object value : sas) {
            if (value instanceof JsonObject sa && !sa.containsKey("key") && !sa.containsKey("integrityKey")) {
                Long spi = spiOf(sa.getValue("spi"));
                for (SaDefinition kept : old) {
                    if (spi != null && kept.spi() == spi.intValue()) {
                        putOrRemoveKey(sa, "key", kept.encryptionKey());
                        putOrRemoveKey(sa, "integrityKey", kept.integrityKey());
                    }
                }
            }
        }
    }

    /** An SPI as the SA file writes it (a number or {@code 0x} hex), or null: the check then names it. */
    private static Long spiOf(Object value) {
        try {
            if (value instanceof Number number) {
                return number.longValue();
            }
            if (value instanceof String text) {
                String trimmed = text.strip().toLowerCase(Locale.ROOT);
                return trimmed.startsWith("0x") ? Long.parseLong(trimmed.substring(2), 16) : Long.parseLong(trimmed);
            }
        } catch (NumberFormatException e) {
            return null;
        }
        return null;
    }

    /**
     * A replacement keeps the running SA of each SPI it lists again, sequence numbers and replay window included, so
     * that SA must be the same: same keys and every setting but its name and lane. A new SA needs a new SPI.
     */
    private static void checkKeptSas(PolicyDefinition old, PolicyDefinition replacement) {
        checkKept(old.outbound(), replacement.outbound(), "outbound");
        checkKept(old.inbound(), replacement.inbound(), "inbound");
    }

    private static void checkKept(List<SaDefinition> old, List<SaDefinition> replacement, String list) {
        for (int i = 0; i < replacement.size(); i++) {
            SaDefinition next = replacement.get(i);
            for (SaDefinition kept : old) {
                if (kept.spi() == next.spi() && !sameSa(kept, next)) {
                    throw new RefusedChange(String.format("%s[%d]: SA 0x%08x is running and keeps its keys and settings "
                            + "in a replaced policy; rekey it, or give the new SA a new SPI", list, i, next.spi()),
                            list + "[" + i + "]", null);
                }
            }
        }
    }

    private static boolean sameSa(SaDefinition a, SaDefinition b) {
        return a.suite() == b.suite() && Arrays.equals(a.encryptionKey(), b.encryptionKey())
                && Arrays.equals(a.integrityKey(), b.integrityKey())
                && a.extendedSequenceNumbers() == b.extendedSequenceNumbers() && a.replayWindow() == b.replayWindow()
                && a.selector().equals(b.selector()) && a.udpEncapsulation() == b.udpEncapsulation()
                && Objects.equals(a.localAddress(), b.localAddress()) && Objects.equals(a.remoteAddress(), b.remoteAddress())
                && a.localPort() == b.localPort() && a.remotePort() == b.remotePort() && a.lifetime().equals(b.lifetime());
    }

    /** The index of the policy a {@link PolicySet} writes in {@code edited}, whose fields its refusals name; else -1. */
    private static int changedPolicy(JsonObject edited, ConfigurationChange change) {
        if (!(change instanceof PolicySet set)) {
            return -1;
        }
        JsonArray policies = edited.getJsonArray("policies");
        for (int i = 0; i < policies.size(); i++) {
            if (policies.getValue(i) instanceof JsonObject policy && set.name().equals(policy.getValue("name"))) {
                return i;
            }
        }
        return -1;
    }

    /** The successor's SPI and exactly its keys (a key it has none of leaves with its predecessor's). */
    private static void rekey(JsonObject sa, SaRekeyed rekey) {
        sa.put("spi", String.format("0x%08x", rekey.newSpi()));
        putOrRemoveKey(sa, "key", rekey.encryptionKey());
        putOrRemoveKey(sa, "integrityKey", rekey.integrityKey());
    }

    private static void putOrRemoveKey(JsonObject sa, String field, byte[] key) {
        if (key == null || key.length == 0) {
            sa.remove(field);
        } else {
            sa.put(field, HexFormat.of().formatHex(key)); // lower case
        }
    }

    /** Removes the SA's entry and, for an outbound SA, its weight, so the weights still match the group. */
    private static void remove(JsonObject edited, SaPlace place) {
        JsonObject policy = policyEntry(edited, place.policy());
        policy.getJsonArray(place.list()).remove(place.index());
        if (place.list().equals("outbound") && policy.getValue("weights") instanceof JsonArray weights
                && place.index() < weights.size()) {
            weights.remove(place.index());
        }
    }

    /** Where an SA's entry is: its policy's index, {@code outbound} or {@code inbound}, its index there. */
    private record SaPlace(int policy, String list, int index) {
    }

    /** Found in the parsed configuration, whose lists follow the document's order, so SPIs in any written form match. */
    private SaPlace find(Direction direction, int spi) {
        List<PolicyDefinition> policies = config.policies().policies();
        for (int i = 0; i < policies.size(); i++) {
            List<SaDefinition> sas = direction == Direction.INBOUND ? policies.get(i).inbound() : policies.get(i).outbound();
            for (int j = 0; j < sas.size(); j++) {
                if (sas.get(j).spi() == spi) {
                    return new SaPlace(i, direction == Direction.INBOUND ? "inbound" : "outbound", j);
                }
            }
        }
        throw new IllegalArgumentException(String.format("no %s SA 0x%08x in the configuration",
                direction.name().toLowerCase(Locale.ROOT), spi));
    }

    private int policyIndex(String name) {
        List<PolicyDefinition> policies = config.policies().policies();
        for (int i = 0; i < policies.size(); i++) {
            if (policies.get(i).name().equals(name)) {
                return i;
            }
        }
        throw new IllegalArgumentException(ConfigException.oneLine("no policy named '" + name + "' in the configuration"));
    }

    /** A cluster tunnel's entry, found by its id in {@code cluster.tunnels}. */
    private static JsonObject tunnelEntry(JsonObject document, String id) {
        if (document.getValue("cluster") instanceof JsonObject cluster && cluster.getValue("tunnels") instanceof JsonArray tunnels) {
            for (Object tunnel : tunnels) {
                if (tunnel instanceof JsonObject entry && id.equals(entry.getValue("id"))) {
                    return entry;
                }
            }
        }
        throw new IllegalArgumentException(ConfigException.oneLine("no tunnel '" + id + "' in the configuration's cluster section"));
    }

    private static JsonObject policyEntry(JsonObject document, int index) {
        return document.getJsonArray("policies").getJsonObject(index);
    }

    private static JsonObject saEntry(JsonObject document, SaPlace place) {
        return policyEntry(document, place.policy()).getJsonArray(place.list()).getJsonObject(place.index());
    }

    // -----------------------------------------------------------------------------------------------------------
    // 2. the check

    /** The text parsed exactly as a start reads the file; a refusal names the key and the change, never a key's value. */
    private ApplianceConfig check(byte[] text, ConfigurationChange change, int policyIndex) {
        try {
            if (text.length > JsonFiles.MAX_BYTES) {
                throw new ConfigException("", "the configuration would be larger than " + (JsonFiles.MAX_BYTES >> 20)
                        + " MiB, more than a start reads");
            }
            return ApplianceConfig.parse(JsonFiles.parseObject(new String(text, StandardCharsets.UTF_8), path));
        } catch (ConfigException e) {
            // a policy's own fields are named as its entry has them (outbound[1].key), as the API's client sent it
            String prefix = "policies[" + policyIndex + "]";
            String field = policyIndex >= 0 && e.path().startsWith(prefix)
                    ? e.path().substring(prefix.length()).replaceFirst("^\\.", "") : e.path();
            throw new RefusedChange(ConfigException.oneLine(change.describe()) + " refused: " + e.getMessage(), field, e);
        }
    }

    // -----------------------------------------------------------------------------------------------------------
    // 4. the write

    private void write(byte[] text) throws IOException {
        try {
            Files.deleteIfExists(temporary); // a crash's leftover, or anything else by that name: never written through
            try (FileChannel channel = FileChannel.open(temporary, Set.of(CREATE_NEW, WRITE), OWNER_ONLY)) {
                ByteBuffer buffer = ByteBuffer.wrap(text);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            Files.move(temporary, path, ATOMIC_MOVE, REPLACE_EXISTING);
            try (FileChannel directory = FileChannel.open(path.getParent(), READ)) {
                directory.force(true); // the rename itself survives a power cut
            }
        } catch (IOException e) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw new IOException("configuration " + path + " not written (" + e.getMessage() + "): the data plane has "
                    + "the change, and the file lags behind it until a later change is written", e);
        }
    }

    private static void removeKeys(Object value) {
        if (value instanceof JsonObject object) {
            KEY_FIELDS.forEach(object::remove);
            object.forEach(entry -> removeKeys(entry.getValue()));
        } else if (value instanceof JsonArray array) {
            array.forEach(ConfigurationFile::removeKeys);
        }
    }
}
