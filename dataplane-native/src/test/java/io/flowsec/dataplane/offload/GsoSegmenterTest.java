package io.flowsec.dataplane.offload;

import io.flowsec.dataplane.offload.OffloadTestPackets.Ip;
import io.flowsec.dataplane.packet.Packet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static io.flowsec.dataplane.offload.OffloadTestPackets.ACK;
import static io.flowsec.dataplane.offload.OffloadTestPackets.CWR;
import static io.flowsec.dataplane.offload.OffloadTestPackets.FIN;
import static io.flowsec.dataplane.offload.OffloadTestPackets.PSH;
import static io.flowsec.dataplane.offload.OffloadTestPackets.get16;
import static io.flowsec.dataplane.offload.OffloadTestPackets.get32;
import static io.flowsec.dataplane.offload.OffloadTestPackets.isIpv4HeaderValid;
import static io.flowsec.dataplane.offload.OffloadTestPackets.isTransportChecksumValid;
import static io.flowsec.dataplane.offload.OffloadTestPackets.put16;
import static io.flowsec.dataplane.offload.OffloadTestPackets.timestamps;
import static io.flowsec.dataplane.offload.OffloadTestPackets.tunRead;
import static io.flowsec.dataplane.offload.VirtioNetHeader.F_DATA_VALID;
import static io.flowsec.dataplane.offload.VirtioNetHeader.F_NEEDS_CSUM;
import static io.flowsec.dataplane.offload.VirtioNetHeader.GSO_ECN;
import static io.flowsec.dataplane.offload.VirtioNetHeader.GSO_NONE;
import static io.flowsec.dataplane.offload.VirtioNetHeader.GSO_TCPV4;
import static io.flowsec.dataplane.offload.VirtioNetHeader.GSO_TCPV6;
import static io.flowsec.dataplane.offload.VirtioNetHeader.GSO_UDP;
import static io.flowsec.dataplane.offload.VirtioNetHeader.GSO_UDP_L4;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GsoSegmenterTest {
    private static final int SLOT = 1500;

    private final GsoSegmenter segmenter = new GsoSegmenter(SLOT);

    // ---------------------------------------------------------------------------------------------------------------
    // TCP

    @Test
    void shouldCutAnIpv4SuperpacketWithIpAndTcpOptionsAsTheKernelWould() {
        Ip superpacket = Ip.v4();
        superpacket.ipOptions = new byte[]{1, 1, 1, 0};   // NOP NOP NOP EOL
        superpacket.tcpOptions = timestamps(0x01020304, 0x0a0b0c0d);
        superpacket.id = 0xFFFE;                           // the IDs wrap
        superpacket.sequence = 0xFFFF_F800L;               // and so do the sequence numbers
        superpacket.flags = CWR | ACK | PSH | FIN;
        superpacket.payload(3500).partial();
        byte[] ip = superpacket.build();
        byte[] read = tunRead(7, F_NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 200, 1000, 24, 16, ip);   // hdr_len: a hint

        assertEquals(4, segmenter.begin(read, 7, read.length - 7));
        List<byte[]> segments = takeAll(segmenter);

        assertEquals(4, segments.size());
        int[] ids = {0xFFFE, 0xFFFF, 0x0000, 0x0001};
        long[] sequences = {0xFFFF_F800L, 0xFFFF_FBE8L, 0xFFFF_FFD0L, 0x0000_03B8L};
        int[] flags = {CWR | ACK, ACK, ACK, ACK | PSH | FIN};
        int[] lengths = {1056, 1056, 1056, 556};
        for (int i = 0; i < 4; i++) {
            byte[] s = segments.get(i);
            assertEquals(lengths[i], s.length, "segment " + i);
            assertEquals(0x46, s[0] & 0xFF);
            assertEquals(lengths[i], get16(s, 2), "total length of " + i);
            assertEquals(ids[i], get16(s, 4), "ID of " + i);
            assertEquals(0x4000, get16(s, 6), "DF, not a fragment");
            assertArrayEquals(new byte[]{1, 1, 1, 0}, Arrays.copyOfRange(s, 20, 24), "IP options copied");
            assertEquals(sequences[i], get32(s, 24 + 4), "sequence of " + i);
            assertEquals(superpacket.acknowledgment, get32(s, 24 + 8));
            assertEquals(0x80, s[24 + 12] & 0xFF, "data offset 8 words");
            assertEquals(flags[i], s[24 + 13] & 0xFF, "flags of " + i);
            assertArrayEquals(superpacket.tcpOptions, Arrays.copyOfRange(s, 44, 56), "TCP options copied");
            assertArrayEquals(Arrays.copyOfRange(superpacket.payload, i * 1000, Math.min(3500, i * 1000 + 1000)),
                    Arrays.copyOfRange(s, 56, s.length), "payload of " + i);
            assertTrue(isIpv4HeaderValid(s), "IPv4 header checksum of " + i);
            assertTrue(isTransportChecksumValid(s), "TCP checksum of " + i);
            assertArrayEquals(expectedSegment(superpacket, i, 1000, 4), s, "every byte of " + i);
        }
        assertFalse(segmenter.hasNext());
        assertArrayEquals(tunRead(7, F_NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 200, 1000, 24, 16, ip), read,
                "the superpacket is only read");
    }

    @Test
    void shouldCutAnIpv6SuperpacketOfAnExactMultipleIntoEqualSegments() {
        Ip superpacket = Ip.v6();
        superpacket.tcpOptions = timestamps(7, 9);
        superpacket.flags = ACK | PSH;
        superpacket.payload(3 * 1400).partial();
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_TCPV6, 72, 1400, 40, 16, superpacket.build());

        assertEquals(3, segmenter.begin(read, 0, read.length));
        List<byte[]> segments = takeAll(segmenter);

        for (int i = 0; i < 3; i++) {
            byte[] s = segments.get(i);
            assertEquals(40 + 32 + 1400, s.length);
            assertEquals(32 + 1400, get16(s, 4), "payload length of " + i);
            assertEquals(6, s[6], "next header TCP");
            assertEquals(superpacket.sequence + 1400L * i, get32(s, 40 + 4), "sequence of " + i);
            assertEquals(i == 2 ? ACK | PSH : ACK, s[40 + 13] & 0xFF, "PSH on the last segment only");
            assertArrayEquals(Arrays.copyOfRange(superpacket.payload, i * 1400, i * 1400 + 1400),
                    Arrays.copyOfRange(s, 72, s.length));
            assertTrue(isTransportChecksumValid(s), "TCP checksum of " + i);
            assertArrayEquals(expectedSegment(superpacket, i, 1400, 3), s, "every byte of " + i);
        }
    }

    @Test
    void shouldGiveOneSegmentWhenThePayloadFitsInGsoSize() {
        Ip superpacket = Ip.v4().flags(ACK | FIN).payload(700).partial();
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 1448, 20, 16, superpacket.build());

        assertEquals(1, segmenter.begin(read, 0, read.length));
        List<byte[]> segments = takeAll(segmenter);

        assertArrayEquals(expectedSegment(superpacket, 0, 1448, 1), segments.get(0));
        assertEquals(ACK | FIN, segments.get(0)[33] & 0xFF, "the only segment is the last: FIN stays");
    }

    @Test
    void shouldGiveTheSameBytesWhenTheSegmentsAreTakenOverSeveralBatches() {
        Ip superpacket = Ip.v4().flags(ACK | PSH).payload(6 * 1000 + 123).partial();
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 1000, 20, 16, superpacket.build());
        GsoSegmenter oneGo = new GsoSegmenter(SLOT);
        assertEquals(7, oneGo.begin(read, 0, read.length));
        List<byte[]> expected = takeAll(oneGo);

        assertEquals(7, segmenter.begin(read, 0, read.length));
        Packet[] firstBatch = {slot(), slot(), slot()};
        for (Packet out : firstBatch) {
            segmenter.next(out);
        }
        assertTrue(segmenter.hasNext());
        assertEquals(4, segmenter.remaining());
        List<byte[]> taken = new ArrayList<>();
        for (Packet out : firstBatch) {
            taken.add(out.toByteArray());
        }
        taken.addAll(takeAll(segmenter));   // the next batch, other slots

        assertEquals(7, taken.size());
        for (int i = 0; i < 7; i++) {
            assertArrayEquals(expected.get(i), taken.get(i), "segment " + i);
            assertArrayEquals(expectedSegment(superpacket, i, 1000, 7), taken.get(i), "segment " + i);
        }
    }

    @Test
    void shouldWriteEachSegmentAtTheDefaultHeadroomOfItsSlot() {
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 500, 20, 16, Ip.v4().payload(1000).partial().build());
        segmenter.begin(read, 0, read.length);
        Packet out = slot();
        out.set(3, 9);

        segmenter.next(out);

        assertEquals(Packet.DEFAULT_HEADROOM, out.offset());
        assertEquals(540, out.length());
    }

    @Test
    void shouldDropTheRestOfASuperpacketWhenTheNextOneBegins() {
        byte[] first = tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 100, 20, 16, Ip.v4().payload(1000).partial().build());
        Ip second = Ip.v6().payload(300).partial();
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_TCPV6, 60, 100, 40, 16, second.build());
        segmenter.begin(first, 0, first.length);
        segmenter.next(slot());

        assertEquals(3, segmenter.begin(read, 0, read.length));
        List<byte[]> segments = takeAll(segmenter);

        assertEquals(3, segments.size());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(expectedSegment(second, i, 100, 3), segments.get(i));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // UDP segmentation (USO)

    @Test
    void shouldCutAnIpv4UdpSuperpacketIntoDatagrams() {
        Ip superpacket = Ip.v4().udp().id(0x8000).payload(2500).partial();
        byte[] read = tunRead(4, F_NEEDS_CSUM, GSO_UDP_L4, 28, 1200, 20, 6, superpacket.build());

        assertEquals(3, segmenter.begin(read, 4, read.length - 4));
        List<byte[]> segments = takeAll(segmenter);

        int[] udpLengths = {1208, 1208, 108};
        for (int i = 0; i < 3; i++) {
            byte[] s = segments.get(i);
            assertEquals(20 + udpLengths[i], get16(s, 2), "total length of " + i);
            assertEquals(0x8000 + i, get16(s, 4), "ID of " + i);
            assertEquals(udpLengths[i], get16(s, 24), "UDP length of " + i);
            assertArrayEquals(Arrays.copyOfRange(superpacket.payload, i * 1200, Math.min(2500, i * 1200 + 1200)),
                    Arrays.copyOfRange(s, 28, s.length));
            assertTrue(isIpv4HeaderValid(s));
            assertTrue(isTransportChecksumValid(s), "UDP checksum of " + i);
            assertArrayEquals(expectedSegment(superpacket, i, 1200, 3), s, "every byte of " + i);
        }
    }

    @Test
    void shouldCutAnIpv6UdpSuperpacketIntoDatagrams() {
        Ip superpacket = Ip.v6().udp().payload(2400).partial();
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_UDP_L4, 48, 1200, 40, 6, superpacket.build());

        assertEquals(2, segmenter.begin(read, 0, read.length));
        List<byte[]> segments = takeAll(segmenter);

        for (int i = 0; i < 2; i++) {
            byte[] s = segments.get(i);
            assertEquals(1208, get16(s, 4), "payload length of " + i);
            assertEquals(1208, get16(s, 44), "UDP length of " + i);
            assertNotEquals(0, get16(s, 46), "IPv6 UDP always carries a checksum");
            assertTrue(isTransportChecksumValid(s), "UDP checksum of " + i);
            assertArrayEquals(expectedSegment(superpacket, i, 1200, 2), s, "every byte of " + i);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // GSO_NONE: in place

    @Test
    void shouldCompleteAPartialTcpChecksumInPlace() {
        Ip packet = Ip.v4().flags(ACK | PSH).payload(333);   // odd: the last byte is a half word
        byte[] read = tunRead(5, F_NEEDS_CSUM, GSO_NONE, 0, 0, 20, 16, packet.copy().partial().build());

        assertEquals(GsoSegmenter.IN_PLACE, segmenter.begin(read, 5, read.length - 5));

        assertArrayEquals(packet.build(), Arrays.copyOfRange(read, 15, read.length));
        assertFalse(segmenter.hasNext());
    }

    @Test
    void shouldCompleteAPartialUdpChecksumInPlaceOverIpv6() {
        Ip packet = Ip.v6().udp().payload(1000);
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_NONE, 0, 0, 40, 6, packet.copy().partial().build());

        assertEquals(GsoSegmenter.IN_PLACE, segmenter.begin(read, 0, read.length));

        byte[] ip = Arrays.copyOfRange(read, 10, read.length);
        assertArrayEquals(packet.build(), ip);
        assertTrue(isTransportChecksumValid(ip));
    }

    @Test
    void shouldWriteAComputedUdpChecksumOfZeroAsAllOnes() {
        Ip packet = Ip.v4().udp().payload(100);
        put16(packet.payload, 98, 0);
        int checksum = get16(packet.build(), 26);
        assertNotEquals(0xFFFF, checksum);
        put16(packet.payload, 98, checksum);   // the sum then comes to 0xFFFF, its complement to 0
        assertEquals(0xFFFF, get16(packet.build(), 26), "the independent builder agrees");
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_NONE, 0, 0, 20, 6, packet.copy().partial().build());

        assertEquals(GsoSegmenter.IN_PLACE, segmenter.begin(read, 0, read.length));

        byte[] ip = Arrays.copyOfRange(read, 10, read.length);
        assertEquals(0xFFFF, get16(ip, 26));
        assertTrue(isTransportChecksumValid(ip));
    }

    @Test
    void shouldFindTheTransportHeaderBehindIpv6ExtensionHeadersForAPartialChecksum() {
        Ip packet = Ip.v6().udp().payload(77);
        packet.hopByHop = true;
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_NONE, 0, 0, 48, 6, packet.copy().partial().build());

        assertEquals(GsoSegmenter.IN_PLACE, segmenter.begin(read, 0, read.length));

        assertArrayEquals(packet.build(), Arrays.copyOfRange(read, 10, read.length));
    }

    @Test
    void shouldLeaveAPacketWithoutFlagsUntouchedWhateverItHolds() {
        byte[] read = tunRead(0, 0, GSO_NONE, 0, 0, 0, 0, new byte[]{0x60, 1, 2});
        byte[] valid = tunRead(0, F_DATA_VALID, GSO_NONE, 0, 0, 0, 0, Ip.v4().payload(10).build());
        byte[] before = read.clone();
        byte[] validBefore = valid.clone();

        assertEquals(GsoSegmenter.IN_PLACE, segmenter.begin(read, 0, read.length));
        assertEquals(GsoSegmenter.IN_PLACE, segmenter.begin(valid, 0, valid.length));
        assertEquals(GsoSegmenter.IN_PLACE, segmenter.begin(new byte[10], 0, 10));

        assertArrayEquals(before, read);
        assertArrayEquals(validBefore, valid);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Refusals

    static Stream<Arguments> refusals() {
        return Stream.of(
                refusal("shorter than a virtio_net_hdr", GsoSegmenter.MALFORMED, new byte[9]),
                refusal("no IP packet", GsoSegmenter.MALFORMED, tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 0, 1000, 20, 16, new byte[0])),
                refusal("gso_size 0", GsoSegmenter.MALFORMED, tcp4(0, ip -> { })),
                refusal("IPv4 total length above the packet", GsoSegmenter.MALFORMED, tcp4(1000, ip -> put16(ip, 2, ip.length + 1))),
                refusal("IPv4 total length below the packet", GsoSegmenter.MALFORMED, tcp4(1000, ip -> put16(ip, 2, ip.length - 1))),
                refusal("IPv6 payload length off by one", GsoSegmenter.MALFORMED, tcp6(1000, ip -> put16(ip, 4, ip.length - 39))),
                refusal("IPv4 header cut short", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 0, 1000, 20, 16, Arrays.copyOf(Ip.v4().build(), 19))),
                refusal("IPv6 header cut short", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV6, 0, 1000, 40, 16, Arrays.copyOf(Ip.v6().build(), 39))),
                refusal("IHL below 5", GsoSegmenter.MALFORMED, tcp4(1000, ip -> ip[0] = 0x44)),
                refusal("IHL beyond the packet", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 0, 1000, 60, 16, withByte(Ip.v4().build(), 0, 0x4F))),
                refusal("IP version 5", GsoSegmenter.MALFORMED, tcp4(1000, ip -> ip[0] = 0x55)),
                refusal("TCP header cut short", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 0, 1000, 20, 16, ipv4Of(Arrays.copyOf(Ip.v4().build(), 39)))),
                refusal("TCP data offset below 5", GsoSegmenter.MALFORMED, tcp4(1000, ip -> ip[32] = 0x40)),
                refusal("TCP data offset beyond the packet", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 0, 1000, 20, 16, withByte(Ip.v4().payload(30).build(), 32, 0xF0))),
                refusal("UDP header cut short", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_UDP_L4, 0, 1000, 20, 6, ipv4Of(Arrays.copyOf(Ip.v4().udp().build(), 27)))),
                refusal("no payload to segment", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 1000, 20, 16, Ip.v4().partial().build())),
                refusal("csum_start not at the TCP header", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 1000, 24, 16, Ip.v4().payload(3000).partial().build())),
                refusal("csum_offset not at the TCP checksum", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 1000, 20, 6, Ip.v4().payload(3000).partial().build())),
                refusal("csum_start not at the transport header, no GSO", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_NONE, 0, 0, 22, 16, Ip.v4().payload(300).partial().build())),
                refusal("checksum field beyond the packet, no GSO", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_NONE, 0, 0, 20, 329, Ip.v4().payload(300).partial().build())),
                refusal("IPv4 total length off, no GSO", GsoSegmenter.MALFORMED,
                        tunRead(0, F_NEEDS_CSUM, GSO_NONE, 0, 0, 20, 16, withShort(Ip.v4().payload(300).build(), 2, 100))),

                refusal("UDP fragmentation offload", GsoSegmenter.UNSUPPORTED,
                        tunRead(0, F_NEEDS_CSUM, GSO_UDP, 28, 1000, 20, 6, Ip.v4().udp().payload(3000).partial().build())),
                refusal("a GSO type this code does not know", GsoSegmenter.UNSUPPORTED,
                        tunRead(0, F_NEEDS_CSUM, 2, 40, 1000, 20, 16, Ip.v4().payload(3000).partial().build())),
                refusal("IPv6 hop-by-hop header before TCP", GsoSegmenter.UNSUPPORTED, hopByHopTcp6()),
                refusal("TCPV4 on IPv6", GsoSegmenter.UNSUPPORTED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 60, 1000, 40, 16, Ip.v6().payload(3000).partial().build())),
                refusal("TCPV6 on IPv4", GsoSegmenter.UNSUPPORTED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV6, 40, 1000, 20, 16, Ip.v4().payload(3000).partial().build())),
                refusal("TCPV4 on UDP", GsoSegmenter.UNSUPPORTED,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 28, 1000, 20, 6, Ip.v4().udp().payload(3000).partial().build())),
                refusal("UDP_L4 on TCP", GsoSegmenter.UNSUPPORTED,
                        tunRead(0, F_NEEDS_CSUM, GSO_UDP_L4, 40, 1000, 20, 16, Ip.v4().payload(3000).partial().build())),
                refusal("UDP_L4 on IPv6 TCP", GsoSegmenter.UNSUPPORTED,
                        tunRead(0, F_NEEDS_CSUM, GSO_UDP_L4, 60, 1000, 40, 16, Ip.v6().payload(3000).partial().build())),
                refusal("IPv4 more-fragments", GsoSegmenter.UNSUPPORTED, tcp4(1000, ip -> put16(ip, 6, 0x2000))),
                refusal("IPv4 fragment offset", GsoSegmenter.UNSUPPORTED, tcp4(1000, ip -> put16(ip, 6, 0x0001))),
                refusal("IPv4 fragment, no GSO", GsoSegmenter.UNSUPPORTED,
                        tunRead(0, F_NEEDS_CSUM, GSO_NONE, 0, 0, 20, 16, withShort(Ip.v4().payload(300).build(), 6, 0x2000))),
                refusal("IPv6 fragment header, no GSO", GsoSegmenter.UNSUPPORTED, fragmentHeaderUdp6()),

                refusal("a segment one byte over the slot", GsoSegmenter.TOO_LARGE,
                        tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, SLOT - 39, 20, 16, Ip.v4().payload(3000).partial().build())),
                refusal("one short segment over the slot", GsoSegmenter.TOO_LARGE,
                        tunRead(0, F_NEEDS_CSUM, GSO_UDP_L4, 28, 9000, 20, 6, Ip.v4().udp().payload(SLOT - 27).partial().build())));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void shouldRefuseWhatItCannotCut(String name, int expected, byte[] read) {
        assertEquals(expected, segmenter.begin(read, 0, read.length), name);
        assertFalse(segmenter.hasNext());
        assertThrows(IllegalStateException.class, () -> segmenter.next(slot()));
    }

    @Test
    void shouldTakeSegmentsThatFillTheSlotExactly() {
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, SLOT - 40, 20, 16, Ip.v4().payload(3000).partial().build());
        assertEquals(3, segmenter.begin(read, 0, read.length));
        Packet out = slot();
        segmenter.next(out);
        assertEquals(SLOT, out.length());
    }

    @Test
    void shouldTakeAGsoSizeBeyondTheSlotWhenThePayloadIsShorter() {
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 9000, 20, 16, Ip.v4().payload(SLOT - 40).partial().build());
        assertEquals(1, segmenter.begin(read, 0, read.length));
    }

    @Test
    void shouldRefuseASlotSmallerThanItWasPromised() {
        byte[] read = tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, 1000, 20, 16, Ip.v4().payload(3000).partial().build());
        segmenter.begin(read, 0, read.length);
        assertThrows(IllegalArgumentException.class, () -> segmenter.next(Packet.withRoomFor(500)));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers

    private static Arguments refusal(String name, int expected, byte[] read) {
        return Arguments.of(name, expected, read);
    }

    /** An IPv4 TCP superpacket of 3000 bytes with gso_size {@code gsoSize}, its IP packet changed by {@code change}. */
    private static byte[] tcp4(int gsoSize, Consumer<byte[]> change) {
        byte[] ip = Ip.v4().payload(3000).partial().build();
        change.accept(ip);
        return tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 40, gsoSize, 20, 16, ip);
    }

    private static byte[] tcp6(int gsoSize, Consumer<byte[]> change) {
        byte[] ip = Ip.v6().payload(3000).partial().build();
        change.accept(ip);
        return tunRead(0, F_NEEDS_CSUM, GSO_TCPV6, 60, gsoSize, 40, 16, ip);
    }

    private static byte[] hopByHopTcp6() {
        Ip ip = Ip.v6().payload(3000).partial();
        ip.hopByHop = true;
        return tunRead(0, F_NEEDS_CSUM, GSO_TCPV6, 68, 1000, 48, 16, ip.build());
    }

    /** A hop-by-hop header whose next header says a fragment header follows. */
    private static byte[] fragmentHeaderUdp6() {
        Ip ip = Ip.v6().udp().payload(100);
        ip.hopByHop = true;
        byte[] bytes = ip.partial().build();
        bytes[40] = 44;
        return tunRead(0, F_NEEDS_CSUM, GSO_NONE, 0, 0, 48, 6, bytes);
    }

    /** Sets the IPv4 total length to what is there. */
    private static byte[] ipv4Of(byte[] ip) {
        return withShort(ip, 2, ip.length);
    }

    private static byte[] withByte(byte[] bytes, int offset, int value) {
        bytes[offset] = (byte) value;
        return bytes;
    }

    private static byte[] withShort(byte[] bytes, int offset, int value) {
        put16(bytes, offset, value);
        return bytes;
    }

    private static Packet slot() {
        return Packet.withRoomFor(SLOT);
    }

    private static List<byte[]> takeAll(GsoSegmenter segmenter) {
        List<byte[]> segments = new ArrayList<>();
        Packet out = slot();
        while (segmenter.hasNext()) {
            segmenter.next(out);
            segments.add(out.toByteArray());
        }
        return segments;
    }

    /** Segment {@code index} of {@code count} as the kernel would cut it, laid out by the independent builder. */
    private static byte[] expectedSegment(Ip superpacket, int index, int gsoSize, int count) {
        Ip segment = superpacket.copy();
        segment.partial = false;
        int from = index * gsoSize;
        segment.payload = Arrays.copyOfRange(superpacket.payload, from, Math.min(from + gsoSize, superpacket.payload.length));
        segment.id = (superpacket.id + index) & 0xFFFF;
        if (superpacket.protocol == OffloadTestPackets.TCP) {
            segment.sequence = (superpacket.sequence + (long) index * gsoSize) & 0xFFFF_FFFFL;
            int flags = superpacket.flags;
            if (index != 0) {
                flags &= ~CWR;
            }
            if (index != count - 1) {
                flags &= ~(FIN | PSH);
            }
            segment.flags = flags;
        }
        return segment.build();
    }
}
