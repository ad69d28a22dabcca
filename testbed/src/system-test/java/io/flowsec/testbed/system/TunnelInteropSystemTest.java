package io.flowsec.testbed.system;

import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.flowsec.testbed.demo.InNamespace.in;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * flowsec against a peer nobody here wrote, on the tunnel link between two namespaces: scapy's IPsec layer
 * ({@code testbed/src/system-test/python/scapy_tunnel_peer.py}, run with {@code /usr/bin/python3}, Debian python3-scapy)
 * decrypts what router A's appliance puts on the wire (captured by tcpdump in router B's namespace), and makes ESP
 * packets of its own that router B's appliance must deliver to host B, keys taken from the example SA files. Needs
 * root; the namespaces (prefix {@code fsi}), devices and processes it makes are removed even when a test fails.
 * Without scapy or tcpdump the tests are skipped, unless FLOWSEC_REQUIRE_INTEROP=1 (the project's test command).
 */
@TestMethodOrder(MethodOrderer.MethodName.class)
class TunnelInteropSystemTest {
    private static final String PREFIX = "fsi" + ProcessHandle.current().pid() % 100000;
    private static final String PYTHON = System.getenv().getOrDefault("FLOWSEC_SCAPY_PYTHON", "/usr/bin/python3");
    private static final HexFormat HEX = HexFormat.of();
    /**
     * Sequence numbers scapy sends with: above what router A sent on the same SAs in an earlier test, and within the
     * first block router B makes durable for a fresh SA (above it, the first packet would wait for a durable mark).
     */
    private static final long SCAPY_SEQUENCE_BASE = 10_000;

    @TempDir
    static Path directory;
    /** The appliances' batching and offload paths: all of them here, none in {@link TunnelInteropNoOffloadsSystemTest}. */
    static boolean offloads = true;
    private static Topology topology;
    private static ApplianceProcess routerB;

    @BeforeAll
    static void buildTopology() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "system tests need root (namespaces, TUN)");
        requireTool(List.of(PYTHON, "-c", "from scapy.layers.ipsec import SecurityAssociation\n"
                + "from scapy.config import conf\nimport sys\nsys.exit(0 if conf.crypto_valid else 3)"),
                "scapy's IPsec layer through " + PYTHON + " (python3-scapy, python3-cryptography)");
        requireTool(List.of("tcpdump", "--version"), "tcpdump (Debian tcpdump)");
        for (String leftover : Topology.leftovers(PREFIX)) {
            Topology.run("ip", "netns", "del", leftover);
        }
        topology = Topology.create(PREFIX);
        routerB = start(topology.routerB(), "router-b", "site-b.sa.json", "10.1.0.0/16");
    }

    @AfterAll
    static void tearDown() throws Exception {
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

    private static void requireTool(List<String> command, String what) throws InterruptedException {
        String problem;
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                problem = what + " did not answer";
            } else {
                problem = process.exitValue() == 0 ? null : what + " is not usable: " + output.strip();
            }
        } catch (IOException e) {
            problem = what + " is missing: " + e.getMessage();
        }
        if (problem != null && "1".equals(System.getenv("FLOWSEC_REQUIRE_INTEROP"))) {
            fail(problem + "; FLOWSEC_REQUIRE_INTEROP=1 requires the interop tests");
        }
        assumeTrue(problem == null, problem);
    }

    /** Starts an appliance afresh (no sequence state: every start here counts from 1, as with new keys). */
    private static ApplianceProcess start(String namespace, String name, String saFile, String remoteSite) throws Exception {
        SequenceStateDirectories.forget(directory, name);
        JsonObject sa = new JsonObject(Files.readString(TestPaths.examples().resolve(saFile)));
        JsonObject config = new JsonObject()
                .put("name", name)
                .put("lanes", 2)
                .put("mode", "flow")
                .put("steering", "director")
                .put("site", new JsonObject().put("device", "fs0")
                        .put("addresses", new JsonArray().add(name.endsWith("a") ? "10.255.0.1/32" : "10.255.0.2/32"))
                        .put("routes", new JsonArray().add(remoteSite)))
                .put("statusSocket", directory.resolve(name + ".sock").toString())
                .put("stateDirectory", directory.resolve(name + "-state").toString())
                .put("policies", sa.getJsonArray("policies"))
                .put("offloads", offloads);
        Path path = directory.resolve(name + ".json");
        Files.writeString(path, config.encodePrettily());
        return ApplianceProcess.start(namespace, path, directory.resolve(name + ".sock"), directory.resolve(name + ".log"));
    }

    private static Path script() {
        return TestPaths.pythonScript("scapy_tunnel_peer.py");
    }

    private static Path saFile(String name) {
        return TestPaths.examples().resolve(name);
    }

    /** Runs {@code command} with {@code input} on stdin; returns stdout, fails with stdout and stderr unless it exits 0. */
    private static String execute(List<String> command, String input) throws Exception {
        Path err = Files.createTempFile(directory, "stderr", ".txt");
        Process process = new ProcessBuilder(command).redirectError(err.toFile()).start();
        try (var in = process.getOutputStream()) {
            in.write(input.getBytes(StandardCharsets.UTF_8));
        }
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail(String.join(" ", command) + " did not finish: " + Files.readString(err));
        }
        String output = out.get(10, TimeUnit.SECONDS);
        assertEquals(0, process.exitValue(), String.join(" ", command) + " failed: " + output + Files.readString(err));
        return output;
    }

    private static JsonObject status() throws Exception {
        return new JsonObject(StatusServer.query(routerB.statusSocket()));
    }

    private static JsonObject saStatus(JsonObject status, String direction, long spi) {
        String text = String.format("0x%08x", spi);
        for (int i = 0; i < status.getJsonArray("sas").size(); i++) {
            JsonObject entry = status.getJsonArray("sas").getJsonObject(i);
            if (entry.getString("spi").equals(text) && entry.getString("direction").equals(direction)) {
                return entry;
            }
        }
        throw new AssertionError("no " + direction + " SA " + text + " in " + status.encodePrettily());
    }

    /** One UDP datagram as an application sees it: source port, destination port, payload. */
    private record Datagram(int sourcePort, int destinationPort, String payload) {
        @Override
        public String toString() {
            return sourcePort + "->" + destinationPort + " " + payload.length() / 2 + " B";
        }
    }

    /**
     * Listens on host B at {@code port}; {@code ready} completes once bound. Collects what arrives (from host A's
     * address only) until nothing has come for {@code quietMillis}.
     */
    private static CompletableFuture<List<Datagram>> receiveOnHostB(int port, CompletableFuture<Void> ready, int quietMillis) {
        return in(topology.hostB(), () -> {
            List<Datagram> received = new ArrayList<>();
            try (DatagramSocket socket = new DatagramSocket(port, InetAddress.getByName(Topology.HOST_B_ADDRESS))) {
                ready.complete(null);
                socket.setSoTimeout(quietMillis);
                byte[] buffer = new byte[2048];
                try {
                    while (true) {
                        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                        socket.receive(packet);
                        assertEquals(InetAddress.getByName(Topology.HOST_A_ADDRESS), packet.getAddress(), "source address");
                        received.add(new Datagram(packet.getPort(), port,
                                HEX.formatHex(buffer, packet.getOffset(), packet.getOffset() + packet.getLength())));
                    }
                } catch (SocketTimeoutException quiet) {
                    return received;
                }
            } finally {
                ready.complete(null);
            }
        });
    }

    private static List<String> sorted(List<Datagram> datagrams) {
        return datagrams.stream().map(d -> d.sourcePort() + ":" + d.destinationPort() + ":" + d.payload()).sorted().toList();
    }

    /** The same datagrams, payloads compared byte for byte, in any order; a failure lists them short. */
    private static void assertSameDatagrams(List<Datagram> expected, List<Datagram> actual, String message) {
        if (!sorted(expected).equals(sorted(actual))) {
            fail(message + "\nexpected " + describe(expected) + "\nbut got  " + describe(actual));
        }
    }

    private static List<String> describe(List<Datagram> datagrams) {
        return datagrams.stream().map(d -> d + " #" + Integer.toHexString(d.payload().hashCode())).sorted().toList();
    }

    /** The inner packet scapy decrypted, read by hand: IPv4, UDP, addresses, ports, lengths, payload. */
    private static Datagram innerUdp(String hex) {
        byte[] packet = HEX.parseHex(hex);
        assertEquals(4, (packet[0] & 0xff) >> 4, "inner IP version of " + hex);
        int headerLength = (packet[0] & 0x0f) * 4;
        assertEquals(packet.length, ((packet[2] & 0xff) << 8) | (packet[3] & 0xff), "inner IPv4 total length of " + hex);
        assertEquals(17, packet[9], "inner protocol of " + hex);
        assertEquals(Topology.HOST_A_ADDRESS, address(packet, 12), "inner source of " + hex);
        assertEquals(Topology.HOST_B_ADDRESS, address(packet, 16), "inner destination of " + hex);
        int udpLength = ((packet[headerLength + 4] & 0xff) << 8) | (packet[headerLength + 5] & 0xff);
        assertEquals(packet.length - headerLength, udpLength, "inner UDP length of " + hex);
        return new Datagram(((packet[headerLength] & 0xff) << 8) | (packet[headerLength + 1] & 0xff),
                ((packet[headerLength + 2] & 0xff) << 8) | (packet[headerLength + 3] & 0xff),
                HEX.formatHex(packet, headerLength + 8, packet.length));
    }

    private static String address(byte[] packet, int offset) {
        return (packet[offset] & 0xff) + "." + (packet[offset + 1] & 0xff) + "." + (packet[offset + 2] & 0xff) + "."
                + (packet[offset + 3] & 0xff);
    }

    /** SPI → UDP source port of each outbound SA of an SA file's first policy. */
    private static Map<Long, Integer> outboundSourcePorts(String saFile) throws IOException {
        JsonObject policy = new JsonObject(Files.readString(saFile(saFile))).getJsonArray("policies").getJsonObject(0);
        Map<Long, Integer> ports = new HashMap<>();
        JsonArray outbound = policy.getJsonArray("outbound");
        for (int i = 0; i < outbound.size(); i++) {
            JsonObject sa = outbound.getJsonObject(i);
            ports.put(Long.decode(sa.getString("spi")), sa.getInteger("sourcePort", policy.getInteger("port", 4500)));
        }
        return ports;
    }

    @Test
    void a_whatRouterAPutsOnTheTunnelLinkDecryptsWithScapyToExactlyTheUdpDatagramsHostASent() throws Exception {
        ApplianceProcess routerA = start(topology.routerA(), "router-a", "site-a.sa.json", "10.2.0.0/16");
        TunnelCapture tcpdump = null;
        try {
            Path capture = directory.resolve("tunnel.pcap");
            tcpdump = TunnelCapture.start(topology, capture);
            int port = 7001;
            Random random = new Random(port);
            List<Datagram> sent = new ArrayList<>();
            for (int flow = 0; flow < 8; flow++) {
                for (int i = 0; i < 3; i++) {
                    byte[] payload = new byte[1 + random.nextInt(1200)];
                    random.nextBytes(payload);
                    sent.add(new Datagram(31000 + flow, port, HEX.formatHex(payload)));
                }
            }
            CompletableFuture<Void> ready = new CompletableFuture<>();
            CompletableFuture<List<Datagram>> received = receiveOnHostB(port, ready, 1500);
            ready.get(10, TimeUnit.SECONDS);
            in(topology.hostA(), () -> {
                InetSocketAddress target = new InetSocketAddress(Topology.HOST_B_ADDRESS, port);
                for (Datagram datagram : sent) {
                    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(Topology.HOST_A_ADDRESS, datagram.sourcePort()))) {
                        byte[] payload = HEX.parseHex(datagram.payload());
                        socket.send(new DatagramPacket(payload, payload.length, target));
                    }
                }
                return null;
            }).get(30, TimeUnit.SECONDS);
            List<Datagram> arrived = received.get(30, TimeUnit.SECONDS);
            tcpdump.close();
            assertSameDatagrams(sent, arrived, "host B receives what host A sent (the tunnel works at all)");

            JsonObject answer = new JsonObject(execute(List.of(PYTHON, script().toString(), "decrypt",
                    saFile("site-a.sa.json").toString(), capture.toString()), ""));
            JsonArray packets = answer.getJsonArray("packets");
            Map<Long, Integer> sourcePorts = outboundSourcePorts("site-a.sa.json");
            List<Datagram> decrypted = new ArrayList<>();
            Map<Integer, Set<Long>> spisOfFlow = new HashMap<>();
            for (int i = 0; i < packets.size(); i++) {
                JsonObject packet = packets.getJsonObject(i);
                assertTrue(packet.getBoolean("ok"), "scapy decrypts captured packet " + i + ": " + packet.encode());
                long spi = packet.getLong("spi");
                JsonObject outer = packet.getJsonObject("outer");
                assertEquals(Topology.ROUTER_A_TUNNEL_ADDRESS, outer.getString("src"), "outer source");
                assertEquals(Topology.ROUTER_B_TUNNEL_ADDRESS, outer.getString("dst"), "outer destination");
                assertEquals(4500, outer.getInteger("dport"), "outer UDP destination port");
                assertEquals(sourcePorts.get(spi), outer.getInteger("sport"),
                        "outer UDP source port of SPI " + Long.toHexString(spi) + " (udp-port encoding)");
                Datagram inner = innerUdp(packet.getString("inner"));
                decrypted.add(inner);
                spisOfFlow.computeIfAbsent(inner.sourcePort(), p -> new HashSet<>()).add(spi);
            }
            assertSameDatagrams(sent, decrypted,
                    "the captured ESP packets decrypt to exactly the datagrams host A sent (scapy " + answer.getString("scapy") + ")");
            for (Map.Entry<Integer, Set<Long>> flow : spisOfFlow.entrySet()) {
                assertEquals(1, flow.getValue().size(), "flow from port " + flow.getKey() + " keeps one SA: " + flow.getValue());
            }
            Set<Long> used = new HashSet<>();
            spisOfFlow.values().forEach(used::addAll);
            assertTrue(used.size() >= 2, "eight flows use more than one SA of the group: " + used);
        } finally {
            try {
                if (tcpdump != null) {
                    tcpdump.close();
                }
            } finally {
                routerA.close();
            }
        }
    }

    /**
     * Has scapy encrypt {@code datagrams} (as host A would have sent them to host B) with router A's outbound SA
     * {@code spi}, from sequence number {@code firstSequence} on, flipping an ICV bit where {@code tampered} says so,
     * and send them from router A's namespace, where no appliance runs: scapy takes router A's place. Returns what
     * host B received on {@code port}.
     */
    private static List<Datagram> injectFromRouterA(long spi, int port, List<Datagram> datagrams, List<Boolean> tampered,
            long firstSequence) throws Exception {
        JsonArray packets = new JsonArray();
        for (int i = 0; i < datagrams.size(); i++) {
            Datagram datagram = datagrams.get(i);
            packets.add(new JsonObject().put("seq", firstSequence + i)
                    .put("src", Topology.HOST_A_ADDRESS).put("dst", Topology.HOST_B_ADDRESS)
                    .put("sport", datagram.sourcePort()).put("dport", datagram.destinationPort())
                    .put("payload", datagram.payload()).put("tamper", tampered.get(i)));
        }
        JsonObject request = new JsonObject().put("spi", spi).put("packets", packets);
        CompletableFuture<Void> ready = new CompletableFuture<>();
        CompletableFuture<List<Datagram>> received = receiveOnHostB(port, ready, 1500);
        ready.get(10, TimeUnit.SECONDS);
        JsonObject answer = new JsonObject(execute(List.of("ip", "netns", "exec", topology.routerA(), PYTHON,
                script().toString(), "send", saFile("site-a.sa.json").toString()), request.encode()));
        assertEquals(datagrams.size(), answer.getJsonArray("sent").size(), answer.encode());
        return received.get(30, TimeUnit.SECONDS);
    }

    private static List<Datagram> datagrams(int count, int port, long seed) {
        Random random = new Random(seed);
        List<Datagram> datagrams = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] payload = new byte[1 + random.nextInt(1000)];
            random.nextBytes(payload);
            datagrams.add(new Datagram(32000 + i % 3, port, HEX.formatHex(payload)));
        }
        return datagrams;
    }

    @Test
    void b_espPacketsScapyEncryptsOnTheTunnelLinkReachHostBAsExactlyTheDatagramsTheyCarry() throws Exception {
        long spi = 0xb002;
        JsonObject before = saStatus(status(), "inbound", spi);
        List<Datagram> datagrams = datagrams(6, 7002, spi);
        List<Datagram> received = injectFromRouterA(spi, 7002, datagrams, List.of(false, false, false, false, false, false),
                SCAPY_SEQUENCE_BASE);
        assertSameDatagrams(datagrams, received, "host B receives exactly what scapy encrypted");
        JsonObject after = saStatus(status(), "inbound", spi);
        assertEquals(before.getLong("packets") + datagrams.size(), after.getLong("packets"),
                "router B counts them on SA 0x" + Long.toHexString(spi) + ": " + after.encode());
    }

    @Test
    void c_aTamperedScapyPacketIsDroppedAndCountedAsAuthenticationFailedWhileItsNeighboursPass() throws Exception {
        long spi = 0xb003;
        JsonObject before = status();
        List<Datagram> datagrams = datagrams(3, 7003, spi);
        List<Datagram> received = injectFromRouterA(spi, 7003, datagrams, List.of(false, true, false),
                SCAPY_SEQUENCE_BASE + 1000);
        assertSameDatagrams(List.of(datagrams.get(0), datagrams.get(2)), received,
                "host B receives the two intact packets and not the tampered one");
        JsonObject after = status();
        JsonObject sa = saStatus(after, "inbound", spi);
        assertEquals(1L, sa.getJsonObject("drops").getLong("authentication-failed", 0L)
                - saStatus(before, "inbound", spi).getJsonObject("drops").getLong("authentication-failed", 0L),
                "one authentication failure on SA 0x" + Long.toHexString(spi) + ": " + sa.encode());
        assertEquals(2L, sa.getLong("packets") - saStatus(before, "inbound", spi).getLong("packets"), sa.encode());
        assertEquals(1L, after.getJsonObject("totals").getLong("authentication-failed", 0L)
                - before.getJsonObject("totals").getLong("authentication-failed", 0L), after.encodePrettily());
    }

    /**
     * Receives UDP datagrams on host B's {@code port} until {@code quietMillis} pass without one, reading each one's
     * IPv4 TOS byte (Java cannot: a python3 socket with IP_RECVTOS does). Returns [source port, TOS] per datagram.
     */
    private static CompletableFuture<List<int[]>> receiveTosOnHostB(int port, int quietMillis) throws Exception {
        String receiver = String.join("\n",
                "import socket, json, sys",
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
                "s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)",
                "s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)",   // a burst of 320 while python reads
                "s.bind(('" + Topology.HOST_B_ADDRESS + "', " + port + "))",
                "s.settimeout(" + quietMillis / 1000.0 + ")",
                "print('ready', flush=True)",
                "got = []",
                "try:",
                "    while True:",
                "        data, ancillary, flags, source = s.recvmsg(4096, socket.CMSG_SPACE(4))",
                "        tos = [d[0] for level, kind, d in ancillary if level == socket.IPPROTO_IP and kind == socket.IP_TOS]",
                "        got.append([source[1], tos[0] if tos else -1])",
                "except socket.timeout:",
                "    pass",
                "print(json.dumps(got), flush=True)");
        Process process = new ProcessBuilder("ip", "netns", "exec", topology.hostB(), PYTHON, "-c", receiver)
                .redirectErrorStream(true).start();
        java.io.BufferedReader lines = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
        assertEquals("ready", lines.readLine(), "the TOS receiver on host B starts");
        return CompletableFuture.supplyAsync(() -> {
            try {
                String answer = lines.readLine();
                process.waitFor(10, TimeUnit.SECONDS);
                List<int[]> received = new ArrayList<>();
                JsonArray array = new JsonArray(answer);
                for (int i = 0; i < array.size(); i++) {
                    received.add(new int[] {array.getJsonArray(i).getInteger(0), array.getJsonArray(i).getInteger(1)});
                }
                return received;
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            } finally {
                process.destroyForcibly();
            }
        });
    }

    @Test
    void d_theInnerDscpAndEcnAppearInTheOuterHeaderAndEachSaNumbersItsPacketsInOrderOnTheWire() throws Exception {
        // router B afresh: scapy's packets of the tests before moved its replay windows far beyond router A's numbers
        routerB.close();
        routerB = start(topology.routerB(), "router-b", "site-b.sa.json", "10.1.0.0/16");
        ApplianceProcess routerA = start(topology.routerA(), "router-a", "site-a.sa.json", "10.2.0.0/16");
        TunnelCapture tcpdump = null;
        try {
            Path capture = directory.resolve("tunnel-tos.pcap");
            tcpdump = TunnelCapture.start(topology, capture);
            int port = 7004;
            int flows = 64;
            int perFlow = 5;
            int expressForwardingEct0 = (46 << 2) | 0b10;   // DSCP EF, ECN ECT(0)
            CompletableFuture<List<int[]>> received = receiveTosOnHostB(port, 1500);
            in(topology.hostA(), () -> {
                InetSocketAddress target = new InetSocketAddress(Topology.HOST_B_ADDRESS, port);
                List<DatagramSocket> sockets = new ArrayList<>();
                try {
                    for (int flow = 0; flow < flows; flow++) {
                        DatagramSocket socket = new DatagramSocket(new InetSocketAddress(Topology.HOST_A_ADDRESS, 33000 + flow));
                        socket.setTrafficClass(expressForwardingEct0);
                        sockets.add(socket);
                    }
                    byte[] payload = new byte[200];
                    for (int i = 0; i < perFlow; i++) {
                        for (DatagramSocket socket : sockets) {
                            socket.send(new DatagramPacket(payload, payload.length, target));
                        }
                    }
                } finally {
                    sockets.forEach(DatagramSocket::close);
                }
                return null;
            }).get(30, TimeUnit.SECONDS);
            List<int[]> arrived = received.get(30, TimeUnit.SECONDS);
            tcpdump.close();
            assertEquals(flows * perFlow, arrived.size(), "host B receives every datagram; router B: " + status().encode());
            for (int[] datagram : arrived) {
                assertEquals(expressForwardingEct0, datagram[1], "host B sees the TOS host A sent (port " + datagram[0] + ")");
            }

            JsonObject answer = new JsonObject(execute(List.of(PYTHON, script().toString(), "decrypt",
                    saFile("site-a.sa.json").toString(), capture.toString()), ""));
            JsonArray packets = answer.getJsonArray("packets");
            assertEquals(flows * perFlow, packets.size(), "the capture holds every ESP packet");
            Map<Long, Long> lastSequence = new HashMap<>();
            for (int i = 0; i < packets.size(); i++) {
                JsonObject packet = packets.getJsonObject(i);
                assertTrue(packet.getBoolean("ok"), packet.encode());
                assertEquals(expressForwardingEct0, packet.getJsonObject("outer").getInteger("tos"),
                        "outer DSCP and ECN copied from the inner packet: " + packet.encode());
                long spi = packet.getLong("spi");
                long sequence = packet.getLong("seq");
                Long previous = lastSequence.put(spi, sequence);
                assertTrue(previous == null || sequence > previous, "SA 0x" + Long.toHexString(spi) + ": sequence "
                        + sequence + " on the wire after " + previous + " (two lanes, " + flows + " flows)");
            }
            assertEquals(4, lastSequence.size(), "the 64 flows use all four SAs of the group");
        } finally {
            try {
                if (tcpdump != null) {
                    tcpdump.close();
                }
            } finally {
                routerA.close();
            }
        }
    }

    @Test
    void e_anOuterCongestionMarkReachesHostBAsCeOnAnEcnCapablePacketAndDropsANotEctOne() throws Exception {
        long spi = 0xb004;
        int port = 7005;
        int ect0 = (10 << 2) | 0b10;
        int notEct = 10 << 2;
        int ce = 0b11;
        JsonObject before = saStatus(status(), "inbound", spi);
        JsonArray packets = new JsonArray()
                .add(scapyPacket(SCAPY_SEQUENCE_BASE + 2000, 34001, port, ect0, (10 << 2) | ce))   // CE over ECT(0)
                .add(scapyPacket(SCAPY_SEQUENCE_BASE + 2001, 34002, port, notEct, (10 << 2) | ce)) // CE over not-ECT
                .add(scapyPacket(SCAPY_SEQUENCE_BASE + 2002, 34003, port, notEct, notEct));        // no mark
        CompletableFuture<List<int[]>> received = receiveTosOnHostB(port, 1500);
        JsonObject answer = new JsonObject(execute(List.of("ip", "netns", "exec", topology.routerA(), PYTHON,
                script().toString(), "send", saFile("site-a.sa.json").toString()),
                new JsonObject().put("spi", spi).put("packets", packets).encode()));
        assertEquals(3, answer.getJsonArray("sent").size(), answer.encode());
        List<int[]> arrived = received.get(30, TimeUnit.SECONDS);
        Map<Integer, Integer> tosByPort = new HashMap<>();
        arrived.forEach(datagram -> tosByPort.put(datagram[0], datagram[1]));
        assertEquals(Map.of(34001, (10 << 2) | ce, 34003, notEct), tosByPort,
                "RFC 6040: the ECN-capable packet arrives marked CE, the not-ECT one under CE is dropped");
        JsonObject after = saStatus(status(), "inbound", spi);
        assertEquals(1L, after.getJsonObject("drops").getLong("ce-on-not-ect", 0L)
                - before.getJsonObject("drops").getLong("ce-on-not-ect", 0L), after.encode());
    }

    private static JsonObject scapyPacket(long sequence, int sourcePort, int port, int innerTos, int outerTos) {
        return new JsonObject().put("seq", sequence).put("src", Topology.HOST_A_ADDRESS).put("dst", Topology.HOST_B_ADDRESS)
                .put("sport", sourcePort).put("dport", port).put("payload", "c0ffee").put("tos", innerTos)
                .put("outerTos", outerTos).put("tamper", false);
    }
}
