package io.flowsec.cluster;

import io.flowsec.cluster.assignment.Reconciliation;
import io.flowsec.cluster.assignment.SaLayout;
import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.cluster.balancing.Balancer;
import io.flowsec.cluster.balancing.BalancerSettings;
import io.flowsec.cluster.balancing.BalancingPolicy;
import io.flowsec.cluster.balancing.LoadReport;
import io.flowsec.cluster.balancing.LoadSampling;
import io.flowsec.cluster.membership.SealedChannel;
import io.flowsec.cluster.security.OpenResult;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.vertx.core.AbstractVerticle;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One tunnel's control verticle at one end. A tunnel has two directions, each with its own versioned assignment in
 * the cluster, keyed by the tunnel and its sender: {@code ID:THIS} (this end sends: its SA group's weights are its
 * to apply) and {@code ID:PEER} (this end receives: which lane serves each inbound SA is its to apply). Every load
 * interval:
 * <ol>
 *   <li>sample the data plane and publish this end's receiver load (every lane, each inbound SA of the tunnel);</li>
 *   <li>{@code receiver} policy: move inbound SAs off loaded lanes, then publish the next version of {@code ID:PEER};</li>
 *   <li>sending: once the peer's lane count is known and no assignment exists, lay the tunnel out so every sender
 *       lane has SAs landing on every receiver lane, and publish version 1 of {@code ID:THIS};</li>
 *   <li>{@code sender} policy: reweight the SA group away from the SAs that land on the peer's loaded lanes, then
 *       publish the next version of {@code ID:THIS};</li>
 *   <li>once a second: renew this end's puts and re-read both assignments, so the ends converge after a partition.</li>
 * </ol>
 * An assignment from the peer that is newer ({@link Reconciliation}) is applied to this end's half before it is
 * adopted: receiver first (the receiver lays SAs out and publishes; the sender's weights follow), so nothing is lost.
 * With the peer gone, the last assignment stays in force. All state is the verticle's own: one event loop.
 */
final class TunnelCoordinator extends AbstractVerticle {
    private static final long RECONCILE_EVERY_MS = 1000;

    private final TunnelSpec spec;
    private final String member;
    private final DataplaneControl dataplane;
    private final BalancerSettings settings;
    private final long intervalMs;
    private final long peerLossMs;
    private final Consumer<String> log;
    private final Consumer<JsonObject> events;
    private final String sendingKey;
    /** The appliance's flowlet gap, which this tunnel's receiver's queue delays widen while it balances as sender. */
    private final FlowletGapFollower gaps;
    private final String receivingKey;

    private SealedChannel channel;
    private volatile BalancingPolicy policy;
    private Balancer balancer;
    private TunnelAssignment sending;     // this end → peer
    private TunnelAssignment receiving;   // peer → this end
    private LoadReport peerReport;
    private long peerReportAtNs;
    private LoadReport ownReport;
    private DataplaneSnapshot previous;
    private long previousAtNs;
    /**
     * This end applied a change since {@link #previous} was taken: the next report, tagged with the new version,
     * must measure from when the change took effect, not across it (a hand-over pauses every lane while the losing
     * lane drains, which takes seconds when that lane is the saturated one).
     */
    private boolean appliedSinceSample;
    /**
     * When this end last finished applying a change. The balancer's cooldown runs from when it proposed; a change
     * that took longer than that to apply (a hand-over off a saturated lane) would leave no time to measure its
     * effect, so reports reach the balancer only once the cooldown has also passed since the change took effect.
     */
    private long appliedAtNs;
    private long lastReconcileNs;
    private long changesApplied;
    private String lastProblem = "";
    private boolean peerWasUp;
    /** What the API shows, rebuilt after each step: reads never touch the verticle's state. */
    private volatile JsonObject view;

    TunnelCoordinator(TunnelSpec spec, String member, DataplaneControl dataplane, BalancerSettings settings,
                      long intervalMs, long peerLossMs, Consumer<String> log, Consumer<JsonObject> events,
                      FlowletGapFollower gaps) {
        this.gaps = gaps;
        this.events = events;
        this.spec = spec;
        this.member = member;
        this.dataplane = dataplane;
        this.settings = settings;
        this.intervalMs = intervalMs;
        this.peerLossMs = peerLossMs;
        this.log = log;
        this.policy = spec.balancing();
        this.balancer = Balancer.create(policy, settings, member);
        this.sendingKey = spec.id() + ":" + member;
        this.receivingKey = spec.id() + ":" + spec.peer();
        this.appliedAtNs = System.nanoTime() - settings.cooldownMs() * 1_000_000;
        this.view = render();
    }

    @Override
    public void start() {
        vertx.setPeriodic(intervalMs, id -> step(this::tick));
    }

    // ---- from other threads, onto the verticle's event loop -------------------------------------------------------

    /** The cluster is up: publish and listen through {@code channel}. */
    void attach(SealedChannel channel) {
        context.runOnContext(ignored -> step(() -> {
            this.channel = channel;
            reconcile();
        }));
    }

    /** An authentic assignment the peer (or anyone with the secret) sealed, for one of this tunnel's keys. */
    void onAssignment(OpenResult.Opened message) {
        context.runOnContext(ignored -> step(() -> adopt(message.subject(), decode(message))));
    }

    /** An authentic load report of this tunnel from another member. */
    void onLoad(OpenResult.Opened message, LoadReport report) {
        context.runOnContext(ignored -> step(() -> {
            if (report.member().equals(spec.peer()) && message.sender().equals(spec.peer())) {
                peerReport = report;
                peerReportAtNs = System.nanoTime();
            }
        }));
    }

    /** Switches the policy live: a fresh balancer, whose hysteresis starts from nothing. */
    void balancing(BalancingPolicy next) {
        policy = next;
        context.runOnContext(ignored -> step(() -> {
            balancer = Balancer.create(next, settings, member);
            log.accept("cluster: tunnel " + spec.id() + " balancing " + next.configName());
        }));
    }

    JsonObject view() {
        return view;
    }

    TunnelSpec spec() {
        return spec;
    }

    BalancingPolicy policy() {
        return policy;
    }

    boolean handles(String key) {
        return key.equals(sendingKey) || key.equals(receivingKey);
    }

    // ---- the steps --------------------------------------------------------------------------------------------------

    /** Runs a step; a failure is logged once per distinct message and leaves the last good state in force. */
    private void step(Runnable step) {
        try {
            step.run();
            lastProblem = "";
        } catch (RuntimeException e) {
            String problem = e.getClass().getSimpleName() + ": " + e.getMessage();
            if (!problem.equals(lastProblem)) {
                log.accept("cluster: tunnel " + spec.id() + ": " + problem + " (the last assignment stays in force)");
                lastProblem = problem;
            }
        }
        view = render();
    }

    private void tick() {
        // 1. sample and report this end's receiver load
        DataplaneSnapshot now = dataplane.snapshot();
        long nowNs = System.nanoTime();
        if (previous == null || appliedSinceSample) {
            // the first sample, or an assignment adopted since the last one: measuring starts here
            previous = now;
            previousAtNs = nowNs;
            appliedSinceSample = false;
            return;
        }
        long elapsedNs = Math.max(1, nowNs - previousAtNs);
        ownReport = LoadSampling.report(member, spec.id(), receiving, previous, now, elapsedNs, System.currentTimeMillis());
        if (channel != null) {
            channel.publishLoad(ownReport.encode().getBytes(StandardCharsets.UTF_8));
        }
        long nowMs = nowNs / 1_000_000;
        // 2. receiver policy: this end moves its inbound SAs, then tells the sender
        if (balancer.policy() == BalancingPolicy.RECEIVER && receiving != null
                && receiving.receiverLanes() == dataplane.laneCount() && settled(nowNs)) {
            balancer.onReport(receiving, ownReport, Map.of(), nowMs).ifPresent(next -> {
                applyReceiving(next);
                receiving = next;
                publish(receivingKey, next);
            });
        }
        // 3. sending: lay the tunnel out once the peer's lane count is known
        if (sending == null && peerReport != null) {
            sending = layout(peerReport.lanes().size());
            applySending(sending);
            publish(sendingKey, sending);
        } else if (sending != null && peerReport != null && peerReport.lanes().size() != sending.receiverLanes()) {
            TunnelAssignment again = layout(peerReport.lanes().size());   // the peer runs another lane count now
            sending = new TunnelAssignment(spec.id(), sending.version() + 1, member, again.senderLanes(),
                    again.receiverLanes(), again.sas());
            applySending(sending);
            publish(sendingKey, sending);
        }
        // 4. sender policy: the flowlet gap outlasts the receiver's queue delays, then reweight from its load
        if (balancer.policy() == BalancingPolicy.SENDER && peerReport != null && peerUp(nowNs)) {
            gaps.ask(spec.id(), FlowletGapFollower.needed(peerReport));
        } else {
            gaps.withdraw(spec.id());
        }
        if (balancer.policy() == BalancingPolicy.SENDER && sending != null && peerUp(nowNs) && settled(nowNs)) {
            Map<Integer, Double> rates = LoadSampling.outboundRates(sending, previous, now, elapsedNs);
            balancer.onReport(sending, peerReport, rates, nowMs).ifPresent(next -> {
                applySending(next);
                sending = next;
                publish(sendingKey, next);
            });
        }
        if (appliedSinceSample) {
            previous = dataplane.snapshot();   // after this step's change took effect
            previousAtNs = System.nanoTime();
            appliedSinceSample = false;
        } else {
            previous = now;
            previousAtNs = nowNs;
        }
        notePeer(nowNs);
        // 5. converge after a partition
        if (channel != null && nowNs - lastReconcileNs >= RECONCILE_EVERY_MS * 1_000_000) {
            channel.renewAssignments();
            reconcile();
        }
    }

    private void reconcile() {
        lastReconcileNs = System.nanoTime();
        if (channel == null) {
            return;
        }
        channel.readAssignment(sendingKey).ifPresent(message -> adopt(sendingKey, decode(message)));
        channel.readAssignment(receivingKey).ifPresent(message -> adopt(receivingKey, decode(message)));
    }

    /** A remote assignment: adopted when newer, after this end applied its half of it. */
    private void adopt(String key, TunnelAssignment remote) {
        if (remote == null || !remote.tunnel().equals(spec.id())) {
            return;
        }
        if (key.equals(receivingKey)) {
            if (receiving == null || Reconciliation.reconcile(receiving, remote) == Reconciliation.Verdict.ADOPT_REMOTE) {
                if (remote.receiverLanes() != dataplane.laneCount()) {
                    throw new IllegalStateException("the peer laid " + key + " out over " + remote.receiverLanes()
                            + " receiver lanes, this end runs " + dataplane.laneCount());
                }
                applyReceiving(remote);
                receiving = remote;
                announceAssignment(key, remote);
            }
        } else if (key.equals(sendingKey)) {
            if (sending == null || Reconciliation.reconcile(sending, remote) == Reconciliation.Verdict.ADOPT_REMOTE) {
                checkSameSas(remote);
                applySending(remote);
                sending = remote;
                announceAssignment(key, remote);
            }
        }
    }

    private TunnelAssignment decode(OpenResult.Opened message) {
        return TunnelAssignment.decode(new String(message.payload(), StandardCharsets.UTF_8));
    }

    private void publish(String key, TunnelAssignment assignment) {
        announceAssignment(key, assignment);
        if (channel != null) {
            channel.putAssignment(key, assignment.encode().getBytes(StandardCharsets.UTF_8));
        }
    }

    // ---- this end's half, through the data plane's commands -------------------------------------------------------

    /** Receiver: each inbound SA of the tunnel onto its lane (a move is lossless: the data plane's command). */
    private void applyReceiving(TunnelAssignment assignment) {
        Map<Integer, Integer> moves = assignment.inboundMoves(dataplane.inboundLanes());
        moves.forEach(dataplane::moveInbound);
        if (!moves.isEmpty()) {
            changesApplied++;
            appliedSinceSample = true;
            appliedAtNs = System.nanoTime();
        }
    }

    /** Sender: the SA group's weights as the assignment gives them. */
    private void applySending(TunnelAssignment assignment) {
        List<Integer> spis = groupSpis();
        int[] weights = assignment.groupWeights(spis);
        if (!Arrays.equals(weights, dataplane.groupWeights(spec.policy()))) {
            dataplane.groupWeights(spec.policy(), weights);
            changesApplied++;
            appliedSinceSample = true;
            appliedAtNs = System.nanoTime();
        }
    }

    /** Version 1 for the tunnel this end sends on: its SA group's owners, over the peer's lanes. */
    private TunnelAssignment layout(int receiverLanes) {
        SaLayout plan = SaLayout.plan(SaLayout.owners(group()), dataplane.laneCount(), receiverLanes);
        plan.problem().ifPresent(problem -> log.accept("cluster: tunnel " + spec.id() + ": " + problem
                + " (give the policy sender lanes x receiver lanes outbound SAs)"));
        return plan.toAssignment(spec.id(), member, settings.evenWeight());
    }

    private void checkSameSas(TunnelAssignment remote) {
        Set<Integer> mine = new HashSet<>(groupSpis());
        Set<Integer> theirs = new HashSet<>();
        remote.sas().forEach(sa -> theirs.add(sa.spi()));
        if (!mine.equals(theirs)) {
            throw new IllegalStateException("the assignment " + sendingKey + " names other SAs than policy "
                    + spec.policy() + "'s group (a rekey in progress, or the two ends configured differently)");
        }
    }

    private SaGroup group() {
        for (SecurityPolicy candidate : dataplane.policies()) {
            if (candidate.name().equals(spec.policy()) && candidate.outboundGroup() != null) {
                return candidate.outboundGroup();
            }
        }
        throw new IllegalStateException("policy " + spec.policy() + " has no SA group in the data plane");
    }

    private List<Integer> groupSpis() {
        List<Integer> spis = new ArrayList<>();
        for (SecurityAssociation sa : group().members()) {
            spis.add(sa.spi());
        }
        return spis;
    }

    /** The cooldown has passed since this end last finished applying a change. */
    private boolean settled(long nowNs) {
        return nowNs - appliedAtNs >= settings.cooldownMs() * 1_000_000;
    }

    private boolean peerUp(long nowNs) {
        return peerReport != null && nowNs - peerReportAtNs < peerLossMs * 1_000_000;
    }

    private void announceAssignment(String key, TunnelAssignment assignment) {
        events.accept(new JsonObject().put("event", "assignment-changed").put("tunnel", spec.id()).put("key", key)
                .put("version", assignment.version()).put("author", assignment.author()));
    }

    /** Peer lost or back, once per transition: the log, the event stream and the status say the same. */
    private void notePeer(long nowNs) {
        boolean up = peerUp(nowNs);
        if (up != peerWasUp && (up || peerReport != null)) {
            peerWasUp = up;
            String what = up ? "peer-back" : "peer-lost";
            log.accept("cluster: tunnel " + spec.id() + ": " + (up ? "peer " + spec.peer() + " heard again"
                    : "peer " + spec.peer() + " lost; forwarding with the last assignment (sending v"
                    + (sending == null ? 0 : sending.version()) + ", receiving v" + (receiving == null ? 0 : receiving.version()) + ")"));
            events.accept(new JsonObject().put("event", what).put("tunnel", spec.id()).put("peer", spec.peer()));
        }
    }

    // ---- what the API shows -----------------------------------------------------------------------------------------

    private JsonObject render() {
        long nowNs = System.nanoTime();
        String peerState = peerReport == null ? "never seen" : peerUp(nowNs) ? "up"
                : "lost: forwarding with the last assignment";
        return new JsonObject()
                .put("id", spec.id()).put("policy", spec.policy()).put("peer", spec.peer())
                .put("balancing", policy.configName()).put("peerState", peerState)
                .put("clusterAttached", channel != null)
                .put("balancing-active", balancer.active())
                .put("changesApplied", changesApplied)
                .put("sending", assignmentJson(sending, sendingKey))
                .put("receiving", assignmentJson(receiving, receivingKey))
                .put("load", new JsonObject()
                        .put("local", ownReport == null ? null : ownReport.toJson())
                        .put("peer", peerReport == null ? null : peerReport.toJson()
                                .put("ageMs", (nowNs - peerReportAtNs) / 1_000_000)));
    }

    private static JsonObject assignmentJson(TunnelAssignment assignment, String key) {
        JsonObject json = new JsonObject().put("key", key);
        if (assignment == null) {
            return json.put("version", 0).put("sas", new JsonArray());
        }
        return json.mergeIn(assignment.toJson());
    }
}
