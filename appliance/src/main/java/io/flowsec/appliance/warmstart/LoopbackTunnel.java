package io.flowsec.appliance.warmstart;

import io.flowsec.appliance.cli.ApiCommand;
import io.flowsec.appliance.cli.TokenCommand;
import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.appliance.config.ConfigurationFile;
import io.flowsec.appliance.runtime.Appliance;
import io.flowsec.appliance.runtime.ControlApi;
import io.flowsec.appliance.runtime.ControlCommands;
import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.control.api.TunnelControl;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.Syscalls;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Two appliances in this process, wired as {@code flowsec run} wires one (configuration file read and opened, lanes
 * on Vert.x event loops, tunnel sockets as reuseport groups, sequence state, status socket, router B's control API
 * with a self-signed certificate and a token), joined over the loopback: router A at 127.0.0.1, router B at
 * 127.0.0.2, on ports the kernel hands out. Each router's site is a datagram socket pair per lane instead of a TUN
 * queue ({@link TunDevice#adopt}, with virtio_net_hdrs as a TUN with offloads has them), whose other ends this class
 * writes inner packets into and reads them from, as a site's kernel would: TCP flows also as TSO superpackets, which
 * the lanes cut and the far side coalesces again. Neither root nor a network is needed.
 * <ol>
 *   <li>write both configurations (AES-GCM-128 for site 10.1/16 - 10.2/16 and IPv6 fd01::/64 - fd02::/64, the paper's
 *       AES-CBC-128 + HMAC-SHA1-96 for 10.3/16 - 10.4/16; four SAs per direction, flow ID in the UDP source port);</li>
 *   <li>start router B, then router A, each as {@code run} starts one;</li>
 *   <li>{@link #drive}: push flows both ways until the deadline, reading what each site receives.</li>
 * </ol>
 */
final class LoopbackTunnel implements AutoCloseable {
    /** A policy of the loopback tunnel: its suite and the two sites' prefixes (router A's first; IPv4 /16 or IPv6 /64). */
    record PolicySpec(String name, EspSuite suite, String siteA, String siteB) {
    }

    /**
     * How the two routers run: lanes each, the policies between them, router B's control API or not, both routers'
     * mode and steering.
     */
    record Setup(int lanes, List<PolicySpec> policies, boolean api, String mode, String steering) {
        /** At least 4 SAs per direction and policy, and one per lane. */
        int sas() {
            return Math.max(4, lanes);
        }
    }

    /**
     * The training's: 2 lanes; AES-GCM-128 for IPv4 and IPv6 sites, the paper's AES-CBC-128 + HMAC-SHA1-96 for
     * others; router B's API; flow mode with director steering.
     */
    static final Setup TRAINING = new Setup(2, List.of(
            new PolicySpec("gcm", EspSuite.AES_GCM_128, "10.1.0.0/16", "10.2.0.0/16"),
            new PolicySpec("gcm-ipv6", EspSuite.AES_GCM_128, "fd01::/64", "fd02::/64"),
            new PolicySpec("cbc", EspSuite.AES_CBC_128_HMAC_SHA1_96, "10.3.0.0/16", "10.4.0.0/16")),
            true, "flow", "director");

    private static final InetAddress ROUTER_A = address("127.0.0.1");
    private static final InetAddress ROUTER_B = address("127.0.0.2");
    /** Inner sizes pushed in turn: small, typical and large datagrams. */
    private static final int[] SIZES = {64, 512, 1400, 128, 1024, 256};
    /** Inner packets written to one queue per turn, as a TUN queue's backlog. */
    private static final int BURST = 32;
    /** A TSO superpacket of a training TCP flow: segments of the size a 1500-byte tunnel MTU leaves. */
    private static final int SUPERPACKET_MSS = 1300;
    private static final int SUPERPACKET_SEGMENTS = 12;

    private final List<AutoCloseable> opened = new ArrayList<>();
    private final Setup setup;
    private final Router routerA;
    private final Router routerB;
    private final Path certificate;
    private final int apiPort;
    private final String token;
    private final Errno errno = new Errno();
    private long sentAtoB;
    private long sentBtoA;
    private long receivedAtB;
    private long receivedAtA;

    /** A router: its appliance, its commands and the site ends this class plays the kernel on. */
    private record Router(String name, Appliance appliance, ControlCommands commands, Path statusSocket, int[] siteFds) {
    }

    private LoopbackTunnel(Setup setup, Router routerA, Router routerB, Path certificate, int apiPort, String token) {
        this.setup = setup;
        this.routerA = routerA;
        this.routerB = routerB;
        this.certificate = certificate;
        this.apiPort = apiPort;
        this.token = token;
    }

    /** Writes the configurations into {@code directory} (private) and starts both routers as {@code setup} says. */
    static LoopbackTunnel start(Path directory, Setup setup, Consumer<String> log) throws Exception {
        // 1. configurations: ports from the kernel (free on both loopback addresses), fresh keys
        int sas = setup.sas();
        int[] ports = freeUdpPorts(1 + setup.policies().size() * sas);
        int tunnelPort = ports[0];
        int apiPort = setup.api() ? freeTcpPort() : 0;
        SecureRandom random = new SecureRandom();
        List<JsonArray[]> groups = new ArrayList<>();
        for (int policy = 0; policy < setup.policies().size(); policy++) {
            EspSuite suite = setup.policies().get(policy).suite();
            JsonArray forward = new JsonArray();
            JsonArray backward = new JsonArray();
            for (int i = 0; i < sas; i++) {
                int sourcePort = ports[1 + policy * sas + i];
                forward.add(sa(suite, random, 0xb000 + policy * 0x100 + i + 1, sourcePort));
                backward.add(sa(suite, random, 0xa000 + policy * 0x100 + i + 1, sourcePort));
            }
            groups.add(new JsonArray[] {forward, backward});
        }
        Path configA = writeConfig(directory, "train-a", ROUTER_A, ROUTER_B, tunnelPort, groups, true, 0, setup);
        Path configB = writeConfig(directory, "train-b", ROUTER_B, ROUTER_A, tunnelPort, groups, false, apiPort, setup);

        // 2. a token for router B's API, made as an operator makes one before the start that reads it
        String token = "";
        if (setup.api()) {
            Files.createDirectory(directory.resolve("train-b-state"), PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
            ByteArrayOutputStream issued = new ByteArrayOutputStream();
            new TokenCommand(new PrintStream(issued, true, StandardCharsets.UTF_8), quiet())
                    .run(List.of("add", "--config", configB.toString(), "--name", "train", "--role", "admin"));
            token = issued.toString(StandardCharsets.UTF_8).strip();
        }

        // 3. routers: B first (A's first packets find it listening), each as flowsec run starts one
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Router b = startRouter("train-b", configB, setup.api(), setup.lanes(), opened, log);
            Router a = startRouter("train-a", configA, false, setup.lanes(), opened, log);
            if (!setup.api()) {
                LoopbackTunnel tunnel = new LoopbackTunnel(setup, a, b, null, 0, "");
                tunnel.opened.addAll(opened);
                return tunnel;
            }
            LoopbackTunnel tunnel = new LoopbackTunnel(setup, a, b,
                    directory.resolve("train-b-state").resolve("api-cert.pem"), apiPort, token);
            tunnel.opened.addAll(opened);
            return tunnel;
        } catch (Exception e) {
            closeAll(opened);
            throw e;
        }
    }

    private static Router startRouter(String name, Path configPath, boolean api, int lanes, List<AutoCloseable> opened,
                                      Consumer<String> log) throws Exception {
        ApplianceConfig config = ApplianceConfig.read(configPath);
        ConfigurationFile configuration = ConfigurationFile.open(configPath);
        int[] laneFds = new int[lanes];
        int[] siteFds = new int[lanes];
        for (int lane = 0; lane < lanes; lane++) {
            int[] pair = Syscalls.socketpair(Syscalls.AF_UNIX, Syscalls.SOCK_DGRAM | Syscalls.SOCK_NONBLOCK | Syscalls.SOCK_CLOEXEC);
            laneFds[lane] = pair[0];
            siteFds[lane] = pair[1];
            opened.add(() -> Syscalls.close(pair[1]));
        }
        Appliance appliance = Appliance.startOn(TunDevice.adopt(config.site().device(), laneFds, true), config, true, log);
        opened.add(appliance);
        ControlCommands commands = ControlCommands.of(appliance, configuration);
        if (api) {
            ControlApi controlApi = ControlApi.start(appliance, configuration, io.flowsec.appliance.Main.VERSION,
                    TunnelControl.NONE, log);
            opened.add(controlApi);
        }
        StatusServer status = StatusServer.start(config.statusSocket(), commands::execute);
        opened.add(status);
        return new Router(name, appliance, commands, config.statusSocket(), siteFds);
    }

    /**
     * What the routers carried, in packets: a superpacket counts its segments, sent or coalesced; and the superpackets
     * router A's lanes cut and router B's lanes coalesced.
     */
    record Traffic(long sentAtoB, long receivedAtB, long sentBtoA, long receivedAtA, long superpacketsCutAtA,
                   long superpacketsCoalescedAtB) {
    }

    /**
     * Pushes flows from site A to site B (and a quarter as many back) until {@code deadlineNs}, in bursts per queue,
     * reading what each site receives between bursts.
     */
    void drive(long deadlineNs, int flows) {
        int lanes = setup.lanes();
        byte[][] aToB = packets(setup.policies(), flows, true);
        byte[][] bToA = packets(setup.policies(), flows, false);
        byte[] received = new byte[65536];
        MemorySegment receive = MemorySegment.ofArray(received);
        int next = 0;
        while (System.nanoTime() < deadlineNs) {
            boolean progressed = false;
            for (int lane = 0; lane < lanes; lane++) {
                for (int i = 0; i < BURST; i++) {
                    byte[] packet = aToB[(next + i * lanes + lane) % aToB.length];
                    if (Syscalls.write(errno, routerA.siteFds()[lane], MemorySegment.ofArray(packet)) < 0) {
                        break;
                    }
                    sentAtoB += InnerPackets.segments(packet, packet.length);
                    progressed = true;
                }
                for (int i = 0; i < BURST / 4; i++) {
                    byte[] packet = bToA[(next + i * lanes + lane) % bToA.length];
                    if (Syscalls.write(errno, routerB.siteFds()[lane], MemorySegment.ofArray(packet)) < 0) {
                        break;
                    }
                    sentBtoA += InnerPackets.segments(packet, packet.length);
                }
            }
            next = (next + BURST * lanes) % aToB.length;
            for (int lane = 0; lane < lanes; lane++) {
                long length;
                while ((length = Syscalls.read(errno, routerB.siteFds()[lane], receive)) > 0) {
                    receivedAtB += InnerPackets.segments(received, (int) length);
                    progressed = true;
                }
                while ((length = Syscalls.read(errno, routerA.siteFds()[lane], receive)) > 0) {
                    receivedAtA += InnerPackets.segments(received, (int) length);
                    progressed = true;
                }
            }
            if (!progressed) {
                LockSupport.parkNanos(50_000);
            }
        }
    }

    Traffic traffic() {
        return new Traffic(sentAtoB, receivedAtB, sentBtoA, receivedAtA,
                lanesCount(routerA, IoCounter.SITE_SUPERPACKETS_READ), lanesCount(routerB, IoCounter.SITE_SUPERPACKETS_WRITTEN));
    }

    private static long lanesCount(Router router, IoCounter counter) {
        long sum = 0;
        for (DataplaneSnapshot.LaneSnapshot lane : router.appliance().dataplane().snapshot().lanes()) {
            sum += lane.io(counter);
        }
        return sum;
    }

    /** One command to router B's status socket, as {@code flowsec status --socket} and the test bed send them. */
    String commandB(String command) throws IOException {
        String reply = StatusServer.query(routerB.statusSocket(), command);
        if (reply.contains("\"error\"")) {
            throw new IOException("router B refused '" + command + "': " + reply);
        }
        return reply;
    }

    /** One command to router A's data plane through its control commands (the socket's adapter). */
    String commandA(String command) {
        return routerA.commands().execute(command);
    }

    /**
     * A command of the command line against router B's API (its tables dropped), as an operator runs
     * {@code flowsec lanes}: HTTPS with the token, trusting the certificate router B made at its first start.
     */
    void apiCommand(String command, String... args) throws Exception {
        Map<String, String> environment = Map.of("FLOWSEC_API", "https://127.0.0.1:" + apiPort + "/api/v1",
                "FLOWSEC_TOKEN", token, "FLOWSEC_CACERT", certificate.toString());
        int status = new ApiCommand(quiet(), environment).run(command, new ArrayList<>(List.of(args)));
        if (status != 0) {
            throw new IOException("flowsec " + command + " against router B's API exited with " + status);
        }
    }

    /**
     * A flow per source port, flow f in policy f mod policies (its sites' prefixes), UDP but every fourth TCP, each
     * size in turn, then each TCP flow's superpacket; flow f goes on queue f mod lanes, as the TUN device's flow hash
     * keeps a flow on one queue. Each behind its virtio_net_hdr.
     */
    private static byte[][] packets(List<PolicySpec> policies, int flows, boolean fromA) {
        List<byte[]> packets = new ArrayList<>();
        for (int row = 0; row <= SIZES.length; row++) {
            for (int flow = 0; flow < flows; flow++) {
                PolicySpec policy = policies.get(flow % policies.size());
                int port = 20_000 + flow;
                int protocol = flow % 4 == 3 ? InnerPackets.TCP : InnerPackets.UDP;
                byte[] a = InnerPackets.host(prefix(policy.siteA()), flow + 1);
                byte[] b = InnerPackets.host(prefix(policy.siteB()), 9);
                byte[] source = fromA ? a : b;
                byte[] destination = fromA ? b : a;
                if (row == SIZES.length) {
                    // the last row: each TCP flow's superpacket, the other flows' largest packets
                    packets.add(protocol == InnerPackets.TCP
                            ? InnerPackets.tcpSuperpacket(source, port, destination, SUPERPACKET_MSS, SUPERPACKET_SEGMENTS)
                            : InnerPackets.plain(packet(protocol, source, port, destination, SUPERPACKET_MSS)));
                } else {
                    packets.add(InnerPackets.plain(packet(protocol, source, port, destination, SIZES[row])));
                }
            }
        }
        return packets.toArray(byte[][]::new);
    }

    private static byte[] packet(int protocol, byte[] source, int port, byte[] destination, int size) {
        return source.length == 4 ? InnerPackets.ipv4(protocol, source, port, destination, size)
                : InnerPackets.ipv6(protocol, source, port, destination, size);
    }

    private static byte[] prefix(String prefix) {
        return address(prefix.substring(0, prefix.indexOf('/'))).getAddress();
    }

    private static JsonObject sa(EspSuite suite, SecureRandom random, int spi, int sourcePort) {
        JsonObject sa = new JsonObject().put("spi", String.format("0x%08x", spi))
                .put("key", EngineWorkout.randomHex(random, suite.encryptionKeyLength())).put("sourcePort", sourcePort);
        if (suite.integrityKeyLength() > 0) {
            sa.put("integrityKey", EngineWorkout.randomHex(random, suite.integrityKeyLength()));
        }
        return sa;
    }

    /** A router's configuration, as an operator writes one; router A sends with each group's first array, B with its second. */
    private static Path writeConfig(Path directory, String name, InetAddress local, InetAddress remote, int port,
                                    List<JsonArray[]> groups, boolean isA, int apiPort, Setup setup) throws IOException {
        JsonArray policies = new JsonArray();
        for (int policy = 0; policy < setup.policies().size(); policy++) {
            PolicySpec spec = setup.policies().get(policy);
            policies.add(policy(name + "-" + spec.name(), isA ? spec.siteA() : spec.siteB(), isA ? spec.siteB() : spec.siteA(),
                    spec.suite(), local, remote, port, groups.get(policy)[isA ? 0 : 1], groups.get(policy)[isA ? 1 : 0]));
        }
        JsonObject config = new JsonObject()
                .put("name", name).put("lanes", setup.lanes()).put("mode", setup.mode()).put("steering", setup.steering())
                .put("site", new JsonObject().put("device", "fs-" + name)
                        .put("addresses", new JsonArray().add(isA ? "10.255.0.1/32" : "10.255.0.2/32"))
                        .put("routes", new JsonArray().add(isA ? "10.2.0.0/16" : "10.1.0.0/16")))
                .put("statusSocket", directory.resolve(name + ".sock").toString())
                .put("stateDirectory", directory.resolve(name + "-state").toString())
                .put("policies", policies)
                .put("api", apiPort == 0 ? new JsonObject().put("enabled", false)
                        : new JsonObject().put("address", "127.0.0.1").put("port", apiPort));
        Path path = directory.resolve(name + ".json");
        Files.writeString(path, config.encodePrettily());
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        return path;
    }

    private static JsonObject policy(String name, String local, String remote, EspSuite suite, InetAddress localAddress,
                                     InetAddress remoteAddress, int port, JsonArray outbound, JsonArray inbound) {
        return new JsonObject().put("name", name).put("local", local).put("remote", remote)
                .put("suite", suite.configName()).put("encapsulation", "udp")
                .put("localAddress", localAddress.getHostAddress()).put("remoteAddress", remoteAddress.getHostAddress())
                .put("port", port).put("encoding", "udp-port").put("outbound", outbound.copy()).put("inbound", inbound.copy());
    }

    /** {@code count} UDP ports free on both loopback addresses, held until all are found so none repeats. */
    private static int[] freeUdpPorts(int count) throws IOException {
        List<DatagramSocket> held = new ArrayList<>();
        try {
            int[] ports = new int[count];
            int found = 0;
            for (int attempt = 0; found < count && attempt < 100 * count; attempt++) {
                DatagramSocket first = new DatagramSocket(new InetSocketAddress(ROUTER_A, 0));
                held.add(first);
                try {
                    held.add(new DatagramSocket(new InetSocketAddress(ROUTER_B, first.getLocalPort())));
                    ports[found++] = first.getLocalPort();
                } catch (java.net.BindException taken) {
                    // taken on 127.0.0.2: another
                }
            }
            if (found < count) {
                throw new IOException("no " + count + " free UDP ports on the loopback");
            }
            return ports;
        } finally {
            held.forEach(DatagramSocket::close);
        }
    }

    private static int freeTcpPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, ROUTER_A)) {
            return socket.getLocalPort();
        }
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static PrintStream quiet() {
        return new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        closeAll(opened);
    }

    private static void closeAll(List<AutoCloseable> opened) {
        for (AutoCloseable closeable : opened.reversed()) {
            try {
                closeable.close();
            } catch (Exception ignored) {
                // training: what could not close goes with the process
            }
        }
        opened.clear();
    }
}
