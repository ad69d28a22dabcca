package io.flowsec.appliance.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.net.InetAddress;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The configuration's {@code cluster} section: this appliance's control-cluster member (management address, port,
 * the peers it joins, the shared secret that seals what it says) and the tunnels it coordinates with their peers.
 * Absent: no cluster ({@link #NONE}); the data plane runs the same either way.
 *
 * @param address       the management address the member binds to, an IP literal
 * @param members       the peers to join, {@code host:port}
 * @param secretFile    the cluster secret (hex, 0600; {@code flowsec cluster secret FILE} makes one)
 * @param loadInterval  how often each end reports its lanes' load, in milliseconds
 * @param peerLoss      how long a silent peer counts as present, in milliseconds
 * @param tunnels       per tunnel: its id (the same at both ends), the local policy whose SA group sends to the peer
 *                      and whose inbound SAs receive from it, the peer's appliance name, the balancing policy
 */
public record ClusterConfig(boolean enabled, String clusterName, String address, int port, List<String> members,
                            Path secretFile, int loadInterval, int peerLoss, List<Tunnel> tunnels) {
    public static final ClusterConfig NONE = new ClusterConfig(false, "flowsec", "127.0.0.1", 5701, List.of(), null,
            100, 5000, List.of());
    public static final Set<String> BALANCING = Set.of("static", "sender", "receiver");
    private static final Set<String> KEYS = Set.of("enabled", "name", "address", "port", "members", "secretFile",
            "loadIntervalMs", "peerLossMs", "tunnels");
    private static final Set<String> TUNNEL_KEYS = Set.of("id", "policy", "peer", "balancing");

    public record Tunnel(String id, String policy, String peer, String balancing) {
    }

    /** The section at {@code cluster}; {@code policies} to check that each tunnel names a protect policy. */
    static ClusterConfig parse(JsonObject json, Path stateDirectory, List<PolicyDefinition> policies) throws ConfigException {
        Object value = json.getValue("cluster");
        if (value == null) {
            return NONE;
        }
        if (!(value instanceof JsonObject cluster)) {
            throw new ConfigException("cluster", "must be an object (see README, \"The control cluster\")");
        }
        for (String key : cluster.fieldNames()) {
            if (!KEYS.contains(key)) {
                throw new ConfigException("cluster." + SaFile.keyName(key), "unknown key (allowed: "
                        + String.join(", ", new TreeSet<>(KEYS)) + ")");
            }
        }
        Object enabledValue = cluster.getValue("enabled");
        if (enabledValue != null && !(enabledValue instanceof Boolean)) {
            throw new ConfigException("cluster.enabled", "must be true or false");
        }
        boolean enabled = enabledValue == null || (Boolean) enabledValue;
        String name = cluster.getValue("name") == null ? "flowsec" : text(cluster, "name", "cluster.name");
        String address = text(cluster, "address", "cluster.address");
        try {
            address = InetAddress.ofLiteral(address).getHostAddress();
        } catch (IllegalArgumentException e) {
            throw new ConfigException("cluster.address", "must be an IP address literal (the management address), got '"
                    + address + "'");
        }
        int port = number(cluster, "port", 5701, 1, 65535);
        if (!(cluster.getValue("members") instanceof JsonArray array) || array.isEmpty()) {
            throw new ConfigException("cluster.members", "a list of the peers' \"address:port\" is required");
        }
        List<String> members = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            if (!(array.getValue(i) instanceof String member) || !member.matches("(\\[[0-9A-Fa-f:.]+]|[0-9A-Za-z.:-]+):[0-9]{1,5}")) {
                throw new ConfigException("cluster.members[" + i + "]", "must be \"address:port\" (\"[v6]:port\")");
            }
            members.add(member);
        }
        Path secretFile = cluster.getValue("secretFile") == null ? stateDirectory.resolve("cluster.secret")
                : path(text(cluster, "secretFile", "cluster.secretFile"));
        int loadInterval = number(cluster, "loadIntervalMs", 100, 10, 60_000);
        int peerLoss = number(cluster, "peerLossMs", 5000, 2000, 600_000);
        List<Tunnel> tunnels = new ArrayList<>();
        if (cluster.getValue("tunnels") != null) {
            if (!(cluster.getValue("tunnels") instanceof JsonArray list)) {
                throw new ConfigException("cluster.tunnels", "must be a list of tunnels");
            }
            Set<String> ids = new HashSet<>();
            for (int i = 0; i < list.size(); i++) {
                tunnels.add(tunnel(list.getValue(i), "cluster.tunnels[" + i + "]", ids, policies));
            }
        }
        return new ClusterConfig(enabled, name, address, port, List.copyOf(members), secretFile, loadInterval, peerLoss,
                List.copyOf(tunnels));
    }

    private static Tunnel tunnel(Object value, String path, Set<String> ids, List<PolicyDefinition> policies)
            throws ConfigException {
        if (!(value instanceof JsonObject tunnel)) {
            throw new ConfigException(path, "must be an object {\"id\", \"policy\", \"peer\", \"balancing\"}");
        }
        for (String key : tunnel.fieldNames()) {
            if (!TUNNEL_KEYS.contains(key)) {
                throw new ConfigException(path + "." + SaFile.keyName(key), "unknown key (allowed: "
                        + String.join(", ", new TreeSet<>(TUNNEL_KEYS)) + ")");
            }
        }
        String id = text(tunnel, "id", path + ".id");
        if (!id.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new ConfigException(path + ".id", "must be 1-64 letters, digits, '.', '_' or '-' (the same at both ends)");
        }
        if (!ids.add(id)) {
            throw new ConfigException(path + ".id", "tunnel '" + id + "' is given twice");
        }
        String policy = text(tunnel, "policy", path + ".policy");
        PolicyDefinition definition = policies.stream().filter(p -> p.name().equals(policy)).findFirst()
                .orElseThrow(() -> new ConfigException(path + ".policy", "no policy named '" + policy + "'"));
        if (definition.outbound().isEmpty() || definition.inbound().isEmpty()) {
            throw new ConfigException(path + ".policy", policy + " must protect with outbound and inbound SAs: the "
                    + "tunnel's two directions are its SA group and its inbound SAs");
        }
        String peer = text(tunnel, "peer", path + ".peer");
        String balancing = tunnel.getValue("balancing") == null ? "static" : text(tunnel, "balancing", path + ".balancing");
        if (!BALANCING.contains(balancing)) {
            throw new ConfigException(path + ".balancing", "must be static, sender or receiver, got '" + balancing + "'");
        }
        return new Tunnel(id, policy, peer, balancing);
    }

    private static String text(JsonObject json, String key, String path) throws ConfigException {
        if (!(json.getValue(key) instanceof String text) || text.isBlank() || text.length() > 256) {
            throw new ConfigException(path, "must be a non-empty string");
        }
        return text;
    }

    private static int number(JsonObject json, String key, int fallback, int min, int max) throws ConfigException {
        Object value = json.getValue(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof Integer number) || number < min || number > max) {
            throw new ConfigException("cluster." + key, "must be a whole number " + min + "-" + max);
        }
        return number;
    }

    private static Path path(String text) throws ConfigException {
        try {
            return Path.of(text);
        } catch (InvalidPathException e) {
            throw new ConfigException("cluster.secretFile", "is not a usable path: " + e.getReason());
        }
    }
}
