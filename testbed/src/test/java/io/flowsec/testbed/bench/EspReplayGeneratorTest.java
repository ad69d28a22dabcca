package io.flowsec.testbed.bench;

import io.flowsec.appliance.config.SaFile;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Packet;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EspReplayGeneratorTest {
    private static final InetAddress HOST_A = address("10.1.0.10");
    private static final InetAddress HOST_B = address("10.2.0.20");
    private static final int FIRST_SOURCE_PORT = 4501;
    private static final int SA_COUNT = 4;
    private static final int FIRST_OUTBOUND_SPI = 0xb001;

    private static InetAddress address(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static String randomHex(Random random, int length) {
        byte[] key = new byte[length];
        random.nextBytes(key);
        return HexFormat.of().formatHex(key);
    }

    private static JsonObject sa(int spi, EspSuite suite, Random random) {
        JsonObject sa = new JsonObject().put("spi", String.format("0x%08x", spi));
        if (suite.encryptionKeyLength() > 0) {
            sa.put("key", randomHex(random, suite.encryptionKeyLength()));
        }
        if (suite.integrityKeyLength() > 0) {
            sa.put("integrityKey", randomHex(random, suite.integrityKeyLength()));
        }
        return sa;
    }

    /**
     * Router A's SA file as the test bed writes it: one policy 10.1/16 → 10.2/16, ESP-in-UDP to port 4500, flow ID in
     * the UDP source port, outbound SAs 0xb001.. sending from 4501..4504, one inbound SA.
     */
    static JsonObject policies(EspSuite suite, long seed) {
        Random random = new Random(seed);
        JsonArray outbound = new JsonArray();
        for (int i = 0; i < SA_COUNT; i++) {
            outbound.add(sa(FIRST_OUTBOUND_SPI + i, suite, random).put("sourcePort", FIRST_SOURCE_PORT + i));
        }
        JsonArray inbound = new JsonArray().add(sa(0xa001, suite, random));
        JsonObject policy = new JsonObject()
                .put("name", "a-to-b").put("local", "10.1.0.0/16").put("remote", "10.2.0.0/16")
                .put("suite", suite.configName()).put("encapsulation", "udp")
                .put("localAddress", "192.0.2.1").put("remoteAddress", "192.0.2.2")
                .put("port", 4500).put("encoding", "udp-port")
                .put("outbound", outbound).put("inbound", inbound);
        return new JsonObject().put("policies", new JsonArray().add(policy));
    }

    /** The SPI of each outbound SA by its source port, read back from the file. */
    private static Map<Integer, Integer> spiBySourcePort(JsonObject policies) {
        Map<Integer, Integer> spis = new HashMap<>();
        JsonArray outbound = policies.getJsonArray("policies").getJsonObject(0).getJsonArray("outbound");
        for (int i = 0; i < outbound.size(); i++) {
            JsonObject sa = outbound.getJsonObject(i);
            spis.put(sa.getInteger("sourcePort"), Integer.parseUnsignedInt(sa.getString("spi").substring(2), 16));
        }
        return spis;
    }

    /** The IPv4 header checksum verified independently of the data plane: the one's-complement sum is 0xffff. */
    private static boolean ipv4ChecksumValid(byte[] packet, int headerLength) {
        long sum = 0;
        for (int i = 0; i < headerLength; i += 2) {
            sum += ((packet[i] & 0xFF) << 8) | (packet[i + 1] & 0xFF);
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return sum == 0xFFFF;
    }

    /** Checks one inner packet: IPv4/UDP host A:sourcePort → host B:9 with the generator's payload. */
    private static void assertInnerPacket(byte[] inner, int sourcePort, int payloadBytes, String what) {
        assertEquals(20 + 8 + payloadBytes, inner.length, what + ": inner length");
        assertEquals(0x45, inner[0] & 0xFF, what + ": IPv4, 20-byte header");
        assertEquals(inner.length, Bytes.u16(inner, 2), what + ": IP total length");
        assertEquals(17, inner[9] & 0xFF, what + ": protocol UDP");
        assertTrue(ipv4ChecksumValid(inner, 20), what + ": IPv4 header checksum");
        assertArrayEquals(HOST_A.getAddress(), Arrays.copyOfRange(inner, 12, 16), what + ": source address");
        assertArrayEquals(HOST_B.getAddress(), Arrays.copyOfRange(inner, 16, 20), what + ": destination address");
        assertEquals(sourcePort, Bytes.u16(inner, 20), what + ": UDP source port");
        assertEquals(EspReplayGenerator.SINK_PORT, Bytes.u16(inner, 22), what + ": UDP destination port");
        assertEquals(8 + payloadBytes, Bytes.u16(inner, 24), what + ": UDP length");
        for (int i = 0; i < payloadBytes; i++) {
            if (inner[28 + i] != (byte) i) {
                throw new AssertionError(what + ": payload byte " + i + " is " + inner[28 + i]);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // build

    @ParameterizedTest
    @EnumSource(value = EspSuite.class, names = {"AES_CBC_128_HMAC_SHA1_96", "AES_GCM_128"})
    void built_datagrams_decrypt_with_the_mirrored_sas_to_the_expected_inner_packets(EspSuite suite) throws Exception {
        JsonObject policies = policies(suite, 42);
        int flows = 64;
        int packetsPerFlow = 3;
        int payloadBytes = 100;

        EspReplayGenerator.Datagrams datagrams = EspReplayGenerator.build(policies, HOST_A, HOST_B, flows,
                packetsPerFlow, payloadBytes);

        assertEquals(flows * packetsPerFlow, datagrams.count());
        assertEquals(datagrams.count(), datagrams.sourcePorts().length);
        assertEquals(flows, datagrams.flows());
        assertEquals(payloadBytes, datagrams.innerPayloadBytes());

        SaFile.Tables tables = SaFile.parse(policies).buildDecryptTables();
        EspProcessor processor = new EspProcessor(tables.spd(), tables.sad(), EspProcessor.Framing.IP);
        Map<Integer, Integer> spis = spiBySourcePort(policies);
        Map<Integer, Long> lastSequence = new HashMap<>();
        Set<Integer> portsUsed = new TreeSet<>();
        Packet slot = Packet.withRoomFor(2048);
        for (int i = 0; i < datagrams.count(); i++) {
            String what = suite.configName() + " datagram " + i;
            byte[] esp = datagrams.espPayloads()[i];
            int sourcePort = datagrams.sourcePorts()[i];
            int flow = i % flows; // flows interleaved: round after round of every flow

            // the SPI is that of the SA sending from the recorded port, and one flow keeps its SA
            Integer expectedSpi = spis.get(sourcePort);
            assertNotNull(expectedSpi, what + ": source port " + sourcePort + " is no SA's");
            assertEquals(expectedSpi.intValue(), Bytes.i32(esp, 0), what + ": SPI of the SA of port " + sourcePort);
            assertEquals(datagrams.sourcePorts()[flow], sourcePort, what + ": flow " + flow + " changed SA");
            portsUsed.add(sourcePort);

            // sequence numbers per SA strictly increase in sending order
            long sequence = Bytes.u32(esp, 4);
            Long previous = lastSequence.put(expectedSpi, sequence);
            assertTrue(previous == null ? sequence >= 1 : sequence > previous,
                    what + ": sequence " + sequence + " after " + previous);

            // decrypts to the inner packet
            assertTrue(slot.load(esp, 0, esp.length));
            Outcome outcome = processor.decapsulateUdpPayload(slot, slot.offset(), slot.length());
            assertEquals(Outcome.ACCEPTED, outcome, what);
            assertInnerPacket(slot.toByteArray(), 20000 + flow, payloadBytes, what);
        }
        assertEquals(Set.of(4501, 4502, 4503, 4504), portsUsed, "64 flows use every SA of the group");
        assertEquals((long) datagrams.count(),
                lastSequence.values().stream().mapToLong(Long::longValue).sum(),
                "every SA numbered its packets 1, 2, 3, ... without gaps");
    }

    @Test
    void datagrams_are_distinct_even_for_one_flow() throws Exception {
        EspReplayGenerator.Datagrams datagrams = EspReplayGenerator.build(policies(EspSuite.AES_GCM_128, 7), HOST_A,
                HOST_B, 1, 5, 64);
        assertEquals(5, datagrams.count());
        Set<ByteBuffer> distinct = new java.util.HashSet<>();
        for (byte[] payload : datagrams.espPayloads()) {
            distinct.add(ByteBuffer.wrap(payload));
        }
        assertEquals(5, distinct.size(), "each datagram has its own sequence number");
        assertEquals(1, Arrays.stream(datagrams.sourcePorts()).distinct().count(), "one flow, one SA");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // innerPacket

    @Test
    void the_inner_packet_is_ipv4_udp_with_a_valid_checksum_and_udp_checksum_zero() {
        byte[] packet = EspReplayGenerator.innerPacket(HOST_A, HOST_B, 10);
        assertEquals(38, packet.length);
        assertTrue(ipv4ChecksumValid(packet, 20));
        assertEquals(64, packet[8] & 0xFF, "TTL");
        assertEquals(0x4000, Bytes.u16(packet, 6), "don't fragment, offset 0");
        assertEquals(0, Bytes.u16(packet, 26), "UDP checksum 0 (RFC 768, IPv4)");
        assertInnerPacket(packet, 0, 10, "inner packet (build sets the flow's source port)");
    }

    @Test
    void the_inner_packet_refuses_ipv6_addresses() {
        InetAddress v6 = address("2001:db8::1");
        assertThrows(IllegalArgumentException.class, () -> EspReplayGenerator.innerPacket(v6, HOST_B, 64));
        assertThrows(IllegalArgumentException.class, () -> EspReplayGenerator.innerPacket(HOST_A, v6, 64));
        assertThrows(IllegalArgumentException.class, () -> EspReplayGenerator.build(
                policies(EspSuite.AES_GCM_128, 1), v6, v6, 1, 1, 64));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // start / close

    private static boolean generatorThreadAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && t.getName().startsWith("bench-generator-"));
    }

    @Test
    void the_generator_replays_the_datagrams_from_their_source_ports_until_closed() throws Exception {
        EspReplayGenerator.Datagrams datagrams = EspReplayGenerator.build(
                policies(EspSuite.AES_CBC_128_HMAC_SHA1_96, 3), HOST_A, HOST_B, 16, 2, 64);
        Map<ByteBuffer, Integer> sourcePortOf = new HashMap<>();
        for (int i = 0; i < datagrams.count(); i++) {
            sourcePortOf.put(ByteBuffer.wrap(datagrams.espPayloads()[i]), datagrams.sourcePorts()[i]);
        }
        assertEquals(datagrams.count(), sourcePortOf.size(), "pre-built datagrams are distinct");
        InetAddress loopback = address("127.0.0.1");
        InetAddress source = address("127.0.0.2");

        try (DatagramChannel receiver = DatagramChannel.open(StandardProtocolFamily.INET);
             Selector selector = Selector.open()) {
            receiver.bind(new InetSocketAddress(loopback, 0));
            receiver.configureBlocking(false);
            receiver.register(selector, SelectionKey.OP_READ);
            InetSocketAddress destination = (InetSocketAddress) receiver.getLocalAddress();

            EspReplayGenerator generator = EspReplayGenerator.start(null, datagrams, source, destination, 1);
            try {
                // 1. at least 100 datagrams, each one of the pre-built ones, from its SA's source port
                int received = 0;
                Set<Integer> ports = new TreeSet<>();
                ByteBuffer buffer = ByteBuffer.allocate(4096);
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (received < 100 && System.nanoTime() < deadline) {
                    selector.select(100);
                    selector.selectedKeys().clear();
                    InetSocketAddress from;
                    while (received < 100 && (from = (InetSocketAddress) receiver.receive(buffer.clear())) != null) {
                        buffer.flip();
                        byte[] bytes = new byte[buffer.remaining()];
                        buffer.get(bytes);
                        Integer port = sourcePortOf.get(ByteBuffer.wrap(bytes));
                        assertNotNull(port, "datagram " + received + " (" + bytes.length + " bytes) is no pre-built one");
                        assertEquals(source, from.getAddress(), "sent from the source address");
                        assertEquals(port.intValue(), from.getPort(), "sent from its SA's source port");
                        ports.add(port);
                        received++;
                    }
                }
                assertEquals(100, received, "datagrams received within 5 s");
                assertTrue(ports.size() > 1, "several SAs' ports: " + ports);

                // 2. the count grows
                long before = generator.sent();
                assertTrue(before > 0, "sent() counts");
                long growDeadline = System.nanoTime() + 2_000_000_000L;
                while (generator.sent() <= before && System.nanoTime() < growDeadline) {
                    Thread.sleep(10);
                }
                assertTrue(generator.sent() > before, "sent() grows while running");
            } finally {
                generator.close();
            }

            // 3. stopped: the count no longer moves and the thread is gone
            assertFalse(generatorThreadAlive(), "the sending thread has ended");
            long afterClose = generator.sent();
            Thread.sleep(200);
            assertEquals(afterClose, generator.sent(), "sent() stops growing after close()");
        }
    }

    @Test
    void start_fails_clearly_when_the_source_ports_cannot_be_bound() throws Exception {
        EspReplayGenerator.Datagrams datagrams = EspReplayGenerator.build(
                policies(EspSuite.AES_GCM_128, 5), HOST_A, HOST_B, 4, 1, 64);
        // 203.0.113.254 (TEST-NET-3) is no address of this machine: bind fails with EADDRNOTAVAIL
        InetAddress foreign = address("203.0.113.254");
        try (java.net.DatagramSocket probe = new java.net.DatagramSocket(null)) {
            probe.bind(new InetSocketAddress(foreign, 0));
            assumeTrue(false, "this machine can bind " + foreign + " (local address or ip_nonlocal_bind)");
        } catch (java.net.BindException expected) {
            // as it should be
        }
        InetSocketAddress destination = new InetSocketAddress(address("127.0.0.1"), 9);
        java.io.IOException e = assertThrows(java.io.IOException.class,
                () -> EspReplayGenerator.start(null, datagrams, foreign, destination, 2));
        assertTrue(e.getMessage().startsWith("the generator did not start: bind(203.0.113.254:450"), e.getMessage());
        Thread.sleep(100);
        assertFalse(generatorThreadAlive(), "no sending thread is left behind");
    }
}
