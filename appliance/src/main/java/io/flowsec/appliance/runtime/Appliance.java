package io.flowsec.appliance.runtime;

import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.appliance.config.PolicyDefinition;
import io.flowsec.appliance.config.SaDefinition;
import io.flowsec.dataplane.lane.ClearPath;
import io.flowsec.dataplane.lane.RawClearPath;
import io.flowsec.dataplane.lane.SiteQueue;
import io.flowsec.dataplane.lane.TunSiteQueue;
import io.flowsec.dataplane.lane.UdpTunnelSocket;
import io.flowsec.dataplane.linux.Syscalls;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.runtime.Dataplane;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.ReuseportTunnelPort;
import io.flowsec.dataplane.runtime.TunnelPort;
import io.flowsec.dataplane.state.SaStateStore;
import io.netty.channel.IoEventLoop;

import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A running appliance: the wiring of its configuration to a {@link Dataplane}. It opens what the data plane runs
 * on (event loops, TUN queues, tunnel sockets) and hands the configured SAs and policies to it; from then on,
 * everything that reads or changes the data plane goes through {@link #dataplane()}.
 *
 * <ol>
 *   <li>start one Vert.x event loop per lane ({@link VertxLanes}) and pin each to its CPU;</li>
 *   <li>open the multi-queue TUN device, one queue per lane, and configure its addresses, MTU and routes;</li>
 *   <li>bind each local tunnel endpoint as a reuseport group, lane i's socket being member i;</li>
 *   <li>open a raw socket pair per lane when a policy bypasses (its packets go to its next hop in clear);</li>
 *   <li>open the state directory, where every SA keeps its sequence state across restarts;</li>
 *   <li>start the data plane with the configured policies, inbound SAs, mode and steering;</li>
 *   <li>restore what the API changed and the configuration recorded: group weights, inbound SAs' lanes.</li>
 * </ol>
 */
public final class Appliance implements AutoCloseable {
    /** Socket receive buffers hold what arrives while lanes pause for a hand-over (a few ms at line rate). */
    private static final int RECEIVE_BUFFER_BYTES = 4 << 20;

    private final ApplianceConfig config;
    private final Consumer<String> log;
    private final List<ReuseportTunnelPort> ports = new ArrayList<>();
    private final List<RawClearPath> clearPaths = new ArrayList<>();
    private final boolean freshState;
    /** The site's queues when given (the warm-start training's stand-in), else null: the TUN device is opened. */
    private final TunDevice givenSite;
    private SaStateStore stateStore;
    private VertxLanes vertxLanes;
    private TunDevice tun;
    private Dataplane dataplane;

    private Appliance(ApplianceConfig config, boolean freshState, TunDevice givenSite, Consumer<String> log) {
        this.config = config;
        this.freshState = freshState;
        this.givenSite = givenSite;
        this.log = log;
    }

    public static Appliance start(ApplianceConfig config, Consumer<String> log) throws IOException, InterruptedException {
        return start(config, false, log);
    }

    /** @param freshState the configured SAs may start without sequence state (their keys were never used) */
    public static Appliance start(ApplianceConfig config, boolean freshState, Consumer<String> log)
            throws IOException, InterruptedException {
        return start(new Appliance(config, freshState, null, log));
    }

    /**
     * As {@link #start(ApplianceConfig, boolean, Consumer)}, with the site side on {@code site}'s queues rather than a
     * TUN device of its own: nothing is configured in the kernel, so neither root nor a device is needed. The
     * warm-start training ({@code flowsec train}) runs appliances so, on datagram socket pairs
     * ({@link TunDevice#adopt}); the appliance closes {@code site} when it closes.
     */
    public static Appliance startOn(TunDevice site, ApplianceConfig config, boolean freshState, Consumer<String> log)
            throws IOException, InterruptedException {
        if (site.queues() != config.lanes()) {
            site.close();
            throw new IllegalArgumentException("the site has " + site.queues() + " queues for " + config.lanes() + " lanes");
        }
        return start(new Appliance(config, freshState, site, log));
    }

    private static Appliance start(Appliance appliance) throws IOException, InterruptedException {
        try {
            appliance.startUp();
            return appliance;
        } catch (IOException | InterruptedException | RuntimeException e) {
            appliance.close();
            throw e;
        }
    }

    private void startUp() throws IOException, InterruptedException {
        int laneCount = config.lanes();

        // 1. event loops
        vertxLanes = VertxLanes.start(laneCount, log);
        List<IoEventLoop> loops = vertxLanes.loops();
        if (!config.cpus().isEmpty()) {
            for (int i = 0; i < laneCount; i++) {
                int cpu = config.cpus().get(i);
                loops.get(i).submit(() -> {
                    Syscalls.pinCurrentThread(cpu);
                    return null;
                }).sync();
            }
        }

        // 2. site side: a device of our own, never another appliance's (joining its queues would steal its packets)
        if (givenSite != null) {
            tun = givenSite;
        } else {
            try {
                tun = TunDevice.open(config.site().device(), laneCount,
                        config.offloads().tun() ? TunDevice.ALL_OFFLOADS : 0);
            } catch (io.flowsec.dataplane.linux.NativeException e) {
                if (e.errno() == TunDevice.EBUSY) {
                    throw new IOException("site.device " + config.site().device() + " exists already (another appliance's "
                            + "or another program's device): not joined; choose another name or stop its owner");
                }
                throw e;
            }
            SiteInterface.configure(config);
        }
        List<SiteQueue> siteQueues = new ArrayList<>();
        for (int i = 0; i < laneCount; i++) {
            siteQueues.add(new TunSiteQueue(tun, i, config.offloads().tunGro(), config.offloads().tunRing()));
        }

        // 3. tunnel endpoints
        for (Endpoint endpoint : localEndpoints()) {
            ports.add(ReuseportTunnelPort.bind(endpoint.address(), endpoint.port(), laneCount, RECEIVE_BUFFER_BYTES,
                    new UdpTunnelSocket.Paths(config.offloads().udpBatching(), config.offloads().udpGso(),
                            config.offloads().udpGro())));
        }

        // 4. clear paths, where bypass policies forward to their next hop
        boolean bypasses = config.policies().policies().stream().anyMatch(p -> p.action() == PolicyAction.BYPASS);
        for (int i = 0; bypasses && i < laneCount; i++) {
            clearPaths.add(RawClearPath.open());
        }

        // 5. sequence state, so a restart resumes every SA where it was
        stateStore = SaStateStore.open(config.stateDirectory(), log);

        // 6. data plane
        dataplane = Dataplane.start(new Dataplane.Setup(loops, siteQueues, List.<TunnelPort>copyOf(ports),
                List.<ClearPath>copyOf(clearPaths), config.policies().buildPolicies(), config.policies().buildInbound(),
                config.mode(), config.steering(), stateStore, freshState, log, config.flowletGap()));

        // 7. weights and lanes, through the command interface as the API set them (a move is lossless, traffic or not)
        restoreWeightsAndLanes();
        log.accept(config.name() + ": " + laneCount + " lanes on " + vertxLanes.transport() + ", mode "
                + config.mode().configName() + ", steering " + config.steering().configName() + ", site "
                + config.site().device() + " " + config.site().addresses() + ", tunnel " + endpointLabels()
                + ", offloads " + offloadSummary());
    }

    /** The paths in use, and each one the kernel refused with its reason (said once, here; the status shows them). */
    private String offloadSummary() {
        List<String> words = new ArrayList<>();
        for (io.flowsec.dataplane.lane.Offload offload : dataplane.offloads()) {
            if (offload.active()) {
                words.add(offload.name());
            } else if (!offload.detail().equals("off")) {
                words.add(offload.name() + " refused (" + offload.detail() + ")");
            }
        }
        return words.isEmpty() ? "none" : String.join(", ", words);
    }

    private void restoreWeightsAndLanes() {
        for (PolicyDefinition policy : config.policies().policies()) {
            if (!policy.weights().isEmpty()) {
                dataplane.groupWeights(policy.name(), policy.weights().stream().mapToInt(Integer::intValue).toArray());
            }
            for (SaDefinition sa : policy.inbound()) {
                sa.lane().ifPresent(lane -> dataplane.moveInbound(sa.spi(), lane));
            }
        }
    }

    private record Endpoint(InetAddress address, int port) {
    }

    /**
     * Every (local address, port) an SA sends from or receives on, then those {@code endpoints} lists, in a stable
     * order. Where a listed endpoint on every address covers an SA's port, the SA is served there, as when the API
     * added it, and its own address needs no socket: it may even be missing at start (a link not up yet), which would
     * otherwise stop the start. Not under the address encoding, whose SAs each send from their own address.
     */
    private List<Endpoint> localEndpoints() {
        List<Endpoint> endpoints = new ArrayList<>();
        for (PolicyDefinition policy : config.policies().policies()) {
            boolean ownSockets = policy.encoding() == FlowEncoding.ADDRESS;
            for (SaDefinition sa : policy.outbound()) {
                addEndpoint(endpoints, new Endpoint(sa.localAddress(), sa.localPort()), ownSockets);
            }
            for (SaDefinition sa : policy.inbound()) {
                addEndpoint(endpoints, new Endpoint(sa.localAddress(), sa.localPort()), ownSockets);
            }
        }
        for (java.net.InetSocketAddress listed : config.endpoints()) {
            addEndpoint(endpoints, new Endpoint(listed.getAddress(), listed.getPort()), true);
        }
        return endpoints;
    }

    private void addEndpoint(List<Endpoint> endpoints, Endpoint endpoint, boolean evenWhereListedOnEveryAddress) {
        if (evenWhereListedOnEveryAddress || !listedOnEveryAddress(endpoint)) {
            addEndpoint(endpoints, endpoint);
        }
    }

    /** Whether {@code endpoints} lists a socket on every address of the endpoint's family at its port. */
    private boolean listedOnEveryAddress(Endpoint endpoint) {
        for (java.net.InetSocketAddress listed : config.endpoints()) {
            if (listed.getPort() == endpoint.port()
                    && TunnelPort.listensOnEveryAddressOf(listed.getAddress(), endpoint.address())) {
                return true;
            }
        }
        return false;
    }

    private static void addEndpoint(List<Endpoint> endpoints, Endpoint endpoint) {
        if (!endpoints.contains(endpoint)) {
            endpoints.add(endpoint);
        }
    }

    private List<String> endpointLabels() {
        List<String> labels = new ArrayList<>();
        for (TunnelPort port : ports) {
            labels.add(port.label());
        }
        return labels;
    }

    public ApplianceConfig config() {
        return config;
    }

    /** The command interface of the running data plane. */
    public DataplaneControl dataplane() {
        return dataplane;
    }

    /** {@code io_uring} or {@code epoll}. */
    public String transport() {
        return vertxLanes.transport();
    }

    @Override
    public void close() {
        if (dataplane != null) {
            dataplane.close();
        }
        if (vertxLanes != null) {
            try {
                vertxLanes.close();
            } catch (IllegalStateException e) {
                log.accept(e.getMessage());
            }
        }
        ports.forEach(ReuseportTunnelPort::close);
        clearPaths.forEach(RawClearPath::close);
        if (stateStore != null) {
            stateStore.close();
        }
        if (tun != null) {
            tun.close();
            if (givenSite == null) {
                awaitDeviceGone(config.site().device());
            }
        } else if (givenSite != null) {
            givenSite.close();   // a start that failed before taking it
        }
    }

    /**
     * The kernel removes a TUN device when the last reference to its queues goes, and io_uring drops the references
     * its rings held a moment after they are torn down: waiting here (at most 2 s) lets a start that follows at once,
     * in this process or another, create the device afresh rather than find it still there.
     */
    private static void awaitDeviceGone(String device) {
        java.nio.file.Path entry = java.nio.file.Path.of("/sys/class/net", device);
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(2);
        while (java.nio.file.Files.exists(entry) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
