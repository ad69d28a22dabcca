package io.flowsec.appliance.config;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.sa.ReplayWindow;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.selector.IpPrefix;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.selector.PortRange;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SaLifetime;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The SA file: policies with their SA groups, as the appliance configuration and the pcap tool both read them.
 * The format is documented in the README ("SA definitions"). Parsing is strict: unknown keys, wrong types, bad
 * addresses, key lengths that do not fit the suite and SPI clashes are refused with the path of the key at fault.
 */
public final class SaFile {
    public static final int DEFAULT_PORT = IpProtocol.NAT_T_PORT;

    private static final Set<String> POLICY_KEYS = Set.of("name", "local", "remote", "protocol", "localPorts",
            "remotePorts", "action", "suite", "esn", "replayWindow", "encapsulation", "localAddress", "remoteAddress",
            "port", "encoding", "outbound", "inbound", "nextHop", "weights");
    private static final Set<String> SA_KEYS = Set.of("name", "spi", "key", "integrityKey", "suite", "esn",
            "replayWindow", "localAddress", "remoteAddress", "sourcePort", "port", "lifetime", "lane");
    private static final Set<String> LIFETIME_KEYS = Set.of("softBytes", "hardBytes", "softPackets", "hardPackets",
            "softSeconds", "hardSeconds");

    private final List<PolicyDefinition> policies;

    private SaFile(List<PolicyDefinition> policies) {
        this.policies = policies;
    }

    public List<PolicyDefinition> policies() {
        return policies;
    }

    public static SaFile read(Path path) throws ConfigException {
        return parse(JsonFiles.readObject(path, "SA file"));
    }

    public static SaFile parse(JsonObject root) throws ConfigException {
        return parse(root, false);
    }

    /**
     * @param noneAllowed whether an empty list is accepted: an appliance may start with no policy (a first boot,
     *                    configured through its API), an SA file for the pcap tool says nothing without one
     */
    public static SaFile parse(JsonObject root, boolean noneAllowed) throws ConfigException {
        checkKeys(root, Set.of("policies"), "");
        JsonArray array = array(root, "policies", "");
        if (array == null || (array.isEmpty() && !noneAllowed)) {
            throw new ConfigException("policies", "at least one policy is required");
        }
        List<PolicyDefinition> policies = new ArrayList<>();
        Set<Long> spisSeen = new HashSet<>();   // per direction: the SPI, outbound ones offset by 2^32
        Set<String> names = new HashSet<>();
        for (int i = 0; i < array.size(); i++) {
            String path = "policies[" + i + "]";
            PolicyDefinition policy = parsePolicy(object(array, i, path), path, spisSeen);
            if (!names.add(policy.name())) {
                throw new ConfigException(path + ".name", "policy name '" + policy.name() + "' is used twice");
            }
            policies.add(policy);
        }
        return new SaFile(List.copyOf(policies));
    }

    private static PolicyDefinition parsePolicy(JsonObject json, String path, Set<Long> spisSeen) throws ConfigException {
        checkKeys(json, POLICY_KEYS, path);
        String name = string(json, "name", path, "policy-" + path.replaceAll("\\D", ""));
        TrafficSelector selector;
        try {
            IpPrefix local = prefix(json, "local", path);
            IpPrefix remote = prefix(json, "remote", path);
            selector = new TrafficSelector(local, remote, protocol(json, path),
                    portRange(json, "localPorts", path), portRange(json, "remotePorts", path));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(path, e.getMessage());
        }
        PolicyAction action = switch (string(json, "action", path, "protect").toLowerCase(Locale.ROOT)) {
            case "protect" -> PolicyAction.PROTECT;
            case "bypass" -> PolicyAction.BYPASS;
            case "discard" -> PolicyAction.DISCARD;
            default -> throw new ConfigException(path + ".action", "must be protect, bypass or discard");
        };
        if (json.containsKey("nextHop") && action != PolicyAction.BYPASS) {
            throw new ConfigException(path + ".nextHop", "only a bypass policy has a next hop");
        }
        if (action != PolicyAction.PROTECT) {
            for (String key : List.of("outbound", "inbound", "weights")) {
                if (json.containsKey(key)) {
                    throw new ConfigException(path + "." + key, "a " + action.name().toLowerCase(Locale.ROOT) + " policy has no SAs");
                }
            }
            InetAddress nextHop = json.containsKey("nextHop") ? address(json, "nextHop", path) : null;
            return new PolicyDefinition(name, selector, action, FlowEncoding.SPI, List.of(), List.of(), nextHop, List.of());
        }
        FlowEncoding encoding;
        try {
            encoding = FlowEncoding.fromConfigName(string(json, "encoding", path, "spi"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(path + ".encoding", e.getMessage());
        }
        SaDefaults defaults = new SaDefaults(json, path);
        List<SaDefinition> outbound = parseSas(json, "outbound", path, name, defaults, selector, false, spisSeen);
        List<SaDefinition> inbound = parseSas(json, "inbound", path, name, defaults, selector, true, spisSeen);
        if (outbound.isEmpty() && inbound.isEmpty()) {
            throw new ConfigException(path, "a protect policy needs outbound and/or inbound SAs");
        }
        try {
            if (!outbound.isEmpty()) {
                new SaGroup(toOutboundSas(outbound), encoding); // validates the encoding (distinct ports / address pairs)
            }
        } catch (IllegalArgumentException e) {
            throw new ConfigException(path + ".outbound", e.getMessage());
        }
        return new PolicyDefinition(name, selector, action, encoding, outbound, inbound, null,
                weights(json, path, outbound.size()));
    }

    /**
     * The outbound group's weights as {@link SaGroup#weights} takes them (one per SA in order, none negative, at least
     * one positive), checked here so that a start never fails on them after the data plane is up; empty when not given.
     */
    private static List<Integer> weights(JsonObject json, String path, int outboundCount) throws ConfigException {
        JsonArray array = array(json, "weights", path);
        if (array == null) {
            return List.of();
        }
        String weightsPath = path + ".weights";
        if (outboundCount == 0) {
            throw new ConfigException(weightsPath, "weighs the outbound SAs of the policy's group, and it has none");
        }
        if (array.size() != outboundCount) {
            throw new ConfigException(weightsPath, "must hold one weight per outbound SA, in order (" + outboundCount
                    + "), got " + array.size());
        }
        List<Integer> weights = new ArrayList<>();
        long sum = 0;
        for (int i = 0; i < array.size(); i++) {
            Object value = array.getValue(i);
            if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() < 0
                    || ((Number) value).longValue() > Integer.MAX_VALUE) {
                throw new ConfigException(weightsPath + "[" + i + "]", "must be a whole number from 0 to " + Integer.MAX_VALUE);
            }
            weights.add(((Number) value).intValue());
            sum += ((Number) value).longValue();
        }
        if (sum == 0) {
            throw new ConfigException(weightsPath, "at least one weight must be positive (the group needs an SA to send on)");
        }
        return List.copyOf(weights);
    }

    /**
     * An inbound SA's lane: a number from 0, checked against the lane count by {@link ApplianceConfig} (the SA file
     * alone does not know it). Outbound SAs have none: their group assigns them to lanes.
     */
    private static OptionalInt lane(JsonObject json, String path, boolean inbound) throws ConfigException {
        Object value = json.getValue("lane");
        if (value == null) {
            return OptionalInt.empty();
        }
        if (!inbound) {
            throw new ConfigException(path + ".lane", "only an inbound SA has a lane (the group assigns outbound SAs to lanes)");
        }
        if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() < 0
                || ((Number) value).longValue() > Integer.MAX_VALUE) {
            throw new ConfigException(path + ".lane", "must be a lane number, 0 or more");
        }
        return OptionalInt.of(((Number) value).intValue());
    }

    /** Policy-level values that each SA inherits unless it sets its own. */
    private record SaDefaultValues(EspSuite suite, boolean esn, int replayWindow, boolean udp,
                                   InetAddress localAddress, InetAddress remoteAddress, int port) {
    }

    private static final class SaDefaults {
        final SaDefaultValues values;

        SaDefaults(JsonObject json, String path) throws ConfigException {
            EspSuite suite = json.containsKey("suite") ? suite(json, path) : null;
            boolean esn = bool(json, "esn", path, false);
            int window = integer(json, "replayWindow", path, ReplayWindow.DEFAULT_SIZE);
            String encapsulation = string(json, "encapsulation", path, "udp").toLowerCase(Locale.ROOT);
            if (!encapsulation.equals("udp") && !encapsulation.equals("esp")) {
                throw new ConfigException(path + ".encapsulation", "must be udp (ESP-in-UDP, RFC 3948) or esp (IP protocol 50)");
            }
            InetAddress local = json.containsKey("localAddress") ? address(json, "localAddress", path) : null;
            InetAddress remote = json.containsKey("remoteAddress") ? address(json, "remoteAddress", path) : null;
            int port = port(json, "port", path, DEFAULT_PORT);
            values = new SaDefaultValues(suite, esn, window, encapsulation.equals("udp"), local, remote, port);
        }
    }

    private static List<SaDefinition> parseSas(JsonObject policy, String key, String policyPath, String policyName,
                                               SaDefaults defaults,
                                               TrafficSelector selector, boolean inbound, Set<Long> spisSeen)
            throws ConfigException {
        JsonArray array = array(policy, key, policyPath);
        List<SaDefinition> sas = new ArrayList<>();
        if (array == null) {
            return sas;
        }
        SaDefaultValues d = defaults.values;
        for (int i = 0; i < array.size(); i++) {
            String path = policyPath + "." + key + "[" + i + "]";
            JsonObject json = object(array, i, path);
            checkKeys(json, SA_KEYS, path);
            String name = string(json, "name", path, policyName + "-" + key + "-" + i);
            int spi = spi(json, path);
            EspSuite suite = json.containsKey("suite") ? suite(json, path) : d.suite();
            if (suite == null) {
                throw new ConfigException(path + ".suite", "no suite given (set it on the SA or its policy; known: "
                        + EspSuite.knownNames() + ")");
            }
            byte[] key1 = hex(json, "key", path, suite.encryptionKeyLength() > 0);
            byte[] key2 = hex(json, "integrityKey", path, suite.integrityKeyLength() > 0);
            boolean esn = bool(json, "esn", path, d.esn());
            int window = integer(json, "replayWindow", path, d.replayWindow());
            try {
                new ReplayWindow(window); // outbound SAs too: the decrypt tables turn them into inbound ones
            } catch (IllegalArgumentException e) {
                throw new ConfigException(path, e.getMessage());
            }
            if (esn && window == ReplayWindow.DISABLED) {
                throw new ConfigException(path + ".replayWindow",
                        "0 (no anti-replay) cannot go with esn: the receiver infers the high 32 bits from the window");
            }
            InetAddress local = json.containsKey("localAddress") ? address(json, "localAddress", path) : d.localAddress();
            InetAddress remote = json.containsKey("remoteAddress") ? address(json, "remoteAddress", path) : d.remoteAddress();
            if (local == null || remote == null) {
                throw new ConfigException(path, "outer localAddress and remoteAddress are required (on the SA or its policy)");
            }
            int port = port(json, "port", path, d.port());
            int sourcePort = port(json, "sourcePort", path, port);
            // an outbound SPI twice would be one key counting sequence numbers twice, from two groups
            if (!spisSeen.add((spi & 0xFFFF_FFFFL) | (inbound ? 0 : 1L << 32))) {
                throw new ConfigException(path + ".spi", (inbound ? "inbound" : "outbound") + " SPI 0x"
                        + Integer.toHexString(spi) + " is used twice");
            }
            SaDefinition definition = new SaDefinition(name, spi, inbound, suite, key1, key2, esn, window, selector,
                    d.udp(), local, remote,
                    inbound ? port : sourcePort,      // local: where we receive, or the source port we send from
                    inbound ? sourcePort : port,      // remote: the peer's source port for this SA, or its port
                    lifetime(json, path), lane(json, path, inbound));
            try {
                build(definition); // runs the data plane's own validation (key lengths, window, families)
            } catch (IllegalArgumentException e) {
                throw new ConfigException(path, e.getMessage());
            }
            sas.add(definition);
        }
        return sas;
    }

    // -----------------------------------------------------------------------------------------------------------
    // Building the data plane's tables

    /** The runtime SA of a definition, as this appliance uses it. */
    public static SecurityAssociation build(SaDefinition d) {
        return build(d, FlowEncoding.SPI);
    }

    /** The runtime SA of a definition; an inbound SA learns how its peer encodes the flow ID (director steering). */
    public static SecurityAssociation build(SaDefinition d, FlowEncoding peerEncoding) {
        OuterEndpoints outer = new OuterEndpoints(d.localAddress(), d.remoteAddress(), d.udpEncapsulation(),
                d.localPort(), d.remotePort());
        return SecurityAssociation.builder()
                .name(d.name())
                .spi(d.spi())
                .direction(d.inbound() ? SecurityAssociation.Direction.INBOUND : SecurityAssociation.Direction.OUTBOUND)
                .suite(d.suite())
                .encryptionKey(d.encryptionKey())
                .integrityKey(d.integrityKey().length == 0 ? null : d.integrityKey())
                .extendedSequenceNumbers(d.extendedSequenceNumbers())
                .replayWindowSize(d.replayWindow())
                .selector(d.selector())
                .outer(outer)
                .lifetime(d.lifetime())
                .peerEncoding(peerEncoding)
                .build();
    }

    /**
     * An outbound SA seen from the other end: an inbound SA with mirrored selectors and endpoints. The pcap tool uses
     * it so one file decrypts both directions of a capture.
     */
    public static SecurityAssociation buildMirrored(SaDefinition d) {
        TrafficSelector s = d.selector();
        TrafficSelector mirrored = new TrafficSelector(s.remote(), s.local(), s.protocol(), s.remotePorts(), s.localPorts());
        return build(new SaDefinition(d.name(), d.spi(), true, d.suite(), d.encryptionKey(), d.integrityKey(),
                d.extendedSequenceNumbers(), d.replayWindow(), mirrored, d.udpEncapsulation(), d.remoteAddress(),
                d.localAddress(), d.remotePort(), d.localPort(), d.lifetime(), OptionalInt.empty()));
    }

    private static List<SecurityAssociation> toOutboundSas(List<SaDefinition> definitions) {
        List<SecurityAssociation> sas = new ArrayList<>();
        for (SaDefinition d : definitions) {
            sas.add(build(d));
        }
        return sas;
    }

    /** The policies in file order, each protect policy with its outbound SA group: what the data plane installs. */
    public List<SecurityPolicy> buildPolicies() {
        List<SecurityPolicy> spd = new ArrayList<>();
        for (PolicyDefinition p : policies) {
            SaGroup group = null;
            if (p.action() == PolicyAction.PROTECT && !p.outbound().isEmpty()) {
                group = new SaGroup(toOutboundSas(p.outbound()), p.encoding());
            }
            if (p.action() != PolicyAction.PROTECT || group != null) {
                spd.add(new SecurityPolicy(p.name(), p.selector(), p.action(), group, p.nextHop()));
            }
        }
        return spd;
    }

    /** Every inbound SA in file order, each knowing how the peer encodes the flow ID (its policy's encoding). */
    public List<SecurityAssociation> buildInbound() {
        List<SecurityAssociation> inbound = new ArrayList<>();
        for (PolicyDefinition p : policies) {
            for (SaDefinition d : p.inbound()) {
                inbound.add(build(d, p.encoding()));
            }
        }
        return inbound;
    }

    /** The SPD and SAD for this appliance: policies in file order, outbound groups, inbound SAs by SPI. */
    public Tables buildTables() {
        SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
        List<SecurityPolicy> spd = new ArrayList<>();
        for (PolicyDefinition p : policies) {
            SaGroup group = null;
            if (p.action() == PolicyAction.PROTECT && !p.outbound().isEmpty()) {
                List<SecurityAssociation> members = toOutboundSas(p.outbound());
                sad.addAll(members);
                group = new SaGroup(members, p.encoding());
            }
            for (SaDefinition d : p.inbound()) {
                sad.add(build(d));
            }
            if (p.action() != PolicyAction.PROTECT || group != null) {
                spd.add(new SecurityPolicy(p.name(), p.selector(), p.action(), group));
            }
        }
        return new Tables(new SecurityPolicyDatabase(spd), sad);
    }

    /**
     * Tables for decrypting captures: every inbound SA, plus every outbound SA mirrored (unless its SPI is also an
     * inbound one), so captures holding both directions of a tunnel decrypt with one file.
     */
    public Tables buildDecryptTables() {
        SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
        Set<Integer> spis = new HashSet<>();
        for (PolicyDefinition p : policies) {
            for (SaDefinition d : p.inbound()) {
                sad.add(build(d));
                spis.add(d.spi());
            }
        }
        for (PolicyDefinition p : policies) {
            for (SaDefinition d : p.outbound()) {
                if (spis.add(d.spi())) {
                    sad.add(buildMirrored(d));
                }
            }
        }
        return new Tables(new SecurityPolicyDatabase(), sad);
    }

    public record Tables(SecurityPolicyDatabase spd, SecurityAssociationDatabase sad) {
    }

    // -----------------------------------------------------------------------------------------------------------
    // Typed reads with paths in every message

    private static void checkKeys(JsonObject json, Set<String> allowed, String path) throws ConfigException {
        for (String key : json.fieldNames()) {
            if (!allowed.contains(key)) {
                throw new ConfigException(join(path, keyName(key)), "unknown key (allowed: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        }
    }

    /** A key as a path names it: the empty key as {@code ""}, so the path is never empty or ends in a dot. */
    static String keyName(String key) {
        return key.isEmpty() ? "\"\"" : key;
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static JsonArray array(JsonObject json, String key, String path) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return null;
        }
        if (!(value instanceof JsonArray a)) {
            throw new ConfigException(join(path, key), "must be a list");
        }
        return a;
    }

    private static JsonObject object(JsonArray array, int index, String path) throws ConfigException {
        Object value = array.getValue(index);
        if (!(value instanceof JsonObject o)) {
            throw new ConfigException(path, "must be an object");
        }
        return o;
    }

    private static String string(JsonObject json, String key, String path, String fallback) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof String s)) {
            throw new ConfigException(join(path, key), "must be a string");
        }
        return s;
    }

    /** The optional {@code lifetime} object of an SA: soft and hard limits in bytes, packets and seconds. */
    private static SaLifetime lifetime(JsonObject sa, String saPath) throws ConfigException {
        if (!sa.containsKey("lifetime")) {
            return SaLifetime.NONE;
        }
        if (!(sa.getValue("lifetime") instanceof JsonObject json)) {
            throw new ConfigException(saPath + ".lifetime", "must be an object with softBytes, hardBytes, softPackets, "
                    + "hardPackets, softSeconds, hardSeconds (each optional)");
        }
        String path = saPath + ".lifetime";
        checkKeys(json, LIFETIME_KEYS, path);
        try {
            return new SaLifetime(count(json, "softBytes", path), count(json, "hardBytes", path),
                    count(json, "softPackets", path), count(json, "hardPackets", path),
                    count(json, "softSeconds", path), count(json, "hardSeconds", path));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(path, e.getMessage());
        }
    }

    private static long count(JsonObject json, String key, String path) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return 0;
        }
        if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() < 0) {
            throw new ConfigException(join(path, key), "must be a whole number, 0 or more (0: no limit)");
        }
        return ((Number) value).longValue();
    }

    private static boolean bool(JsonObject json, String key, String path, boolean fallback) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof Boolean b)) {
            throw new ConfigException(join(path, key), "must be true or false");
        }
        return b;
    }

    private static int integer(JsonObject json, String key, String path, int fallback) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() > Integer.MAX_VALUE
                || ((Number) value).longValue() < Integer.MIN_VALUE) {
            throw new ConfigException(join(path, key), "must be an integer");
        }
        return ((Number) value).intValue();
    }

    private static int port(JsonObject json, String key, String path, int fallback) throws ConfigException {
        int port = integer(json, key, path, fallback);
        if (port < 1 || port > 65535) {
            throw new ConfigException(join(path, key), "must be a port number 1-65535, got " + port);
        }
        return port;
    }

    private static IpPrefix prefix(JsonObject json, String key, String path) throws ConfigException {
        try {
            return IpPrefix.parse(string(json, key, path, "any"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(join(path, key), e.getMessage());
        }
    }

    private static PortRange portRange(JsonObject json, String key, String path) throws ConfigException {
        Object value = json.getValue(key);
        try {
            if (value instanceof Number n) {
                if (!(n instanceof Integer || n instanceof Long)) { // longValue() would make 443.9 or 2^64 + 443 port 443
                    throw new ConfigException(join(path, key), "must be a port, a range N-M or any, got " + n);
                }
                return PortRange.parse(Long.toString(n.longValue()));
            }
            return PortRange.parse(string(json, key, path, "any"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(join(path, key), e.getMessage());
        }
    }

    private static int protocol(JsonObject json, String path) throws ConfigException {
        Object value = json.getValue("protocol");
        if (value == null) {
            return 0;
        }
        if (value instanceof Number) {
            int number = integer(json, "protocol", path, 0);
            if (number < 0 || number > 255) {
                throw new ConfigException(path + ".protocol", "must be 0-255, got " + number);
            }
            return number;
        }
        String name = string(json, "protocol", path, "any").strip().toLowerCase(Locale.ROOT);
        return switch (name) {
            case "any" -> 0;
            case "tcp" -> IpProtocol.TCP;
            case "udp" -> IpProtocol.UDP;
            case "icmp" -> IpProtocol.ICMP;
            case "icmpv6", "ipv6-icmp" -> IpProtocol.ICMPV6;
            case "sctp" -> IpProtocol.SCTP;
            default -> throw new ConfigException(path + ".protocol", "must be any, tcp, udp, icmp, icmpv6, sctp or a number");
        };
    }

    private static EspSuite suite(JsonObject json, String path) throws ConfigException {
        try {
            return EspSuite.fromConfigName(string(json, "suite", path, ""));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(path + ".suite", e.getMessage());
        }
    }

    private static InetAddress address(JsonObject json, String key, String path) throws ConfigException {
        try {
            return IpPrefix.parseAddress(string(json, key, path, ""));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(join(path, key), e.getMessage());
        }
    }

    private static int spi(JsonObject json, String path) throws ConfigException {
        Object value = json.getValue("spi");
        long spi;
        if (value == null) {
            throw new ConfigException(path + ".spi", "is required");
        } else if (value instanceof Integer || value instanceof Long) {
            spi = ((Number) value).longValue();
        } else if (value instanceof Number) {
            throw new ConfigException(path + ".spi", "must be an integer from 256 to 0xffffffff");
        } else if (value instanceof String s) {
            String text = s.strip().toLowerCase(Locale.ROOT);
            try {
                spi = text.startsWith("0x") ? Long.parseLong(text.substring(2), 16) : Long.parseLong(text);
            } catch (NumberFormatException e) {
                throw new ConfigException(path + ".spi", "must be a number or 0x-prefixed hex, got '" + s + "'");
            }
        } else {
            throw new ConfigException(path + ".spi", "must be a number or 0x-prefixed hex");
        }
        if (spi < 256 || spi > 0xFFFF_FFFFL) {
            throw new ConfigException(path + ".spi", "must be 256 to 0xffffffff (1-255 are reserved, RFC 4303 §2.1)");
        }
        return (int) spi;
    }

    private static byte[] hex(JsonObject json, String key, String path, boolean required) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            if (required) {
                throw new ConfigException(join(path, key), "is required for this suite");
            }
            return new byte[0];
        }
        if (!required) {
            throw new ConfigException(join(path, key), "this suite takes no such key");
        }
        if (!(value instanceof String s)) {
            throw new ConfigException(join(path, key), "must be a hex string");
        }
        try {
            return Bytes.fromHex(s);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(join(path, key), e.getMessage()); // says where, never what the key is
        }
    }
}
