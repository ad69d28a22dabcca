package io.flowsec.appliance.runtime;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.flowsec.control.config.ConfigurationChange;
import io.flowsec.control.config.PersistentConfiguration;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The local control socket's commands, an adapter over {@link DataplaneControl}: one text line in, one JSON object
 * out ({@code {"error": ...}} for a refused request). {@code flowsec status} and {@code flowsec mode} are its
 * clients; the system tests rekey through it. Replies never contain key material.
 */
public final class ControlCommands {
    public static final String HELP = "status | mode single|pcrypt|flow | steering single|director|rss"
            + " | weights POLICY [W...] | move SPI LANE | rekey in|out OLD_SPI NEW_SPI KEY [INTEGRITY_KEY] [grace-ms=N]"
            + " | remove SPI";

    private final String name;
    private final String transport;
    private final List<Integer> cpus;
    private final DataplaneControl dataplane;
    private final PersistentConfiguration configuration;

    /** @param configuration where changes are recorded, as the API records them; {@link #UNRECORDED} records none */
    public ControlCommands(String name, String transport, List<Integer> cpus, DataplaneControl dataplane,
                           PersistentConfiguration configuration) {
        this.name = name;
        this.transport = transport;
        this.cpus = cpus;
        this.dataplane = dataplane;
        this.configuration = configuration;
    }

    /** Applies changes without recording them anywhere (tests, and appliances started without a configuration file). */
    public static final PersistentConfiguration UNRECORDED = (change, applyToDataplane) -> applyToDataplane.run();

    public static ControlCommands of(Appliance appliance, PersistentConfiguration configuration) {
        return new ControlCommands(appliance.config().name(), appliance.transport(), appliance.config().cpus(),
                appliance.dataplane(), configuration);
    }

    /** Applies {@code change} and records it, as an API change is; a file that could not be written is refused loudly. */
    private void commit(ConfigurationChange change, Runnable applyToDataplane) {
        try {
            configuration.commit(change, applyToDataplane);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(change.describe() + " is in effect, but the configuration file was not "
                    + "written (" + e.getMessage() + "); a restart would undo it");
        }
    }

    /** Runs one command line; every failure is a JSON error, never an exception. */
    public String execute(String line) {
        String[] words = line.strip().split("\\s+");
        try {
            return switch (words[0]) {
                case "status", "" -> status().encodePrettily();
                case "mode" -> {
                    expect(words, 2, "mode single|pcrypt|flow");
                    Mode mode = Mode.fromConfigName(words[1]);
                    commit(new ConfigurationChange.ModeSet(mode), () -> dataplane.mode(mode));
                    yield new JsonObject().put("mode", dataplane.mode().configName()).encode();
                }
                case "steering" -> {
                    expect(words, 2, "steering single|director|rss");
                    Steering steering = Steering.fromConfigName(words[1]);
                    commit(new ConfigurationChange.SteeringSet(steering), () -> dataplane.steering(steering));
                    yield new JsonObject().put("steering", dataplane.steering().configName())
                            .put("steeringInEffect", dataplane.steeringInEffect().configName()).encode();
                }
                case "weights" -> weights(words);
                case "move" -> {
                    expect(words, 3, "move SPI LANE");
                    int spi = spi(words[1]);
                    int lane = integer(words[2], "lane");
                    commit(new ConfigurationChange.InboundLaneSet(spi, lane), () -> dataplane.moveInbound(spi, lane));
                    yield new JsonObject().put("spi", hexSpi(spi)).put("lane", dataplane.inboundLanes().get(spi)).encode();
                }
                case "rekey" -> rekey(words);
                case "remove" -> {
                    expect(words, 2, "remove SPI");
                    int spi = spi(words[1]);
                    commit(new ConfigurationChange.SaRemoved(Direction.INBOUND, spi), () -> dataplane.removeSa(spi, Direction.INBOUND));
                    yield new JsonObject().put("removed", hexSpi(spi(words[1]))).encode();
                }
                default -> error("unknown command '" + words[0] + "' (" + HELP + ")");
            };
        } catch (IllegalArgumentException | IllegalStateException e) {
            return error(e.getMessage());
        }
    }

    private String weights(String[] words) {
        if (words.length < 2) {
            throw new IllegalArgumentException("usage: weights POLICY [W...]");
        }
        if (words.length > 2) {
            int[] weights = new int[words.length - 2];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = integer(words[i + 2], "weight");
            }
            commit(new ConfigurationChange.WeightsSet(words[1], weights), () -> dataplane.groupWeights(words[1], weights));
        }
        JsonArray current = new JsonArray();
        for (int weight : dataplane.groupWeights(words[1])) {
            current.add(weight);
        }
        return new JsonObject().put("policy", words[1]).put("weights", current).encode();
    }

    /**
     * {@code rekey in|out OLD NEW KEY [INTEGRITY_KEY] [grace-ms=N]}: the successor of SA OLD, with everything but
     * SPI and keys carried over. Inbound first (on the receiver), then outbound (on the sender); the old inbound SA
     * keeps accepting for the grace period.
     */
    private String rekey(String[] words) {
        if (words.length < 5 || words.length > 7) {
            throw new IllegalArgumentException("usage: rekey in|out OLD_SPI NEW_SPI KEY [INTEGRITY_KEY] [grace-ms=N]");
        }
        Direction direction = switch (words[1]) {
            case "in" -> Direction.INBOUND;
            case "out" -> Direction.OUTBOUND;
            default -> throw new IllegalArgumentException("rekey in or out, not '" + words[1] + "'");
        };
        int oldSpi = spi(words[2]);
        int newSpi = spi(words[3]);
        Duration grace = DataplaneControl.DEFAULT_REKEY_GRACE;
        byte[] integrityKey = null;
        for (int i = 5; i < words.length; i++) {
            if (words[i].startsWith("grace-ms=")) {
                grace = Duration.ofMillis(integer(words[i].substring("grace-ms=".length()), "grace-ms"));
            } else {
                integrityKey = key(words[i]);
            }
        }
        SecurityAssociation old = null;
        for (SecurityAssociation sa : dataplane.sas()) {
            if (sa.spi() == oldSpi && sa.direction() == direction) {
                old = sa;
            }
        }
        if (old == null) {
            throw new IllegalArgumentException("no " + lower(direction) + " SA with SPI " + hexSpi(oldSpi));
        }
        byte[] key = key(words[4]);
        SecurityAssociation replacement = old.successor().name(baseName(old.name()) + "#" + hexSpi(newSpi))
                .spi(newSpi).encryptionKey(key).integrityKey(integrityKey).build();
        Duration graceToUse = grace;
        commit(new ConfigurationChange.SaRekeyed(direction, oldSpi, newSpi, key, integrityKey),
                () -> dataplane.replaceSa(oldSpi, direction, replacement, graceToUse));
        return new JsonObject().put("replaced", hexSpi(oldSpi)).put("by", hexSpi(newSpi))
                .put("direction", lower(direction)).encode();
    }

    private static String baseName(String name) {
        int mark = name.indexOf('#');
        return mark < 0 ? name : name.substring(0, mark);
    }

    /** Counters of every lane and SA, as {@code flowsec status} prints them. Never contains key material. */
    public JsonObject status() {
        DataplaneSnapshot snapshot = dataplane.snapshot();
        JsonArray lanes = new JsonArray();
        for (DataplaneSnapshot.LaneSnapshot lane : snapshot.lanes()) {
            JsonObject io = new JsonObject();
            for (IoCounter counter : IoCounter.values()) {
                io.put(counter.label(), lane.io(counter));
            }
            lanes.add(new JsonObject().put("lane", lane.lane())
                    .put("cpu", cpus.isEmpty() ? null : cpus.get(lane.lane()))
                    .put("io", io).put("outcomes", outcomes(lane.outcomes()))
                    .put("socketDrops", lane.socketDrops()));   // the kernel's, at a full socket: no outcome has them
        }
        JsonArray sas = new JsonArray();
        for (DataplaneSnapshot.SaSnapshot sa : snapshot.sas()) {
            JsonObject entry = new JsonObject().put("name", sa.name()).put("spi", hexSpi(sa.spi()))
                    .put("direction", lower(sa.direction())).put("lane", sa.lane()).put("state", sa.state())
                    .put("packets", sa.packets()).put("bytes", sa.bytes()).put("drops", outcomes(sa.drops()));
            if (sa.direction() == Direction.OUTBOUND) {
                entry.put("lastSequence", sa.lastSequence());
            }
            sas.add(entry);
        }
        return new JsonObject().put("name", name).put("transport", transport).put("mode", snapshot.mode().configName())
                .put("steering", snapshot.steeringInEffect().configName())
                .put("steeringConfigured", snapshot.steering().configName())
                .put("steeringFields", new JsonObject(new java.util.LinkedHashMap<>(snapshot.steeringFields())))
                .put("steeringPrograms", new JsonObject(new java.util.LinkedHashMap<>(snapshot.steeringPrograms())))
                .put("offloads", io.flowsec.control.api.OffloadsJson.of(dataplane))
                .put("lanes", lanes).put("sas", sas).put("totals", outcomes(snapshot.totals()));
    }

    private static JsonObject outcomes(Map<Outcome, Long> counts) {
        JsonObject json = new JsonObject();
        for (Outcome outcome : Outcome.values()) {
            long value = counts.getOrDefault(outcome, 0L);
            if (value != 0) {
                json.put(outcome.label(), value);
            }
        }
        return json;
    }

    private static void expect(String[] words, int count, String usage) {
        if (words.length != count) {
            throw new IllegalArgumentException("usage: " + usage);
        }
    }

    /**
     * An SPI, decimal or 0x hex, 1 to 2^32 - 1. The message of a bad one does not repeat it: in a misordered rekey
     * line the word in an SPI's place may be a key.
     */
    private static int spi(String text) {
        long value;
        try {
            String digits = text.startsWith("0x") || text.startsWith("0X") ? text.substring(2) : text;
            value = Long.parseLong(digits, text.length() == digits.length() ? 10 : 16);
        } catch (NumberFormatException e) {
            value = -1;
        }
        if (value < 1 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("an SPI is a number from 1 to 0xffffffff (e.g. 0x0000b001)");
        }
        return (int) value;
    }

    private static int integer(String text, String what) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " '" + text + "' is not a whole number");
        }
    }

    /** A key in hex; the message of a bad one never repeats it. */
    private static byte[] key(String hex) {
        try {
            return Bytes.fromHex(hex);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("a key must be hex digits, an even number of them");
        }
    }

    private static String hexSpi(int spi) {
        return String.format("0x%08x", spi);
    }

    private static String error(String message) {
        return new JsonObject().put("error", message).encode();
    }

    private static String lower(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }
}
