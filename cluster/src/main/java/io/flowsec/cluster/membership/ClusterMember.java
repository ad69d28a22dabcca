package io.flowsec.cluster.membership;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.EvictionPolicy;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.JavaSerializationFilterConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.ListenerConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.MaxSizePolicy;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.config.TopicConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import com.hazelcast.core.LifecycleListener;
import io.flowsec.cluster.membership.ClusterState.Failed;
import io.flowsec.cluster.membership.ClusterState.Running;
import io.flowsec.cluster.membership.ClusterState.Starting;
import io.flowsec.cluster.membership.ClusterState.Stopped;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * This appliance's embedded Hazelcast member. {@link #start()} returns at once and Hazelcast starts on a daemon
 * thread: the data plane runs whether or not the cluster is up, and a peer that is down must never hold up the
 * appliance's start. The owner closes it; Hazelcast's own shutdown hook is off.
 * <p>
 * The configuration ({@link #hazelcastConfig}) suits a 2-core appliance on a management network: TCP/IP join with
 * exactly the listed peers (multicast and cloud auto-detection off, the latter would probe cloud metadata
 * addresses); the member port only on the management address, never incremented; no phone-home to hazelcast.com;
 * Hazelcast's logging through JDK logging at WARNING unless configured otherwise; a handful of threads and
 * {@link #PARTITION_COUNT} partitions; a 1 s heartbeat so a silent peer is lost after
 * {@link ClusterSettings#peerLossTimeout()}; split-brain merge every {@link #MERGE_INTERVAL_SECONDS} s, so two
 * appliances that started while the link between them was down form one cluster soon after it comes up; Java
 * deserialization limited to JDK and Hazelcast classes, since any member may send us objects.
 * <p>
 * Open-source Hazelcast authenticates no member: whoever reaches the port with the cluster name joins. What flowsec
 * stores is sealed ({@link SealedChannel}); the port should still be reachable from the peers only.
 */
public final class ClusterMember implements AutoCloseable {
    public static final int PARTITION_COUNT = 7;
    public static final int MERGE_INTERVAL_SECONDS = 10;
    /** Assignments kept per member, well above any tunnel count: bounds what a flood of keys can take. */
    public static final int MAX_ASSIGNMENT_ENTRIES = 4096;
    /** Events waiting for the event thread: bounds the memory a flood of load reports can take. */
    public static final int EVENT_QUEUE_CAPACITY = 10_000;
    /** The member attribute that carries {@link ClusterSettings#memberName()}. */
    public static final String MEMBER_NAME_ATTRIBUTE = "flowsec.member";

    private static final System.Logger LOG = System.getLogger(ClusterMember.class.getName());
    /** Held strongly: JDK logging forgets the level of a logger nobody references. */
    private static final Logger HAZELCAST_LOGGER = Logger.getLogger("com.hazelcast");
    private static final AtomicInteger INSTANCES = new AtomicInteger();
    private static final int MAX_REASON_LENGTH = 300;

    static {
        if (HAZELCAST_LOGGER.getLevel() == null) {
            HAZELCAST_LOGGER.setLevel(Level.WARNING);   // Hazelcast's INFO is a banner and pages of settings
        }
    }

    private final ClusterSettings settings;
    private final List<Consumer<ClusterState>> listeners = new CopyOnWriteArrayList<>();
    private final Object stateLock = new Object();
    private volatile ClusterState state = new Starting();
    /** Guarded by stateLock; set once Hazelcast has started, unless closed first. */
    private HazelcastInstance instance;
    private boolean started;
    private boolean closed;

    public ClusterMember(ClusterSettings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
    }

    public ClusterSettings settings() {
        return settings;
    }

    /** Starts Hazelcast on a daemon thread and returns at once; listeners added before see every state. */
    public void start() {
        synchronized (stateLock) {
            if (started || closed) {
                throw new IllegalStateException("cluster member " + settings.memberName() + " was started or closed");
            }
            started = true;
        }
        Thread.ofPlatform().daemon().name("flowsec-cluster-start-" + settings.memberName()).start(this::startHazelcast);
    }

    public ClusterState state() {
        return state;
    }

    /**
     * Told every state change: start, each peer joining or lost, failure, stop. Called on Hazelcast's or the start
     * thread, in order; a listener must return quickly and must not block on this member.
     */
    public void addListener(Consumer<ClusterState> listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** The Hazelcast instance while {@link Running}. */
    public Optional<HazelcastInstance> hazelcast() {
        synchronized (stateLock) {
            return state instanceof Running ? Optional.of(instance) : Optional.empty();
        }
    }

    /** Waits until running; false when it failed, was closed or the time ran out. */
    public boolean awaitRunning(Duration timeout) throws InterruptedException {
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        synchronized (stateLock) {
            while (!(state instanceof Running)) {
                long leftNs = deadlineNs - System.nanoTime();
                if (state instanceof Failed || state instanceof Stopped || leftNs <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(stateLock, leftNs);
            }
            return true;
        }
    }

    /**
     * Leaves the cluster (gracefully: peers see the member go at once, not after the peer loss timeout) and stops
     * Hazelcast. A start still in progress is stopped by the start thread as soon as Hazelcast returns.
     */
    @Override
    public void close() {
        HazelcastInstance running;
        synchronized (stateLock) {
            if (closed) {
                return;
            }
            closed = true;
            running = instance;
        }
        if (running != null) {
            try {
                running.shutdown();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "cluster member " + settings.memberName()
                        + " did not stop cleanly: " + oneLine(e));
            }
        }
        changeState(new Stopped());
    }

    @Override
    public String toString() {
        return "ClusterMember[" + settings.memberName() + "@" + settings.bindAddress() + ":" + settings.port() + ", "
                + state + "]";
    }

    private void startHazelcast() {
        String instanceName = "flowsec-" + settings.memberName() + "-" + INSTANCES.incrementAndGet();
        Config config = hazelcastConfig(settings, instanceName);
        // registered through the configuration, so no event between start and registration is lost
        config.addListenerConfig(new ListenerConfig(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                publishMembers();
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                publishMembers();
            }
        }));
        config.addListenerConfig(new ListenerConfig((LifecycleListener) this::onLifecycle));
        HazelcastInstance created;
        try {
            created = Hazelcast.newHazelcastInstance(config);
        } catch (RuntimeException | LinkageError e) {
            // a linkage error too: this thread would die silently and leave the member STARTING for ever
            changeState(new Failed("cluster member " + settings.memberName() + " could not start: " + oneLine(e)));
            return;
        }
        boolean closedMeanwhile;
        synchronized (stateLock) {
            closedMeanwhile = closed;
            if (!closedMeanwhile) {
                instance = created;
            }
        }
        if (closedMeanwhile) {
            created.shutdown();
            return;
        }
        publishMembers();   // events during the join came before the instance was known here
    }

    private void onLifecycle(LifecycleEvent event) {
        switch (event.getState()) {
            case SHUTDOWN -> {
                boolean unexpected;
                synchronized (stateLock) {
                    unexpected = !closed;
                }
                if (unexpected) {
                    changeState(new Failed("cluster member " + settings.memberName() + " stopped on its own"));
                }
            }
            case MERGED -> publishMembers();
            default -> {
            }
        }
    }

    /** Reads the members now rather than from the event, so the last state published is the current one. */
    private void publishMembers() {
        synchronized (stateLock) {
            if (instance == null || closed || state instanceof Failed) {
                return;
            }
            try {
                Member self = instance.getCluster().getLocalMember();
                List<String> peers = instance.getCluster().getMembers().stream()
                        .filter(member -> !member.getUuid().equals(self.getUuid()))
                        .map(ClusterMember::describe)
                        .toList();
                changeState(new Running(peers));
            } catch (RuntimeException e) {
                // the instance is going down; its lifecycle event says how
            }
        }
    }

    private void changeState(ClusterState next) {
        synchronized (stateLock) {
            if (state instanceof Stopped || next.equals(state)) {
                return;
            }
            state = next;
            stateLock.notifyAll();
            log(next);
            for (Consumer<ClusterState> listener : listeners) {
                try {
                    listener.accept(next);
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "cluster state listener failed: " + oneLine(e));
                }
            }
        }
    }

    private void log(ClusterState next) {
        String name = settings.memberName();
        switch (next) {
            case Running running -> LOG.log(System.Logger.Level.INFO, "cluster member " + name + " running with "
                    + running.peerCount() + (running.peerCount() == 1 ? " peer" : " peers") + " " + running.peers());
            case Failed failed -> LOG.log(System.Logger.Level.WARNING, failed.reason());
            case Stopped stopped -> LOG.log(System.Logger.Level.INFO, "cluster member " + name + " stopped");
            case Starting starting -> LOG.log(System.Logger.Level.INFO, "cluster member " + name + " starting");
        }
    }

    private static String describe(Member member) {
        String name = member.getAttribute(MEMBER_NAME_ATTRIBUTE);
        return (name == null ? "?" : name) + "@" + member.getAddress().getHost() + ":" + member.getAddress().getPort();
    }

    /**
     * The Hazelcast configuration for {@code settings}, built in code: no XML or YAML file is looked for, so nothing
     * on the appliance's disk or class path can change it.
     */
    static Config hazelcastConfig(ClusterSettings settings, String instanceName) {
        Config config = new Config();
        config.setInstanceName(instanceName);
        config.setClusterName(settings.clusterName());
        config.getMemberAttributeConfig().setAttribute(MEMBER_NAME_ATTRIBUTE, settings.memberName());

        // 1. the management address, and exactly the listed peers
        NetworkConfig network = config.getNetworkConfig();
        network.setPort(settings.port()).setPortAutoIncrement(false).setPortCount(1);
        network.getInterfaces().setEnabled(true).clear().addInterface(settings.bindAddress());
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).setMembers(settings.members())
                .setConnectionTimeoutSeconds(Math.toIntExact(settings.joinTimeout().toSeconds()));
        config.setProperty("hazelcast.socket.bind.any", "false");
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        config.setProperty("hazelcast.max.wait.seconds.before.join", "0");

        // 2. nothing leaves the appliance but cluster traffic; the appliance owns the lifecycle and the logs
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.shutdownhook.enabled", "false");
        config.setProperty("hazelcast.logging.type", "jdk");
        config.setProperty("hazelcast.health.monitoring.level", "OFF");
        config.getMetricsConfig().setEnabled(false);
        config.getJetConfig().setEnabled(false);

        // 3. a 2-core appliance: few threads, few partitions, a short graceful shutdown
        config.setProperty("hazelcast.partition.count", Integer.toString(PARTITION_COUNT));
        config.setProperty("hazelcast.operation.thread.count", "2");
        config.setProperty("hazelcast.operation.generic.thread.count", "1");
        config.setProperty("hazelcast.operation.priority.generic.thread.count", "1");
        config.setProperty("hazelcast.operation.response.thread.count", "1");
        config.setProperty("hazelcast.io.thread.count", "1");
        config.setProperty("hazelcast.event.thread.count", "1");
        config.setProperty("hazelcast.event.queue.capacity", Integer.toString(EVENT_QUEUE_CAPACITY));
        config.setProperty("hazelcast.clientengine.thread.count", "1");
        config.setProperty("hazelcast.clientengine.query.thread.count", "1");
        config.setProperty("hazelcast.clientengine.blocking.thread.count", "1");
        config.setProperty("hazelcast.mc.executor.thread.count", "1");
        config.setProperty("hazelcast.graceful.shutdown.max.wait", "5");

        // 4. a lost peer noticed within the peer loss timeout; split clusters merged soon
        config.setProperty("hazelcast.heartbeat.interval.seconds", "1");
        config.setProperty("hazelcast.max.no.heartbeat.seconds",
                Long.toString(settings.peerLossTimeout().toSeconds()));
        config.setProperty("hazelcast.merge.first.run.delay.seconds", Integer.toString(MERGE_INTERVAL_SECONDS));
        config.setProperty("hazelcast.merge.next.run.delay.seconds", Integer.toString(MERGE_INTERVAL_SECONDS));

        // 5. any member may send objects: deserialize only JDK and Hazelcast classes, minus known gadgets
        config.getSerializationConfig().setJavaSerializationFilterConfig(new JavaSerializationFilterConfig());

        // 6. the sealed channel's map and topic
        MapConfig assignments = new MapConfig(SealedChannel.ASSIGNMENTS_MAP)
                .setBackupCount(1)
                .setInMemoryFormat(InMemoryFormat.BINARY)
                .setStatisticsEnabled(false);
        assignments.getEvictionConfig().setEvictionPolicy(EvictionPolicy.LRU)
                .setMaxSizePolicy(MaxSizePolicy.PER_NODE).setSize(MAX_ASSIGNMENT_ENTRIES);
        config.addMapConfig(assignments);
        config.addTopicConfig(new TopicConfig(SealedChannel.LOAD_TOPIC)
                .setGlobalOrderingEnabled(false)
                .setMultiThreadingEnabled(false)
                .setStatisticsEnabled(false));
        return config;
    }

    static String oneLine(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String text = describe(e) + (root == e ? "" : " (" + describe(root) + ")");
        text = text.replaceAll("\\s+", " ").trim();
        return text.length() <= MAX_REASON_LENGTH ? text : text.substring(0, MAX_REASON_LENGTH) + "…";
    }

    private static String describe(Throwable e) {
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }
}
