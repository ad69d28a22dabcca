package io.flowsec.cluster;

import io.flowsec.cluster.balancing.BalancerSettings;
import io.flowsec.cluster.balancing.BalancingPolicy;
import io.flowsec.cluster.balancing.LoadReport;
import io.flowsec.cluster.membership.ClusterMember;
import io.flowsec.cluster.membership.ClusterSettings;
import io.flowsec.cluster.membership.ClusterState;
import io.flowsec.cluster.membership.SealedChannel;
import io.flowsec.cluster.security.ClusterSecret;
import io.flowsec.cluster.security.OpenResult;
import io.flowsec.cluster.security.Rejection;
import io.flowsec.control.api.TunnelControl;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The appliance's part of the control cluster, wired:
 * <ol>
 *   <li>an embedded Hazelcast member on the management address, started in the background: the data plane runs
 *       whether or not the cluster is up, and with the last assignments while it is not;</li>
 *   <li>a Vert.x instance of its own (one event loop) with a {@link TunnelCoordinator} verticle per tunnel;</li>
 *   <li>once the member runs, a {@link SealedChannel} over it, whose authentic messages go to the tunnel they name;
 *       what fails to open is counted by reason ({@link #rejections}).</li>
 * </ol>
 * The API reads and switches tunnels through {@link TunnelControl}.
 */
public final class ClusterService implements TunnelControl, AutoCloseable {
    private final ClusterMember member;
    private final ClusterSecret secret;
    private final Vertx vertx;
    private final Map<String, TunnelCoordinator> tunnels = new LinkedHashMap<>();
    private final Consumer<String> log;
    private final List<Consumer<JsonObject>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile SealedChannel channel;
    private volatile ClusterState state;
    /** The reason the last unreadable load report was refused: each new one is logged, repeats are only counted. */
    private volatile String lastUnreadableReport = "";

    private ClusterService(ClusterMember member, ClusterSecret secret, Vertx vertx, Consumer<String> log) {
        this.member = member;
        this.secret = secret;
        this.vertx = vertx;
        this.log = log;
        this.state = member.state();
    }

    /**
     * Starts the member and the tunnels' verticles; returns at once.
     *
     * @param loadIntervalMs how often each end reports its load
     * @param peerLossMs     how long a silent peer counts as present
     */
    public static ClusterService start(DataplaneControl dataplane, ClusterSettings settings, ClusterSecret secret,
                                       List<TunnelSpec> specs, long loadIntervalMs, long peerLossMs, Consumer<String> log) {
        Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1));
        ClusterService service = new ClusterService(new ClusterMember(settings), secret, vertx, log);
        FlowletGapFollower gaps = new FlowletGapFollower(dataplane, FlowletGapFollower.DEFAULT_CEILING, log);
        for (TunnelSpec spec : specs) {
            TunnelCoordinator coordinator = new TunnelCoordinator(spec, settings.memberName(), dataplane,
                    BalancerSettings.DEFAULTS, loadIntervalMs, peerLossMs, log, service::announce, gaps);
            service.tunnels.put(spec.id(), coordinator);
            vertx.deployVerticle(coordinator).await();
        }
        service.member.addListener(service::onState);
        service.member.start();
        log.accept("cluster: member " + settings.memberName() + " on " + settings.bindAddress() + ":" + settings.port()
                + ", joining " + settings.members() + ", secret " + secret.fingerprint() + ", " + specs.size() + " tunnel(s)");
        return service;
    }

    /** The first time the member runs: the sealed channel, and each tunnel told to use it. */
    private synchronized void onState(ClusterState next) {
        ClusterState before = state;
        state = next;
        if (!next.getClass().equals(before.getClass()) || next instanceof ClusterState.Running) {
            log.accept("cluster: " + describe(next));
        }
        if (next instanceof ClusterState.Running && channel == null) {
            SealedChannel opened = SealedChannel.over(member, secret);
            opened.addAssignmentListener(this::onAssignment);
            opened.addLoadListener(this::onLoad);
            channel = opened;
            tunnels.values().forEach(tunnel -> tunnel.attach(opened));
        }
    }

    private void onAssignment(OpenResult.Opened message) {
        for (TunnelCoordinator tunnel : tunnels.values()) {
            if (tunnel.handles(message.subject())) {
                tunnel.onAssignment(message);
            }
        }
    }

    private void onLoad(OpenResult.Opened message) {
        LoadReport report;
        try {
            report = LoadReport.decode(new String(message.payload(), StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            // authentic but not a report this version reads (a peer of another version): counted, said once per reason
            SealedChannel open = channel;
            if (open != null) {
                open.opener().unreadable();
            }
            if (!e.getMessage().equals(lastUnreadableReport)) {
                lastUnreadableReport = e.getMessage();
                log.accept("cluster: a load report from " + message.sender() + " this version cannot read: " + e.getMessage());
            }
            return;
        }
        TunnelCoordinator tunnel = tunnels.get(report.tunnel());
        if (tunnel != null) {
            tunnel.onLoad(message, report);
        }
    }

    private static String describe(ClusterState state) {
        return switch (state) {
            case ClusterState.Starting ignored -> "starting";
            case ClusterState.Running running -> "running with " + running.peerCount() + " peer(s) " + running.peers();
            case ClusterState.Failed failed -> "failed: " + failed.reason() + " (the data plane runs on, without feedback)";
            case ClusterState.Stopped ignored -> "stopped";
        };
    }

    /** Messages refused since start, by reason: what a member without the secret, or a replay, achieved. */
    public Map<Rejection, Long> rejections() {
        SealedChannel open = channel;
        return open == null ? Map.of() : open.opener().rejections();
    }

    public ClusterState state() {
        return state;
    }

    // ---- TunnelControl ------------------------------------------------------------------------------------------------

    @Override
    public JsonArray tunnels() {
        JsonArray list = new JsonArray();
        tunnels.keySet().forEach(id -> list.add(tunnel(id)));
        return list;
    }

    @Override
    public JsonObject tunnel(String id) {
        TunnelCoordinator tunnel = tunnels.get(id);
        if (tunnel == null) {
            return null;
        }
        JsonObject view = tunnel.view();
        return new JsonObject().put("id", id).put("policy", view.getString("policy")).put("peer", view.getString("peer"))
                .put("balancing", tunnel.policy().configName()).put("peerState", view.getString("peerState"))
                .put("cluster", describe(state))
                .put("sendingVersion", view.getJsonObject("sending").getLong("version"))
                .put("receivingVersion", view.getJsonObject("receiving").getLong("version"))
                .put("changesApplied", view.getLong("changesApplied"))
                .put("rejectedMessages", rejections().values().stream().mapToLong(Long::longValue).sum());
    }

    @Override
    public JsonObject assignment(String id) {
        TunnelCoordinator tunnel = tunnels.get(id);
        if (tunnel == null) {
            return null;
        }
        JsonObject view = tunnel.view();
        JsonObject rejected = new JsonObject();
        rejections().forEach((reason, count) -> rejected.put(reason.name().toLowerCase(), count));
        return new JsonObject().put("tunnel", id).put("balancing", tunnel.policy().configName())
                .put("peerState", view.getString("peerState"))
                .put("sending", view.getJsonObject("sending")).put("receiving", view.getJsonObject("receiving"))
                .put("load", view.getJsonObject("load")).put("rejectedMessages", rejected);
    }

    @Override
    public void balancing(String id, String policy) {
        TunnelCoordinator tunnel = tunnels.get(id);
        if (tunnel == null) {
            throw new IllegalArgumentException("no tunnel '" + id + "'");
        }
        tunnel.balancing(BalancingPolicy.parse(policy));
    }

    @Override
    public Map<String, Long> rejectedMessages() {
        Map<String, Long> byReason = new LinkedHashMap<>();
        rejections().forEach((reason, count) -> byReason.put(reason.name().toLowerCase(java.util.Locale.ROOT), count));
        return byReason;
    }

    @Override
    public void addListener(Consumer<JsonObject> listener) {
        listeners.add(listener);
    }

    /** A tunnel's event, to every listener; one that fails is logged and the others still hear it. */
    private void announce(JsonObject event) {
        for (Consumer<JsonObject> listener : listeners) {
            try {
                listener.accept(event);
            } catch (RuntimeException e) {
                log.accept("cluster: an event listener failed: " + e);
            }
        }
    }

    @Override
    public void close() {
        SealedChannel open = channel;
        if (open != null) {
            open.close();
        }
        vertx.close().await();
        member.close();
    }
}
