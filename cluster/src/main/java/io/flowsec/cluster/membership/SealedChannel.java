package io.flowsec.cluster.membership;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import com.hazelcast.topic.ITopic;
import com.hazelcast.topic.Message;
import io.flowsec.cluster.security.ClusterSecret;
import io.flowsec.cluster.security.MessageType;
import io.flowsec.cluster.security.OpenResult.Opened;
import io.flowsec.cluster.security.Opener;
import io.flowsec.cluster.security.Sealer;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Sealed per-tunnel assignments and load reports over a running member: everything put into Hazelcast is sealed by
 * this member's {@link Sealer}, everything taken out is opened by its {@link Opener}, and only authentic, fresh,
 * not replayed messages reach a listener or {@link #readAssignment}. Refusals are counted by the opener.
 * <p>
 * <b>Assignments</b> live in the map {@value #ASSIGNMENTS_MAP}, one sealed envelope per tunnel id (the envelope's
 * subject is the tunnel id, so a value copied under another key is refused as misdirected). A value that does not
 * open is ignored and the last authentic assignment stays the one returned.
 * <p>
 * <b>Load reports</b> go on the plain topic {@value #LOAD_TOPIC}, not a reliable topic: a report is superseded
 * 100 ms later, so losing one is harmless and waiting for one is not. The plain topic sends each report straight
 * to the subscribed members and stores nothing; a reliable topic would keep a replicated ringbuffer of reports
 * and have listeners poll it, which adds latency and memory for a durability no report needs. What a flood can
 * queue is bounded by {@link ClusterMember#EVENT_QUEUE_CAPACITY}.
 * <p>
 * <b>This member's own messages</b> are opened like any other (a value that only claims to be ours is refused
 * like any forgery), then not delivered to this member's listeners: it knows what it sealed. {@link #readAssignment}
 * returns the latest authentic assignment whoever sealed it, this member included.
 * <p>
 * <b>What a member without the secret can do.</b> It joins (Hazelcast admits it), reads the ciphertexts, and can
 * overwrite, delete or flood the map and the topic: its messages are refused and counted, and nobody accepts a
 * change it makes. It can deny service: delete or spoil an entry so that a member that starts later finds no
 * authentic one, fill the map so that eviction drops real entries, flood the event queues so that reports are
 * dropped. The owner's periodic {@link #renewAssignments} repairs the map; limiting who can reach the member port
 * is what prevents it.
 * <p>
 * <b>Renewal.</b> A stored assignment is a message like any other: once older than the opener's freshness window
 * (30 s) it is {@link io.flowsec.cluster.security.Rejection#STALE} to a member that did not see it while fresh. A
 * member that has it keeps it; a member that starts later needs a fresh one. So the owner calls
 * {@link #renewAssignments} periodically (every second or so is cheap): it re-seals what the map lost and what is
 * older than {@link #RENEW_AFTER}. Each renewal reaches the peers' listeners as a new assignment with the same
 * payload and a higher counter.
 * <p>
 * Listeners are called on Hazelcast's event thread, one message at a time; they must return quickly.
 */
public final class SealedChannel implements AutoCloseable {
    public static final String ASSIGNMENTS_MAP = "flowsec.assignments";
    public static final String LOAD_TOPIC = "flowsec.load";
    /** A third of the opener's default freshness window: a renewed assignment is never close to stale. */
    public static final Duration RENEW_AFTER = Duration.ofSeconds(10);
    /** Load reports are about this member, not about a tunnel: their subject is empty. */
    private static final String NO_SUBJECT = "";
    /** What a value that is no byte array (any member may store any object) is opened as: counted MALFORMED. */
    private static final byte[] NOT_AN_ENVELOPE = new byte[0];

    private static final System.Logger LOG = System.getLogger(SealedChannel.class.getName());

    private final Sealer sealer;
    private final Opener opener;
    private final IMap<Object, Object> assignments;
    private final ITopic<Object> loadReports;
    private final UUID assignmentRegistration;
    private final UUID loadRegistration;
    private final List<Consumer<Opened>> assignmentListeners = new CopyOnWriteArrayList<>();
    private final List<Consumer<Opened>> loadListeners = new CopyOnWriteArrayList<>();

    /**
     * Held from sealing to the map's set, and from sealing to publishing: two writers could otherwise send counter
     * n+1 before n, and the peers would take n as a replay.
     */
    private final Object assignmentWriteLock = new Object();
    private final Object loadWriteLock = new Object();
    /** Guards the two maps below: opening and recording a tunnel's assignment is one step. Never held over I/O. */
    private final Object assignmentLock = new Object();
    /** The latest authentic assignment per tunnel, with the envelope it came in. */
    private final Map<String, Accepted> latestByTunnel = new HashMap<>();
    /** What this member last put per tunnel: the payload to re-seal when the map lost it. */
    private final Map<String, OwnPut> ownPutByTunnel = new HashMap<>();

    private record Accepted(byte[] envelope, Opened message) {
    }

    private record OwnPut(byte[] payload, byte[] envelope, long sealedAtNs) {
    }

    /** Over a running member, sealing under its member name. */
    public static SealedChannel over(ClusterMember member, ClusterSecret secret) {
        HazelcastInstance hazelcast = member.hazelcast().orElseThrow(() -> new IllegalStateException(
                "cluster member " + member.settings().memberName() + " is not running (" + member.state() + ")"));
        return new SealedChannel(hazelcast, new Sealer(secret, member.settings().memberName()), new Opener(secret));
    }

    public SealedChannel(HazelcastInstance hazelcast, Sealer sealer, Opener opener) {
        this.sealer = Objects.requireNonNull(sealer, "sealer");
        this.opener = Objects.requireNonNull(opener, "opener");
        this.assignments = hazelcast.getMap(ASSIGNMENTS_MAP);
        this.loadReports = hazelcast.getTopic(LOAD_TOPIC);
        this.assignmentRegistration = assignments.addEntryListener(new AssignmentEvents(), true);
        this.loadRegistration = loadReports.addMessageListener(this::onLoadReport);
    }

    /**
     * Seals {@code payload} as the assignment of {@code tunnelId} and stores it. Returns false, without throwing,
     * when the member is not up: the caller's periodic re-put will try again.
     */
    public boolean putAssignment(String tunnelId, byte[] payload) {
        synchronized (assignmentWriteLock) {
            return sealAndSet(tunnelId, payload.clone());
        }
    }

    private boolean sealAndSet(String tunnelId, byte[] payload) {
        byte[] envelope = sealer.seal(MessageType.ASSIGNMENT, tunnelId, payload);
        synchronized (assignmentLock) {
            ownPutByTunnel.put(tunnelId, new OwnPut(payload, envelope, System.nanoTime()));
        }
        return quietly("put the assignment of " + tunnelId, () -> {
            assignments.set(tunnelId, envelope);   // set, not put: the old value, whoever wrote it, is never read
            return true;
        }, false);
    }

    /**
     * The latest authentic assignment of {@code tunnelId}, or empty. Kept current by the map's events; a tunnel
     * not seen yet (this member joined after the last put) is read from the map once.
     */
    public Optional<Opened> readAssignment(String tunnelId) {
        synchronized (assignmentLock) {
            Accepted latest = latestByTunnel.get(tunnelId);
            if (latest != null) {
                return Optional.of(copyOf(latest.message()));
            }
        }
        Object stored = quietly("read the assignment of " + tunnelId, () -> assignments.get(tunnelId), null);
        if (stored != null) {
            acceptAssignment(tunnelId, envelopeOf(stored));
        }
        synchronized (assignmentLock) {
            Accepted latest = latestByTunnel.get(tunnelId);
            return latest == null ? Optional.empty() : Optional.of(copyOf(latest.message()));
        }
    }

    /**
     * Re-puts, freshly sealed, each assignment this member put that the map no longer holds as put (a member without
     * the secret overwrote or deleted it) or that was sealed more than {@link #RENEW_AFTER} ago, unless another
     * member has put a newer authentic one since. Returns how many it re-put.
     */
    public int renewAssignments() {
        return renewAssignments(RENEW_AFTER);
    }

    int renewAssignments(Duration renewAfter) {
        long nowNs = System.nanoTime();
        Map<String, OwnPut> candidates = new HashMap<>();
        synchronized (assignmentLock) {
            ownPutByTunnel.forEach((tunnelId, own) -> {
                Accepted latest = latestByTunnel.get(tunnelId);
                if (latest == null || isOwn(latest.message())) {
                    candidates.put(tunnelId, own);
                }
            });
        }
        int renewed = 0;
        for (Map.Entry<String, OwnPut> candidate : candidates.entrySet()) {
            String tunnelId = candidate.getKey();
            OwnPut own = candidate.getValue();
            boolean old = nowNs - own.sealedAtNs() >= renewAfter.toNanos();
            boolean lost = !old && !(quietly("read the assignment of " + tunnelId, () -> assignments.get(tunnelId),
                    null) instanceof byte[] stored && Arrays.equals(stored, own.envelope()));
            if ((old || lost) && renewIfStillLatest(tunnelId, own)) {
                renewed++;
            }
        }
        return renewed;
    }

    /** Re-puts {@code own} unless the owner put a newer payload meanwhile, which renewing would undo. */
    private boolean renewIfStillLatest(String tunnelId, OwnPut own) {
        synchronized (assignmentWriteLock) {
            synchronized (assignmentLock) {
                if (ownPutByTunnel.get(tunnelId) != own) {
                    return false;
                }
            }
            return sealAndSet(tunnelId, own.payload());
        }
    }

    /** Seals {@code payload} as this member's load report and publishes it; false when the member is not up. */
    public boolean publishLoad(byte[] payload) {
        synchronized (loadWriteLock) {
            byte[] envelope = sealer.seal(MessageType.LOAD_REPORT, NO_SUBJECT, payload);
            return quietly("publish a load report", () -> {
                loadReports.publish(envelope);
                return true;
            }, false);
        }
    }

    /** Told each new authentic assignment sealed by another member, on Hazelcast's event thread. */
    public void addAssignmentListener(Consumer<Opened> listener) {
        assignmentListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Told each authentic load report of another member, on Hazelcast's event thread. */
    public void addLoadListener(Consumer<Opened> listener) {
        loadListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** The opener, for its counters: what was opened and what was refused, by reason. */
    public Opener opener() {
        return opener;
    }

    public Sealer sealer() {
        return sealer;
    }

    /** Stops listening; the member and what is in the map stay. */
    @Override
    public void close() {
        quietly("remove the assignment listener", () -> assignments.removeEntryListener(assignmentRegistration),
                false);
        quietly("remove the load listener", () -> loadReports.removeMessageListener(loadRegistration), false);
    }

    /** Entries added or updated; removals and evictions change nothing: they are not authenticated. */
    private final class AssignmentEvents implements EntryAddedListener<Object, Object>,
            EntryUpdatedListener<Object, Object> {
        @Override
        public void entryAdded(EntryEvent<Object, Object> event) {
            onAssignmentEvent(event);
        }

        @Override
        public void entryUpdated(EntryEvent<Object, Object> event) {
            onAssignmentEvent(event);
        }
    }

    private void onAssignmentEvent(EntryEvent<Object, Object> event) {
        // key and value are deserialized here, from whatever the writer sent: a failure is a malformed message
        Object key = orNull(event::getKey);
        byte[] envelope = envelopeOf(orNull(event::getValue));
        if (!(key instanceof String tunnelId)) {
            opener.open(NOT_AN_ENVELOPE);
            return;
        }
        Opened accepted = acceptAssignment(tunnelId, envelope);
        if (accepted != null && !isOwn(accepted)) {
            deliver(assignmentListeners, accepted);
        }
    }

    /** Opens and records the envelope as the tunnel's latest; null when refused or already the latest. */
    private Opened acceptAssignment(String tunnelId, byte[] envelope) {
        synchronized (assignmentLock) {
            Accepted latest = latestByTunnel.get(tunnelId);
            if (latest != null && Arrays.equals(latest.envelope(), envelope)) {
                return null;   // read from the map before its event came: opening it again would count a replay
            }
            if (opener.open(envelope, MessageType.ASSIGNMENT, tunnelId) instanceof Opened opened) {
                latestByTunnel.put(tunnelId, new Accepted(envelope, opened));
                return copyOf(opened);
            }
            return null;
        }
    }

    private void onLoadReport(Message<Object> message) {
        byte[] envelope = envelopeOf(orNull(message::getMessageObject));
        if (opener.open(envelope, MessageType.LOAD_REPORT, NO_SUBJECT) instanceof Opened opened && !isOwn(opened)) {
            deliver(loadListeners, opened);
        }
    }

    /** Sealed by this member's sealer: the epoch is authenticated and drawn at random per sealer. */
    private boolean isOwn(Opened message) {
        return message.epoch().equals(sealer.epoch());
    }

    private static void deliver(List<Consumer<Opened>> listeners, Opened message) {
        for (Consumer<Opened> listener : listeners) {
            try {
                listener.accept(listeners.size() == 1 ? message : copyOf(message));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "a cluster message listener failed on " + message, e);
            }
        }
    }

    private static Opened copyOf(Opened message) {
        return new Opened(message.type(), message.sender(), message.epoch(), message.counter(),
                message.timestampMs(), message.subject(), message.payload().clone());
    }

    private static byte[] envelopeOf(Object value) {
        return value instanceof byte[] bytes ? bytes : NOT_AN_ENVELOPE;
    }

    private static Object orNull(Supplier<Object> deserialize) {
        try {
            return deserialize.get();
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** Runs a Hazelcast call that fails when the member is down; the data plane goes on without the cluster. */
    private static <T> T quietly(String what, Supplier<T> call, T otherwise) {
        try {
            return call.get();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, () -> "could not " + what + ": " + ClusterMember.oneLine(e));
            return otherwise;
        }
    }
}
