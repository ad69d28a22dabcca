package io.flowsec.appliance.config;

import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.TreeSet;

/**
 * Which batching and offload paths the lanes ask the kernel for ({@code "offloads"} in the appliance file), as
 * ethtool's features are switched: each on by default; what the kernel refuses falls back on its own and shows in the
 * status. {@code "offloads": false} turns every one off (one system call per packet, as before them).
 *
 * @param tun         the TUN queues carry a virtio_net_hdr and take TCP/UDP superpackets (TSO/USO, checksums)
 * @param tunGro      TCP segments written to the TUN are coalesced (user-space GRO); needs {@code tun}
 * @param udpBatching tunnel sockets send with sendmmsg and receive with recvmmsg
 * @param udpGso      runs of equal datagrams go out as one send (UDP_SEGMENT); needs {@code udpBatching}
 * @param udpGro      runs of datagrams arrive as one receive (UDP_GRO); needs {@code udpBatching}
 * @param tunRing     TUN reads and writes go through the lane's io_uring (reads posted ahead, writes submitted per
 *                    batch) instead of a system call each; where the lanes run on epoll it stays off
 */
public record Offloads(boolean tun, boolean tunGro, boolean udpBatching, boolean udpGso, boolean udpGro, boolean tunRing) {
    public static final Offloads ALL = new Offloads(true, true, true, true, true, true);
    public static final Offloads NONE = new Offloads(false, false, false, false, false, false);
    private static final Set<String> KEYS = Set.of("tun", "tunGro", "udpBatching", "udpGso", "udpGro", "tunRing");

    static Offloads parse(JsonObject json) throws ConfigException {
        Object value = json.getValue("offloads");
        if (value == null) {
            return ALL;
        }
        if (value instanceof Boolean all) {
            return all ? ALL : NONE;
        }
        if (!(value instanceof JsonObject object)) {
            throw new ConfigException("offloads", "must be true, false or an object of " + String.join(", ", new TreeSet<>(KEYS)));
        }
        for (String key : object.fieldNames()) {
            if (!KEYS.contains(key)) {
                throw new ConfigException("offloads." + key, "unknown key (allowed: " + String.join(", ", new TreeSet<>(KEYS)) + ")");
            }
        }
        Offloads offloads = new Offloads(flag(object, "tun"), flag(object, "tunGro"), flag(object, "udpBatching"),
                flag(object, "udpGso"), flag(object, "udpGro"), flag(object, "tunRing"));
        if (offloads.tunGro && !offloads.tun) {
            throw new ConfigException("offloads.tunGro", "needs offloads.tun (coalesced packets go to the TUN behind a virtio header)");
        }
        if ((offloads.udpGso || offloads.udpGro) && !offloads.udpBatching) {
            throw new ConfigException(offloads.udpGso ? "offloads.udpGso" : "offloads.udpGro",
                    "needs offloads.udpBatching (runs are sent and received through the batched calls)");
        }
        return offloads;
    }

    private static boolean flag(JsonObject object, String key) throws ConfigException {
        Object value = object.getValue(key);
        if (value == null) {
            return true;
        }
        if (!(value instanceof Boolean flag)) {
            throw new ConfigException("offloads." + key, "must be true or false");
        }
        return flag;
    }
}
