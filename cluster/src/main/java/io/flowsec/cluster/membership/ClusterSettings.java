package io.flowsec.cluster.membership;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How one appliance's cluster member is set up. The member binds to the management address only and joins exactly
 * the listed peers: no multicast, no cloud discovery, nothing found on its own.
 *
 * @param clusterName     Hazelcast's cluster name; members with another name do not join (a guard against mistakes,
 *                        not a secret: see {@link SealedChannel} for what protects the data)
 * @param memberName      this member's name in sealed messages and in the peer list, 1..64 bytes of UTF-8
 * @param bindAddress     the management address, an IP literal: the only address the member listens on
 * @param port            the member port; never incremented, so peers find it where configured
 * @param members         the peers, "host:port" ("[v6]:port"); this member's own address may be listed too
 * @param joinTimeout     how long to look for the listed peers before running alone (they join it later)
 * @param peerLossTimeout how long a peer may stay silent before it is declared lost; whole seconds, at least 2
 */
public record ClusterSettings(String clusterName, String memberName, String bindAddress, int port,
                              List<String> members, Duration joinTimeout, Duration peerLossTimeout) {
    public static final String DEFAULT_CLUSTER_NAME = "flowsec";
    public static final int DEFAULT_PORT = 5701;
    public static final Duration DEFAULT_JOIN_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_PEER_LOSS_TIMEOUT = Duration.ofSeconds(5);
    private static final int MAX_MEMBER_NAME_BYTES = 64;

    public ClusterSettings {
        requireText(clusterName, "cluster name");
        requireText(memberName, "member name");
        if (memberName.getBytes(StandardCharsets.UTF_8).length > MAX_MEMBER_NAME_BYTES) {
            throw new IllegalArgumentException("member name must be at most " + MAX_MEMBER_NAME_BYTES
                    + " bytes of UTF-8: " + memberName);
        }
        requireText(bindAddress, "bind address");
        try {
            InetAddress.ofLiteral(bindAddress);   // a literal: no DNS lookup, and one address exactly
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bind address must be an IP address, got " + bindAddress);
        }
        requirePort(port, "port " + port);
        members = List.copyOf(Objects.requireNonNull(members, "members"));
        for (String member : members) {
            parseMember(member);
        }
        if (joinTimeout.toSeconds() < 1) {
            throw new IllegalArgumentException("join timeout must be at least 1 s, got " + joinTimeout);
        }
        if (peerLossTimeout.toSeconds() < 2) {
            throw new IllegalArgumentException("peer loss timeout must be at least 2 s, got " + peerLossTimeout);
        }
    }

    /** Defaults for everything but who this member is and whom it joins. */
    public static ClusterSettings of(String memberName, String bindAddress, List<String> members) {
        return new ClusterSettings(DEFAULT_CLUSTER_NAME, memberName, bindAddress, DEFAULT_PORT, members,
                DEFAULT_JOIN_TIMEOUT, DEFAULT_PEER_LOSS_TIMEOUT);
    }

    public ClusterSettings withClusterName(String name) {
        return new ClusterSettings(name, memberName, bindAddress, port, members, joinTimeout, peerLossTimeout);
    }

    public ClusterSettings withPort(int newPort) {
        return new ClusterSettings(clusterName, memberName, bindAddress, newPort, members, joinTimeout,
                peerLossTimeout);
    }

    public ClusterSettings withTimeouts(Duration join, Duration peerLoss) {
        return new ClusterSettings(clusterName, memberName, bindAddress, port, members, join, peerLoss);
    }

    /** "host:port" or "[v6]:port" checked: Hazelcast would otherwise try the default port range for a bare host. */
    static void parseMember(String member) {
        requireText(member, "member");
        int colon = member.lastIndexOf(':');
        String host = colon > 0 ? member.substring(0, colon) : "";
        if (host.startsWith("[") != host.endsWith("]") || host.isEmpty() || host.equals("[]")
                || (!host.startsWith("[") && host.contains(":"))) {
            throw new IllegalArgumentException("member must be host:port or [v6]:port, got " + member);
        }
        int port;
        try {
            port = Integer.parseInt(member.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("member must be host:port or [v6]:port, got " + member);
        }
        requirePort(port, "member " + member);
    }

    private static void requirePort(int port, String what) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException(what + ": the port must be 1..65535");
        }
    }

    private static void requireText(String value, String what) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(what + " must not be blank");
        }
    }
}
