package io.flowsec.appliance.runtime;

import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.appliance.config.PolicyDefinition;
import io.flowsec.appliance.config.SaDefinition;
import io.flowsec.appliance.config.SaFile;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.flow.ToeplitzHash;
import io.flowsec.dataplane.lane.Lane;
import io.flowsec.dataplane.lane.LaneIo;
import io.flowsec.dataplane.lane.TunnelPeer;
import io.flowsec.dataplane.linux.CbpfProgram;
import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.linux.SteeringPrograms;
import io.flowsec.dataplane.linux.Syscalls;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.netty.channel.IoEventLoop;
import io.netty.channel.uring.IoUring;
import io.netty.util.concurrent.EventExecutor;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.transport.Transport;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A running appliance: the wiring of configuration, TUN device, lane sockets, steering, ESP processors and Vert.x
 * event loops. Control plane only; the packet path is in {@link Lane}.
 *
 * <ol>
 *   <li>build the SPD and SAD from the policies (shared by every lane; only protocol state is shared);</li>
 *   <li>start Vert.x on io_uring (epoll when io_uring is unavailable, said once) with one event loop per lane;</li>
 *   <li>open the multi-queue TUN device, one queue per lane, and configure its addresses, MTU and routes;</li>
 *   <li>bind, lane by lane, one SO_REUSEPORT socket per local tunnel endpoint, so lane i is member i of each
 *       reuseport group, and attach the steering program;</li>
 *   <li>build each lane (processor, send table), pin its thread, and register its descriptors on its loop.</li>
 * </ol>
 */
public final class Appliance implements AutoCloseable {
    /** Socket receive buffers hold what arrives while lanes pause for a hand-over (a few ms at line rate). */
    private static final int RECEIVE_BUFFER_BYTES = 4 << 20;
    /** More than a full receive buffer holds: what a lane drains of its sockets at most during a hand-over. */
    private static final int MAX_HANDOVER_DATAGRAMS = 1 << 16;

    private final ApplianceConfig config;
    private final Consumer<String> log;
    private final Arena arena = Arena.ofShared();
    private final List<Lane> lanes = new ArrayList<>();
    private final List<UdpSocket> sockets = new ArrayList<>();
    private final List<LaneIo> bindings = new ArrayList<>();
    private UdpSocket[][] socketsByLane;
    private List<Endpoint> endpoints;
    /** What director steering reads at each local endpoint, for status. */
    private final Map<String, String> steeringFields = new LinkedHashMap<>();
    private final Map<Integer, Integer> laneByInboundSpi = new LinkedHashMap<>();
    private SaFile.Tables tables;
    private Vertx vertx;
    private TunDevice tun;
    private String transport;
    private ApplianceConfig.Mode mode;

    private Appliance(ApplianceConfig config, Consumer<String> log) {
        this.config = config;
        this.log = log;
        this.mode = config.mode();
    }

    public static Appliance start(ApplianceConfig config, Consumer<String> log) throws IOException, InterruptedException {
        Appliance appliance = new Appliance(config, log);
        try {
            appliance.startUp();
            return appliance;
        } catch (IOException | InterruptedException | RuntimeException e) {
            appliance.close();
            throw e;
        }
    }

    private void startUp() throws IOException, InterruptedException {
        // 1. tables
        tables = config.policies().buildTables();
        int laneCount = config.lanes();

        // 2. event loops
        boolean forceEpoll = "epoll".equals(System.getenv("FLOWSEC_TRANSPORT"));
        boolean ioUring = !forceEpoll && IoUring.isAvailable();
        transport = ioUring ? "io_uring" : "epoll";
        if (forceEpoll) {
            log.accept("FLOWSEC_TRANSPORT=epoll: lanes run on epoll");
        } else if (!ioUring) {
            log.accept("io_uring is unavailable (" + IoUring.unavailabilityCause() + "); lanes run on epoll");
        }
        vertx = Vertx.builder().with(new VertxOptions().setEventLoopPoolSize(laneCount))
                .withTransport(ioUring ? Transport.IO_URING : Transport.EPOLL).build();
        List<IoEventLoop> loops = new ArrayList<>();
        for (EventExecutor executor : ((VertxInternal) vertx).nettyEventLoopGroup()) {
            loops.add((IoEventLoop) executor);
        }

        // 3. site side
        tun = TunDevice.open(config.site().device(), laneCount);
        configureSite();

        // 4. tunnel sockets and steering
        endpoints = localEndpoints();
        socketsByLane = new UdpSocket[laneCount][endpoints.size()];
        for (int e = 0; e < endpoints.size(); e++) {
            Endpoint endpoint = endpoints.get(e);
            for (int lane = 0; lane < laneCount; lane++) {
                UdpSocket socket = UdpSocket.bind(endpoint.address(), endpoint.port(), true);
                sockets.add(socket);
                socket.receiveBufferBytes(RECEIVE_BUFFER_BYTES);
                socketsByLane[lane][e] = socket;
            }
        }
        assignInboundSas(laneCount);
        applySteering(socketsByLane);

        // 5. lanes
        for (int i = 0; i < laneCount; i++) {
            EspProcessor processor = new EspProcessor(tables.spd(), tables.sad(), new LaneCounters(),
                    ToeplitzHash.microsoft(), EspProcessor.Framing.ESP, IpProtocol.NAT_T_PORT);
            Lane lane = new Lane(i, tun, i, socketsByLane[i], processor, sendTable(endpoints, socketsByLane[i]));
            lanes.add(lane);
            IoEventLoop loop = loops.get(i % loops.size());
            if (!config.cpus().isEmpty()) {
                int cpu = config.cpus().get(i);
                loop.submit(() -> {
                    Syscalls.pinCurrentThread(cpu);
                    return null;
                }).sync();
            }
            bindings.add(LaneIo.attach(lane, loop));
        }
        if (mode == ApplianceConfig.Mode.PCRYPT) {
            usePcrypt(true);
        }
        log.accept(config.name() + ": " + laneCount + " lanes on " + transport + ", mode " + lower(mode) + ", steering "
                + lower(config.steering()) + ", site " + config.site().device() + " " + config.site().addresses()
                + ", tunnel " + endpoints);
    }

    private record Endpoint(InetAddress address, int port) {
        @Override
        public String toString() {
            return address.getHostAddress() + ":" + port;
        }
    }

    /** Every (local address, port) an SA sends from or receives on, in a stable order. */
    private List<Endpoint> localEndpoints() {
        List<Endpoint> endpoints = new ArrayList<>();
        for (PolicyDefinition policy : config.policies().policies()) {
            for (SaDefinition sa : policy.outbound()) {
                addEndpoint(endpoints, new Endpoint(sa.localAddress(), sa.localPort()));
            }
            for (SaDefinition sa : policy.inbound()) {
                addEndpoint(endpoints, new Endpoint(sa.localAddress(), sa.localPort()));
            }
        }
        return endpoints;
    }

    private static void addEndpoint(List<Endpoint> endpoints, Endpoint endpoint) {
        if (!endpoints.contains(endpoint)) {
            endpoints.add(endpoint);
        }
    }

    /** The receiver decides which lane serves which inbound SA: round robin in file order. */
    private void assignInboundSas(int laneCount) {
        int next = 0;
        for (PolicyDefinition policy : config.policies().policies()) {
            for (SaDefinition sa : policy.inbound()) {
                laneByInboundSpi.put(sa.spi(), next++ % laneCount);
            }
        }
    }

    private void applySteering(UdpSocket[][] socketsByLane) throws NativeException {
        steeringFields.clear();
        // single and pcrypt receive everything on lane 0
        ApplianceConfig.Steering steering = mode == ApplianceConfig.Mode.FLOW ? config.steering() : ApplianceConfig.Steering.SINGLE;
        for (int e = 0; e < socketsByLane[0].length; e++) {
            UdpSocket group = socketsByLane[0][e];
            switch (steering) {
                case SINGLE -> group.attachSteering(SteeringPrograms.single());
                case DIRECTOR -> group.attachSteering(directorProgram(endpoints.get(e)));
                case RSS -> {
                    try {
                        group.detachSteering();   // the kernel's 4-tuple hash
                    } catch (NativeException e2) {
                        if (e2.errno() != ENOENT) {
                            throw e2;
                        }
                    }
                }
            }
        }
    }

    private static final int ENOENT = 2;

    /**
     * The director program for one local endpoint reads the field the peer's SA group encodes the flow ID in, as a
     * NIC's Flow Director filter would: the UDP source port for {@code udp-port}, the outer source address for
     * {@code address} (IPv4), else the SPI. It falls back to the SPI when the inbound SAs arriving here mix
     * encodings or share a value, so steering stays exact.
     */
    private CbpfProgram directorProgram(Endpoint endpoint) {
        Map<Integer, Integer> byPort = new LinkedHashMap<>();
        Map<Integer, Integer> byAddress = new LinkedHashMap<>();
        boolean allPort = true;
        boolean allAddress = true;
        for (PolicyDefinition policy : config.policies().policies()) {
            for (SaDefinition sa : policy.inbound()) {
                if (!new Endpoint(sa.localAddress(), sa.localPort()).equals(endpoint)) {
                    continue;
                }
                int lane = laneByInboundSpi.get(sa.spi());
                allPort &= policy.encoding() == FlowEncoding.UDP_PORT && sa.udpEncapsulation()
                        && byPort.putIfAbsent(sa.remotePort(), lane) == null;
                allAddress &= policy.encoding() == FlowEncoding.ADDRESS && sa.remoteAddress() instanceof Inet4Address
                        && byAddress.putIfAbsent(ipv4(sa.remoteAddress()), lane) == null;
            }
        }
        boolean ipv6 = !(endpoint.address() instanceof Inet4Address);
        if (allPort && !byPort.isEmpty()) {
            steeringFields.put(endpoint.toString(), "udp-source-port");
            return SteeringPrograms.byUdpSourcePort(byPort, 0, ipv6);
        }
        if (allAddress && !byAddress.isEmpty()) {
            steeringFields.put(endpoint.toString(), "outer-source-address");
            return SteeringPrograms.byIpv4SourceAddress(byAddress, 0);
        }
        steeringFields.put(endpoint.toString(), "spi");
        return SteeringPrograms.bySpi(laneByInboundSpi, 0);
    }

    private static int ipv4(InetAddress address) {
        byte[] bytes = address.getAddress();
        return ((bytes[0] & 0xFF) << 24) | ((bytes[1] & 0xFF) << 16) | ((bytes[2] & 0xFF) << 8) | (bytes[3] & 0xFF);
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
    public synchronized void setMode(ApplianceConfig.Mode newMode) throws IOException, InterruptedException {
        if (newMode == mode) {
            return;
        }
        for (LaneIo binding : bindings) {
            binding.pause().sync();
        }
        try {
            mode = newMode;
            applySteering(socketsByLane);
            List<LaneIo> order = new ArrayList<>(bindings);
            if (newMode != ApplianceConfig.Mode.FLOW) {
                order = order.reversed();   // lanes 1.. lose their SAs to lane 0: they go first
            }
            for (LaneIo binding : order) {
                binding.drainTunnelSockets(MAX_HANDOVER_DATAGRAMS).sync();
            }
            usePcrypt(newMode == ApplianceConfig.Mode.PCRYPT);
        } finally {
            for (LaneIo binding : bindings) {
                binding.resume().sync();
            }
        }
        log.accept("mode changed to " + lower(newMode));
    }

    private void usePcrypt(boolean on) throws InterruptedException {
        bindings.getFirst().usePcrypt(on ? bindings.toArray(new LaneIo[0]) : new LaneIo[0]).sync();
    }

    /** The command interface of the control socket: {@code status}, {@code mode single|flow}. */
    public String command(String line) {
        String[] words = line.strip().split("\\s+");
        try {
            switch (words[0]) {
                case "status", "" -> {
                    return status().encodePrettily();
                }
                case "mode" -> {
                    if (words.length != 2) {
                        return error("usage: mode single|pcrypt|flow");
                    }
                    ApplianceConfig.Mode wanted;
                    try {
                        wanted = ApplianceConfig.Mode.valueOf(words[1].toUpperCase(java.util.Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        return error("unknown mode '" + words[1] + "' (single, pcrypt, flow)");
                    }
                    setMode(wanted);
                    return new JsonObject().put("mode", lower(mode)).encode();
                }
                default -> {
                    return error("unknown command '" + words[0] + "' (status, mode)");
                }
            }
        } catch (IllegalArgumentException e) {
            return error(e.getMessage());
        } catch (IOException e) {
            return error("mode change failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error("interrupted");
        }
    }

    private static String error(String message) {
        return new JsonObject().put("error", message).encode();
    }

    /** For each outbound SA (by SAD index): the lane's socket bound to its local endpoint, and the peer. */
    private TunnelPeer[] sendTable(List<Endpoint> endpoints, UdpSocket[] laneSockets) {
        List<SecurityAssociation> all = tables.sad().all();
        TunnelPeer[] peers = new TunnelPeer[all.size() + 1];
        for (SecurityAssociation sa : all) {
            if (sa.direction() != SecurityAssociation.Direction.OUTBOUND) {
                continue;
            }
            int socketIndex = endpoints.indexOf(new Endpoint(sa.outer().local(), sa.outer().localPort()));
            peers[sa.index()] = new TunnelPeer(laneSockets[socketIndex],
                    SocketAddress.of(arena, sa.outer().remote(), sa.outer().remotePort()));
        }
        return peers;
    }

    private void configureSite() throws IOException, InterruptedException {
        String device = config.site().device();
        int mtu = config.site().mtu() != 0 ? config.site().mtu() : siteMtu();
        // no IPv6 link-local address: the kernel would otherwise send router solicitations and MLD reports into
        // the TUN device, which no policy covers (they showed as no-policy drops); configured addresses still apply
        ip("link", "set", "dev", device, "addrgenmode", "none");
        ip("link", "set", "dev", device, "mtu", Integer.toString(mtu), "up");
        for (String address : config.site().addresses()) {
            ip("addr", "add", address, "dev", device);
        }
        for (String route : config.site().routes()) {
            ip("route", "add", route, "dev", device);
        }
    }

    /** The tunnel MTU minus the outer headers and the worst ESP overhead of any outbound SA. */
    private int siteMtu() {
        int worst = 0;
        for (PolicyDefinition policy : config.policies().policies()) {
            for (SaDefinition sa : policy.outbound()) {
                int outer = (sa.localAddress() instanceof Inet4Address ? 20 : 40) + (sa.udpEncapsulation() ? 8 : 0);
                worst = Math.max(worst, outer + sa.suite().maxOverhead());
            }
        }
        return config.tunnelMtu() - worst;
    }

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes()).strip();
        if (!process.waitFor(10, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + output);
        }
    }

    private static String lower(Enum<?> value) {
        return value.name().toLowerCase(java.util.Locale.ROOT);
    }

    public ApplianceConfig config() {
        return config;
    }

    public List<Lane> lanes() {
        return lanes;
    }

    /** Counters of every lane and SA, as {@code flowsec status} prints them. Never contains key material. */
    public JsonObject status() {
        JsonArray laneArray = new JsonArray();
        long[] outcomeTotals = new long[Outcome.count()];
        for (Lane lane : lanes) {
            JsonObject io = new JsonObject();
            for (Lane.IoCounter counter : Lane.IoCounter.values()) {
                io.put(lower(counter).replace('_', '-'), lane.ioCounter(counter));
            }
            JsonObject outcomes = new JsonObject();
            LaneCounters counters = lane.processor().counters();
            for (Outcome outcome : Outcome.values()) {
                long value = counters.total(outcome);
                outcomeTotals[outcome.ordinal()] += value;
                if (value != 0) {
                    outcomes.put(outcome.label(), value);
                }
            }
            laneArray.add(new JsonObject().put("lane", lane.index())
                    .put("cpu", config.cpus().isEmpty() ? null : config.cpus().get(lane.index()))
                    .put("io", io).put("outcomes", outcomes));
        }
        JsonArray saArray = new JsonArray();
        for (SecurityAssociation sa : tables.sad().all()) {
            long packets = 0;
            long bytes = 0;
            JsonObject drops = new JsonObject();
            for (Lane lane : lanes) {
                LaneCounters counters = lane.processor().counters();
                packets += counters.packets(sa.index(), Outcome.ACCEPTED);
                bytes += counters.acceptedBytes(sa.index());
            }
            for (Outcome outcome : Outcome.values()) {
                if (!outcome.isDrop()) {
                    continue;
                }
                long value = 0;
                for (Lane lane : lanes) {
                    value += lane.processor().counters().packets(sa.index(), outcome);
                }
                if (value != 0) {
                    drops.put(outcome.label(), value);
                }
            }
            JsonObject entry = new JsonObject().put("name", sa.name()).put("spi", String.format("0x%08x", sa.spi()))
                    .put("direction", lower(sa.direction())).put("packets", packets).put("bytes", bytes).put("drops", drops);
            if (sa.direction() == SecurityAssociation.Direction.INBOUND) {
                entry.put("lane", laneByInboundSpi.get(sa.spi()));
            } else {
                entry.put("lastSequence", sa.lastSequenceSent());
            }
            saArray.add(entry);
        }
        JsonObject totals = new JsonObject();
        for (Outcome outcome : Outcome.values()) {
            if (outcomeTotals[outcome.ordinal()] != 0) {
                totals.put(outcome.label(), outcomeTotals[outcome.ordinal()]);
            }
        }
        return new JsonObject().put("name", config.name()).put("transport", transport).put("mode", lower(mode))
                .put("steering", lower(config.steering())).put("steeringFields", new JsonObject(new LinkedHashMap<>(steeringFields)))
                .put("lanes", laneArray).put("sas", saArray).put("totals", totals);
    }

    @Override
    public void close() {
        for (LaneIo binding : bindings) {
            binding.close();
        }
        if (vertx != null) {
            try {
                vertx.close().await(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.accept("event loops did not stop cleanly: " + e.getMessage());
            }
        }
        sockets.forEach(UdpSocket::close);
        if (tun != null) {
            tun.close();
        }
        arena.close();
    }
}
