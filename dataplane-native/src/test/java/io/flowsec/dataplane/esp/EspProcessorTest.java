package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.packet.HandOverMarker;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.selector.IpPrefix;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.selector.PortRange;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TestPackets.Tunnel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static io.flowsec.dataplane.testing.TestPackets.HOST_A_V4;
import static io.flowsec.dataplane.testing.TestPackets.HOST_B_V4;
import static io.flowsec.dataplane.testing.TestPackets.get16;
import static io.flowsec.dataplane.testing.TestPackets.host;
import static io.flowsec.dataplane.testing.TestPackets.slot;
import static io.flowsec.dataplane.testing.TestPackets.tunnel;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ESP engine end to end between two tunnel ends A and B: round trips for every suite and framing, and every
 * drop reason for the input that should cause it, with the lane counters checked cell by cell after each.
 */
class EspProcessorTest {

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers

    /** Expected lane counters, compared cell by cell (every SA row, every outcome), so nothing extra is counted. */
    private static final class Ledger {
        private final LaneCounters counters;
        private final Map<Long, Long> expected = new HashMap<>();
        private final Map<Integer, Long> bytes = new HashMap<>();

        Ledger(EspProcessor processor) {
            this.counters = processor.counters();
        }

        Ledger count(int row, Outcome outcome) {
            expected.merge(((long) row << 8) | outcome.ordinal(), 1L, Long::sum);
            return this;
        }

        Ledger accepted(int row, int innerBytes) {
            bytes.merge(row, (long) innerBytes, Long::sum);
            return count(row, Outcome.ACCEPTED);
        }

        void verify(String context) {
            long fed = 0;
            int rows = Math.max(counters.rows(), 64);
            for (int row = 0; row < rows; row++) {
                for (Outcome outcome : Outcome.values()) {
                    long want = expected.getOrDefault(((long) row << 8) | outcome.ordinal(), 0L);
                    assertEquals(want, counters.packets(row, outcome), context + ": row " + row + " " + outcome.label());
                    fed += want;
                }
                assertEquals(bytes.getOrDefault(row, 0L), counters.acceptedBytes(row), context + ": bytes of row " + row);
            }
            long total = 0;
            for (Outcome outcome : Outcome.values()) {
                total += counters.total(outcome);
            }
            assertEquals(fed, total, context + ": totals");
        }
    }

    /** A tunnel with one engine per end and a ledger for each. */
    private static final class Link {
        final Tunnel tunnel;
        final EspProcessor a;
        final EspProcessor b;
        final Ledger aLedger;
        final Ledger bLedger;

        Link(Tunnel tunnel, EspProcessor.Framing framing) {
            this.tunnel = tunnel;
            this.a = tunnel.a().processor(framing);
            this.b = tunnel.b().processor(framing);
            this.aLedger = new Ledger(a);
            this.bLedger = new Ledger(b);
        }

        Link(Tunnel tunnel) {
            this(tunnel, EspProcessor.Framing.IP);
        }

        SecurityAssociation aOut(int i) {
            return tunnel.a().outbound(i);
        }

        SecurityAssociation bIn(int i) {
            return tunnel.b().inbound().get(i);
        }

        /** Encapsulates on A, expecting success; returns the wire bytes. */
        byte[] send(byte[] inner) {
            Packet packet = slot(inner);
            assertEquals(Outcome.ACCEPTED, a.encapsulate(packet), "encapsulate");
            aLedger.accepted(packet.saIndex(), inner.length);
            return packet.toByteArray();
        }

        /** Decapsulates a copy of {@code wire} on B and checks the outcome; returns the slot. */
        Packet deliver(byte[] wire, Outcome expected, int row) {
            Packet packet = slot(wire);
            Outcome outcome = b.decapsulate(packet);
            assertEquals(expected, outcome, "decapsulate");
            if (expected == Outcome.ACCEPTED) {
                bLedger.accepted(row, packet.length());
            } else {
                bLedger.count(row, expected);
            }
            return packet;
        }

        void verify(String context) {
            aLedger.verify("A " + context);
            bLedger.verify("B " + context);
        }
    }

    private static int outerHeaderLength(OuterEndpoints outer) {
        return (outer.family() == 4 ? 20 : 40) + (outer.isUdp() ? 8 : 0);
    }

    private static int paddedLength(EspSuite suite, int innerLength) {
        return (innerLength + 2 + suite.alignment() - 1) / suite.alignment() * suite.alignment();
    }

    private static int espLength(EspSuite suite, int innerLength) {
        return 8 + suite.ivLength() + paddedLength(suite, innerLength) + suite.icvLength();
    }

    /** Rewraps ESP bytes (taken from a wire packet) in a fresh, consistent outer header. */
    private static byte[] rewrap(OuterEndpoints outer, byte[] wire, int espLength) {
        int start = outerHeaderLength(outer);
        return TestPackets.outer(outer, Arrays.copyOfRange(wire, start, start + espLength));
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return true;
            }
        }
        return false;
    }

    /** Every field of the outer packet an SA builds, checked against the SA and an independent length computation. */
    private static void assertOuter(byte[] wire, SecurityAssociation sa, byte[] inner, long sequence) {
        OuterEndpoints outer = sa.outer();
        EspSuite suite = sa.suite();
        int ipHeader = outer.family() == 4 ? 20 : 40;
        assertEquals(outerHeaderLength(outer) + espLength(suite, inner.length), wire.length, "outer length");
        assertEquals(outer.family(), (wire[0] >> 4) & 0xF, "outer version");
        int protocol = outer.isUdp() ? IpProtocol.UDP : IpProtocol.ESP;
        if (outer.family() == 4) {
            assertEquals(0x45, wire[0] & 0xFF);
            assertEquals(wire.length, get16(wire, 2), "IPv4 total length");
            assertEquals(64, wire[8] & 0xFF, "TTL");
            assertEquals(protocol, wire[9] & 0xFF);
            assertArrayEquals(outer.local().getAddress(), Arrays.copyOfRange(wire, 12, 16));
            assertArrayEquals(outer.remote().getAddress(), Arrays.copyOfRange(wire, 16, 20));
            assertTrue(TestPackets.isIpv4HeaderChecksumValid(wire, 0), "IPv4 header checksum");
        } else {
            assertEquals(wire.length - 40, get16(wire, 4), "IPv6 payload length");
            assertEquals(protocol, wire[6] & 0xFF);
            assertEquals(64, wire[7] & 0xFF, "hop limit");
            assertArrayEquals(outer.local().getAddress(), Arrays.copyOfRange(wire, 8, 24));
            assertArrayEquals(outer.remote().getAddress(), Arrays.copyOfRange(wire, 24, 40));
        }
        if (outer.isUdp()) {
            assertEquals(outer.localPort(), get16(wire, ipHeader));
            assertEquals(outer.remotePort(), get16(wire, ipHeader + 2));
            assertEquals(wire.length - ipHeader, get16(wire, ipHeader + 4), "UDP length");
            if (outer.family() == 4) {
                assertEquals(0, get16(wire, ipHeader + 6), "RFC 3948: zero UDP checksum over IPv4");
            } else {
                assertNotEquals(0, get16(wire, ipHeader + 6), "UDP checksum is mandatory over IPv6");
                assertTrue(TestPackets.isTransportChecksumValid(wire, 0), "UDP checksum over IPv6");
            }
        }
        int esp = outerHeaderLength(outer);
        assertEquals(sa.spi(), TestPackets.get32(wire, esp), "SPI");
        assertEquals(sequence & 0xFFFF_FFFFL, TestPackets.get32(wire, esp + 4) & 0xFFFF_FFFFL, "sequence number (low half)");
    }

    private static Stream<Arguments> everyCombination() {
        List<Arguments> all = new ArrayList<>();
        for (EspSuite suite : EspSuite.values()) {
            for (int inner : new int[] {4, 6}) {
                for (int outer : new int[] {4, 6}) {
                    for (boolean udp : new boolean[] {true, false}) {
                        for (boolean esn : new boolean[] {false, true}) {
                            all.add(Arguments.of(suite, inner, outer, udp, esn));
                        }
                    }
                }
            }
        }
        return all.stream();
    }

    private static Stream<Arguments> everySuiteWithAndWithoutEsn() {
        List<Arguments> all = new ArrayList<>();
        for (EspSuite suite : EspSuite.values()) {
            all.add(Arguments.of(suite, false));
            all.add(Arguments.of(suite, true));
        }
        return all.stream();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Round trips

    @ParameterizedTest(name = "{0} inner v{1} outer v{2} udp={3} esn={4}")
    @MethodSource("everyCombination")
    void shouldCarryEveryKindOfInnerPacketFromAToBUnchanged(EspSuite suite, int innerFamily, int outerFamily,
                                                             boolean udp, boolean esn) {
        Link link = new Link(tunnel().suite(suite).innerFamily(innerFamily).outerFamily(outerFamily).udp(udp).esn(esn).build());
        String a = host('A', innerFamily);
        String b = host('B', innerFamily);
        List<byte[]> inners = List.of(
                TestPackets.udp(a, 1000, b, 2000, 1),
                TestPackets.udp(a, 1000, b, 2000, 0),
                TestPackets.tcp(a, 40000, b, 443, 100),
                TestPackets.icmpEcho(a, b, 56),
                TestPackets.ofTotalLength(a, b, innerFamily == 4 ? 20 : 40),
                TestPackets.ofTotalLength(a, b, 1500),
                TestPackets.udp(a, 1000, b, 2000, 9000));
        SecurityAssociation out = link.aOut(0);
        SecurityAssociation in = link.bIn(0);
        long sequence = 0;
        for (byte[] inner : inners) {
            sequence++;
            byte[] wire = link.send(inner);
            assertOuter(wire, out, inner, sequence);
            if (suite != EspSuite.NULL_HMAC_SHA256_128) {
                int payload = outerHeaderLength(out.outer()) + 8 + suite.ivLength();
                assertFalse(Arrays.equals(inner, 0, inner.length, wire, payload, payload + inner.length), "encrypted");
            }

            Packet received = link.deliver(wire, Outcome.ACCEPTED, in.index());

            assertArrayEquals(inner, received.toByteArray(), "inner of " + inner.length + " bytes");
            assertEquals(in.index(), received.saIndex());
            assertEquals(sequence, received.sequenceNumber());
        }
        link.verify("after " + inners.size() + " packets");

        // and back from B to A over the other SAs of the pair
        byte[] answer = TestPackets.udp(b, 2000, a, 1000, 5);
        Packet back = slot(answer);
        assertEquals(Outcome.ACCEPTED, link.b.encapsulate(back));
        assertEquals(Outcome.ACCEPTED, link.a.decapsulate(back));
        assertArrayEquals(answer, back.toByteArray());
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(EspSuite.class)
    void shouldPadEveryInnerLengthToTheSuitesAlignmentAndBack(EspSuite suite) {
        Link link = new Link(tunnel().suite(suite).innerFamily(0).build());
        SecurityAssociation out = link.aOut(0);
        long sequence = 0;
        for (int family : new int[] {4, 6}) {
            int header = family == 4 ? 20 : 40;
            for (int length = header; length <= header + 60; length++) {
                byte[] inner = TestPackets.ofTotalLength(host('A', family), host('B', family), length);
                byte[] wire = link.send(inner);
                assertOuter(wire, out, inner, ++sequence);
                int padded = paddedLength(suite, length);
                assertEquals(0, padded % suite.alignment());
                assertTrue(padded - length - 2 < suite.alignment(), "minimal padding");
                assertEquals(espLength(suite, length) - length, suite.overhead(length), "EspSuite.overhead");
                assertTrue(suite.overhead(length) <= suite.maxOverhead(), "EspSuite.maxOverhead");
                if (suite == EspSuite.NULL_HMAC_SHA256_128) {
                    // NULL encryption shows the trailer: padding 1, 2, 3, ..., pad length, next header
                    int trailer = outerHeaderLength(out.outer()) + 8 + padded;
                    int padLength = padded - length - 2;
                    for (int i = 0; i < padLength; i++) {
                        assertEquals(i + 1, wire[trailer - 2 - padLength + i], "pad byte " + i);
                    }
                    assertEquals(padLength, wire[trailer - 2]);
                    assertEquals(family == 4 ? IpProtocol.IPV4 : IpProtocol.IPV6, wire[trailer - 1]);
                }
                Packet received = link.deliver(wire, Outcome.ACCEPTED, link.bIn(0).index());
                assertArrayEquals(inner, received.toByteArray(), "inner length " + length);
            }
        }
        link.verify("after the sweep");
    }

    @ParameterizedTest(name = "inner v{0} outer v{1}")
    @MethodSource("families")
    void shouldCopyDscpAndEcnToTheOuterHeader(int innerFamily, int outerFamily) {
        Link link = new Link(tunnel().innerFamily(innerFamily).outerFamily(outerFamily).build());
        byte[] inner = TestPackets.inner(host('A', innerFamily), host('B', innerFamily))
                .udp(5004, 5004).payload(160).trafficClass(0xb9).dontFragment(true).build();   // EF, ECT(1)
        byte[] wire = link.send(inner);
        if (outerFamily == 4) {
            assertEquals(0xb9, wire[1] & 0xFF, "outer TOS");
            assertEquals(innerFamily == 4 ? 0x4000 : 0, get16(wire, 6), "DF copied from an IPv4 inner packet only");
        } else {
            int trafficClass = (get16(wire, 0) >> 4) & 0xFF;
            assertEquals(0xb9, trafficClass, "outer traffic class");
        }
        assertArrayEquals(inner, link.deliver(wire, Outcome.ACCEPTED, link.bIn(0).index()).toByteArray());
    }

    private static Stream<Arguments> families() {
        return Stream.of(Arguments.of(4, 4), Arguments.of(4, 6), Arguments.of(6, 4), Arguments.of(6, 6));
    }

    @Test
    void shouldLabelIpv6OuterPacketsWithTheFlowIdAndKeepOneLabelPerFlow() {
        Link link = new Link(tunnel().outerFamily(6).build());
        Set<Integer> labels = new HashSet<>();
        for (int port = 1000; port < 1010; port++) {
            int first = TestPackets.get32(link.send(TestPackets.udp(HOST_A_V4, port, HOST_B_V4, 53, 10)), 0) & 0xFFFFF;
            int second = TestPackets.get32(link.send(TestPackets.udp(HOST_A_V4, port, HOST_B_V4, 53, 20)), 0) & 0xFFFFF;
            assertEquals(first, second, "one flow, one label");
            labels.add(first);
        }
        assertTrue(labels.size() > 5, "flows get different labels: " + labels);
    }

    @Test
    void shouldLeaveOnlyTheEspPacketWithEspFraming() {
        Link link = new Link(tunnel().suite(EspSuite.AES_CBC_128_HMAC_SHA1_96).build(), EspProcessor.Framing.ESP);
        SecurityAssociation out = link.aOut(0);
        byte[] inner = TestPackets.tcp(HOST_A_V4, 40000, HOST_B_V4, 22, 77);

        Packet packet = slot(inner);
        assertEquals(Outcome.ACCEPTED, link.a.encapsulate(packet));
        link.aLedger.accepted(out.index(), inner.length);

        byte[] esp = packet.toByteArray();
        assertEquals(espLength(out.suite(), inner.length), esp.length);
        assertEquals(out.spi(), TestPackets.get32(esp, 0));
        assertEquals(1, TestPackets.get32(esp, 4));
        assertEquals(Packet.DEFAULT_HEADROOM - 8 - out.suite().ivLength(), packet.offset(), "ESP header right before the inner packet");

        // a UDP socket hands over the datagram's payload, a raw socket the ESP packet: both paths accept it
        Packet viaEsp = slot(esp);
        assertEquals(Outcome.ACCEPTED, link.b.decapsulateEsp(viaEsp, viaEsp.offset(), viaEsp.length()));
        link.bLedger.accepted(link.bIn(0).index(), inner.length);
        assertArrayEquals(inner, viaEsp.toByteArray());

        byte[] second = TestPackets.tcp(HOST_A_V4, 40000, HOST_B_V4, 22, 3);
        Packet next = slot(second);
        assertEquals(Outcome.ACCEPTED, link.a.encapsulate(next));
        link.aLedger.accepted(out.index(), second.length);
        Packet viaUdp = slot(next.toByteArray());
        assertEquals(Outcome.ACCEPTED, link.b.decapsulateUdpPayload(viaUdp, viaUdp.offset(), viaUdp.length()));
        link.bLedger.accepted(link.bIn(0).index(), second.length);
        assertArrayEquals(second, viaUdp.toByteArray());
        link.verify("ESP framing");
    }

    @Test
    void shouldProcessBatchesPacketByPacket() {
        Link link = new Link(tunnel().build());
        Packet[] batch = new Packet[5];
        byte[][] inners = new byte[5][];
        for (int i = 0; i < 5; i++) {
            inners[i] = TestPackets.udp(HOST_A_V4, 1000 + i, HOST_B_V4, 53, 10 * i);
            batch[i] = slot(inners[i]);
        }
        batch[3] = slot(TestPackets.udp("10.9.9.9", 1, HOST_B_V4, 53, 1));       // no policy
        Outcome[] outcomes = new Outcome[5];

        link.a.encapsulate(batch, 4, outcomes);                                      // the fifth is not part of it

        assertEquals(List.of(Outcome.ACCEPTED, Outcome.ACCEPTED, Outcome.ACCEPTED, Outcome.NO_POLICY),
                Arrays.asList(outcomes).subList(0, 4));
        assertNull(outcomes[4], "the batch ends at its count");
        assertArrayEquals(inners[4], batch[4].toByteArray());
        Outcome[] inbound = new Outcome[5];
        link.b.decapsulate(batch, 3, inbound);
        for (int i = 0; i < 3; i++) {
            assertEquals(Outcome.ACCEPTED, inbound[i]);
            assertArrayEquals(inners[i], batch[i].toByteArray());
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(FlowEncoding.class)
    void shouldSpreadFlowsOverTheGroupAndShowEachSaInTheOuterHeader(FlowEncoding encoding) {
        Link link = new Link(tunnel().saCount(4).encoding(encoding).build());
        Map<Integer, Integer> perSa = new HashMap<>();
        Map<Integer, Integer> saOfFlow = new HashMap<>();
        for (int round = 0; round < 2; round++) {
            for (int flow = 0; flow < 64; flow++) {
                byte[] inner = TestPackets.udp(HOST_A_V4, 20_000 + flow, HOST_B_V4, 443, 30);
                Packet packet = slot(inner);
                assertEquals(Outcome.ACCEPTED, link.a.encapsulate(packet));
                link.aLedger.accepted(packet.saIndex(), inner.length);
                Integer before = saOfFlow.put(flow, packet.saIndex());
                assertTrue(before == null || before == packet.saIndex(), "one flow, one SA");
                perSa.merge(packet.saIndex(), 1, Integer::sum);

                int member = packet.saIndex() - link.aOut(0).index();
                SecurityAssociation out = link.aOut(member);
                assertEquals(out.index(), packet.saIndex());
                byte[] wire = packet.toByteArray();
                assertEquals(out.spi(), TestPackets.get32(wire, 28), "SPI of the member");
                int sourcePort = get16(wire, 20);
                byte[] sourceAddress = Arrays.copyOfRange(wire, 12, 16);
                switch (encoding) {
                    case SPI -> {
                        assertEquals(4500, sourcePort);
                        assertArrayEquals(link.aOut(0).outer().local().getAddress(), sourceAddress);
                    }
                    case UDP_PORT -> assertEquals(TestPackets.UDP_PORT_BASE + member, sourcePort);
                    case ADDRESS -> assertEquals(1 + member, sourceAddress[3]);
                }
                Packet received = link.deliver(wire, Outcome.ACCEPTED, link.bIn(member).index());
                assertEquals(out.spi(), link.bIn(member).spi());
                assertArrayEquals(inner, received.toByteArray());
            }
        }
        assertEquals(4, perSa.size(), "every SA carries flows: " + perSa);
        link.verify("64 flows twice");
    }

    @Test
    void shouldCountEverySaOfALargeGroupInItsOwnRow() {
        // 24 SAs per end: more rows than the counters and transform tables start with
        Link link = new Link(tunnel().saCount(24).encoding(FlowEncoding.UDP_PORT).build());
        Map<Integer, Integer> perSa = new HashMap<>();
        for (int flow = 0; flow < 600; flow++) {
            byte[] inner = TestPackets.udp(HOST_A_V4, 1024 + flow, HOST_B_V4, 443, flow % 50);
            Packet packet = slot(inner);
            assertEquals(Outcome.ACCEPTED, link.a.encapsulate(packet));
            link.aLedger.accepted(packet.saIndex(), inner.length);
            int member = packet.saIndex() - link.aOut(0).index();
            perSa.merge(member, 1, Integer::sum);
            link.deliver(packet.toByteArray(), Outcome.ACCEPTED, link.bIn(member).index());
        }
        assertEquals(24, perSa.size(), "every SA used: " + perSa);
        assertTrue(link.bIn(23).index() > 16);
        link.verify("24 SAs");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Authentication and replay

    @ParameterizedTest(name = "{0} esn={1}")
    @MethodSource("everySuiteWithAndWithoutEsn")
    void shouldDropAnyTamperedBitAsAuthenticationFailedAndStillAcceptTheGenuinePacket(EspSuite suite, boolean esn) {
        Link link = new Link(tunnel().suite(suite).esn(esn).build());
        int row = link.bIn(0).index();
        byte[] inner = TestPackets.tcp(HOST_A_V4, 40000, HOST_B_V4, 443, 61);
        int esp = outerHeaderLength(link.aOut(0).outer());
        int length = espLength(suite, inner.length);
        record Place(String name, int offset, int mask) {
        }
        List<Place> places = new ArrayList<>();
        // the sequence number is authenticated; flipped to numbers never seen, so the replay check lets them through
        places.add(new Place("sequence number, bit 7", esp + 7, 0x80));
        places.add(new Place("sequence number, bit 31", esp + 4, 0x80));
        places.add(new Place("sequence number, bit 16", esp + 5, 0x01));
        List<Place> anyBit = new ArrayList<>();
        if (suite.ivLength() > 0) {
            anyBit.add(new Place("IV", esp + 8, 0));
            anyBit.add(new Place("IV, last byte", esp + 8 + suite.ivLength() - 1, 0));
        }
        anyBit.add(new Place("first ciphertext byte", esp + 8 + suite.ivLength(), 0));
        anyBit.add(new Place("trailer", esp + length - suite.icvLength() - 1, 0));
        anyBit.add(new Place("first ICV byte", esp + length - suite.icvLength(), 0));
        anyBit.add(new Place("last ICV byte", esp + length - 1, 0));
        for (Place place : anyBit) {
            places.add(new Place(place.name + ", bit 0", place.offset, 0x01));
            places.add(new Place(place.name + ", bit 7", place.offset, 0x80));
        }
        for (Place place : places) {
            byte[] genuine = link.send(inner);
            byte[] forged = genuine.clone();
            forged[place.offset] ^= (byte) place.mask;

            Packet refused = link.deliver(forged, Outcome.AUTHENTICATION_FAILED, row);
            if (suite != EspSuite.NULL_HMAC_SHA256_128) {
                assertFalse(contains(refused.buffer(), Arrays.copyOfRange(inner, 20, inner.length)),
                        place.name + ": a forgery's payload is never left decrypted");
            }
            link.deliver(forged, Outcome.AUTHENTICATION_FAILED, row);       // a failure never marks the number
            Packet received = link.deliver(genuine, Outcome.ACCEPTED, row);
            assertArrayEquals(inner, received.toByteArray(), place.name);
            link.verify(place.name);
        }
    }

    @Test
    void shouldDropATamperedSpiAsUnknownSpi() {
        Link link = new Link(tunnel().build());
        byte[] wire = link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 3));
        byte[] forged = wire.clone();
        forged[28 + 3] ^= 1;
        link.deliver(forged, Outcome.UNKNOWN_SPI, LaneCounters.NO_SA);
        link.verify("unknown SPI");
        link.deliver(wire, Outcome.ACCEPTED, link.bIn(0).index());
        link.verify("genuine after unknown SPI");
    }

    /**
     * A marker is the data plane's own only with its key in the token: a stranger's (a guess, or any before the key is
     * set) is an unknown SPI, and a marker of ours records when it was read, in its slot.
     */
    @Test
    void shouldRecordOnlyMarkersWithTheDataPlanesKeyAndCountAStrangersAsAnUnknownSpi() {
        EspProcessor lane = tunnel().build().b().processor(EspProcessor.Framing.ESP);
        long key = 0xA1B2C3D4E5L;
        long ours = EspProcessor.markerToken(key, EspProcessor.HAND_OVER_MARKER_SLOT, 7);
        long probe = EspProcessor.markerToken(key, 0, 1);
        long stranger = EspProcessor.markerToken(key ^ 1, EspProcessor.HAND_OVER_MARKER_SLOT, 7);
        Packet packet = Packet.withRoomFor(64);

        assertEquals(Outcome.UNKNOWN_SPI, read(lane, packet, HandOverMarker.encode(1, ours)), "no key yet: not ours");
        assertEquals(0, lane.markerArrival(ours));
        lane.markerKey(key);
        assertEquals(Outcome.UNKNOWN_SPI, read(lane, packet, HandOverMarker.encode(1, stranger)));
        assertEquals(0, lane.markerArrival(stranger), "another key is a stranger's");
        assertEquals(Outcome.UNKNOWN_SPI, read(lane, packet, Arrays.copyOf(HandOverMarker.encode(1, ours), 12)));
        assertEquals(0, lane.markerArrival(ours), "a marker cut short is no marker");

        long beforeNs = System.nanoTime();
        assertEquals(Outcome.MARKER, read(lane, packet, HandOverMarker.encode(1, ours)));
        assertEquals(Outcome.MARKER, read(lane, packet, HandOverMarker.encode(1, probe)));
        assertTrue(lane.markerArrival(ours) >= beforeNs, "read, and when");
        assertTrue(lane.markerArrival(probe) >= beforeNs, "each slot remembers its own");
        assertEquals(0, lane.markerArrival(EspProcessor.markerToken(key, 0, 2)), "a later probe is not read yet");
        assertEquals(2, lane.counters().total(Outcome.MARKER));
        assertEquals(3, lane.counters().total(Outcome.UNKNOWN_SPI));
    }

    private static Outcome read(EspProcessor lane, Packet packet, byte[] datagram) {
        packet.load(datagram, 0, datagram.length);
        return lane.decapsulateUdpPayload(packet, packet.offset(), packet.length());
    }

    @Test
    void shouldNotAcceptAnOutboundSaSpiAsInbound() {
        // B's own outbound SA has SPI_B_TO_A; a packet carrying it must not be taken for an inbound one
        Link link = new Link(tunnel().build());
        byte[] wire = link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 3));
        TestPackets.put32(wire, 28, TestPackets.SPI_B_TO_A);
        link.deliver(wire, Outcome.UNKNOWN_SPI, LaneCounters.NO_SA);
        link.verify("B's outbound SPI");
    }

    @Test
    void shouldAcceptAForgedFreshNumberNeverAndTheGenuineOneAfterwards() {
        Link link = new Link(tunnel().suite(EspSuite.AES_GCM_256).build());
        SecurityAssociation out = link.aOut(0);
        int row = link.bIn(0).index();
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 40);
        // the attacker guesses the next number and sends garbage under it, before the real packet
        byte[] garbage = TestPackets.randomBytes(espLength(out.suite(), inner.length));
        TestPackets.put32(garbage, 0, out.spi());
        TestPackets.put32(garbage, 4, 1);
        link.deliver(TestPackets.outer(out.outer(), garbage), Outcome.AUTHENTICATION_FAILED, row);
        TestPackets.put32(garbage, 4, 1000);
        link.deliver(TestPackets.outer(out.outer(), garbage), Outcome.AUTHENTICATION_FAILED, row);
        assertEquals(0, link.bIn(0).replayWindow().highest(), "forgeries do not move the window");

        byte[] genuine = link.send(inner);
        link.deliver(genuine, Outcome.ACCEPTED, row);
        link.deliver(genuine, Outcome.REPLAY, row);
        link.verify("forged then genuine");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(EspSuite.class)
    void shouldDropAReplayedPacketAsReplay(EspSuite suite) {
        Link link = new Link(tunnel().suite(suite).build());
        int row = link.bIn(0).index();
        byte[] first = link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 3));
        byte[] second = link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 4));
        link.deliver(second, Outcome.ACCEPTED, row);
        link.deliver(first, Outcome.ACCEPTED, row);                 // late but new
        link.deliver(first, Outcome.REPLAY, row);
        link.deliver(second, Outcome.REPLAY, row);
        link.verify("replays");
    }

    @Test
    void shouldDropAPacketLeftOfTheWindowAsReplayTooOld() {
        Link link = new Link(tunnel().replayWindowSize(64).build());
        int row = link.bIn(0).index();
        List<byte[]> wires = new ArrayList<>();
        for (int i = 1; i <= 66; i++) {
            wires.add(link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, i)));
        }
        link.deliver(wires.get(65), Outcome.ACCEPTED, row);          // seq 66
        link.deliver(wires.get(1), Outcome.REPLAY_TOO_OLD, row);     // seq 2 = 66 - 64
        link.deliver(wires.get(0), Outcome.REPLAY_TOO_OLD, row);     // seq 1
        link.deliver(wires.get(2), Outcome.ACCEPTED, row);           // seq 3 = 66 - 63
        link.verify("too old");
    }

    @Test
    void shouldTakeAnEsnNumberLeftOfTheWindowForTheNextSubspaceAndFailItsIcv() {
        // RFC 4303 A2.2 case A: a low half below the window's bottom belongs to the next 2^32 block
        Link link = new Link(tunnel().esn(true).replayWindowSize(64).build());
        int row = link.bIn(0).index();
        List<byte[]> wires = new ArrayList<>();
        for (int i = 1; i <= 66; i++) {
            wires.add(link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, i)));
        }
        link.deliver(wires.get(65), Outcome.ACCEPTED, row);          // seq 66
        link.deliver(wires.get(1), Outcome.AUTHENTICATION_FAILED, row);   // low half 2: taken as 2^32 + 2
        link.deliver(wires.get(2), Outcome.ACCEPTED, row);           // seq 3, inside
        assertEquals(66, link.bIn(0).replayWindow().highest());
        link.verify("ESN left of the window");
    }

    @Test
    void shouldDropAnEsnNumberFromBeforeTheSaStartedAsReplayTooOld() {
        Link link = new Link(tunnel().esn(true).build());             // window 1024
        SecurityAssociation out = link.aOut(0);
        int row = link.bIn(0).index();
        for (int i = 1; i <= 20; i++) {
            link.deliver(link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, i)), Outcome.ACCEPTED, row);
        }
        // low half 0xFFFFFFF0 inside the window's reach below 2^32: it would come from before the first packet
        byte[] garbage = TestPackets.randomBytes(espLength(out.suite(), 40));
        TestPackets.put32(garbage, 0, out.spi());
        TestPackets.put32(garbage, 4, 0xFFFF_FFF0);
        link.deliver(TestPackets.outer(out.outer(), garbage), Outcome.REPLAY_TOO_OLD, row);
        link.verify("ESN before the start");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Malformed input

    @Test
    void shouldDropTruncatedPacketsAsMalformed() {
        Link link = new Link(tunnel().suite(EspSuite.AES_CBC_256_HMAC_SHA256_128).build());
        SecurityAssociation out = link.aOut(0);
        OuterEndpoints outer = out.outer();
        int row = link.bIn(0).index();
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 50);
        int length = espLength(out.suite(), inner.length);

        // the slot holds less than the outer header says
        byte[] wire = link.send(inner);
        for (int cut : new int[] {1, 16, wire.length - 27, wire.length - 20, wire.length - 1, wire.length}) {
            link.deliver(Arrays.copyOf(wire, wire.length - cut), Outcome.MALFORMED, LaneCounters.NO_SA);
        }
        link.verify("short slot");

        // consistent headers around a cut ESP packet: not a whole number of cipher blocks, or no room for the ICV
        for (int cut : new int[] {1, 15, 17, length - 8 - 16, length - 8}) {
            link.deliver(rewrap(outer, wire, length - cut), Outcome.MALFORMED, row);
        }
        link.verify("cut ESP");
        // fewer bytes than an ESP header: no SA can be named
        link.deliver(rewrap(outer, wire, 7), Outcome.MALFORMED, LaneCounters.NO_SA);
        link.deliver(rewrap(outer, wire, 0), Outcome.MALFORMED, LaneCounters.NO_SA);
        // a whole block less: the length is plausible, the ICV is not
        link.deliver(rewrap(outer, wire, length - 16), Outcome.AUTHENTICATION_FAILED, row);
        link.verify("tiny ESP");
        link.deliver(wire, Outcome.ACCEPTED, row);
        link.verify("genuine after the cut ones");
    }

    @Test
    void shouldDropAnEmptySlotAndUnknownIpVersionsAsMalformed() {
        Link link = new Link(tunnel().build());
        link.deliver(new byte[0], Outcome.MALFORMED, LaneCounters.NO_SA);
        byte[] wire = link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 3));
        wire[0] = 0x55;
        link.deliver(wire, Outcome.MALFORMED, LaneCounters.NO_SA);
        byte[] inconsistentUdp = TestPackets.udp("198.51.100.1", 4500, "192.0.2.1", 4500, 20);
        TestPackets.put16(inconsistentUdp, 24, 60);                  // UDP length beyond the IP payload
        link.deliver(inconsistentUdp, Outcome.MALFORMED, LaneCounters.NO_SA);
        link.verify("malformed outer");
    }

    @Test
    void shouldDropOuterPacketsThatAreNotEspAsNotEsp() {
        Link link = new Link(tunnel().build());
        link.deliver(TestPackets.udp("198.51.100.1", 5353, "192.0.2.1", 53, 20), Outcome.NOT_ESP, LaneCounters.NO_SA);
        link.deliver(TestPackets.tcp("198.51.100.1", 4500, "192.0.2.1", 4500, 20), Outcome.NOT_ESP, LaneCounters.NO_SA);
        link.deliver(TestPackets.icmpEcho("2001:db8:b::1", "2001:db8:a::1", 20), Outcome.NOT_ESP, LaneCounters.NO_SA);
        link.verify("not ESP");
    }

    @ParameterizedTest(name = "outer v{0}")
    @ValueSource(ints = {4, 6})
    void shouldDropAnOuterFragmentAsOuterFragment(int family) {
        Link link = new Link(tunnel().outerFamily(family).udp(false).build());
        byte[] wire = link.send(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 300));
        byte[] fragment;
        if (family == 4) {
            fragment = wire.clone();
            TestPackets.put16(fragment, 6, 0x2000);                  // more fragments
            TestPackets.put16(fragment, 10, 0);
            TestPackets.put16(fragment, 10, ~TestPackets.checksum(fragment, 0, 20, 0) & 0xFFFF);
            byte[] last = fragment.clone();
            TestPackets.put16(last, 6, 100);                         // offset only
            TestPackets.put16(last, 10, 0);
            TestPackets.put16(last, 10, ~TestPackets.checksum(last, 0, 20, 0) & 0xFFFF);
            link.deliver(last, Outcome.OUTER_FRAGMENT, LaneCounters.NO_SA);
        } else {
            fragment = new byte[wire.length + 8];                    // insert a fragment header after the fixed one
            System.arraycopy(wire, 0, fragment, 0, 40);
            System.arraycopy(wire, 40, fragment, 48, wire.length - 40);
            fragment[6] = (byte) IpProtocol.IPV6_FRAGMENT;
            TestPackets.put16(fragment, 4, wire.length - 40 + 8);
            fragment[40] = (byte) IpProtocol.ESP;
            TestPackets.put16(fragment, 42, 1);                      // offset 0, more fragments
            TestPackets.put32(fragment, 44, 0x1234);
        }
        link.deliver(fragment, Outcome.OUTER_FRAGMENT, LaneCounters.NO_SA);
        link.deliver(wire, Outcome.ACCEPTED, link.bIn(0).index());
        link.verify("outer fragment");
    }

    @Test
    void shouldFindEspBehindIpv6ExtensionHeaders() {
        Link link = new Link(tunnel().outerFamily(6).udp(false).build());
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 30);
        byte[] wire = link.send(inner);
        byte[] withOptions = new byte[wire.length + 8];             // a destination options header (PadN)
        System.arraycopy(wire, 0, withOptions, 0, 40);
        System.arraycopy(wire, 40, withOptions, 48, wire.length - 40);
        withOptions[6] = (byte) IpProtocol.IPV6_DESTINATION_OPTIONS;
        TestPackets.put16(withOptions, 4, wire.length - 40 + 8);
        withOptions[40] = (byte) IpProtocol.ESP;
        withOptions[42] = 1;                                        // PadN
        withOptions[43] = 4;
        assertArrayEquals(inner, link.deliver(withOptions, Outcome.ACCEPTED, link.bIn(0).index()).toByteArray());
        link.verify("extension headers");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // RFC 3948 classification

    @ParameterizedTest(name = "outer v{0}")
    @ValueSource(ints = {4, 6})
    void shouldConsumeANatKeepaliveAsNatKeepalive(int family) {
        Link link = new Link(tunnel().outerFamily(family).build());
        String peer = family == 4 ? "198.51.100.1" : "2001:db8:b::1";
        String self = family == 4 ? "192.0.2.1" : "2001:db8:a::1";
        byte[] keepalive = TestPackets.inner(peer, self).udp(4500, 4500).payload(new byte[] {(byte) 0xFF}).build();
        link.deliver(keepalive, Outcome.NAT_KEEPALIVE, LaneCounters.NO_SA);
        byte[] fromNat = TestPackets.inner(peer, self).udp(61_000, 4500).payload(new byte[] {(byte) 0xFF}).build();
        link.deliver(fromNat, Outcome.NAT_KEEPALIVE, LaneCounters.NO_SA);
        link.verify("keepalive");
    }

    @Test
    void shouldAcceptEspInUdpSentFromTheNatTraversalPortToAnyPort() {
        // the peer answers from 4500 to the port an SA of a udp-port group sends from
        Link link = new Link(tunnel().saCount(2).encoding(FlowEncoding.UDP_PORT).build());
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 3);
        Packet packet = slot(inner);
        assertEquals(Outcome.ACCEPTED, link.a.encapsulate(packet));
        link.aLedger.accepted(packet.saIndex(), inner.length);
        int member = packet.saIndex() - link.aOut(0).index();
        byte[] wire = packet.toByteArray();
        TestPackets.put16(wire, 20, 4500);
        TestPackets.put16(wire, 22, TestPackets.UDP_PORT_BASE + 1);           // UDP checksum is 0 over IPv4
        assertArrayEquals(inner, link.deliver(wire, Outcome.ACCEPTED, link.bIn(member).index()).toByteArray());
        link.verify("from 4500");
    }

    @Test
    void shouldHandIkeBehindTheNonEspMarkerOver() {
        Link link = new Link(tunnel().build());
        byte[] ike = new byte[4 + 28];
        ike[4] = 0x11;                                                // initiator SPI starts here
        ike[4 + 17] = 0x20;                                           // IKEv2
        byte[] packet = TestPackets.inner("198.51.100.1", "192.0.2.1").udp(4500, 4500).payload(ike).build();
        link.deliver(packet, Outcome.NON_ESP_MARKER, LaneCounters.NO_SA);
        link.verify("IKE");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Inside the ESP packet

    /** Crafts an ESP packet of A's SA with the given plaintext under a fresh number, wrapped for B. */
    private static byte[] craft(Link link, byte[] plaintext) {
        SecurityAssociation out = link.aOut(0);
        long sequence = out.nextSequenceNumber();
        return TestPackets.outer(out.outer(), TestPackets.sealEsp(out, sequence, plaintext));
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(EspSuite.class)
    void shouldDropADummyPacketAsDummyPacketAndStillCommitItsNumber(EspSuite suite) {
        Link link = new Link(tunnel().suite(suite).esn(true).build());
        int row = link.bIn(0).index();
        byte[] dummy = craft(link, TestPackets.espPlaintext(TestPackets.randomBytes(37), IpProtocol.NO_NEXT_HEADER, suite));
        link.deliver(dummy, Outcome.DUMMY_PACKET, row);
        link.deliver(dummy, Outcome.REPLAY, row);
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 3);
        assertArrayEquals(inner, link.deliver(link.send(inner), Outcome.ACCEPTED, row).toByteArray());
        link.verify("dummy");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(EspSuite.class)
    void shouldDropPaddingOtherThanOneTwoThreeAsBadPadding(EspSuite suite) {
        Link link = new Link(tunnel().suite(suite).build());
        int row = link.bIn(0).index();
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 3);     // 31 bytes
        int alignment = suite.alignment();
        int padLength = paddedLength(suite, inner.length) - inner.length - 2 + alignment; // one block more than needed
        byte[] padding = new byte[padLength];
        for (int i = 0; i < padLength; i++) {
            padding[i] = (byte) (i + 1);
        }
        assertArrayEquals(inner, link.deliver(craft(link, TestPackets.espPlaintext(inner, padding, IpProtocol.IPV4)),
                Outcome.ACCEPTED, row).toByteArray(), "longer padding than needed is fine");

        padding[padLength - 1] ^= 0x40;
        link.deliver(craft(link, TestPackets.espPlaintext(inner, padding, IpProtocol.IPV4)), Outcome.BAD_PADDING, row);
        byte[] zeros = new byte[padLength];
        link.deliver(craft(link, TestPackets.espPlaintext(inner, zeros, IpProtocol.IPV4)), Outcome.BAD_PADDING, row);

        // a pad length longer than the payload
        byte[] plaintext = TestPackets.espPlaintext(inner, IpProtocol.IPV4, suite);
        plaintext[plaintext.length - 2] = (byte) 255;
        link.deliver(craft(link, plaintext), Outcome.BAD_PADDING, row);
        link.verify("bad padding");
    }

    @Test
    void shouldDropANextHeaderOtherThanIpAsUnsupportedNextHeader() {
        Link link = new Link(tunnel().build());
        int row = link.bIn(0).index();
        byte[] tcpSegment = Arrays.copyOfRange(TestPackets.tcp(HOST_A_V4, 1, HOST_B_V4, 2, 10), 20, 50);
        link.deliver(craft(link, TestPackets.espPlaintext(tcpSegment, IpProtocol.TCP, EspSuite.AES_GCM_128)),
                Outcome.UNSUPPORTED_NEXT_HEADER, row);
        link.verify("transport mode payload");
    }

    @Test
    void shouldDropAnInnerPacketThatDisagreesWithItselfAsInnerMalformed() {
        Link link = new Link(tunnel().innerFamily(0).build());
        int row = link.bIn(0).index();
        byte[] v6 = TestPackets.udp(TestPackets.HOST_A_V6, 1, TestPackets.HOST_B_V6, 2, 10);
        link.deliver(craft(link, TestPackets.espPlaintext(v6, IpProtocol.IPV4, EspSuite.AES_GCM_128)),
                Outcome.INNER_MALFORMED, row);
        byte[] v4 = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 10);
        byte[] cut = Arrays.copyOf(v4, v4.length - 1);                      // total length says one byte more
        link.deliver(craft(link, TestPackets.espPlaintext(cut, IpProtocol.IPV4, EspSuite.AES_GCM_128)),
                Outcome.INNER_MALFORMED, row);
        link.verify("inner malformed");
    }

    @Test
    void shouldCutTfcPaddingBehindTheInnerPacket() {
        Link link = new Link(tunnel().build());
        byte[] inner = TestPackets.icmpEcho(HOST_A_V4, HOST_B_V4, 8);
        byte[] padded = Arrays.copyOf(inner, inner.length + 100);          // RFC 4303 §2.4 TFC padding
        Packet received = link.deliver(craft(link, TestPackets.espPlaintext(padded, IpProtocol.IPV4, EspSuite.AES_GCM_128)),
                Outcome.ACCEPTED, link.bIn(0).index());
        assertArrayEquals(inner, received.toByteArray());
        link.verify("TFC");
    }

    @Test
    void shouldDropAnInnerPacketOutsideTheSasSelectorsAsPolicyMismatch() {
        // A protects 10.1/16 <-> 10.2/16; B's inbound SA only admits 10.1.0.0/24 -> 10.2.0.0/24, TCP to port 443
        TrafficSelector narrow = new TrafficSelector(IpPrefix.parse("10.2.0.0/24"), IpPrefix.parse("10.1.0.0/24"),
                IpProtocol.TCP, new PortRange(443, 443), PortRange.ANY);
        Link link = new Link(tunnel().inboundSelectorAtB(narrow).build());
        int row = link.bIn(0).index();

        byte[] allowed = TestPackets.tcp(HOST_A_V4, 40000, HOST_B_V4, 443, 10);
        assertArrayEquals(allowed, link.deliver(link.send(allowed), Outcome.ACCEPTED, row).toByteArray());
        link.deliver(link.send(TestPackets.tcp(HOST_A_V4, 40000, "10.2.5.20", 443, 10)), Outcome.POLICY_MISMATCH, row);
        link.deliver(link.send(TestPackets.tcp("10.1.7.1", 40000, HOST_B_V4, 443, 10)), Outcome.POLICY_MISMATCH, row);
        link.deliver(link.send(TestPackets.tcp(HOST_A_V4, 40000, HOST_B_V4, 80, 10)), Outcome.POLICY_MISMATCH, row);
        link.deliver(link.send(TestPackets.udp(HOST_A_V4, 40000, HOST_B_V4, 443, 10)), Outcome.POLICY_MISMATCH, row);
        link.deliver(link.send(TestPackets.icmpEcho(HOST_A_V4, HOST_B_V4, 10)), Outcome.POLICY_MISMATCH, row);
        link.verify("policy mismatch");
    }

    @Test
    void shouldDropAPacketAddressedTheWrongWayAsPolicyMismatch() {
        // B's inbound SA admits A's site to B's site only; a packet from B's site is outside it
        Link link = new Link(tunnel().build());
        SecurityAssociation out = link.aOut(0);
        byte[] reversed = TestPackets.udp(HOST_B_V4, 1, HOST_A_V4, 2, 10);
        link.deliver(craft(link, TestPackets.espPlaintext(reversed, IpProtocol.IPV4, out.suite())),
                Outcome.POLICY_MISMATCH, link.bIn(0).index());
        link.verify("reversed");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Outbound policy and room

    @Test
    void shouldDropAPacketNoPolicyMatchesAsNoPolicy() {
        Link link = new Link(tunnel().build());
        byte[] inner = TestPackets.udp("10.9.0.1", 1, HOST_B_V4, 2, 10);
        Packet packet = slot(inner);
        assertEquals(Outcome.NO_POLICY, link.a.encapsulate(packet));
        link.aLedger.count(LaneCounters.NO_SA, Outcome.NO_POLICY);
        assertEquals(0, link.aOut(0).lastSequenceSent(), "no number was used");
        Packet v6 = slot(TestPackets.udp(TestPackets.HOST_A_V6, 1, TestPackets.HOST_B_V6, 2, 10));
        assertEquals(Outcome.NO_POLICY, link.a.encapsulate(v6));
        link.aLedger.count(LaneCounters.NO_SA, Outcome.NO_POLICY);
        link.verify("no policy");
    }

    @Test
    void shouldDropAnOutboundPacketWithABrokenHeaderAsMalformed() {
        Link link = new Link(tunnel().build());
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 10);
        Packet cut = slot(Arrays.copyOf(inner, inner.length - 1));
        assertEquals(Outcome.MALFORMED, link.a.encapsulate(cut));
        Packet empty = slot(new byte[0]);
        assertEquals(Outcome.MALFORMED, link.a.encapsulate(empty));
        link.aLedger.count(LaneCounters.NO_SA, Outcome.MALFORMED).count(LaneCounters.NO_SA, Outcome.MALFORMED);
        link.verify("broken inner");
    }

    private static EspProcessor withPolicies(Tunnel tunnel, String discard, String bypass) {
        TrafficSelector discardSelector = new TrafficSelector(IpPrefix.parse(TestPackets.SITE_A_V4),
                IpPrefix.parse(discard), 0, PortRange.ANY, PortRange.ANY);
        TrafficSelector bypassSelector = new TrafficSelector(IpPrefix.parse(TestPackets.SITE_A_V4),
                IpPrefix.parse(bypass), 0, PortRange.ANY, PortRange.ANY);
        SecurityPolicyDatabase spd = new SecurityPolicyDatabase(List.of(
                new SecurityPolicy("discard", discardSelector, PolicyAction.DISCARD, null),
                new SecurityPolicy("bypass", bypassSelector, PolicyAction.BYPASS, null),
                tunnel.a().policy()));
        return new EspProcessor(spd, tunnel.a().sad(), EspProcessor.Framing.IP);
    }

    @Test
    void shouldDropAPacketADiscardPolicyMatchesAsPolicyDiscard() {
        Tunnel tunnel = tunnel().build();
        EspProcessor a = withPolicies(tunnel, "10.2.99.0/24", "10.2.98.0/24");
        Ledger ledger = new Ledger(a);
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, "10.2.99.1", 2, 10);
        Packet packet = slot(inner);
        assertEquals(Outcome.POLICY_DISCARD, a.encapsulate(packet));
        ledger.count(LaneCounters.NO_SA, Outcome.POLICY_DISCARD);
        assertEquals(0, tunnel.a().outbound(0).lastSequenceSent());
        Packet protectedOne = slot(TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 10));
        assertEquals(Outcome.ACCEPTED, a.encapsulate(protectedOne));
        ledger.accepted(tunnel.a().outbound(0).index(), 38);
        ledger.verify("discard");
    }

    @Test
    void shouldForwardAPacketABypassPolicyMatchesUnchanged() {
        Tunnel tunnel = tunnel().build();
        EspProcessor a = withPolicies(tunnel, "10.2.99.0/24", "10.2.98.0/24");
        Ledger ledger = new Ledger(a);
        byte[] inner = TestPackets.tcp(HOST_A_V4, 1, "10.2.98.7", 2, 100);
        byte[] withLinkPadding = Arrays.copyOf(inner, inner.length + 6);
        Packet packet = slot(withLinkPadding);
        int offset = packet.offset();

        assertEquals(Outcome.BYPASS, a.encapsulate(packet));

        assertEquals(offset, packet.offset());
        assertArrayEquals(inner, packet.toByteArray(), "the IP packet, in clear, link padding dropped");
        assertEquals(0, packet.saIndex());
        ledger.count(LaneCounters.NO_SA, Outcome.BYPASS);
        ledger.verify("bypass");
        assertEquals(0, a.counters().acceptedBytes(LaneCounters.NO_SA));
    }

    @Test
    void shouldRefuseAPacketWithoutHeadroomOrTailroomAsNoRoom() {
        Link link = new Link(tunnel().outerFamily(6).build());
        SecurityAssociation out = link.aOut(0);
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 100);
        int needed = 40 + 8 + 8 + out.suite().ivLength();          // outer IPv6, UDP, ESP header, IV

        Packet tight = new Packet(needed - 1 + inner.length + 64);
        System.arraycopy(inner, 0, tight.buffer(), needed - 1, inner.length);
        tight.set(needed - 1, inner.length);
        assertEquals(Outcome.NO_ROOM, link.a.encapsulate(tight));
        link.aLedger.count(out.index(), Outcome.NO_ROOM);
        assertArrayEquals(inner, tight.toByteArray(), "left as it was");
        assertEquals(0, out.lastSequenceSent(), "no number was used");

        Packet noTail = new Packet(needed + inner.length + 2);
        System.arraycopy(inner, 0, noTail.buffer(), needed, inner.length);
        noTail.set(needed, inner.length);
        assertEquals(Outcome.NO_ROOM, link.a.encapsulate(noTail));
        link.aLedger.count(out.index(), Outcome.NO_ROOM);

        Packet exact = new Packet(needed + paddedLength(out.suite(), inner.length) + out.suite().icvLength());
        System.arraycopy(inner, 0, exact.buffer(), needed, inner.length);
        exact.set(needed, inner.length);
        assertEquals(Outcome.ACCEPTED, link.a.encapsulate(exact));
        link.aLedger.accepted(out.index(), inner.length);
        assertEquals(0, exact.offset());
        assertEquals(exact.buffer().length, exact.length(), "just fits");
        link.verify("no room");
        assertArrayEquals(inner, link.deliver(exact.toByteArray(), Outcome.ACCEPTED, link.bIn(0).index()).toByteArray());
    }

    @Test
    void shouldNeedLessHeadroomWithEspFraming() {
        Tunnel tunnel = tunnel().build();
        EspProcessor ip = tunnel.a().processor(EspProcessor.Framing.IP);
        EspProcessor esp = tunnel.a().processor(EspProcessor.Framing.ESP);
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 10);
        int espHeader = 8 + tunnel.a().outbound(0).suite().ivLength();
        for (EspProcessor processor : List.of(ip, esp)) {
            Packet packet = new Packet(espHeader + inner.length + 64);
            System.arraycopy(inner, 0, packet.buffer(), espHeader, inner.length);
            packet.set(espHeader, inner.length);
            assertEquals(processor == ip ? Outcome.NO_ROOM : Outcome.ACCEPTED, processor.encapsulate(packet));
        }
    }

    @Test
    void shouldRefuseAnOuterPacketLongerThanIpAllowsAsNoRoom() {
        Link link = new Link(tunnel().build());
        byte[] inner = TestPackets.udp(HOST_A_V4, 1, HOST_B_V4, 2, 65535 - 28);
        Packet packet = slot(inner);
        assertEquals(Outcome.NO_ROOM, link.a.encapsulate(packet));
        link.aLedger.count(link.aOut(0).index(), Outcome.NO_ROOM);
        link.verify("too long");
    }
}
