package io.flowsec.testbed.bench.tunnel;

import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.bench.Executables;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The reference a user would compare with: wireguard-go, WireGuard in user space, on each router.
 * <ol>
 *   <li>namespaces, as for every tunnel;</li>
 *   <li>a key pair per router ({@code wg genkey}, {@code wg pubkey}) in a directory only root can enter, the private
 *       keys in 0600 files, never printed;</li>
 *   <li>{@code wireguard-go -f DEVICE} in each router's namespace (in the foreground: the process is the router's
 *       tunnel, and its CPU time is measured);</li>
 *   <li>{@code wg set}: the private key, port {@value #PORT}, the other router as the peer at its transit address,
 *       allowed IPs its site and tunnel address;</li>
 *   <li>the device's address, its MTU ({@value #MTU}: the 1500-byte transit link less the outer IPv4 and UDP headers
 *       and WireGuard's 32 bytes of header and tag, as flowsec's TUN MTU is the link less its own overhead), up, and
 *       the other site routed into it.</li>
 * </ol>
 * The device names are unique to this benchmark because wireguard-go's control socket,
 * {@code /var/run/wireguard/DEVICE.sock}, lies outside the network namespaces.
 */
final class WireguardTunnel implements Tunnel {
    static final String DEVICE_A = BenchTestBed.PREFIX + "-wga";
    static final String DEVICE_B = BenchTestBed.PREFIX + "-wgb";
    static final int PORT = 51820;
    static final int MTU = 1500 - 20 - 8 - 32;
    private static final Path SOCKETS = Path.of("/var/run/wireguard");
    private static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Topology topology;
    private final List<Router> routers = new ArrayList<>();

    /** One router's wireguard-go. */
    private record Router(String device, Process process, Path log) {
        Path socket() {
            return SOCKETS.resolve(device + ".sock");
        }
    }

    private WireguardTunnel(Topology topology) {
        this.topology = topology;
    }

    static WireguardTunnel start(Path work) throws IOException, InterruptedException {
        WireguardTunnel tunnel = new WireguardTunnel(Topology.create(BenchTestBed.PREFIX));
        try {
            tunnel.build(work);
            return tunnel;
        } catch (IOException | InterruptedException | RuntimeException e) {
            try {
                tunnel.close();
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private void build(Path work) throws IOException, InterruptedException {
        // 2. keys
        Path keys = work.resolve("wireguard-keys");
        Files.createDirectory(keys, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path privateA = privateKey(keys.resolve("router-a.key"));
        Path privateB = privateKey(keys.resolve("router-b.key"));
        String publicA = publicKey(privateA);
        String publicB = publicKey(privateB);

        // 3. the daemons
        routers.add(startDaemon(topology.routerA(), DEVICE_A, work.resolve("wireguard-router-a.log")));
        routers.add(startDaemon(topology.routerB(), DEVICE_B, work.resolve("wireguard-router-b.log")));

        // 4., 5. the peers, the devices, the routes
        configure(topology.routerA(), DEVICE_A, privateA, publicB, Topology.ROUTER_B_TUNNEL_ADDRESS,
                "10.255.1.1/32", "10.255.1.2/32", BenchTestBed.SITE_B);
        configure(topology.routerB(), DEVICE_B, privateB, publicA, Topology.ROUTER_A_TUNNEL_ADDRESS,
                "10.255.1.2/32", "10.255.1.1/32", BenchTestBed.SITE_A);
    }

    private static Path privateKey(Path file) throws IOException, InterruptedException {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Process genkey = new ProcessBuilder(wg().toString(), "genkey").redirectOutput(file.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        if (!genkey.waitFor(10, TimeUnit.SECONDS) || genkey.exitValue() != 0 || Files.size(file) == 0) {
            genkey.destroyForcibly();
            throw new IOException("wg genkey failed");
        }
        return file;
    }

    private static String publicKey(Path privateKey) throws IOException, InterruptedException {
        Process pubkey = new ProcessBuilder(wg().toString(), "pubkey").redirectInput(privateKey.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String key = new String(pubkey.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        if (!pubkey.waitFor(10, TimeUnit.SECONDS) || pubkey.exitValue() != 0 || key.isEmpty()) {
            pubkey.destroyForcibly();
            throw new IOException("wg pubkey failed");
        }
        return key;
    }

    private static Path wg() throws IOException {
        return Executables.find("wg").orElseThrow(() -> new IOException("wg not installed (apt-get install wireguard-tools)"));
    }

    /** Starts wireguard-go and waits for its device and control socket. */
    private static Router startDaemon(String namespace, String device, Path log) throws IOException, InterruptedException {
        Path daemon = Executables.find("wireguard-go")
                .orElseThrow(() -> new IOException("wireguard-go not installed (apt-get install wireguard-go)"));
        ProcessBuilder builder = new ProcessBuilder("ip", "netns", "exec", namespace, daemon.toString(), "-f", device)
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("LOG_LEVEL", "error");
        Router router = new Router(device, builder.start(), log);
        long deadline = System.nanoTime() + START_TIMEOUT_NANOS;
        while (!Files.exists(router.socket()) || !hasDevice(namespace, device)) {
            if (!router.process().isAlive() || System.nanoTime() > deadline) {
                stop(router);
                throw new IOException("wireguard-go " + device + " in " + namespace + " did not start: "
                        + Files.readString(log).strip());
            }
            Thread.sleep(20);
        }
        return router;
    }

    private static boolean hasDevice(String namespace, String device) throws InterruptedException {
        try {
            Topology.ip(namespace, "link", "show", device);
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    private static void configure(String namespace, String device, Path privateKey, String peerKey, String peerAddress,
                                  String address, String peerTunnelAddress, String peerSite)
            throws IOException, InterruptedException {
        Topology.run("ip", "netns", "exec", namespace, wg().toString(), "set", device, "private-key", privateKey.toString(),
                "listen-port", Integer.toString(PORT), "peer", peerKey, "endpoint", peerAddress + ":" + PORT,
                "allowed-ips", peerTunnelAddress + "," + peerSite);
        Topology.ip(namespace, "addr", "add", address, "dev", device);
        Topology.ip(namespace, "link", "set", device, "mtu", Integer.toString(MTU), "up");
        Topology.ip(namespace, "route", "add", peerSite, "dev", device);
    }

    @Override
    public String name() {
        return TunnelOptions.WIREGUARD;
    }

    @Override
    public Topology topology() {
        return topology;
    }

    @Override
    public List<Long> routerAProcesses() {
        return List.of(routers.get(0).process().pid());
    }

    @Override
    public List<Long> routerBProcesses() {
        return List.of(routers.get(1).process().pid());
    }

    @Override
    public String logs() throws IOException {
        StringBuilder text = new StringBuilder();
        for (Router router : routers) {
            text.append(Files.readString(router.log()));
        }
        return text.toString();
    }

    /** Stops both daemons (SIGTERM: each removes its device and socket), then deletes the namespaces. */
    @Override
    public void close() throws IOException, InterruptedException {
        for (Router router : routers.reversed()) {
            stop(router);
        }
        routers.clear();
        topology.close();
    }

    private static void stop(Router router) throws IOException, InterruptedException {
        router.process().destroy();
        if (!router.process().waitFor(5, TimeUnit.SECONDS)) {
            router.process().destroyForcibly();
            router.process().waitFor(5, TimeUnit.SECONDS);
            Files.deleteIfExists(router.socket());   // what a killed daemon leaves behind; a stopped one removes it
        }
    }
}
