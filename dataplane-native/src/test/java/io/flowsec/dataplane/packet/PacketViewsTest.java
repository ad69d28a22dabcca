package io.flowsec.dataplane.packet;

import io.flowsec.dataplane.testing.TestPackets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.Random;

import static io.flowsec.dataplane.testing.TestPackets.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Exact-byte tests of the flyweights on captured-style packets. The literals were written by scapy (checksums
 * included), so the expected checksums are a third party's, not this code's.
 */
class PacketViewsTest {
    /** IPv4 (TOS 0xb8, DF, id 0x1c46) / UDP 192.168.1.10:12345 -> 10.0.0.1:53, "hello, flowsec". */
    private static final byte[] IPV4_UDP = hex("""
            45b8002a 1c464000 40115212 c0a8010a 0a000001
            30390035 001655f6 68656c6c 6f2c2066 6c6f7773 6563""");
    /** IPv6 (traffic class 0x2e, flow label 0x12345) / UDP [2001:db8::1]:5000 -> [2001:db8::2]:4500, odd length. */
    private static final byte[] IPV6_UDP = hex("""
            62e12345 00131140 20010db8 00000000 00000000 00000001 20010db8 00000000 00000000 00000002
            13881194 0013ee08 00000001 61626364 656667""");
    /** IPv4 / TCP SYN|ACK 10.1.0.10:40000 -> 10.2.0.20:443, 8 option bytes (data offset 7). */
    private static final byte[] IPV4_TCP = hex("""
            45000030 00070000 3f0667a1 0a01000a 0a020014
            9c4001bb 01020304 0a0b0c0d 7012ffff b7ce0000 020405b4 01030307""");
    /** IPv6 / hop-by-hop (8) / destination options (16) / TCP SYN [fd00:a::10]:1234 -> [fd00:b::20]:80. */
    private static final byte[] IPV6_EXTENSIONS_TCP = hex("""
            60000000 002c0040 fd00000a 00000000 00000000 00000010 fd00000b 00000000 00000000 00000020
            3c000104 00000000
            0601010a 00000000 00000000 00000100
            04d20050 00000000 00000000 50022000 907a0000""");
    /** IPv6 / fragment header (id 0xabcdef, more fragments) / UDP 1 -> 2 "xy". */
    private static final byte[] IPV6_FRAGMENT = hex("""
            60000000 00122c40 fd00000a 00000000 00000000 00000010 fd00000b 00000000 00000000 00000020
            11000001 00abcdef
            00010002 000a8d17 7879""");
    /** IPv4 (TOS 0x28) / UDP 4500 -> 4500 / ESP SPI 0xc0ffee01 seq 0x8000002a, then 16 bytes 00..0f. */
    private static final byte[] IPV4_UDP_ESP = hex("""
            45280034 00010000 40118e5a c0000201 c6336401
            11941194 002088e3
            c0ffee01 8000002a 00010203 04050607 08090a0b 0c0d0e0f""");
    /** IPv6 / UDP 49153 -> 4500 (checksum 0x5b21) / ESP SPI 0xc0ffee01 seq 0x8000002a, then 17 bytes 00..10. */
    private static final byte[] IPV6_UDP_ESP = hex("""
            60000000 00211140 20010db8 000a0000 00000000 00000001 20010db8 000b0000 00000000 00000001
            c0011194 00215b21
            c0ffee01 8000002a 00010203 04050607 08090a0b 0c0d0e0f 10""");
    /** The IPv4 header of Wikipedia's checksum example: checksum 0xb861. */
    private static final byte[] WIKIPEDIA_IPV4_HEADER = hex("45000073 00004000 4011b861 c0a80001 c0a800c7");

    private final Ipv4View ipv4 = new Ipv4View();
    private final Ipv6View ipv6 = new Ipv6View();
    private final UdpView udp = new UdpView();
    private final TcpView tcp = new TcpView();
    private final EspView esp = new EspView();

    /** The packet at a non-zero offset inside a larger buffer, so offsets are exercised too. */
    private static byte[] atOffset(byte[] packet, int offset) {
        byte[] buffer = new byte[offset + packet.length + 16];
        Arrays.fill(buffer, (byte) 0xEE);
        System.arraycopy(packet, 0, buffer, offset, packet.length);
        return buffer;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // IPv4

    @Test
    void shouldReadEveryIpv4HeaderField() {
        byte[] buffer = atOffset(IPV4_UDP, 7);
        ipv4.wrap(buffer, 7);

        assertTrue(ipv4.isValid(IPV4_UDP.length));
        assertEquals(4, ipv4.version());
        assertEquals(20, ipv4.headerLength());
        assertEquals(0xb8, ipv4.tos());
        assertEquals(42, ipv4.totalLength());
        assertEquals(0x1c46, ipv4.identification());
        assertEquals(0x4000, ipv4.flagsAndFragmentOffset());
        assertTrue(ipv4.dontFragment());
        assertFalse(ipv4.isFragment());
        assertEquals(64, ipv4.ttl());
        assertEquals(IpProtocol.UDP, ipv4.protocol());
        assertEquals(0x5212, ipv4.headerChecksum());
        assertEquals(0xc0a8010a, ipv4.sourceAddress());
        assertEquals(0x0a000001, ipv4.destinationAddress());
        assertTrue(ipv4.isChecksumValid());
    }

    @Test
    void shouldWriteTheWikipediaHeaderWithItsKnownChecksum() {
        byte[] buffer = new byte[24];
        ipv4.wrap(buffer, 4)
                .versionAndHeaderLength(20)
                .tos(0)
                .totalLength(0x73)
                .identification(0)
                .flagsAndFragmentOffset(Ipv4View.FLAG_DONT_FRAGMENT)
                .ttl(64)
                .protocol(IpProtocol.UDP)
                .sourceAddress(0xc0a80001)
                .destinationAddress(0xc0a800c7)
                .updateChecksum();

        assertArrayEquals(WIKIPEDIA_IPV4_HEADER, Arrays.copyOfRange(buffer, 4, 24));
        assertEquals(0xb861, ipv4.headerChecksum());
    }

    @Test
    void shouldRecomputeTheCapturedIpv4ChecksumAfterItWasCleared() {
        byte[] buffer = IPV4_UDP.clone();
        buffer[10] = 0;
        buffer[11] = 0;
        ipv4.wrap(buffer, 0);
        assertFalse(ipv4.isChecksumValid());

        ipv4.updateChecksum();

        assertEquals(0x5212, ipv4.headerChecksum());
        assertArrayEquals(IPV4_UDP, buffer);
    }

    @Test
    void shouldDetectACorruptedIpv4Header() {
        byte[] buffer = IPV4_UDP.clone();
        buffer[8] = 63; // TTL changed, checksum not
        assertFalse(ipv4.wrap(buffer, 0).isChecksumValid());
    }

    @Test
    void shouldTellFragmentsByMoreFragmentsFlagOrOffset() {
        byte[] buffer = IPV4_UDP.clone();
        ipv4.wrap(buffer, 0);

        ipv4.flagsAndFragmentOffset(Ipv4View.FLAG_MORE_FRAGMENTS);
        assertTrue(ipv4.isFragment());
        assertFalse(ipv4.dontFragment());

        ipv4.flagsAndFragmentOffset(185); // last fragment: offset only
        assertTrue(ipv4.isFragment());

        ipv4.flagsAndFragmentOffset(Ipv4View.FLAG_DONT_FRAGMENT);
        assertFalse(ipv4.isFragment());
    }

    @Test
    void shouldRejectIpv4HeadersThatDoNotFitOrDisagree() {
        assertFalse(ipv4.wrap(IPV4_UDP, 0).isValid(41), "total length beyond what is there");
        assertFalse(ipv4.wrap(IPV4_UDP, 0).isValid(19), "shorter than a header");
        assertTrue(ipv4.wrap(IPV4_UDP, 0).isValid(1500), "link-layer padding behind is fine");

        byte[] shortIhl = IPV4_UDP.clone();
        shortIhl[0] = 0x44;
        assertFalse(ipv4.wrap(shortIhl, 0).isValid(shortIhl.length), "IHL below 5 words");

        byte[] longIhl = IPV4_UDP.clone();
        longIhl[0] = 0x4F; // 60-byte header, but total length 42
        assertFalse(ipv4.wrap(longIhl, 0).isValid(longIhl.length), "total length shorter than the header");

        byte[] version6 = IPV4_UDP.clone();
        version6[0] = 0x65;
        assertFalse(ipv4.wrap(version6, 0).isValid(version6.length), "version 6");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // IPv6

    @Test
    void shouldReadEveryIpv6HeaderField() {
        byte[] buffer = atOffset(IPV6_UDP, 3);
        ipv6.wrap(buffer, 3);

        assertTrue(ipv6.isValid(IPV6_UDP.length));
        assertEquals(6, ipv6.version());
        assertEquals(0x2e, ipv6.trafficClass());
        assertEquals(0x12345, ipv6.flowLabel());
        assertEquals(19, ipv6.payloadLength());
        assertEquals(59, ipv6.totalLength());
        assertEquals(IpProtocol.UDP, ipv6.nextHeader());
        assertEquals(64, ipv6.hopLimit());
        assertEquals(0x20010db800000000L, ipv6.sourceHigh());
        assertEquals(1L, ipv6.sourceLow());
        assertEquals(0x20010db800000000L, ipv6.destinationHigh());
        assertEquals(2L, ipv6.destinationLow());
        assertEquals(((long) IpProtocol.UDP << 32) | 40, ipv6.upperLayer(ipv6.totalLength()));
    }

    @Test
    void shouldWriteTheCapturedIpv6HeaderByteForByte() {
        byte[] buffer = new byte[40];
        ipv6.wrap(buffer, 0)
                .versionClassAndLabel(0x2e, 0x12345)
                .payloadLength(19)
                .nextHeader(IpProtocol.UDP)
                .hopLimit(64)
                .sourceAddress(0x20010db800000000L, 1)
                .destinationAddress(0x20010db800000000L, 2);

        assertArrayEquals(Arrays.copyOf(IPV6_UDP, 40), buffer);
    }

    @Test
    void shouldKeepTrafficClassAndFlowLabelApartAtTheirExtremes() {
        byte[] buffer = new byte[40];
        ipv6.wrap(buffer, 0).versionClassAndLabel(0xFF, 0);
        assertEquals(0xFF, ipv6.trafficClass());
        assertEquals(0, ipv6.flowLabel());
        assertEquals(6, ipv6.version());

        ipv6.versionClassAndLabel(0, 0xFFFFFFFF); // only 20 bits may land
        assertEquals(0, ipv6.trafficClass());
        assertEquals(0xFFFFF, ipv6.flowLabel());
        assertEquals(6, ipv6.version());
    }

    @Test
    void shouldRejectAnIpv6PayloadLengthBeyondWhatIsThere() {
        assertFalse(ipv6.wrap(IPV6_UDP, 0).isValid(58));
        assertFalse(ipv6.wrap(IPV6_UDP, 0).isValid(39));
        assertFalse(ipv6.wrap(IPV4_UDP, 0).isValid(IPV4_UDP.length), "version 4");
    }

    @Test
    void shouldWalkHopByHopAndDestinationOptionsToTheTransportHeader() {
        ipv6.wrap(IPV6_EXTENSIONS_TCP, 0);
        assertTrue(ipv6.isValid(IPV6_EXTENSIONS_TCP.length));
        assertEquals(IpProtocol.HOP_BY_HOP, ipv6.nextHeader());

        long upper = ipv6.upperLayer(ipv6.totalLength());

        assertEquals(IpProtocol.TCP, (int) (upper >>> 32));
        assertEquals(64, (int) upper);
        assertEquals(1234, tcp.wrap(IPV6_EXTENSIONS_TCP, (int) upper).sourcePort());
        assertEquals(80, tcp.destinationPort());
    }

    @Test
    void shouldCallAnExtensionChainMalformedWhenItRunsPastTheEnd() {
        ipv6.wrap(IPV6_EXTENSIONS_TCP, 0);
        assertEquals(Ipv6View.MALFORMED_CHAIN, ipv6.upperLayer(47), "hop-by-hop header cut");
        assertEquals(Ipv6View.MALFORMED_CHAIN, ipv6.upperLayer(55), "destination options header cut");
        assertEquals(Ipv6View.MALFORMED_CHAIN, ipv6.upperLayer(63), "destination options length runs past the end");
    }

    @Test
    void shouldReportAFragmentHeaderAsFragment() {
        ipv6.wrap(IPV6_FRAGMENT, 0);
        assertTrue(ipv6.isValid(IPV6_FRAGMENT.length));

        assertEquals(Ipv6View.FRAGMENT, ipv6.upperLayer(ipv6.totalLength()));
        assertEquals(Ipv6View.MALFORMED_CHAIN, ipv6.upperLayer(47), "fragment header cut");
    }

    @Test
    void shouldReportAFragmentHeaderBehindOtherExtensionHeaders() {
        byte[] packet = chain(new int[] {IpProtocol.HOP_BY_HOP, IpProtocol.IPV6_ROUTING, IpProtocol.IPV6_FRAGMENT}, IpProtocol.UDP);
        assertEquals(Ipv6View.FRAGMENT, ipv6.wrap(packet, 0).upperLayer(packet.length));
    }

    @Test
    void shouldSkipAsManyExtensionHeadersAsItsLimitAllows() {
        int[] headers = new int[Ipv6View.MAX_EXTENSION_HEADERS];
        Arrays.fill(headers, IpProtocol.IPV6_DESTINATION_OPTIONS);
        byte[] packet = chain(headers, IpProtocol.UDP);

        long upper = ipv6.wrap(packet, 0).upperLayer(packet.length);

        assertEquals(((long) IpProtocol.UDP << 32) | (40 + 8 * headers.length), upper,
                Ipv6View.MAX_EXTENSION_HEADERS + " extension headers must be skipped");
    }

    @Test
    void shouldGiveUpOnAChainLongerThanItsLimit() {
        int[] headers = new int[Ipv6View.MAX_EXTENSION_HEADERS + 1];
        Arrays.fill(headers, IpProtocol.IPV6_DESTINATION_OPTIONS);
        byte[] packet = chain(headers, IpProtocol.UDP);

        assertEquals(Ipv6View.MALFORMED_CHAIN, ipv6.wrap(packet, 0).upperLayer(packet.length));
    }

    /** IPv6 header, 8-byte extension headers of the given types, then an 8-byte upper-layer header. */
    private static byte[] chain(int[] headers, int upper) {
        byte[] packet = new byte[40 + 8 * headers.length + 8];
        packet[0] = 0x60;
        TestPackets.put16(packet, 4, packet.length - 40);
        packet[6] = (byte) (headers.length == 0 ? upper : headers[0]);
        for (int i = 0; i < headers.length; i++) {
            int at = 40 + 8 * i;
            packet[at] = (byte) (i + 1 < headers.length ? headers[i + 1] : upper);
            packet[at + 1] = 0; // (0 + 1) * 8 bytes
        }
        return packet;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // UDP, TCP, ESP

    @Test
    void shouldReadUdpFieldsAndComputeTheCapturedIpv4Checksum() {
        byte[] buffer = atOffset(IPV4_UDP, 5);
        udp.wrap(buffer, 25);
        assertEquals(12345, udp.sourcePort());
        assertEquals(53, udp.destinationPort());
        assertEquals(22, udp.length());
        assertEquals(0x55f6, udp.checksum());

        udp.checksum(0x1111).updateChecksumIpv4(5);

        assertEquals(0x55f6, udp.checksum());
    }

    @Test
    void shouldComputeTheCapturedIpv6UdpChecksumOverAnOddLength() {
        byte[] buffer = atOffset(IPV6_UDP, 1);
        udp.wrap(buffer, 41);
        assertEquals(5000, udp.sourcePort());
        assertEquals(4500, udp.destinationPort());
        assertEquals(19, udp.length());

        udp.checksum(0).updateChecksumIpv6(1);

        assertEquals(0xee08, udp.checksum());
        assertArrayEquals(IPV6_UDP, Arrays.copyOfRange(buffer, 1, 1 + IPV6_UDP.length));
    }

    @Test
    void shouldWriteUdpHeaderFieldsInNetworkOrder() {
        byte[] buffer = new byte[8];
        udp.wrap(buffer, 0).sourcePort(49153).destinationPort(4500).length(33).checksum(0x5b21);
        assertArrayEquals(hex("c0011194 00215b21"), buffer);
    }

    @Test
    void shouldComputeTheCapturedChecksumsOfEspInUdp() {
        byte[] v4 = IPV4_UDP_ESP.clone();
        udp.wrap(v4, 20).checksum(0).updateChecksumIpv4(0);
        assertEquals(0x88e3, udp.checksum());

        byte[] v6 = IPV6_UDP_ESP.clone();
        udp.wrap(v6, 40).checksum(0).updateChecksumIpv6(0);
        assertEquals(0x5b21, udp.checksum());
        assertEquals(49153, udp.sourcePort());
    }

    @Test
    void shouldWriteAllOnesWhenTheUdpChecksumComesOutZero() {
        // a UDP datagram over IPv6 whose checksum field, once computed, would be 0x0000 (RFC 8200 §8.1: send 0xFFFF)
        byte[] packet = TestPackets.udp("2001:db8::1", 1, "2001:db8::2", 2, 2);
        int payload = 48;
        udp.wrap(packet, 40).checksum(0);
        TestPackets.put16(packet, payload, 0);
        int sumWithZeroPayload = TestPackets.checksum(packet, 40, 10, pseudo(packet));
        // choose the payload so the one's complement sum becomes 0xFFFF
        int needed = (0xFFFF - sumWithZeroPayload) & 0xFFFF;
        TestPackets.put16(packet, payload, needed);
        assertEquals(0xFFFF, TestPackets.checksum(packet, 40, 10, pseudo(packet)));

        udp.updateChecksumIpv6(0);

        assertEquals(0xFFFF, udp.checksum());
        assertTrue(TestPackets.isTransportChecksumValid(packet, 0));
    }

    private static long pseudo(byte[] v6) {
        return TestPackets.checksum(v6, 8, 32, 0) + (long) IpProtocol.UDP + TestPackets.get16(v6, 44);
    }

    @Test
    void shouldReadEveryTcpField() {
        tcp.wrap(IPV4_TCP, 20);
        assertEquals(40000, tcp.sourcePort());
        assertEquals(443, tcp.destinationPort());
        assertEquals(0x01020304L, tcp.sequenceNumber());
        assertEquals(0x0a0b0c0dL, tcp.acknowledgmentNumber());
        assertEquals(28, tcp.headerLength());
        assertEquals(TcpView.FLAG_SYN | TcpView.FLAG_ACK, tcp.flags());
        assertEquals(0xb7ce, tcp.checksum());
        assertTrue(TestPackets.isTransportChecksumValid(IPV4_TCP, 0), "the literal itself is sound");
    }

    @Test
    void shouldReadTcpSequenceNumbersAboveTwoToThe31AsUnsigned() {
        byte[] buffer = IPV4_TCP.clone();
        TestPackets.put32(buffer, 24, 0xFFFFFFFE);
        TestPackets.put32(buffer, 28, 0x80000000);
        tcp.wrap(buffer, 20);
        assertEquals(0xFFFFFFFEL, tcp.sequenceNumber());
        assertEquals(0x80000000L, tcp.acknowledgmentNumber());
    }

    @Test
    void shouldReadEspHeaderFieldsWithTheSequenceNumberUnsigned() {
        esp.wrap(IPV4_UDP_ESP, 28);
        assertEquals(0xc0ffee01, esp.spi());
        assertEquals(0x8000002aL, esp.sequenceNumber());
        assertEquals(36, esp.ivOffset());
        assertEquals(0x00, IPV4_UDP_ESP[esp.ivOffset()]);
        assertEquals(0x0f, IPV4_UDP_ESP[esp.ivOffset() + 15]);
    }

    @Test
    void shouldWriteEspHeaderFieldsAndOnlyTheLowHalfOfTheSequence() {
        byte[] buffer = new byte[12];
        esp.wrap(buffer, 2).spi(0xc0ffee01).sequenceNumber(0x1_8000_002aL);
        assertArrayEquals(hex("0000 c0ffee01 8000002a 0000"), buffer);
        assertEquals(0x8000002aL, esp.sequenceNumber());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Checksum arithmetic and the flow key

    @Test
    void shouldSumLikeATextbookRfc1071ImplementationForEveryLengthAndOffset() {
        Random random = new Random(1071);
        byte[] bytes = new byte[200];
        for (int round = 0; round < 300; round++) {
            random.nextBytes(bytes);
            int offset = random.nextInt(50);
            int length = random.nextInt(120);
            long initial = random.nextInt(0x3FFFF);
            assertEquals(TestPackets.checksum(bytes, offset, length, initial),
                    Bytes.onesComplementSum(bytes, offset, length, initial),
                    "offset " + offset + " length " + length + " initial " + initial);
        }
        byte[] ones = new byte[65535]; // the largest datagram of 0xFF: the most carries there can be
        Arrays.fill(ones, (byte) 0xFF);
        assertEquals(TestPackets.checksum(ones, 0, ones.length, 0x1FFFE), Bytes.onesComplementSum(ones, 0, ones.length, 0x1FFFE));
        assertEquals(0xFFFF, Bytes.onesComplementSum(ones, 0, ones.length - 1, 0));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7})
    void shouldReadSelectorFieldsOfTheCapturedPacketsWhateverLinkPaddingFollows(int padding) {
        FlowKey key = new FlowKey();
        byte[] padded = Arrays.copyOf(IPV4_UDP, IPV4_UDP.length + padding);
        assertTrue(key.read(padded, 0, padded.length));
        assertEquals(4, key.family);
        assertEquals(0xc0a8010aL, key.sourceLow);
        assertEquals(0x0a000001L, key.destinationLow);
        assertEquals(IpProtocol.UDP, key.protocol);
        assertEquals(12345, key.sourcePort);
        assertEquals(53, key.destinationPort);
        assertEquals(42, key.totalLength);
        assertEquals(0xb8, key.trafficClass);
        assertTrue(key.dontFragment);

        assertTrue(key.read(IPV6_EXTENSIONS_TCP, 0, IPV6_EXTENSIONS_TCP.length));
        assertEquals(6, key.family);
        assertEquals(IpProtocol.TCP, key.protocol);
        assertEquals(1234, key.sourcePort);
        assertEquals(80, key.destinationPort);

        assertTrue(key.read(IPV6_FRAGMENT, 0, IPV6_FRAGMENT.length));
        assertEquals(IpProtocol.IPV6_FRAGMENT, key.protocol);
        assertFalse(key.hasPorts(), "fragments are keyed by addresses only");
    }
}
