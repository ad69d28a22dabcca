package io.flowsec.testbed.bench.balance;

import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Two clustered appliances and their tunnel {@value #ID}, as the balancing benchmark and the balancing system test
 * set them up: each router's lanes pinned one per CPU (so {@link LaneThrottle} finds a lane's thread by its
 * affinity), a cluster section naming the peer, and both ends agreeing on the tunnel's layout before anything is
 * measured.
 */
public final class ClusterTunnel {
    public static final String ID = "a-b";
    /** The coordinator's load reports: often enough that a 250 ms sample sees a change soon after it is decided. */
    private static final int LOAD_INTERVAL_MS = 100;
    private static final int PEER_LOSS_MS = 2000;

    private ClusterTunnel() {
    }

    /**
     * Adds to {@code config} lanes pinned to {@code cpus} and a cluster section: a member on {@code address} (the
     * tunnel link), {@code peerAddress} to join, tunnel {@value #ID} over protect policy {@code policy} to appliance
     * {@code peer}, balancing {@code static} until the API says otherwise. Returns {@code config}.
     */
    public static JsonObject clustered(JsonObject config, List<Integer> cpus, String address, String peerAddress,
                                       String policy, String peer, Path secret) {
        config.put("cpus", new JsonArray(new ArrayList<>(cpus)));
        config.put("cluster", new JsonObject().put("address", address)
                .put("members", new JsonArray().add(peerAddress + ":5701"))
                .put("secretFile", secret.toString()).put("loadIntervalMs", LOAD_INTERVAL_MS).put("peerLossMs", PEER_LOSS_MS)
                .put("tunnels", new JsonArray().add(new JsonObject().put("id", ID).put("policy", policy)
                        .put("peer", peer).put("balancing", "static"))));
        return config;
    }

    /** An assignment's version in {@code direction} ("sending" or "receiving"). */
    public static long version(JsonObject assignment, String direction) {
        return assignment.getJsonObject(direction).getLong("version");
    }

    /** Both ends hold the same version of both directions, each laid out, and the same SAs in A's sending direction. */
    public static boolean agree(JsonObject atA, JsonObject atB) {
        return version(atA, "sending") >= 1 && version(atB, "sending") >= 1
                && version(atA, "sending") == version(atB, "receiving")
                && version(atB, "sending") == version(atA, "receiving")
                && atA.getJsonObject("sending").getJsonArray("sas").equals(atB.getJsonObject("receiving").getJsonArray("sas"));
    }

    /** The appliance's JVM among the processes in {@code namespace} ({@code ip netns exec} made it the process). */
    public static long appliancePid(String namespace) throws IOException, InterruptedException {
        for (String pid : Topology.run("ip", "netns", "pids", namespace).split("\\s+")) {
            if (!pid.isBlank() && ProcessHandle.of(Long.parseLong(pid)).flatMap(p -> p.info().command())
                    .map(command -> command.endsWith("/java")).orElse(false)) {
                return Long.parseLong(pid);
            }
        }
        throw new IOException("no appliance in " + namespace);
    }
}
