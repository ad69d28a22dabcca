package io.flowsec.testbed.system;

import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.flowsec.testbed.demo.InNamespace.in;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * IPv6 inside an IPv4 tunnel: hosts A and B also have IPv6 addresses (site A fd00:1::/64, site B fd00:2::/64), and
 * both appliances carry, next to the example IPv4 policy, a policy for fd00:1::/48 ⇄ fd00:2::/48 with SAs of its own
 * (the paper's AES-CBC + HMAC-SHA1-96, SPIs 0xc001/0xc002 towards B, 0xd001 towards A) over the same outer IPv4
 * addresses. The TUN devices carry IPv4 addresses only; the IPv6 prefix is routed into them all the same. Needs
 * root; the namespaces (prefix {@code fs6}), devices and processes it makes are removed even when a test fails.
 */
@TestMethodOrder(MethodOrderer.MethodName.class)
class Ipv6InnerSystemTest {
    private static final String PREFIX = "fs6" + ProcessHandle.current().pid() % 100000;
    private static final String SITE_A6 = "fd00:1::/48";
    private static final String SITE_B6 = "fd00:2::/48";
    private static final long[] TO_B_SPIS = {0xc001, 0xc002};
    private static final long[] TO_A_SPIS = {0xd001, 0xd002};
    private static final long[] IPV4_TO_B_SPIS = {0xb001, 0xb002, 0xb003, 0xb004};

    @TempDir
    static Path directory;
    private static Topology topology;
    private static ApplianceProcess routerA;
    private static ApplianceProcess routerB;

    @BeforeAll
    static void buildTopology() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "system tests need root (namespaces, TUN)");
        for (String leftover : Topology.leftovers(PREFIX)) {
            Topology.run("ip", "netns", "del", leftover);
        }
        topology = Topology.create(PREFIX, true);
        routerA = start(topology.routerA(), config("router-a", "site-a.sa.json", "10.2.0.0/16", SITE_B6, ipv6Policy(true)));
        routerB = start(topology.routerB(), config("router-b", "site-b.sa.json", "10.1.0.0/16", SITE_A6, ipv6Policy(false)));
    }

    @AfterAll
    static void tearDown() throws Exception {
        try {
            if (routerA != null) {
                routerA.close();
            }
        } finally {
            try {
                if (routerB != null) {
                    routerB.close();
                }
            } finally {
                if (topology != null) {
                    topology.close();
                }
            }
        }
    }

    @AfterEach
    void appliancesStillRun() throws Exception {
        assertTrue(routerA.isAlive(), routerA.log());
        assertTrue(routerB.isAlive(), routerB.log());
    }

    private static JsonObject sa(long spi, String key, String integrityKey) {
        return new JsonObject().put("spi", String.format("0x%08x", spi)).put("key", key).put("integrityKey", integrityKey);
    }

    /** The IPv6 policy as site A ({@code siteA}) or site B writes it: the same SAs, seen from either end. */
    private static JsonObject ipv6Policy(boolean siteA) {
        JsonArray toB = new JsonArray()
                .add(sa(TO_B_SPIS[0], "6b1f0a4c2d9e8f7061524334251607f8", "a1b2c3d4e5f60718293a4b5c6d7e8f9001122334"))
                .add(sa(TO_B_SPIS[1], "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "5566778899aabbccddeeff00112233445566778f"));
        JsonArray toA = new JsonArray()
                .add(sa(TO_A_SPIS[0], "3c4d5e6f708192a3b4c5d6e7f8091a2b", "ffeeddccbbaa99887766554433221100fedcba98"))
                .add(sa(TO_A_SPIS[1], "4d5e6f708192a3b4c5d6e7f8091a2b3c", "eeddccbbaa99887766554433221100fedcba9887"));
        return new JsonObject()
                .put("name", siteA ? "site-a-to-site-b-v6" : "site-b-to-site-a-v6")
                .put("local", siteA ? SITE_A6 : SITE_B6).put("remote", siteA ? SITE_B6 : SITE_A6)
                .put("suite", "aes-cbc-128-hmac-sha1-96")
                .put("encapsulation", "udp")
                .put("localAddress", siteA ? Topology.ROUTER_A_TUNNEL_ADDRESS : Topology.ROUTER_B_TUNNEL_ADDRESS)
                .put("remoteAddress", siteA ? Topology.ROUTER_B_TUNNEL_ADDRESS : Topology.ROUTER_A_TUNNEL_ADDRESS)
                .put("port", 4500)
                .put("encoding", "spi")
                .put("outbound", siteA ? toB : toA)
                .put("inbound", siteA ? toA : toB);
    }

    private static Path config(String name, String saFile, String remoteSite, String remoteSite6, JsonObject ipv6Policy)
            throws Exception {
        JsonObject sa = new JsonObject(Files.readString(TestPaths.examples().resolve(saFile)));
        JsonObject config = new JsonObject()
                .put("name", name)
                .put("lanes", 2)
                .put("mode", "flow")
                .put("steering", "director")
                .put("site", new JsonObject().put("device", "fs0")
                        .put("addresses", new JsonArray().add(name.endsWith("a") ? "10.255.0.1/32" : "10.255.0.2/32"))
                        .put("routes", new JsonArray().add(remoteSite).add(remoteSite6)))
                .put("statusSocket", directory.resolve(name + ".sock").toString())
                .put("stateDirectory", directory.resolve(name + "-state").toString())
                .put("policies", sa.getJsonArray("policies").copy().add(ipv6Policy));
        Path path = directory.resolve(name + ".json");
        Files.writeString(path, config.encodePrettily());
        return path;
    }

    private static ApplianceProcess start(String namespace, Path config) throws Exception {
        JsonObject json = new JsonObject(Files.readString(config));
        Path log = directory.resolve(json.getString("name") + ".log");
        return ApplianceProcess.start(namespace, config, Path.of(json.getString("statusSocket")), log);
    }

    private static JsonObject status(ApplianceProcess appliance) throws Exception {
        return new JsonObject(StatusServer.query(appliance.statusSocket()));
    }

    /** Accepted packets of the given SAs (direction {@code direction}) in a status reply. */
    private static long packets(JsonObject status, String direction, long... spis) {
        long sum = 0;
        JsonArray sas = status.getJsonArray("sas");
        for (int i = 0; i < sas.size(); i++) {
            JsonObject entry = sas.getJsonObject(i);
            long spi = Long.decode(entry.getString("spi"));
            if (entry.getString("direction").equals(direction) && Arrays.stream(spis).anyMatch(s -> s == spi)) {
                sum += entry.getLong("packets");
            }
        }
        return sum;
    }

    @Test
    void a_theIpv6PrefixIsRoutedIntoTheTunDeviceWhichCarriesNoIpv6AddressOfItsOwn() throws Exception {
        for (String router : List.of(topology.routerA(), topology.routerB())) {
            String remote = router.equals(topology.routerA()) ? SITE_B6 : SITE_A6;
            String route = Topology.ip(router, "-6", "route", "show", remote);
            assertTrue(route.contains("dev fs0"), router + ": " + remote + " goes into the tunnel: " + route);
            String global = Topology.ip(router, "-6", "addr", "show", "dev", "fs0", "scope", "global");
            assertEquals("", global.strip(), router + ": fs0 has no global IPv6 address");
        }
    }

    @Test
    void b_pingSixFromHostAReachesHostBOverTheIpv6PolicysSasOnly() throws Exception {
        JsonObject beforeB = status(routerB);
        JsonObject beforeA = status(routerA);
        String output = Topology.run("ip", "netns", "exec", topology.hostA(), "ping", "-6", "-c", "3", "-i", "0.2",
                "-W", "2", Topology.HOST_B_ADDRESS6);
        assertTrue(output.contains("3 received"), output);
        JsonObject afterB = status(routerB);
        JsonObject afterA = status(routerA);
        assertEquals(3, packets(afterB, "inbound", TO_B_SPIS) - packets(beforeB, "inbound", TO_B_SPIS),
                "router B takes the echo requests on the IPv6 policy's SAs: " + afterB.encodePrettily());
        assertEquals(3, packets(afterA, "inbound", TO_A_SPIS) - packets(beforeA, "inbound", TO_A_SPIS),
                "router A takes the echo replies on the IPv6 policy's SAs: " + afterA.encodePrettily());
        assertEquals(packets(beforeB, "inbound", IPV4_TO_B_SPIS), packets(afterB, "inbound", IPV4_TO_B_SPIS),
                "the IPv4 policy's SAs carry none of it");
    }

    @Test
    void c_udpDatagramsBetweenIpv6HostsArriveIntactAndTheirEchoesComeBack() throws Exception {
        int port = 7600;
        int flows = 6;
        int perFlow = 4;
        Random random = new Random(port);
        byte[][] payloads = new byte[flows * perFlow][];
        for (int i = 0; i < payloads.length; i++) {
            payloads[i] = new byte[1 + random.nextInt(1300)];
            random.nextBytes(payloads[i]);
        }
        InetAddress hostA = InetAddress.getByName(Topology.HOST_A_ADDRESS6);
        InetAddress hostB = InetAddress.getByName(Topology.HOST_B_ADDRESS6);
        JsonObject beforeB = status(routerB);
        CompletableFuture<Void> ready = new CompletableFuture<>();
        CompletableFuture<List<String>> echoed = in(topology.hostB(), () -> {
            List<String> seen = new ArrayList<>();
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(hostB, port))) {
                ready.complete(null);
                socket.setSoTimeout(3000);
                byte[] buffer = new byte[2048];
                try {
                    while (seen.size() < payloads.length) {
                        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                        socket.receive(packet);
                        assertEquals(hostA, packet.getAddress(), "source address of an IPv6 datagram");
                        seen.add(packet.getPort() + ":" + HexFormat.of().formatHex(buffer, 0, packet.getLength()));
                        socket.send(new DatagramPacket(buffer, packet.getLength(), packet.getSocketAddress()));
                    }
                } catch (SocketTimeoutException quiet) {
                    // fewer arrived than were sent: the comparison below says which
                }
                return seen;
            } finally {
                ready.complete(null);
            }
        });
        ready.get(10, TimeUnit.SECONDS);
        List<String> answers = in(topology.hostA(), () -> {
            List<String> back = new ArrayList<>();
            for (int flow = 0; flow < flows; flow++) {
                try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(hostA, 33000 + flow))) {
                    socket.setSoTimeout(3000);
                    byte[] buffer = new byte[2048];
                    for (int i = 0; i < perFlow; i++) {
                        byte[] payload = payloads[flow * perFlow + i];
                        socket.send(new DatagramPacket(payload, payload.length, new InetSocketAddress(hostB, port)));
                        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                        try {
                            socket.receive(packet);
                        } catch (SocketTimeoutException lost) {
                            back.add("no echo of datagram " + (flow * perFlow + i));
                            return back; // the comparison below fails; no need to wait for the rest
                        }
                        assertEquals(new InetSocketAddress(hostB, port), packet.getSocketAddress(), "echo comes from host B");
                        back.add((33000 + flow) + ":" + HexFormat.of().formatHex(buffer, 0, packet.getLength()));
                    }
                }
            }
            return back;
        }).get(60, TimeUnit.SECONDS);
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < payloads.length; i++) {
            expected.add((33000 + i / perFlow) + ":" + HexFormat.of().formatHex(payloads[i]));
        }
        assertSame(expected, echoed.get(30, TimeUnit.SECONDS), "host B receives every datagram intact, in order");
        assertSame(expected, answers, "host A receives every echo intact");
        assertEquals(payloads.length, packets(status(routerB), "inbound", TO_B_SPIS) - packets(beforeB, "inbound", TO_B_SPIS),
                "router B takes them on the IPv6 policy's SAs");
    }

    private static int tunMtu(String router) throws Exception {
        String link = Topology.ip(router, "link", "show", "dev", "fs0");
        java.util.regex.Matcher mtu = java.util.regex.Pattern.compile(" mtu (\\d+) ").matcher(link);
        assertTrue(mtu.find(), link);
        return Integer.parseInt(mtu.group(1));
    }

    private static String pingSix(int size, int count) throws Exception {
        Process process = new ProcessBuilder("ip", "netns", "exec", topology.hostA(), "ping", "-6", "-c",
                Integer.toString(count), "-i", "0.3", "-W", "2", "-s", Integer.toString(size), Topology.HOST_B_ADDRESS6)
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), output);
        return output;
    }

    /** "PORT:HEX" lists compared in full; a failure shows them short (port, length, hash of the payload). */
    private static void assertSame(List<String> expected, List<String> actual, String message) {
        if (!expected.equals(actual)) {
            fail(message + "\nexpected " + describe(expected) + "\nbut got  " + describe(actual));
        }
    }

    private static List<String> describe(List<String> datagrams) {
        return datagrams.stream().map(d -> d.contains(":")
                ? d.substring(0, d.indexOf(':')) + " " + (d.length() - d.indexOf(':') - 1) / 2 + " B #" + Integer.toHexString(d.hashCode())
                : d).toList();
    }

    @Test
    void d_anIpv6PacketTooLargeForTheTunnelTeachesBothHostsThePathMtuAndThenGetsThrough() throws Exception {
        int mtuA = tunMtu(topology.routerA());
        int mtuB = tunMtu(topology.routerB());
        assertTrue(mtuA >= 1280 && mtuB >= 1280, "IPv6 needs a link MTU of 1280 at least: " + mtuA + " / " + mtuB);
        int size = 1500 - 40 - 8; // a full 1500-byte IPv6 packet, more than the tunnel takes
        String first = pingSix(size, 3); // the routers answer the first ones with packet too big
        String route = Topology.ip(topology.hostA(), "-6", "route", "get", Topology.HOST_B_ADDRESS6);
        assertTrue(route.contains("mtu " + mtuA), "host A learned router A's TUN MTU " + mtuA + ": " + route + first);
        route = Topology.ip(topology.hostB(), "-6", "route", "get", Topology.HOST_A_ADDRESS6);
        assertTrue(route.contains("mtu " + mtuB), "host B learned router B's TUN MTU " + mtuB + ": " + route + first);
        String output = pingSix(size, 3);
        assertTrue(output.contains("3 received"), "fragmented by the hosts, every large ping is answered: " + output);
    }

    @Test
    void e_ipv4TrafficStillTakesTheIpv4PolicyNextToTheIpv6One() throws Exception {
        JsonObject before = status(routerB);
        String output = Topology.run("ip", "netns", "exec", topology.hostA(), "ping", "-c", "2", "-i", "0.2", "-W", "2",
                Topology.HOST_B_ADDRESS);
        assertTrue(output.contains("2 received"), output);
        JsonObject after = status(routerB);
        assertEquals(2, packets(after, "inbound", IPV4_TO_B_SPIS) - packets(before, "inbound", IPV4_TO_B_SPIS),
                after.encodePrettily());
        assertEquals(packets(before, "inbound", TO_B_SPIS), packets(after, "inbound", TO_B_SPIS),
                "the IPv6 policy's SAs carry none of it");
    }
}
