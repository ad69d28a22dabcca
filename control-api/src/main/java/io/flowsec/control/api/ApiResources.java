package io.flowsec.control.api;

import io.flowsec.control.config.ConfigurationChange;
import io.flowsec.control.config.PersistentConfiguration;
import io.flowsec.control.config.RefusedChange;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The API's resources over the data plane's command interface: reads build JSON from a snapshot or a command's
 * answer; changes check the request, then apply it and record it in the configuration together
 * ({@link PersistentConfiguration}). The server runs changes one at a time, off the event loop; reads run anywhere.
 * No method returns key material: SAs are shown by name, SPI and counters only. Each change in effect is also handed
 * to {@code changed} (the event stream publishes it).
 */
final class ApiResources {
    private final ApplianceInfo info;
    private final DataplaneControl dataplane;
    private final PersistentConfiguration configuration;
    private final LaneLoad laneLoad;
    private final Consumer<ConfigurationChange> changed;
    private final Consumer<String> log;
    private final TunnelControl tunnels;

    ApiResources(ApplianceInfo info, DataplaneControl dataplane, PersistentConfiguration configuration, LaneLoad laneLoad,
                 TunnelControl tunnels, Consumer<ConfigurationChange> changed, Consumer<String> log) {
        this.tunnels = tunnels;
        this.info = info;
        this.dataplane = dataplane;
        this.configuration = configuration;
        this.laneLoad = laneLoad;
        this.changed = changed;
        this.log = log;
    }

    // ---- reads ----------------------------------------------------------------------------------------------------

    JsonObject appliance(long configurationVersion) {
        DataplaneSnapshot snapshot = dataplane.snapshot();
        long faults = snapshot.lanes().stream().mapToLong(lane -> lane.io(IoCounter.LANE_FAULTS)).sum();
        return new JsonObject()
                .put("name", info.name())
                .put("version", info.version())
                .put("uptimeSeconds", Duration.between(info.startedAt(), Instant.now()).toMillis() / 1000.0)
                .put("transport", info.transport())
                .put("cores", Runtime.getRuntime().availableProcessors())
                .put("lanes", dataplane.laneCount())
                .put("health", faults == 0 ? "ok" : "degraded")
                .put("configurationVersion", configurationVersion)
                .put("offloads", OffloadsJson.of(dataplane));
    }

    JsonArray lanes() {
        JsonArray lanes = new JsonArray();
        for (DataplaneSnapshot.LaneSnapshot lane : dataplane.snapshot().lanes()) {
            lanes.add(lane(lane));
        }
        return lanes;
    }

    JsonObject lane(int index) {
        List<DataplaneSnapshot.LaneSnapshot> lanes = dataplane.snapshot().lanes();
        if (index >= lanes.size()) {
            throw Problem.notFound("lane " + index + " does not exist (lanes 0-" + (lanes.size() - 1) + ")");
        }
        return lane(lanes.get(index));
    }

    private JsonObject lane(DataplaneSnapshot.LaneSnapshot lane) {
        JsonObject io = new JsonObject();
        for (IoCounter counter : IoCounter.values()) {
            io.put(counter.label(), lane.io(counter));
        }
        return new JsonObject()
                .put("lane", lane.lane())
                .put("cpu", info.cpus().isEmpty() ? null : info.cpus().get(lane.lane()))
                .put("busyFraction", laneLoad.busyFraction(lane.lane()))
                .put("faults", lane.io(IoCounter.LANE_FAULTS))
                .put("io", io)
                .put("outcomes", outcomes(lane.outcomes(), true))
                .put("receiveQueue", new JsonObject()
                        .put("queuedBytes", lane.receiveQueue().queuedBytes())
                        .put("bufferBytes", lane.receiveQueue().bufferBytes())
                        .put("drops", lane.socketDrops())
                        .put("delayMs", lane.queueDelayNanos() / 1e6));
    }

    JsonObject mode() {
        return new JsonObject().put("mode", dataplane.mode().configName());
    }

    JsonObject steering() {
        DataplaneSnapshot snapshot = dataplane.snapshot();
        JsonArray endpoints = new JsonArray();
        for (Map.Entry<String, String> field : new java.util.TreeMap<>(snapshot.steeringFields()).entrySet()) {
            endpoints.add(new JsonObject().put("endpoint", field.getKey()).put("field", field.getValue())
                    .put("program", snapshot.steeringPrograms().getOrDefault(field.getKey(), "")));
        }
        return new JsonObject().put("steering", dataplane.steering().configName())
                .put("inEffect", dataplane.steeringInEffect().configName()).put("endpoints", endpoints);
    }

    JsonArray policies() {
        JsonArray policies = new JsonArray();
        for (SecurityPolicy policy : dataplane.policies()) {
            policies.add(policy(policy));
        }
        return policies;
    }

    JsonObject policy(String name) {
        return policy(findPolicy(name));
    }

    private JsonObject policy(SecurityPolicy policy) {
        JsonObject json = new JsonObject().put("name", policy.name())
                .put("action", policy.action().name().toLowerCase())
                .put("selector", policy.selector().toString());
        if (policy.action() == PolicyAction.PROTECT && policy.outboundGroup() != null) {
            json.put("outbound", spis(policy.outboundGroup().members()))
                    .put("weights", ints(dataplane.groupWeights(policy.name())));
        }
        return json;
    }

    JsonObject weights(String name) {
        SecurityPolicy policy = findProtectPolicy(name);
        return new JsonObject().put("policy", name)
                .put("weights", ints(dataplane.groupWeights(name)))
                .put("sas", spis(policy.outboundGroup().members()))
                .put("table", ints(policy.outboundGroup().indirectionTable()));
    }

    JsonArray sas() {
        Map<String, SecurityAssociation> installed = installedByKey();
        JsonArray sas = new JsonArray();
        for (DataplaneSnapshot.SaSnapshot sa : dataplane.snapshot().sas()) {
            sas.add(sa(sa, installed.get(key(sa.direction(), sa.spi()))));
        }
        return sas;
    }

    JsonObject sa(Direction direction, int spi) {
        DataplaneSnapshot.SaSnapshot sa = dataplane.snapshot().sa(spi, direction);
        if (sa == null) {
            throw Problem.notFound("no " + label(direction) + " SA " + hex(spi));
        }
        return sa(sa, installedByKey().get(key(direction, spi)));
    }

    /** An SA's counters and state, and what it is (suite, lifetime); {@code installed} may be null (just removed). */
    private JsonObject sa(DataplaneSnapshot.SaSnapshot sa, SecurityAssociation installed) {
        JsonObject json = new JsonObject().put("name", sa.name()).put("spi", hex(sa.spi())).put("direction", label(sa.direction()))
                .put("lane", sa.lane()).put("packets", sa.packets()).put("bytes", sa.bytes())
                .put("lastSequence", sa.lastSequence()).put("state", sa.state())
                .put("drops", outcomes(sa.drops(), false));
        if (installed != null) {
            json.put("suite", installed.suite().configName()).put("lifetime", lifetime(installed.lifetime()));
        }
        return json;
    }

    /** The configured limits (RFC 4301 §4.4.2.1), 0 meaning none. */
    private static JsonObject lifetime(io.flowsec.dataplane.sa.SaLifetime lifetime) {
        return new JsonObject().put("softBytes", lifetime.softBytes()).put("hardBytes", lifetime.hardBytes())
                .put("softPackets", lifetime.softPackets()).put("hardPackets", lifetime.hardPackets())
                .put("softSeconds", lifetime.softSeconds()).put("hardSeconds", lifetime.hardSeconds());
    }

    private Map<String, SecurityAssociation> installedByKey() {
        Map<String, SecurityAssociation> installed = new java.util.HashMap<>();
        for (SecurityAssociation sa : dataplane.sas()) {
            installed.put(key(sa.direction(), sa.spi()), sa);
        }
        return installed;
    }

    private static String key(Direction direction, int spi) {
        return direction.name() + spi;
    }

    JsonObject inboundLane(int spi) {
        Integer lane = dataplane.inboundLanes().get(spi);
        if (lane == null) {
            throw Problem.notFound("no inbound SA " + hex(spi));
        }
        return new JsonObject().put("spi", hex(spi)).put("lane", lane);
    }

    JsonObject drops() {
        DataplaneSnapshot snapshot = dataplane.snapshot();
        JsonArray lanes = new JsonArray();
        for (DataplaneSnapshot.LaneSnapshot lane : snapshot.lanes()) {
            lanes.add(new JsonObject().put("lane", lane.lane())
                    .put("drops", withSocketOverflow(outcomes(lane.outcomes(), false), lane.socketDrops())));
        }
        JsonArray sas = new JsonArray();
        for (DataplaneSnapshot.SaSnapshot sa : snapshot.sas()) {
            sas.add(new JsonObject().put("spi", hex(sa.spi())).put("direction", label(sa.direction()))
                    .put("drops", outcomes(sa.drops(), false)));
        }
        return new JsonObject().put("totals", withSocketOverflow(outcomes(snapshot.totals(), false), snapshot.socketDrops()))
                .put("lanes", lanes).put("sas", sas);
    }

    JsonArray tunnels() {
        return tunnels.tunnels();
    }

    JsonObject tunnel(String id) {
        JsonObject tunnel = tunnels.tunnel(id);
        if (tunnel == null) {
            throw Problem.notFound("no tunnel '" + id + "'" + (tunnels == TunnelControl.NONE ? ": this appliance runs no cluster" : ""));
        }
        return tunnel;
    }

    JsonObject assignment(String id) {
        tunnel(id);
        JsonObject assignment = tunnels.assignment(id);
        if (assignment == null) {
            throw Problem.notFound("no tunnel '" + id + "'");
        }
        return assignment;
    }

    JsonObject balancing(String id) {
        return new JsonObject().put("tunnel", id).put("policy", tunnel(id).getString("balancing"));
    }

    // ---- changes: checked, then applied and recorded together -----------------------------------------------------

    JsonObject setMode(ModeRequest request) {
        Mode mode = Mode.fromConfigName(request.getMode());
        commit(new ConfigurationChange.ModeSet(mode), () -> dataplane.mode(mode), "mode");
        return mode();
    }

    JsonObject setSteering(SteeringRequest request) {
        Steering steering = Steering.fromConfigName(request.getSteering());
        commit(new ConfigurationChange.SteeringSet(steering), () -> dataplane.steering(steering), "steering");
        return steering();
    }

    JsonObject setWeights(String name, WeightsRequest request) {
        SecurityPolicy policy = findProtectPolicy(name);
        int[] weights = request.getWeights().stream().mapToInt(Integer::intValue).toArray();
        if (weights.length != policy.outboundGroup().size()) {
            throw Problem.badRequest("policy " + name + " has " + policy.outboundGroup().size()
                    + " outbound SAs; give one weight for each, got " + weights.length, "weights");
        }
        commit(new ConfigurationChange.WeightsSet(name, weights), () -> dataplane.groupWeights(name, weights), "weights");
        return weights(name);
    }

    JsonObject setInboundLane(int spi, LaneRequest request) {
        inboundLane(spi);   // 404 when there is no such SA
        int lane = request.getLane();
        if (lane >= dataplane.laneCount()) {
            throw Problem.badRequest("lane " + lane + " does not exist (lanes 0-" + (dataplane.laneCount() - 1) + ")", "lane");
        }
        commit(new ConfigurationChange.InboundLaneSet(spi, lane), () -> dataplane.moveInbound(spi, lane), "lane");
        return inboundLane(spi);
    }

    /** The successor of an SA: new SPI and keys, everything else carried over, installed make-before-break. */
    JsonObject rekey(Direction direction, int oldSpi, RekeyRequest request) {
        SecurityAssociation old = findSa(direction, oldSpi);
        int newSpi = Spis.parse(request.getSpi(), "spi");
        byte[] key = hexKey(request.getKey(), "key");
        byte[] integrityKey = request.getIntegrityKey() == null ? null : hexKey(request.getIntegrityKey(), "integrityKey");
        if (key.length != old.suite().encryptionKeyLength()) {
            throw Problem.badRequest(old.suite().configName() + " needs a " + old.suite().encryptionKeyLength()
                    + "-byte key, got " + key.length + " bytes", "key");
        }
        if (old.suite().integrityKeyLength() != (integrityKey == null ? 0 : integrityKey.length)) {
            throw Problem.badRequest(old.suite().configName() + " needs a " + old.suite().integrityKeyLength()
                    + "-byte integrity key, got " + (integrityKey == null ? 0 : integrityKey.length) + " bytes", "integrityKey");
        }
        if (newSpi != oldSpi && dataplane.sas().stream().anyMatch(sa -> sa.spi() == newSpi && sa.direction() == direction)) {
            throw Problem.conflict("SPI " + hex(newSpi) + " is in use by another " + label(direction) + " SA");
        }
        Duration grace = request.getGraceMs() == null ? DataplaneControl.DEFAULT_REKEY_GRACE
                : Duration.ofMillis(request.getGraceMs());
        SecurityAssociation successor;
        try {
            successor = old.successor().name(old.name() + "-" + Integer.toHexString(newSpi)).spi(newSpi)
                    .encryptionKey(key).integrityKey(integrityKey).build();
        } catch (IllegalArgumentException e) {
            throw Problem.badRequest(e.getMessage(), "key");
        }
        commit(new ConfigurationChange.SaRekeyed(direction, oldSpi, newSpi, key, integrityKey),
                () -> dataplane.replaceSa(oldSpi, direction, successor, grace), "spi");
        java.util.Arrays.fill(key, (byte) 0);
        return sa(direction, newSpi);
    }

    /** A tunnel's balancing policy, switched live and recorded in the cluster section of the configuration. */
    JsonObject setBalancing(String id, BalancingRequest request) {
        tunnel(id);
        String policy = request.getPolicy();
        commit(new ConfigurationChange.BalancingSet(id, policy), () -> tunnels.balancing(id, policy), "policy");
        return balancing(id);
    }

    /** A new inbound SA in {@code policyName}, built as the configuration with it would start it, then installed. */
    JsonObject addInbound(String policyName, AddSaRequest request) {
        findProtectPolicy(policyName);
        int spi = Spis.parse(request.getSpi(), "spi");
        if (dataplane.sas().stream().anyMatch(sa -> sa.spi() == spi && sa.direction() == Direction.INBOUND)) {
            throw Problem.conflict("SPI " + hex(spi) + " is in use by another inbound SA");
        }
        Integer lane = request.getLane();
        if (lane != null && lane >= dataplane.laneCount()) {
            throw Problem.badRequest("lane " + lane + " does not exist (lanes 0-" + (dataplane.laneCount() - 1) + ")", "lane");
        }
        byte[] key = hexKey(request.getKey(), "key");
        byte[] integrityKey = request.getIntegrityKey() == null ? null : hexKey(request.getIntegrityKey(), "integrityKey");
        ConfigurationChange.SaAdded added = new ConfigurationChange.SaAdded(policyName, spi, key, integrityKey,
                request.getSourcePort(), lane);
        java.util.Arrays.fill(key, (byte) 0);
        SecurityAssociation sa;
        try {
            sa = configuration.inboundSa(added);
        } catch (IllegalArgumentException e) {
            String message = e.getMessage();
            throw Problem.badRequest(message, message.contains("integrity") ? "integrityKey" : message.contains("key")
                    ? "key" : "spi");
        } catch (UnsupportedOperationException e) {
            throw Problem.badRequest(e.getMessage(), null);
        }
        commit(added, () -> dataplane.installSa(sa, lane == null ? -1 : lane), "spi");
        return sa(Direction.INBOUND, spi);
    }

    /**
     * A new policy ({@code replacing} false), or one replaced whole, from the configuration file's policy entry. The
     * SPD takes the first match, so a policy whose selector overlaps another's is refused: one of the two would never
     * see the packets they share. A replacement keeps the running SAs it lists again (their sequence numbers and
     * replay windows go on), installs the new ones first and removes the others last, make-before-break.
     */
    JsonObject setPolicy(String name, JsonObject entry, boolean replacing) {
        SecurityPolicy old = replacing ? findPolicy(name) : null;
        if (!replacing && dataplane.policies().stream().anyMatch(policy -> policy.name().equals(name))) {
            throw Problem.conflict("policy " + name + " exists: PUT /policies/" + name + " replaces it");
        }
        if (entry.getValue("name") != null && !name.equals(entry.getValue("name"))) {
            throw Problem.badRequest("the entry's name must be the policy's, " + name, "name");
        }
        ConfigurationChange.PolicySet change = new ConfigurationChange.PolicySet(name, entry, replacing);
        PersistentConfiguration.PolicyDraft draft;
        try {
            draft = configuration.policy(change);
        } catch (RefusedChange e) {
            throw Problem.badRequest(e.getMessage(), e.field().isEmpty() ? null : e.field());
        } catch (UnsupportedOperationException e) {
            throw Problem.badRequest(e.getMessage(), null);
        }
        for (SecurityPolicy other : dataplane.policies()) {
            if (other != old && other.selector().overlaps(draft.selector())) {
                throw Problem.badRequest("policy " + name + " (" + draft.selector() + ") overlaps policy " + other.name()
                        + " (" + other.selector() + "): the first match would take their common packets, so give them "
                        + "disjoint selectors", "local");
            }
        }
        SecurityPolicy policy = keepRunningSas(draft.policy());
        List<Integer> leaving = replacing ? inboundSpis(name) : List.of();
        commit(change, () -> applyPolicy(old, policy, draft, leaving), "outbound");
        return policy == null ? new JsonObject().put("name", name).put("action", "protect")
                .put("selector", draft.selector().toString()) : policy(policy);
    }

    /** The drafted policy with each outbound SA whose SPI is running replaced by the running SA object. */
    private SecurityPolicy keepRunningSas(SecurityPolicy drafted) {
        if (drafted == null || drafted.outboundGroup() == null) {
            return drafted;
        }
        Map<String, SecurityAssociation> running = installedByKey();
        List<SecurityAssociation> members = new java.util.ArrayList<>();
        for (SecurityAssociation sa : drafted.outboundGroup().members()) {
            members.add(running.getOrDefault(key(Direction.OUTBOUND, sa.spi()), sa));
        }
        return new SecurityPolicy(drafted.name(), drafted.selector(), drafted.action(),
                new io.flowsec.dataplane.sa.SaGroup(members, drafted.outboundGroup().encoding()), drafted.nextHop());
    }

    /**
     * 1. the SPD with the policy in its place (or last), its new outbound SAs installed, its dropped ones removed;
     * 2. its weights; 3. its new inbound SAs on their lanes; 4. the inbound SAs it no longer lists removed.
     * A refusal before step 4 puts the SPD and the inbound SAs back as they were.
     */
    private void applyPolicy(SecurityPolicy old, SecurityPolicy policy, PersistentConfiguration.PolicyDraft draft,
                             List<Integer> leaving) {
        List<SecurityPolicy> before = dataplane.policies();
        List<SecurityPolicy> after = new java.util.ArrayList<>(before);
        int place = old == null ? -1 : after.indexOf(old);
        if (place >= 0 && policy != null) {
            after.set(place, policy);
        } else if (place >= 0) {
            after.remove(place);
        } else if (policy != null) {
            after.add(policy);
        }
        java.util.Set<Integer> runningInbound = dataplane.inboundLanes().keySet();
        List<Integer> installed = new java.util.ArrayList<>();
        try {
            dataplane.replacePolicies(after);
            if (policy != null && draft.weights().length > 0) {
                dataplane.groupWeights(policy.name(), draft.weights());
            }
            for (SecurityAssociation sa : draft.inbound()) {
                if (!runningInbound.contains(sa.spi())) {
                    dataplane.installSa(sa, draft.inboundLanes().getOrDefault(sa.spi(), -1));
                    installed.add(sa.spi());
                }
            }
        } catch (RuntimeException e) {
            for (int spi : installed) {
                dataplane.removeSa(spi, Direction.INBOUND);
            }
            dataplane.replacePolicies(before);
            throw e;
        }
        java.util.Set<Integer> kept = new java.util.HashSet<>();
        draft.inbound().forEach(sa -> kept.add(sa.spi()));
        for (int spi : leaving) {
            if (!kept.contains(spi) && dataplane.inboundLanes().containsKey(spi)) {
                dataplane.removeSa(spi, Direction.INBOUND);
            }
        }
    }

    /** A policy removed with its SA group and its inbound SAs. */
    void removePolicy(String name) {
        SecurityPolicy old = findPolicy(name);
        List<Integer> inbound = inboundSpis(name);
        commit(new ConfigurationChange.PolicyRemoved(name), () -> {
            List<SecurityPolicy> after = new java.util.ArrayList<>(dataplane.policies());
            after.remove(old);
            dataplane.replacePolicies(after);
            for (int spi : inbound) {
                if (dataplane.inboundLanes().containsKey(spi)) {
                    dataplane.removeSa(spi, Direction.INBOUND);
                }
            }
        }, "policy");
    }

    void remove(Direction direction, int spi) {
        findSa(direction, spi);
        if (direction == Direction.OUTBOUND) {
            throw Problem.badRequest("an outbound SA belongs to its policy's SA group: rekey it, or change the group",
                    "direction");
        }
        commit(new ConfigurationChange.SaRemoved(direction, spi), () -> dataplane.removeSa(spi, direction), "spi");
    }

    /**
     * Applies and records a change; the data plane's or the configuration's refusal becomes a 400 naming {@code field}.
     * A change in effect is announced, written to the file or not.
     */
    private void commit(ConfigurationChange change, Runnable applyToDataplane, String field) {
        try {
            configuration.commit(change, applyToDataplane);
        } catch (IllegalArgumentException e) {
            throw Problem.badRequest(e.getMessage(), field);
        } catch (IllegalStateException e) {
            throw Problem.conflict(e.getMessage());
        } catch (IOException e) {
            log.accept("api: " + change.describe() + " applied, but the configuration file was not written: " + e.getMessage());
            announce(change);
            throw new Problem(500, "Configuration not written", "the change is in effect, but the configuration file "
                    + "could not be written (" + e.getMessage() + "); a restart would undo it", null);
        }
        log.accept("api: " + change.describe());
        announce(change);
    }

    /** A listener's failure is logged: the change is made and its answer still due. */
    private void announce(ConfigurationChange change) {
        try {
            changed.accept(change);
        } catch (RuntimeException e) {
            log.accept("api: announcing " + change.describe() + " failed: " + e);
        }
    }

    private List<Integer> inboundSpis(String policy) {
        try {
            return configuration.inboundSpis(policy);
        } catch (UnsupportedOperationException e) {
            throw Problem.badRequest(e.getMessage(), null);
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private SecurityPolicy findPolicy(String name) {
        for (SecurityPolicy policy : dataplane.policies()) {
            if (policy.name().equals(name)) {
                return policy;
            }
        }
        throw Problem.notFound("no policy named '" + name + "'");
    }

    private SecurityPolicy findProtectPolicy(String name) {
        SecurityPolicy policy = findPolicy(name);
        if (policy.action() != PolicyAction.PROTECT || policy.outboundGroup() == null) {
            throw Problem.badRequest("policy " + name + " does not protect: it has no SA group", "policy");
        }
        return policy;
    }

    private SecurityAssociation findSa(Direction direction, int spi) {
        for (SecurityAssociation sa : dataplane.sas()) {
            if (sa.spi() == spi && sa.direction() == direction) {
                return sa;
            }
        }
        throw Problem.notFound("no " + label(direction) + " SA " + hex(spi));
    }

    private static byte[] hexKey(String text, String field) {
        if (text.length() % 2 != 0) {
            throw Problem.badRequest("a hex key has an even number of digits", field);
        }
        return HexFormat.of().parseHex(text);   // the contract allowed ASCII hex digits only
    }

    /**
     * A lane's (or every lane's) drops with those of its full sockets added under their own reason: the kernel dropped
     * them before any lane read them, so no SA's drops can include them.
     */
    private static JsonObject withSocketOverflow(JsonObject drops, long socketDrops) {
        return socketDrops == 0 ? drops : drops.put(DataplaneSnapshot.SOCKET_OVERFLOW, socketDrops);
    }

    /** Every non-zero outcome, or ({@code withAccepted} false) the drops alone. */
    static JsonObject outcomes(Map<Outcome, Long> outcomes, boolean withAccepted) {
        JsonObject json = new JsonObject();
        for (Outcome outcome : Outcome.values()) {
            long count = outcomes.getOrDefault(outcome, 0L);
            if (count != 0 && (withAccepted || outcome.isDrop())) {   // drops only: not bypass, not the markers
                json.put(outcome.label(), count);
            }
        }
        return json;
    }

    private static JsonArray spis(List<SecurityAssociation> sas) {
        JsonArray spis = new JsonArray();
        for (SecurityAssociation sa : sas) {
            spis.add(hex(sa.spi()));
        }
        return spis;
    }

    private static JsonArray ints(int[] values) {
        JsonArray array = new JsonArray();
        for (int value : values) {
            array.add(value);
        }
        return array;
    }

    static String hex(int spi) {
        return String.format("0x%08x", spi);
    }

    static String label(Direction direction) {
        return direction == Direction.INBOUND ? "inbound" : "outbound";
    }
}
