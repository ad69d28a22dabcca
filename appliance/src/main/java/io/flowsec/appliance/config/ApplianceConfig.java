package io.flowsec.appliance.config;

import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.selector.IpPrefix;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * The configuration of a running appliance ({@code flowsec run --config FILE}): lanes, mode, steering, the site
 * side (TUN device, addresses, routes) and the policies with their SAs (the SA file's format). Every key is
 * documented in the README; a bad file is refused whole, naming the key and the problem.
 */
public record ApplianceConfig(String name, int lanes, List<Integer> cpus, Mode mode, Steering steering,
                              Site site, int tunnelMtu, Path statusSocket, Path stateDirectory, SaFile policies,
                              ApiSettings api, ClusterConfig cluster, java.time.Duration flowletGap, Offloads offloads,
                              int warmUpSeconds, List<InetSocketAddress> endpoints) {

    /** The site side: TUN device name, its addresses and the routes through it (the remote sites). */
    public record Site(String device, List<String> addresses, List<String> routes, int mtu) {
    }

    public static final int DEFAULT_TUNNEL_MTU = 1500;
    private static final Set<String> KEYS = Set.of("name", "lanes", "cpus", "mode", "steering", "site", "tunnelMtu",
            "statusSocket", "stateDirectory", "policies", "api", "cluster", "flowletGapMicros", "warmUpSeconds", "offloads",
            "endpoints");
    /** The most endpoints {@code endpoints} may list, ranges expanded: each is a socket per lane. */
    public static final int MAX_ENDPOINTS = 256;
    /** "ADDRESS:PORT" or "ADDRESS:FIRST-LAST", the address an IPv4 one, or an IPv6 one in brackets. */
    private static final java.util.regex.Pattern ENDPOINT =
            java.util.regex.Pattern.compile("(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+):([0-9]{1,5})(?:-([0-9]{1,5}))?");
    /** The longest warm-up at start ({@code warmUpSeconds}). */
    public static final int MAX_WARM_UP_SECONDS = 60;
    private static final Set<String> SITE_KEYS = Set.of("device", "addresses", "routes", "mtu");

    public static ApplianceConfig read(Path path) throws ConfigException {
        return parse(JsonFiles.readObject(path, "configuration"));
    }

    public static ApplianceConfig parse(JsonObject json) throws ConfigException {
        for (String key : json.fieldNames()) {
            if (!KEYS.contains(key)) {
                throw new ConfigException(SaFile.keyName(key), "unknown key (allowed: " + String.join(", ", new TreeSet<>(KEYS)) + ")");
            }
        }
        String name = string(json, "name", "flowsec");
        // the name builds default paths (/run/flowsec/NAME.sock, /var/lib/flowsec/NAME) and goes into log lines
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new ConfigException("name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                    + "digit (it names files and log lines)");
        }
        int lanes = integer(json, "lanes", Runtime.getRuntime().availableProcessors());
        // each lane owns at least one SA of every group, and a group holds at most 128
        if (lanes < 1 || lanes > SaGroup.INDIRECTION_TABLE_SIZE) {
            throw new ConfigException("lanes", "must be 1-" + SaGroup.INDIRECTION_TABLE_SIZE + ", got " + lanes);
        }
        List<Integer> cpus = new ArrayList<>();
        if (json.containsKey("cpus")) {
            if (!(json.getValue("cpus") instanceof JsonArray array) || array.size() != lanes) {
                throw new ConfigException("cpus", "must be a list of " + lanes + " CPU numbers, one per lane");
            }
            int available = Runtime.getRuntime().availableProcessors();
            for (int i = 0; i < array.size(); i++) {
                if (!(array.getValue(i) instanceof Integer cpu) || cpu < 0 || cpu >= 1024) {
                    throw new ConfigException("cpus[" + i + "]", "must be a CPU number");
                }
                if (cpu >= available) {
                    throw new ConfigException("cpus[" + i + "]", "CPU " + cpu + " does not exist here (" + available + " CPUs)");
                }
                cpus.add(cpu);
            }
        }
        Mode mode = choice(json, "mode", Mode.class, Mode.FLOW);
        Steering steering = choice(json, "steering", Steering.class, Steering.DIRECTOR);
        int flowletGapMicros = integer(json, "flowletGapMicros", 500);
        if (flowletGapMicros < 0 || flowletGapMicros > 60_000_000) {
            throw new ConfigException("flowletGapMicros", "must be 0 (move at once) to 60000000 µs, got " + flowletGapMicros);
        }
        int warmUpSeconds = integer(json, "warmUpSeconds", 0);
        if (warmUpSeconds < 0 || warmUpSeconds > MAX_WARM_UP_SECONDS) {
            throw new ConfigException("warmUpSeconds", "must be 0 (none) to " + MAX_WARM_UP_SECONDS + ", got " + warmUpSeconds);
        }
        int tunnelMtu = integer(json, "tunnelMtu", DEFAULT_TUNNEL_MTU);
        if (tunnelMtu < 1280 || tunnelMtu > 65535) {
            throw new ConfigException("tunnelMtu", "must be 1280-65535, got " + tunnelMtu);
        }
        Site site = site(json);
        Path statusSocket = path(json, "statusSocket", "/run/flowsec/" + name + ".sock");
        Path stateDirectory = path(json, "stateDirectory", "/var/lib/flowsec/" + name);
        if (!(json.getValue("policies") instanceof JsonArray)) {
            throw new ConfigException("policies", "a list of policies is required (see README, SA definitions)");
        }
        SaFile policies = SaFile.parse(new JsonObject().put("policies", json.getValue("policies")), true);
        checkOutboundSasPerLane(policies, lanes);
        checkInboundLanesExist(policies, lanes);
        return new ApplianceConfig(name, lanes, List.copyOf(cpus), mode, steering, site, tunnelMtu, statusSocket,
                stateDirectory, policies, ApiSettings.parse(json, stateDirectory),
                ClusterConfig.parse(json, stateDirectory, policies.policies()),
                java.time.Duration.ofNanos(flowletGapMicros * 1000L), Offloads.parse(json), warmUpSeconds,
                endpoints(json));
    }

    /**
     * {@code endpoints}: tunnel endpoints bound at start besides those of the configured SAs, so that SAs added
     * through the API later have a socket: {@code "0.0.0.0:4500"} takes ESP-in-UDP on every IPv4 address, as IKE
     * daemons listen; a range ({@code "0.0.0.0:4500-4503"}) gives the udp-port encoding its source ports.
     */
    private static List<InetSocketAddress> endpoints(JsonObject json) throws ConfigException {
        Object value = json.getValue("endpoints");
        if (value == null) {
            return List.of();
        }
        if (!(value instanceof JsonArray array)) {
            throw new ConfigException("endpoints", "must be a list like [\"0.0.0.0:4500\"]");
        }
        List<InetSocketAddress> endpoints = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            String path = "endpoints[" + i + "]";
            java.util.regex.Matcher match = array.getValue(i) instanceof String text ? ENDPOINT.matcher(text.strip()) : null;
            if (match == null || !match.matches()) {
                throw new ConfigException(path, "must be \"ADDRESS:PORT\" or \"ADDRESS:FIRST-LAST\" (IPv6 in brackets: "
                        + "\"[::]:4500\")");
            }
            InetAddress address;
            try {
                address = InetAddress.ofLiteral(match.group(1).replace("[", "").replace("]", ""));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(path, "\"" + match.group(1) + "\" is not an IP address");
            }
            int first = Integer.parseInt(match.group(2));
            int last = match.group(3) == null ? first : Integer.parseInt(match.group(3));
            if (first < 1 || last > 65535 || last < first) {
                throw new ConfigException(path, "ports must be 1-65535, the range's first not above its last");
            }
            for (int port = first; port <= last; port++) {
                InetSocketAddress endpoint = new InetSocketAddress(address, port);
                if (endpoints.contains(endpoint)) {
                    throw new ConfigException(path, endpoint.getAddress().getHostAddress() + " port " + port
                            + " is listed twice");
                }
                endpoints.add(endpoint);
                if (endpoints.size() > MAX_ENDPOINTS) {
                    throw new ConfigException(path, "more than " + MAX_ENDPOINTS + " endpoints (each is a socket per lane)");
                }
            }
        }
        return List.copyOf(endpoints);
    }

    /**
     * Each lane encrypts only with SAs it owns (no two lanes share a sequence counter), so a protect policy needs at
     * least as many outbound SAs as there are lanes.
     */
    private static void checkOutboundSasPerLane(SaFile policies, int lanes) throws ConfigException {
        List<PolicyDefinition> list = policies.policies();
        for (int i = 0; i < list.size(); i++) {
            PolicyDefinition policy = list.get(i);
            int outbound = policy.outbound().size();
            if (policy.action() == PolicyAction.BYPASS && policy.nextHop() == null) {
                throw new ConfigException("policies[" + i + "].nextHop", policy.name() + " bypasses: give the next hop "
                        + "on the tunnel side its packets are forwarded to in clear (e.g. the peer's remoteAddress)");
            }
            if (policy.action() == PolicyAction.PROTECT && outbound > 0 && outbound < lanes) {
                throw new ConfigException("policies[" + i + "].outbound", policy.name() + " has " + outbound
                        + " outbound SA(s) for " + lanes + " lanes: each lane sends on SAs of its own, so give it at least "
                        + lanes + " (one per lane), or set lanes to " + outbound);
            }
        }
    }

    /** An inbound SA's {@code lane} is checked here, where the lane count is known: the SA file alone does not know it. */
    private static void checkInboundLanesExist(SaFile policies, int lanes) throws ConfigException {
        List<PolicyDefinition> list = policies.policies();
        for (int i = 0; i < list.size(); i++) {
            List<SaDefinition> inbound = list.get(i).inbound();
            for (int j = 0; j < inbound.size(); j++) {
                int lane = inbound.get(j).lane().orElse(0);
                if (lane >= lanes) {
                    throw new ConfigException("policies[" + i + "].inbound[" + j + "].lane", "lane " + lane
                            + " does not exist (lanes 0-" + (lanes - 1) + ")");
                }
            }
        }
    }

    private static Site site(JsonObject json) throws ConfigException {
        if (!(json.getValue("site") instanceof JsonObject site)) {
            throw new ConfigException("site", "is required: {\"device\": ..., \"addresses\": [...], \"routes\": [...]}");
        }
        for (String key : site.fieldNames()) {
            if (!SITE_KEYS.contains(key)) {
                throw new ConfigException("site." + SaFile.keyName(key), "unknown key (allowed: " + String.join(", ", new TreeSet<>(SITE_KEYS)) + ")");
            }
        }
        String device = site.getValue("device") instanceof String s ? s : "";
        if (!device.matches("[A-Za-z0-9_.-]{1,15}")) {
            throw new ConfigException("site.device", "must be an interface name of 1-15 letters, digits, '_', '.', '-'");
        }
        List<String> addresses = prefixes(site, "addresses", true);
        List<String> routes = prefixes(site, "routes", false);
        boolean mtuGiven = site.getValue("mtu") != null;
        int mtu = integer(site, "mtu", "site.mtu", 0);
        if (mtuGiven && (mtu < 576 || mtu > 65535)) {
            throw new ConfigException("site.mtu", "must be 576-65535 (or left out: computed from tunnelMtu and the suite)");
        }
        return new Site(device, addresses, routes, mtu);
    }

    private static List<String> prefixes(JsonObject site, String key, boolean required) throws ConfigException {
        Object value = site.getValue(key);
        if (value == null && !required) {
            return List.of();
        }
        if (!(value instanceof JsonArray array) || (required && array.isEmpty())) {
            throw new ConfigException("site." + key, "must be a list of prefixes like \"10.1.0.1/24\"");
        }
        List<String> list = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            String path = "site." + key + "[" + i + "]";
            if (!(array.getValue(i) instanceof String text) || !text.contains("/")) {
                throw new ConfigException(path, "must be a prefix like \"10.1.0.1/24\"");
            }
            try {
                IpPrefix.parse(text);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(path, e.getMessage());
            }
            list.add(text);
        }
        return List.copyOf(list);
    }

    private static int integer(JsonObject json, String key, int fallback) throws ConfigException {
        return integer(json, key, key, fallback);
    }

    private static int integer(JsonObject json, String key, String path, int fallback) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof Integer i)) {
            throw new ConfigException(path, "must be an integer");
        }
        return i;
    }

    private static String string(JsonObject json, String key, String fallback) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof String s) || s.isBlank()) {
            throw new ConfigException(key, "must be a non-empty string");
        }
        return s;
    }

    private static Path path(JsonObject json, String key, String fallback) throws ConfigException {
        try {
            return Path.of(string(json, key, fallback));
        } catch (InvalidPathException e) {
            throw new ConfigException(key, "is not a usable path: " + e.getReason()); // the reason, not the text again
        }
    }

    private static <E extends Enum<E>> E choice(JsonObject json, String key, Class<E> type, E fallback) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return fallback;
        }
        if (value instanceof String s) {
            for (E constant : type.getEnumConstants()) {
                if (constant.name().equalsIgnoreCase(s.strip())) {
                    return constant;
                }
            }
        }
        List<String> names = new ArrayList<>();
        for (E constant : type.getEnumConstants()) {
            names.add(constant.name().toLowerCase(Locale.ROOT));
        }
        throw new ConfigException(key, "must be one of " + String.join(", ", names));
    }
}
