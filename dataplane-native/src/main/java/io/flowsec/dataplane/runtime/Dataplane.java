package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.FlowletTable;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.flow.ToeplitzHash;
import io.flowsec.dataplane.lane.ClearPath;
import io.flowsec.dataplane.lane.Lane;
import io.flowsec.dataplane.lane.LaneIo;
import io.flowsec.dataplane.lane.SiteQueue;
import io.flowsec.dataplane.lane.TunnelPeer;
import io.flowsec.dataplane.lane.TunnelSocket;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SaLifetimeListener;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;
import io.flowsec.dataplane.state.SaStateStore;
import io.netty.channel.IoEventLoop;
import io.netty.util.concurrent.Future;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The data plane as a service: owns the lanes and carries out the {@link DataplaneControl} commands on them.
 * Control side only; the packet path is in {@link Lane}. Every command runs under this object's lock (one change
 * at a time), builds what changes whole (copy-on-write tables, lane tables, steering plans), hands it to each lane
 * as a task its event loop runs between two batches, and returns when every lane ran it.
 *
 * <ol>
 *   <li>install the inbound SAs (each on a lane, round robin) and the policies with their SA groups (each outbound
 *       SA owned by one lane);</li>
 *   <li>build each lane: its processor, its site queue, its socket on every tunnel endpoint, its outbound tables;</li>
 *   <li>steer each endpoint's arrivals for the mode and steering in effect;</li>
 *   <li>attach each lane to its event loop; pcrypt mode makes lane 0 the receiving lane;</li>
 *   <li>start the clock: lifetimes in seconds and the end of rekey grace periods.</li>
 * </ol>
 */
public final class Dataplane implements DataplaneControl, AutoCloseable {
    /** More than a full receive buffer holds: what a lane drains of its sockets at most during a hand-over. */
    private static final int MAX_HANDOVER_DATAGRAMS = 1 << 16;
    /**
     * How long the gaining lane of an SA's hand-over waits for the losing lane's backlog at most: a 4 MiB socket
     * buffer of small datagrams at a lane held to a tenth of a CPU takes about half a second.
     */
    static final long HAND_OVER_MARKER_TIMEOUT_MS = 2000;
    private static final long HAND_OVER_MARKER_RESEND_NS = TimeUnit.MILLISECONDS.toNanos(5);
    private static final long HAND_OVER_MARKER_MAX_RESEND_NS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final long HAND_OVER_POLL_NS = TimeUnit.MICROSECONDS.toNanos(200);
    /** Far longer than a softirq holds a datagram between the steering program and the socket's queue. */
    private static final long STEERING_SETTLE_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long FAULT_LOG_INTERVAL_NS = TimeUnit.SECONDS.toNanos(1);
    private static final long LANE_TASK_TIMEOUT_MS = 30_000;
    /** Longer would keep a busy flow on its SA all but for ever, so no reweighting would take effect. */
    private static final Duration MAX_FLOWLET_GAP = Duration.ofMinutes(1);

    /**
     * What a data plane is built from. The event loops, site queues and tunnel ports belong to the caller, who
     * closes them after {@link #close()}.
     */
    public record Setup(List<IoEventLoop> loops, List<SiteQueue> siteQueues, List<TunnelPort> ports,
                        List<ClearPath> clearPaths, List<SecurityPolicy> policies, List<SecurityAssociation> inbound,
                        Mode mode, Steering steering, SaStateStore stateStore, boolean freshStateAllowed,
                        Consumer<String> log, Duration flowletGap) {
        /**
         * @param clearPaths        one per lane, where bypass packets go; empty when no policy may bypass (such
         *                          packets are then counted as {@code clear-send-errors})
         * @param stateStore        where SAs keep their sequence state across restarts; null: none kept (tests)
         * @param freshStateAllowed whether the SAs of the setup may start without state (keys never used before);
         *                          SAs installed later always may (a rekey brings new keys)
         * @param flowletGap        how long a flow bucket must be idle before a reweighting moves it to another SA
         *                          (0: at once); null: {@link DataplaneControl#DEFAULT_FLOWLET_GAP}
         */
        public Setup(List<IoEventLoop> loops, List<SiteQueue> siteQueues, List<TunnelPort> ports,
                     List<ClearPath> clearPaths, List<SecurityPolicy> policies, List<SecurityAssociation> inbound,
                     Mode mode, Steering steering, SaStateStore stateStore, boolean freshStateAllowed,
                     Consumer<String> log) {
            this(loops, siteQueues, ports, clearPaths, policies, inbound, mode, steering, stateStore, freshStateAllowed,
                    log, DEFAULT_FLOWLET_GAP);
        }

        public Setup(List<IoEventLoop> loops, List<SiteQueue> siteQueues, List<TunnelPort> ports,
                     List<ClearPath> clearPaths, List<SecurityPolicy> policies, List<SecurityAssociation> inbound,
                     Mode mode, Steering steering, Consumer<String> log) {
            this(loops, siteQueues, ports, clearPaths, policies, inbound, mode, steering, null, true, log);
        }

        public Setup {
            flowletGap = flowletGap == null ? DEFAULT_FLOWLET_GAP : flowletGap;
            checkFlowletGap(flowletGap);
            loops = List.copyOf(loops);
            siteQueues = List.copyOf(siteQueues);
            ports = List.copyOf(ports);
            clearPaths = List.copyOf(clearPaths);
            policies = List.copyOf(policies);
            inbound = List.copyOf(inbound);
        }
    }

    private final int laneCount;
    private final List<TunnelPort> ports;
    private final Consumer<String> log;
    private final SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
    private final Lane[] lanes;
    private final LaneIo[] bindings;
    /** Peers' sockaddrs: read by lanes until they stop, freed with the data plane. */
    private final Arena arena = Arena.ofAuto();
    private final ScheduledExecutorService clock;
    private final ExecutorService events;
    private final List<DataplaneListener> listeners = new CopyOnWriteArrayList<>();
    private final Map<Integer, Integer> laneByInboundSpi = new LinkedHashMap<>();
    private final Map<Integer, SecurityAssociation> inboundBySpi = new LinkedHashMap<>();
    private final Map<Integer, Retiring> retiring = new HashMap<>();
    private final Map<SecurityAssociation, Long> installedAtNs = new IdentityHashMap<>();
    private final Map<SecurityAssociation, TunnelPeer> peers = new IdentityHashMap<>();
    private final Map<InetAddress, MemorySegment> nextHopAddresses = new HashMap<>();
    private Map<String, String> steeringFields = Map.of();
    private Map<String, String> steeringPrograms = Map.of();
    /** What readers see without taking the lock: commands wait for lanes, and reads must never wait for commands. */
    private volatile View view;
    private final long[] lastFaultLogNs;
    /** The secret part of the markers' tokens, drawn at start: a datagram from outside cannot pass for a marker. */
    private final long markerKey = new SecureRandom().nextLong(1, 1L << 40);
    /** The hand-overs' marker sequence (guarded by this). */
    private int handOverSequence;
    /** Each lane's queue delay, measured with markers on the clock thread ({@link LaneQueueProbes}). */
    private LaneQueueProbes queueProbes;
    private volatile boolean queueProbing = true;
    /** Hand-overs whose gaining lane went on before the losing lane read the marker (guarded by this). */
    private long handOverTimeouts;
    private final SaLifetimeListener lifetimeEvents = new SaLifetimeListener() {
        @Override
        public void onSoftLifetime(SecurityAssociation sa, String limit) {
            emit(new DataplaneEvent.SoftLifetime(sa.name(), sa.spi(), sa.direction(), limit));
        }

        @Override
        public void onHardLifetime(SecurityAssociation sa, String limit) {
            emit(new DataplaneEvent.HardLifetime(sa.name(), sa.spi(), sa.direction(), limit));
        }
    };
    private volatile List<SecurityPolicy> policies = List.of();
    private final SaStateStore stateStore;
    /** How long a clean stop waits for each lane to pause before leaving the reserved marks. */
    private static final int CLOSE_PAUSE_SECONDS = 2;
    /** While the setup's SAs are installed: whether they may start without state. */
    private boolean freshStateAllowed;
    private int nextGroupId;
    private volatile Mode mode;
    private volatile Steering steering;
    /** What every lane's processor uses; read without the lock. */
    private volatile Duration flowletGap;
    /** Set during a steering change: everything goes to lane 0 for a moment (see {@link #steering(Steering)}). */
    private volatile boolean throughLaneZero;
    private boolean closed;

    private Dataplane(Setup setup) {
        this.laneCount = setup.siteQueues().size();
        this.ports = setup.ports();
        this.log = setup.log();
        this.mode = setup.mode();
        this.steering = setup.steering();
        this.stateStore = setup.stateStore();
        this.freshStateAllowed = setup.freshStateAllowed();
        this.flowletGap = setup.flowletGap();
        this.lanes = new Lane[laneCount];
        this.bindings = new LaneIo[laneCount];
        this.lastFaultLogNs = new long[laneCount];
        this.clock = Executors.newSingleThreadScheduledExecutor(daemon("flowsec-dataplane-clock"));
        this.events = Executors.newSingleThreadExecutor(daemon("flowsec-dataplane-events"));
    }

    /** Builds and starts a data plane; refuses an inconsistent setup with an IllegalArgumentException. */
    public static Dataplane start(Setup setup) throws IOException, InterruptedException {
        int laneCount = setup.siteQueues().size();
        if (laneCount < 1 || setup.loops().size() < laneCount) {
            throw new IllegalArgumentException("a data plane needs at least one lane and an event loop per lane");
        }
        Dataplane dataplane = new Dataplane(setup);
        try {
            dataplane.startUp(setup);
            return dataplane;
        } catch (IOException | InterruptedException | RuntimeException e) {
            dataplane.close();
            throw e;
        }
    }

    private void startUp(Setup setup) throws IOException, InterruptedException {
        // 1. SAs and policies
        int next = 0;
        for (SecurityAssociation sa : setup.inbound()) {
            checkInbound(sa);
            addSa(sa);
            laneByInboundSpi.put(sa.spi(), next++ % laneCount);
            inboundBySpi.put(sa.spi(), sa);
        }
        installPolicies(setup.policies());
        freshStateAllowed = true;   // from now on SAs come from the control side, with new keys

        // 2. lanes
        for (int i = 0; i < laneCount; i++) {
            TunnelSocket[] sockets = new TunnelSocket[ports.size()];
            for (int p = 0; p < ports.size(); p++) {
                sockets[p] = ports.get(p).socket(i);
            }
            EspProcessor processor = new EspProcessor(new SecurityPolicyDatabase(policies), sad, new LaneCounters(),
                    ToeplitzHash.microsoft(), EspProcessor.Framing.ESP, IpProtocol.NAT_T_PORT);
            processor.lifetimeListener(lifetimeEvents);
            processor.flowletGap(flowletGap.toNanos(), System.nanoTime());
            processor.markerKey(markerKey);
            ClearPath clearPath = setup.clearPaths().isEmpty() ? null : setup.clearPaths().get(i);
            Lane lane = new Lane(i, setup.siteQueues().get(i), sockets, clearPath, processor);
            lane.faultListener(this::onLaneFault);
            lanes[i] = lane;
        }
        OutboundTables tables = outboundTables();
        for (Lane lane : lanes) {
            lane.useOutbound(tables.policies(), tables.byLane()[lane.index()], FlowletTable.Moves.AT_ONCE, tables.peers(),
                    tables.nextHops());
        }

        // 3. steering
        applySteering();

        // 4. event loops
        for (int i = 0; i < laneCount; i++) {
            bindings[i] = LaneIo.attach(lanes[i], setup.loops().get(i));
        }
        if (mode == Mode.PCRYPT) {
            await(bindings[0].usePcrypt(bindings));
        }

        // 5. clock
        clock.scheduleAtFixedRate(this::checkAges, 1, 1, TimeUnit.SECONDS);
        queueProbes = new LaneQueueProbes(lanes, ports, markerKey);
        clock.scheduleAtFixedRate(this::probeQueues, LaneQueueProbes.INTERVAL_MS, LaneQueueProbes.INTERVAL_MS,
                TimeUnit.MILLISECONDS);
        publishView();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Mode and steering

    @Override
    public int laneCount() {
        return laneCount;
    }

    /** The state readers see, replaced whole after each change. */
    private record View(Mode mode, Steering steering, Steering steeringInEffect, Map<String, String> steeringFields,
                        Map<String, String> steeringPrograms, Map<Integer, Integer> inboundLanes, java.util.Set<Integer> retiringSpis) {
    }

    /** Under the lock, after a change: readers see it from now on. */
    private void publishView() {
        view = new View(mode, steering, steeringInEffectLocked(), steeringFields, steeringPrograms,
                Map.copyOf(laneByInboundSpi),
                java.util.Set.copyOf(retiring.keySet()));
    }

    @Override
    public Mode mode() {
        return view.mode();
    }

    /**
     * Changes the mode while traffic flows, losing and reordering nothing:
     * <ol>
     *   <li>pause every lane after its current batch (arrivals wait in the socket buffers);</li>
     *   <li>steer new arrivals the new way;</li>
     *   <li>let the lanes that lose SAs empty their sockets first (pcrypt's receiving lane also waits for the
     *       packets in its workers' hands), then the others, one at a time, so an SA's earlier packets are done
     *       before its new lane sees its later ones and no two lanes touch one SA;</li>
     *   <li>make lane 0 pcrypt's receiving lane, or a lane of its own again;</li>
     *   <li>resume every lane.</li>
     * </ol>
     */
    @Override
    public synchronized void mode(Mode newMode) {
        checkCommand();
        if (newMode == mode) {
            return;
        }
        Mode oldMode = mode;
        // to single or pcrypt, lanes 1.. lose their SAs to lane 0: they drain first; to flow, lane 0 loses them
        List<Integer> order = newMode == Mode.FLOW ? lanesFromZero() : lanesFromZero().reversed();
        handOver(() -> {
            mode = newMode;
            applySteering();
        }, order, () -> await(bindings[0].usePcrypt(newMode == Mode.PCRYPT ? bindings : new LaneIo[0])),
                () -> mode = oldMode);
        publishView();
        log.accept("mode changed to " + newMode.configName());
    }

    @Override
    public Steering steering() {
        return view.steering();
    }

    @Override
    public Steering steeringInEffect() {
        return view.steeringInEffect();
    }

    @Override
    public synchronized void steering(Steering newSteering) {
        checkCommand();
        if (newSteering == steering) {
            return;
        }
        if (mode != Mode.FLOW) {
            steering = newSteering;   // takes effect with flow mode
            publishView();
            return;
        }
        // Between two steerings SAs may move between lanes in both directions (a swap), and no drain order keeps
        // every SA's packets in order then. Through lane 0 each step moves SAs one way only: first everything to
        // lane 0, the other lanes drained before it; then from lane 0 to the new lanes, lane 0 drained first.
        List<Integer> toLaneZero = lanesFromZero().reversed();
        handOver(() -> {
            throughLaneZero = true;
            applySteering();
        }, toLaneZero, () -> {
        }, () -> throughLaneZero = false);
        Steering old = steering;
        handOver(() -> {
            throughLaneZero = false;
            steering = newSteering;
            applySteering();
        }, toLaneZero.reversed(), () -> {
        }, () -> steering = old);
        publishView();
        log.accept("steering changed to " + newSteering.configName());
    }

    /** 0, 1, ... laneCount - 1: the drain order when lane 0 gives SAs away. */
    private List<Integer> lanesFromZero() {
        return java.util.stream.IntStream.range(0, laneCount).boxed().toList();
    }

    /** Steers every endpoint for the mode and steering in effect and the current inbound lanes. */
    private void applySteering() {
        Map<String, String> fields = new LinkedHashMap<>(steeringFields);
        Map<String, String> programs = new LinkedHashMap<>(steeringPrograms);
        try {
            steerEveryPort(fields, programs);
        } finally {
            steeringFields = Map.copyOf(fields);   // what is in effect, also when a port failed half way
            steeringPrograms = Map.copyOf(programs);
        }
    }

    private void steerEveryPort(Map<String, String> fields, Map<String, String> programs) {
        for (TunnelPort port : ports) {
            SteeringPlan plan = planFor(port);
            String program;
            try {
                program = port.steer(plan);
            } catch (IOException e) {
                throw new IllegalStateException("steering " + port.label() + " failed: " + e.getMessage(), e);
            }
            fields.put(port.label(), plan.field().label());
            programs.put(port.label(), program);
        }
    }

    /**
     * The plan for one endpoint. {@code director} reads the field the peer's SA group encodes the flow ID in, as a
     * NIC's Flow Director filter would: the UDP source port for {@code udp-port}, the outer source address for
     * {@code address} (IPv4), else the SPI. It falls back to the SPI when the inbound SAs arriving there mix
     * encodings or two SAs on different lanes share a value, so steering stays exact.
     */
    private SteeringPlan planFor(TunnelPort port) {
        switch (steeringInEffectLocked()) {
            case SINGLE -> {
                return SteeringPlan.LANE_ZERO;
            }
            case RSS -> {
                return SteeringPlan.KERNEL_HASH;
            }
            default -> {
            }
        }
        Map<Integer, Integer> bySpi = new LinkedHashMap<>();
        Map<Integer, Integer> byPort = new LinkedHashMap<>();
        Map<Integer, Integer> byAddress = new LinkedHashMap<>();
        boolean allPort = true;
        boolean allAddress = true;
        for (SecurityAssociation sa : inboundBySpi.values()) {
            if (!arrivesAt(sa, port)) {
                continue;
            }
            int lane = laneByInboundSpi.get(sa.spi());
            bySpi.put(sa.spi(), lane);
            allPort &= sa.peerEncoding() == FlowEncoding.UDP_PORT && sa.outer().isUdp()
                    && byPort.getOrDefault(sa.outer().remotePort(), lane) == lane;
            byPort.put(sa.outer().remotePort(), lane);
            allAddress &= sa.peerEncoding() == FlowEncoding.ADDRESS && sa.outer().remote() instanceof Inet4Address
                    && byAddress.getOrDefault(ipv4(sa.outer().remote()), lane) == lane;
            byAddress.put(ipv4(sa.outer().remote()), lane);
        }
        if (allPort && !byPort.isEmpty()) {
            return new SteeringPlan(SteeringPlan.Field.UDP_SOURCE_PORT, byPort);
        }
        if (allAddress && !byAddress.isEmpty()) {
            return new SteeringPlan(SteeringPlan.Field.OUTER_SOURCE_ADDRESS, byAddress);
        }
        return new SteeringPlan(SteeringPlan.Field.SPI, bySpi);
    }

    private Steering steeringInEffectLocked() {
        return mode == Mode.FLOW && !throughLaneZero ? steering : Steering.SINGLE;
    }

    private boolean arrivesAt(SecurityAssociation sa, TunnelPort port) {
        int index = endpointIndex(sa);
        return index >= 0 && ports.get(index) == port;
    }

    /**
     * The endpoint an SA sends from and arrives at, as the kernel would deliver its datagrams: the one bound to its
     * local address and port, else one listening on every address of its family at that port; -1: none.
     */
    private int endpointIndex(SecurityAssociation sa) {
        InetAddress local = sa.outer().local();
        int wildcard = -1;
        for (int p = 0; p < ports.size(); p++) {
            TunnelPort port = ports.get(p);
            if (port.port() != sa.outer().localPort()) {
                continue;
            }
            if (port.address().equals(local)) {
                return p;
            }
            if (wildcard < 0 && TunnelPort.listensOnEveryAddressOf(port.address(), local)) {
                wildcard = p;
            }
        }
        return wildcard;
    }

    private static int ipv4(InetAddress address) {
        byte[] bytes = address.getAddress();
        if (bytes.length != 4) {
            return 0;
        }
        return ((bytes[0] & 0xFF) << 24) | ((bytes[1] & 0xFF) << 16) | ((bytes[2] & 0xFF) << 8) | (bytes[3] & 0xFF);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // SAs

    @Override
    public void installSa(SecurityAssociation inbound) {
        installSa(inbound, -1);
    }

    @Override
    public synchronized void installSa(SecurityAssociation inbound, int lane) {
        checkCommand();
        checkInbound(inbound);
        if (lane >= laneCount) {
            throw new IllegalArgumentException("lane " + lane + " does not exist (lanes 0-" + (laneCount - 1) + ")");
        }
        installInbound(inbound, lane >= 0 ? lane : leastLoadedLane());
    }

    /**
     * Steering learns the SA's lane first, then the SAD the SA: until then its SPI is unknown on every lane (a
     * counted drop), so no other lane touches its replay window. A refusal (a steering program too long) leaves
     * everything as it was.
     */
    private void installInbound(SecurityAssociation inbound, int lane) {
        laneByInboundSpi.put(inbound.spi(), lane);
        inboundBySpi.put(inbound.spi(), inbound);
        try {
            applySteering();
        } catch (RuntimeException e) {
            laneByInboundSpi.remove(inbound.spi());
            inboundBySpi.remove(inbound.spi());
            applySteering();
            throw e;
        }
        addSa(inbound);
        awaitEveryLaneBetweenBatches();
        publishView();
    }

    @Override
    public synchronized void replaceSa(int oldSpi, Direction direction, SecurityAssociation replacement, Duration grace) {
        checkCommand();
        SecurityAssociation old = find(oldSpi, direction);
        if (replacement.direction() != direction) {
            throw new IllegalArgumentException(replacement.name() + ": a " + lower(direction) + " SA is replaced by one "
                    + "of the same direction, not a " + lower(replacement.direction()) + " one");
        }
        if (direction == Direction.INBOUND) {
            checkInbound(replacement);
            if (retiring.containsKey(oldSpi)) {
                throw new IllegalArgumentException(old.name() + " is already being replaced");
            }
            // make: the new SA on the old one's lane, so the flows it carries stay there
            installInbound(replacement, laneByInboundSpi.get(oldSpi));
            // break, later: the old SA accepts what the peer sent before it switched
            long graceMs = Math.max(0, grace.toMillis());
            retiring.put(oldSpi, new Retiring(old, clock.schedule(() -> retire(old), graceMs, TimeUnit.MILLISECONDS)));
            publishView();
            return;
        }
        SaGroup group = groupOf(old);
        checkOutbound(replacement);
        if (sad.inbound(replacement.spi()) == null && outboundSpiInUse(replacement.spi())) {
            throw new IllegalArgumentException(replacement.name() + ": outbound SPI 0x" + Integer.toHexString(replacement.spi())
                    + " is in use already");
        }
        addSa(replacement);
        try {
            group.replaceMember(old, replacement);
        } catch (IllegalArgumentException | IllegalStateException e) {
            removeFromSad(replacement);
            throw e;
        }
        // the owning lane switches between two batches; the successor takes the old SA's slot, so no bucket moves
        // and moves under way at a flowlet boundary go on, towards the successor where it is their target
        publishOutbound(FlowletTable.Moves.AT_FLOWLET_BOUNDARIES);
        removeFromSad(old);
        forgetOnEveryLane(old);
        publishView();
    }

    private boolean outboundSpiInUse(int spi) {
        for (SecurityAssociation sa : outboundSas(policies)) {
            if (sa.spi() == spi) {
                return true;
            }
        }
        return false;
    }

    /** An inbound SA in its grace period after a rekey, and the removal that ends it. */
    private record Retiring(SecurityAssociation sa, ScheduledFuture<?> removal) {
    }

    /** The end of an inbound SA's grace period, on the clock thread. */
    private void retire(SecurityAssociation old) {
        try {
            synchronized (this) {
                Retiring pending = retiring.get(old.spi());
                if (closed || pending == null || pending.sa() != old) {
                    return;   // removed or replaced meanwhile
                }
                retiring.remove(old.spi());
                removeInbound(old);
            }
            emit(new DataplaneEvent.SaRemoved(old.name(), old.spi(), old.direction()));
        } catch (RuntimeException e) {
            log.accept("removing " + old.name() + " after its grace period failed: " + e.getMessage());
        }
    }

    @Override
    public synchronized void removeSa(int spi, Direction direction) {
        checkCommand();
        SecurityAssociation sa = find(spi, direction);
        if (direction == Direction.OUTBOUND) {
            throw new IllegalArgumentException(sa.name() + " is in the SA group of a policy: outbound SAs leave with "
                    + "their policy (replace the policies) or are replaced by a rekey");
        }
        Retiring pending = retiring.remove(spi);
        if (pending != null) {
            pending.removal().cancel(false);
        }
        removeInbound(sa);
    }

    /** The SPI unknown at once (a counted drop), then steering without it, then the lanes' cipher contexts freed. */
    private void removeInbound(SecurityAssociation sa) {
        removeFromSad(sa);
        laneByInboundSpi.remove(sa.spi());
        inboundBySpi.remove(sa.spi());
        applySteering();
        forgetOnEveryLane(sa);
        publishView();
    }

    /** Every lane drops its cipher context of a removed SA (the keys with it) between two batches. */
    private void forgetOnEveryLane(SecurityAssociation sa) {
        onEveryLane(lane -> lane.processor().forget(sa));
    }

    @Override
    public List<SecurityAssociation> sas() {
        return sad.all();
    }

    /** Resumes the SA from its durable state (if kept) before any lane can use it, then installs it. */
    private void addSa(SecurityAssociation sa) {
        if (stateStore != null) {
            try {
                stateStore.attach(sa, freshStateAllowed);
            } catch (java.io.IOException e) {
                throw new IllegalStateException(sa.name() + ": its sequence state could not be kept in "
                        + stateStore.directory() + ": " + e.getMessage(), e);
            }
        }
        sad.add(sa);
        installedAtNs.put(sa, System.nanoTime());
    }

    private void removeFromSad(SecurityAssociation sa) {
        sad.remove(sa);
        installedAtNs.remove(sa);
        peers.remove(sa);
    }

    private void checkInbound(SecurityAssociation sa) {
        if (sa.direction() != Direction.INBOUND) {
            throw new IllegalArgumentException(sa.name() + ": only inbound SAs are installed alone; outbound SAs come "
                    + "with a policy's SA group");
        }
        portOf(sa);
    }

    private void checkOutbound(SecurityAssociation sa) {
        if (sa.direction() != Direction.OUTBOUND) {
            throw new IllegalArgumentException(sa.name() + ": an SA group holds outbound SAs");
        }
        portOf(sa);
    }

    /**
     * The index of the endpoint an SA sends from or arrives at; endpoints are fixed when the data plane starts (the
     * configuration's SAs and its {@code endpoints}, such as {@code 0.0.0.0:4500} for SAs added later).
     */
    private int portOf(SecurityAssociation sa) {
        int index = endpointIndex(sa);
        if (index < 0) {
            throw new IllegalArgumentException(sa.name() + ": no tunnel socket on " + sa.outer().local().getHostAddress()
                    + " port " + sa.outer().localPort() + " (the endpoints are those of the configuration at start: its "
                    + "SAs' and its endpoints list)");
        }
        return index;
    }

    private SecurityAssociation find(int spi, Direction direction) {
        for (SecurityAssociation sa : sad.all()) {
            if (sa.spi() == spi && sa.direction() == direction) {
                return sa;
            }
        }
        throw new IllegalArgumentException("no " + lower(direction) + " SA with SPI 0x" + Integer.toHexString(spi));
    }

    private int leastLoadedLane() {
        int[] served = new int[laneCount];
        for (int lane : laneByInboundSpi.values()) {
            served[lane]++;
        }
        int best = 0;
        for (int lane = 1; lane < laneCount; lane++) {
            if (served[lane] < served[best]) {
                best = lane;
            }
        }
        return best;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Policies and groups

    @Override
    public synchronized void replacePolicies(List<SecurityPolicy> newPolicies) {
        checkCommand();
        List<SecurityAssociation> before = outboundSas(policies);
        installPolicies(newPolicies);
        publishOutbound(FlowletTable.Moves.AT_ONCE);
        List<SecurityAssociation> after = outboundSas(policies);
        for (SecurityAssociation sa : before) {
            if (!containsIdentity(after, sa)) {
                removeFromSad(sa);
                forgetOnEveryLane(sa);
            }
        }
    }

    /** Validates every group against the lanes, then installs the groups' new SAs; nothing changes on a refusal. */
    private void installPolicies(List<SecurityPolicy> newPolicies) {
        List<SecurityAssociation> installed = outboundSas(policies);
        // one SA object, one group: two groups would give it two owning lanes, and one key two sequence counters
        List<SecurityAssociation> grouped = outboundSas(newPolicies);
        java.util.Set<Integer> spis = new java.util.HashSet<>();
        for (int i = 0; i < grouped.size(); i++) {
            SecurityAssociation sa = grouped.get(i);
            if (grouped.subList(0, i).stream().anyMatch(other -> other == sa) || !spis.add(sa.spi())) {
                throw new IllegalArgumentException(sa.name() + ": outbound SPI 0x" + Integer.toHexString(sa.spi())
                        + " is in more than one SA group (each outbound SA belongs to one group and one lane)");
            }
        }
        for (SecurityPolicy policy : newPolicies) {
            if (policy.action() != PolicyAction.PROTECT) {
                continue;
            }
            SaGroup group = policy.outboundGroup();
            if (group.size() < laneCount) {
                throw new IllegalArgumentException("policy " + policy.name() + ": its SA group has " + group.size()
                        + " SA(s) for " + laneCount + " lanes; each lane sends on SAs of its own, so give it at least "
                        + laneCount + " outbound SAs (or run fewer lanes)");
            }
            for (SecurityAssociation sa : group.members()) {
                checkOutbound(sa);
                // from a socket on every address the kernel picks the source address: one for all of the group's SAs
                if (group.encoding() == FlowEncoding.ADDRESS && group.size() > 1
                        && ports.get(portOf(sa)).address().isAnyLocalAddress()) {
                    throw new IllegalArgumentException(sa.name() + ": encoding address sends each SA from its own "
                            + "local address, so each needs an endpoint bound to it (" + sa.outer().local().getHostAddress()
                            + ":" + sa.outer().localPort() + "), not one on every address");
                }
            }
        }
        for (SecurityPolicy policy : newPolicies) {
            if (policy.action() != PolicyAction.PROTECT) {
                continue;
            }
            SaGroup group = policy.outboundGroup();
            group.assignOwners(laneCount);
            if (group.id() < 0) {
                group.id(nextGroupId++);
            }
            for (SecurityAssociation sa : group.members()) {
                if (!containsIdentity(installed, sa)) {
                    addSa(sa);
                    installed.add(sa);
                }
            }
        }
        policies = List.copyOf(newPolicies);
    }

    private static List<SecurityAssociation> outboundSas(List<SecurityPolicy> policies) {
        List<SecurityAssociation> sas = new ArrayList<>();
        for (SecurityPolicy policy : policies) {
            if (policy.outboundGroup() != null) {
                sas.addAll(policy.outboundGroup().members());
            }
        }
        return sas;
    }

    private static boolean containsIdentity(List<SecurityAssociation> sas, SecurityAssociation wanted) {
        for (SecurityAssociation sa : sas) {
            if (sa == wanted) {
                return true;
            }
        }
        return false;
    }

    @Override
    public List<SecurityPolicy> policies() {
        return policies;
    }

    @Override
    public int[] groupWeights(String policy) {
        return groupOf(policy).weights();
    }

    @Override
    public synchronized void groupWeights(String policy, int... weights) {
        checkCommand();
        groupOf(policy).weights(weights);
        publishOutbound(FlowletTable.Moves.AT_FLOWLET_BOUNDARIES);
    }

    @Override
    public Duration flowletGap() {
        return flowletGap;
    }

    /** Each path over every lane's queues: in use only where every lane uses it; the first refusal explains. */
    @Override
    public List<io.flowsec.dataplane.lane.Offload> offloads() {
        Map<String, io.flowsec.dataplane.lane.Offload> byName = new java.util.LinkedHashMap<>();
        for (Lane lane : lanes) {
            List<io.flowsec.dataplane.lane.Offload> all = new ArrayList<>(lane.site().offloads());
            for (io.flowsec.dataplane.lane.TunnelSocket socket : lane.sockets()) {
                all.addAll(socket.offloads());
            }
            for (io.flowsec.dataplane.lane.Offload offload : all) {
                byName.merge(offload.name(), offload, io.flowsec.dataplane.lane.Offload::and);
            }
        }
        return List.copyOf(byName.values());
    }

    @Override
    public synchronized void flowletGap(Duration gap) {
        checkCommand();
        checkFlowletGap(gap);
        long gapNs = gap.toNanos();
        onEveryLane(lane -> lane.processor().flowletGap(gapNs, System.nanoTime()));
        flowletGap = gap;
    }

    private static void checkFlowletGap(Duration gap) {
        if (gap == null || gap.isNegative() || gap.compareTo(MAX_FLOWLET_GAP) > 0) {
            throw new IllegalArgumentException("a flowlet gap is from 0 (moves at once) to " + MAX_FLOWLET_GAP.toSeconds()
                    + " s, not " + gap);
        }
    }

    private SaGroup groupOf(String policyName) {
        for (SecurityPolicy policy : policies) {
            if (policy.name().equals(policyName)) {
                if (policy.outboundGroup() == null) {
                    throw new IllegalArgumentException("policy " + policyName + " has no SA group (action "
                            + lower(policy.action()) + ")");
                }
                return policy.outboundGroup();
            }
        }
        throw new IllegalArgumentException("no policy named '" + policyName + "'");
    }

    private SaGroup groupOf(SecurityAssociation outbound) {
        for (SecurityPolicy policy : policies) {
            if (policy.outboundGroup() != null && containsIdentity(policy.outboundGroup().members(), outbound)) {
                return policy.outboundGroup();
            }
        }
        throw new IllegalStateException(outbound.name() + " belongs to no policy");
    }

    /** Each lane's outbound view: the SPD, its own table per group, and where each outbound SA's packets go. */
    private record OutboundTables(SecurityPolicyDatabase policies, SaGroup.LaneTable[][] byLane, TunnelPeer[] peers,
                                  MemorySegment[] nextHops) {
    }

    private OutboundTables outboundTables() {
        int maxIndex = 0;
        int groups = 0;
        for (SecurityPolicy policy : policies) {
            if (policy.outboundGroup() != null) {
                groups = Math.max(groups, policy.outboundGroup().id() + 1);
                for (SecurityAssociation sa : policy.outboundGroup().members()) {
                    maxIndex = Math.max(maxIndex, sa.index());
                }
            }
        }
        TunnelPeer[] peerBySaIndex = new TunnelPeer[maxIndex + 1];
        SaGroup.LaneTable[][] byLane = new SaGroup.LaneTable[laneCount][groups];
        for (SecurityPolicy policy : policies) {
            SaGroup group = policy.outboundGroup();
            if (group == null) {
                continue;
            }
            for (SecurityAssociation sa : group.members()) {
                peerBySaIndex[sa.index()] = peers.computeIfAbsent(sa, this::peerOf);
            }
            for (int lane = 0; lane < laneCount; lane++) {
                byLane[lane][group.id()] = group.laneTable(lane);
            }
        }
        MemorySegment[] nextHops = new MemorySegment[policies.size()];
        for (int i = 0; i < policies.size(); i++) {
            InetAddress nextHop = policies.get(i).nextHop();
            if (policies.get(i).action() == PolicyAction.BYPASS && nextHop != null) {
                nextHops[i] = nextHopAddresses.computeIfAbsent(nextHop, address -> SocketAddress.of(arena, address, 0));
            }
        }
        return new OutboundTables(new SecurityPolicyDatabase(policies), byLane, peerBySaIndex, nextHops);
    }

    private TunnelPeer peerOf(SecurityAssociation sa) {
        MemorySegment destination = SocketAddress.of(arena, sa.outer().remote(), sa.outer().remotePort());
        return new TunnelPeer(portOf(sa), destination);
    }

    /**
     * Hands every lane its new outbound view; returns when all use it. SA objects take effect at once; {@code moves}
     * says whether a flow bucket whose SA slot changed waits for a flowlet boundary (reweighting, rekey) or moves
     * now (policies replaced: their groups' tables apply at once and nothing stays pending).
     */
    private void publishOutbound(FlowletTable.Moves moves) {
        OutboundTables tables = outboundTables();
        onEveryLane(lane -> lane.useOutbound(tables.policies(), tables.byLane()[lane.index()], moves, tables.peers(),
                tables.nextHops()));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Lanes

    @Override
    public Map<Integer, Integer> inboundLanes() {
        return view.inboundLanes();
    }

    @Override
    public synchronized void moveInbound(int spi, int lane) {
        checkCommand();
        find(spi, Direction.INBOUND);
        if (lane < 0 || lane >= laneCount) {
            throw new IllegalArgumentException("lane " + lane + " does not exist (lanes 0-" + (laneCount - 1) + ")");
        }
        int from = laneByInboundSpi.get(spi);
        if (from == lane) {
            return;
        }
        SecurityAssociation sa = inboundBySpi.get(spi);
        TunnelPort port = exactlySteeredPort(sa);
        if (port != null) {
            handOverBehindMarker(sa, port, from, lane);
        } else {
            // nothing steers by the SA (one lane takes everything, or the kernel hashes): the lanes drain in turn
            handOver(() -> {
                laneByInboundSpi.put(spi, lane);
                applySteering();
            }, List.of(from, lane), () -> {
            }, () -> laneByInboundSpi.put(spi, from));
        }
        publishView();
    }

    /** How many SA hand-overs let the gaining lane go on before the losing lane had read its backlog. */
    public synchronized long handOverTimeouts() {
        return handOverTimeouts;
    }

    /** The endpoint {@code sa} arrives at when steering there is exact (by SPI, port or address), else null. */
    private TunnelPort exactlySteeredPort(SecurityAssociation sa) {
        for (TunnelPort port : ports) {
            if (arrivesAt(sa, port)) {
                return planFor(port).field().isExact() ? port : null;
            }
        }
        return null;
    }

    /**
     * Moves {@code sa} from lane {@code from} to lane {@code to} without reordering it and without stopping any other
     * lane's work:
     * <ol>
     *   <li>lane {@code to} stops reading its tunnel sockets after its batch (its site queue is still served);</li>
     *   <li>steering changes: the SA's datagrams queue on {@code to}'s socket from now on;</li>
     *   <li>a {@link io.flowsec.dataplane.packet.HandOverMarker} goes to the endpoint, steered to {@code from}'s socket
     *       behind every datagram queued there before the change (sent again while the lane has not read one: a full
     *       socket drops it);</li>
     *   <li>lane {@code from}, running on as usual, reads the marker: the SA's earlier datagrams are done;</li>
     *   <li>lane {@code to} reads its sockets again.</li>
     * </ol>
     * A losing lane that has not read the marker after {@link #HAND_OVER_MARKER_TIMEOUT_MS} (its backlog is longer,
     * or it is stuck) lets lane {@code to} go on anyway, logged: a hold longer than that would overflow the gaining
     * lane's own socket, a worse loss than reordering some of one SA's packets.
     */
    private void handOverBehindMarker(SecurityAssociation sa, TunnelPort port, int from, int to) {
        int spi = sa.spi();
        long token = EspProcessor.markerToken(markerKey, EspProcessor.HAND_OVER_MARKER_SLOT, handOverSequence++);
        EspProcessor losing = lanes[from].processor();
        await(bindings[to].pauseTunnel());
        try {
            laneByInboundSpi.put(spi, to);
            try {
                applySteering();
            } catch (RuntimeException e) {
                laneByInboundSpi.put(spi, from);
                applySteering();
                throw e;
            }
            // a softirq that ran the old program just before the attach may still be queueing its datagram: let it
            LockSupport.parkNanos(STEERING_SETTLE_NS);
            long startNs = System.nanoTime();
            long deadlineNs = startNs + TimeUnit.MILLISECONDS.toNanos(HAND_OVER_MARKER_TIMEOUT_MS);
            long nextSendNs = startNs;
            long resendNs = HAND_OVER_MARKER_RESEND_NS;
            while (losing.markerArrival(token) == 0) {
                long nowNs = System.nanoTime();
                if (nowNs - deadlineNs >= 0) {
                    handOverTimeouts++;
                    log.accept("hand-over of inbound SA 0x" + Integer.toHexString(spi) + " from lane " + from + " to lane "
                            + to + ": lane " + from + " did not work through its backlog in " + HAND_OVER_MARKER_TIMEOUT_MS
                            + " ms; lane " + to + " goes on (packets of the SA may arrive out of order)");
                    break;
                }
                if (nowNs - nextSendNs >= 0) {
                    // again in case a full socket dropped it, less and less often: each one queues behind the backlog
                    port.sendMarker(from, token);
                    nextSendNs = nowNs + resendNs;
                    resendNs = Math.min(2 * resendNs, HAND_OVER_MARKER_MAX_RESEND_NS);
                }
                LockSupport.parkNanos(HAND_OVER_POLL_NS);
            }
        } finally {
            await(bindings[to].resumeTunnel());
        }
    }

    /**
     * The hand-over choreography: pause every lane after its batch, {@code change} (steering), drain the lanes in
     * {@code drainOrder} one at a time, {@code whilePaused}, resume every lane. On a failure {@code undo} restores
     * the state before the change and steering is re-applied, so a refused change leaves things as they were.
     */
    private void handOver(Runnable change, List<Integer> drainOrder, Runnable whilePaused, Runnable undo) {
        try {
            for (LaneIo binding : bindings) {
                await(binding.pause());
            }
            try {
                change.run();
            } catch (RuntimeException e) {
                undo.run();
                applySteering();
                throw e;
            }
            for (int lane : drainOrder) {
                await(bindings[lane].drainTunnelSockets(MAX_HANDOVER_DATAGRAMS));
            }
            whilePaused.run();
        } finally {
            resumeEveryLane();
        }
    }

    /** Resumes every lane, whatever failed before: each is asked first, then each is waited for. */
    private void resumeEveryLane() {
        List<Future<?>> resumed = new ArrayList<>();
        for (LaneIo binding : bindings) {
            resumed.add(binding.resume());
        }
        RuntimeException failure = null;
        for (Future<?> future : resumed) {
            try {
                await(future);
            } catch (RuntimeException e) {
                failure = failure == null ? e : failure;
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Runs {@code command} on every lane's thread between batches; returns when all ran it. */
    private void onEveryLane(Consumer<Lane> command) {
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < laneCount; i++) {
            Lane lane = lanes[i];
            if (bindings[i] == null) {
                command.accept(lane);   // not started yet: the caller's thread is the only one
            } else {
                done.add(bindings[i].run(() -> command.accept(lane)));
            }
        }
        for (Future<?> future : done) {
            await(future);
        }
    }

    /** Waits for a lane's task, uninterruptibly (a half-applied change is worse than a late one), at most a while. */
    private static void await(Future<?> future) {
        if (!future.awaitUninterruptibly(LANE_TASK_TIMEOUT_MS)) {
            throw new IllegalStateException("a lane did not apply a change within " + LANE_TASK_TIMEOUT_MS + " ms");
        }
        if (!future.isSuccess()) {
            throw new IllegalStateException("a lane failed to apply a change: " + future.cause(), future.cause());
        }
    }

    /**
     * Returns once every lane finished the batch it was in: no lane still uses what a change replaced (tables are
     * read once per lookup, so a batch begun before the change may still hold the old ones).
     */
    private void awaitEveryLaneBetweenBatches() {
        onEveryLane(lane -> {
        });
    }

    /** On the lane's thread: the fault is counted already; log and tell at most once a second per lane. */
    private void onLaneFault(int lane, Throwable fault) {
        long nowNs = System.nanoTime();
        if (lastFaultLogNs[lane] != 0 && nowNs - lastFaultLogNs[lane] < FAULT_LOG_INTERVAL_NS) {
            return;
        }
        lastFaultLogNs[lane] = nowNs;
        long faults = lanes[lane].ioCounter(IoCounter.LANE_FAULTS);
        StackTraceElement[] frames = fault.getStackTrace();
        String where = frames.length > 0 ? " at " + frames[0] : "";
        String description = fault + where;
        events.execute(() -> log.accept("lane " + lane + ": fault in a batch, the lane goes on (" + faults
                + " so far): " + description));
        emit(new DataplaneEvent.LaneFault(lane, description, faults));
    }

    /**
     * Turns the queue probes off (the lanes' queue delays then read 0) or on again: for tests that compare counters
     * read twice, which a marker arriving in between would change.
     */
    public void queueProbing(boolean on) {
        queueProbing = on;
    }

    /** Every {@link LaneQueueProbes#INTERVAL_MS} on the clock: a marker through each exactly steered endpoint. */
    private void probeQueues() {
        if (!queueProbing) {
            queueProbes.probe(System.nanoTime(), port -> false);
            return;
        }
        try {
            Map<String, String> fields = view.steeringFields();
            queueProbes.probe(System.nanoTime(), port -> {
                SteeringPlan.Field field = SteeringPlan.Field.ofLabel(fields.get(port.label()));
                return field != null && field.isExact();
            });
        } catch (RuntimeException e) {
            log.accept("queue probe failed (it runs again): " + e);   // never stop the clock
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Lifetimes and events

    /** Every second: lifetimes in seconds against each SA's age. */
    private void checkAges() {
        try {
            checkAgesNow();
        } catch (RuntimeException e) {
            log.accept("lifetime check failed (it runs again in a second): " + e);   // never stop the clock
        }
    }

    private void checkAgesNow() {
        Map<SecurityAssociation, Long> ages;
        synchronized (this) {
            if (closed) {
                return;
            }
            ages = new IdentityHashMap<>(installedAtNs);
        }
        long nowNs = System.nanoTime();
        for (Map.Entry<SecurityAssociation, Long> entry : ages.entrySet()) {
            SecurityAssociation sa = entry.getKey();
            if (!sa.lifetime().isUnlimited()) {
                sa.checkAge(TimeUnit.NANOSECONDS.toSeconds(nowNs - entry.getValue()), lifetimeEvents);
            }
        }
    }

    private void emit(DataplaneEvent event) {
        try {
            events.execute(() -> {
                for (DataplaneListener listener : listeners) {
                    try {
                        listener.onEvent(event);
                    } catch (RuntimeException e) {
                        log.accept("an event listener failed on " + event + ": " + e);
                    }
                }
            });
        } catch (RejectedExecutionException closing) {
            // the data plane is closing: nobody is left to tell
        }
    }

    @Override
    public void addListener(DataplaneListener listener) {
        listeners.add(listener);
    }

    @Override
    public void removeListener(DataplaneListener listener) {
        listeners.remove(listener);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Snapshot

    /** The lane's sockets' queues added up; a socket that fails to tell counts as empty, the snapshot goes on. */
    private static TunnelSocket.ReceiveQueue receiveQueue(Lane lane) {
        TunnelSocket.ReceiveQueue sum = TunnelSocket.ReceiveQueue.UNKNOWN;
        for (TunnelSocket socket : lane.sockets()) {
            try {
                sum = sum.plus(socket.receiveQueue());
            } catch (RuntimeException unreadable) {
                // counted as 0: the figures are for load and metrics, not worth failing every other figure for
            }
        }
        return sum;
    }

    @Override
    public DataplaneSnapshot snapshot() {
        View current = view;
        List<DataplaneSnapshot.LaneSnapshot> laneSnapshots = new ArrayList<>();
        Map<Outcome, Long> totals = new EnumMap<>(Outcome.class);
        for (Lane lane : lanes) {
            if (lane == null) {
                continue;
            }
            Map<IoCounter, Long> io = new EnumMap<>(IoCounter.class);
            for (IoCounter counter : IoCounter.values()) {
                io.put(counter, lane.ioCounter(counter));
            }
            Map<Outcome, Long> outcomes = new EnumMap<>(Outcome.class);
            LaneCounters counters = lane.processor().counters();
            for (Outcome outcome : Outcome.values()) {
                long value = counters.total(outcome);
                if (value != 0) {
                    outcomes.put(outcome, value);
                    totals.merge(outcome, value, Long::sum);
                }
            }
            laneSnapshots.add(new DataplaneSnapshot.LaneSnapshot(lane.index(), io, outcomes, counters.flowletPending(),
                    receiveQueue(lane), queueProbes == null ? 0 : queueProbes.delayNanos(lane.index())));
        }
        List<DataplaneSnapshot.SaSnapshot> saSnapshots = new ArrayList<>();
        for (SecurityAssociation sa : sad.all()) {
            long packets = 0;
            long bytes = 0;
            Map<Outcome, Long> drops = new EnumMap<>(Outcome.class);
            for (Lane lane : lanes) {
                if (lane == null) {
                    continue;
                }
                LaneCounters counters = lane.processor().counters();
                packets += counters.packets(sa.index(), Outcome.ACCEPTED);
                bytes += counters.acceptedBytes(sa.index());
                for (Outcome outcome : Outcome.values()) {
                    long value = outcome.isDrop() ? counters.packets(sa.index(), outcome) : 0;
                    if (value != 0) {
                        drops.merge(outcome, value, Long::sum);
                    }
                }
            }
            int lane = sa.direction() == Direction.INBOUND ? current.inboundLanes().getOrDefault(sa.spi(), -1) : sa.ownerLane();
            String state = sa.isExpired() ? "expired"
                    : current.retiringSpis().contains(sa.spi()) && sa.direction() == Direction.INBOUND ? "retiring"
                    : sa.isSoftLifetimeReached() ? "soft-expired" : "active";
            saSnapshots.add(new DataplaneSnapshot.SaSnapshot(sa.name(), sa.spi(), sa.direction(), lane, packets, bytes,
                    sa.direction() == Direction.OUTBOUND ? sa.lastSequenceSent() : 0, drops, state));
        }
        return new DataplaneSnapshot(current.mode(), current.steering(), current.steeringInEffect(),
                current.steeringFields(), current.steeringPrograms(), laneSnapshots, saSnapshots, totals);
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** The lanes, for tests and benchmarks that look inside; the control side uses {@link #snapshot()}. */
    public List<Lane> lanes() {
        return List.of(lanes);
    }

    /** A change may start: the data plane is open and the caller is not a lane's event loop, which it waits for. */
    private void checkCommand() {
        if (closed) {
            throw new IllegalStateException("the data plane is closed");
        }
        for (LaneIo binding : bindings) {
            if (binding != null && binding.loop().inEventLoop()) {
                throw new IllegalStateException("a data plane command cannot run on a lane's event loop: it waits for "
                        + "the lanes (run it on a worker thread)");
            }
        }
    }

    private static String lower(Enum<?> value) {
        return value.name().toLowerCase(java.util.Locale.ROOT);
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return runnable -> {
            Thread thread = new Thread(runnable, name);
            thread.setDaemon(true);
            return thread;
        };
    }

    /**
     * A clean stop: with every lane paused after its batch (and pcrypt's workers' packets back), each SA's mark
     * becomes exactly what it used, so a restart loses nothing of a running peer's traffic: outbound, the last number
     * sent; inbound, the highest number accepted. A lane that does not pause in time leaves the reserved marks, which
     * are safe, only further ahead.
     */
    private void recordExactMarks() {
        if (stateStore == null) {
            return;
        }
        try {
            for (LaneIo binding : bindings) {
                if (binding != null) {
                    binding.pause().get(CLOSE_PAUSE_SECONDS, TimeUnit.SECONDS);
                }
            }
            if (bindings.length > 0 && bindings[0] != null) {
                bindings[0].drainTunnelSockets(0).get(CLOSE_PAUSE_SECONDS, TimeUnit.SECONDS);
            }
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            log.accept("lanes did not pause for a clean stop (" + e + "); sequence state stays at its reserved marks");
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        int recorded = 0;
        for (SecurityAssociation sa : sad.all()) {
            if (!sa.keepsState()) {
                continue;
            }
            long mark = sa.direction() == Direction.OUTBOUND ? sa.lastSequenceSent() : sa.replayWindow().highest();
            try {
                stateStore.store(sa, mark);
                recorded++;
            } catch (java.io.IOException e) {
                log.accept(sa.name() + ": exact mark not recorded (" + e.getMessage() + "); its reserved mark stays");
            }
        }
        log.accept("sequence state of " + recorded + " SAs recorded exactly for a clean restart");
    }

    /** Stops serving: the lanes' registrations are cancelled; loops, queues and ports stay the caller's to close. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            for (Retiring pending : retiring.values()) {
                pending.removal().cancel(false);
            }
            retiring.clear();
        }
        clock.shutdownNow();
        recordExactMarks();
        for (LaneIo binding : bindings) {
            if (binding != null) {
                binding.close();
            }
        }
        events.shutdown();
        try {
            events.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
