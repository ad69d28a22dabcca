package io.flowsec.dataplane.flow;

import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.FlowKey;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Ipv6View;
import io.flowsec.dataplane.selector.IpPrefix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Microsoft's "Verifying the RSS Hash Calculation" examples with the verification key {@link ToeplitzHash#MICROSOFT_KEY}
 * (the same tables are in Intel's 82599 datasheet §7.1.2.8.3 and DPDK's test_thash.c). The tables list the
 * destination first; the hash input is source address, destination address, source port, destination port.
 */
class ToeplitzHashTest {
    private final ToeplitzHash hash = ToeplitzHash.microsoft();

    @ParameterizedTest(name = "{2}:{3} -> {0}:{1}")
    @CsvSource({
            // destination,  dst port, source,         src port, IP only,    with TCP ports
            "161.142.100.80, 1766,     66.9.149.187,   2794,     0x323e8fc2, 0x51ccc178",
            "65.69.140.83,   4739,     199.92.111.2,   14230,    0xd718262a, 0xc626b0ea",
            "12.22.207.184,  38024,    24.19.198.95,   12898,    0xd2d0a5de, 0x5c2b394a",
            "209.142.163.6,  2217,     38.27.205.30,   48228,    0x82989176, 0xafc7327f",
            "202.188.127.2,  1303,     153.39.163.191, 44251,    0x5d1809c5, 0x10e828a2",
    })
    void shouldMatchEveryMicrosoftIpv4Example(String destination, int destinationPort, String source, int sourcePort,
                                              String ipOnly, String withPorts) {
        int src = ipv4(source);
        int dst = ipv4(destination);
        assertEquals(hex(ipOnly), hash.hashIpv4(src, dst, false, sourcePort, destinationPort), "IPv4 (addresses only)");
        assertEquals(hex(withPorts), hash.hashIpv4(src, dst, true, sourcePort, destinationPort), "IPv4 with TCP ports");
    }

    @ParameterizedTest(name = "[{2}]:{3} -> [{0}]:{1}")
    @CsvSource({
            // destination,           dst port, source,                               src port, IP only,    with TCP ports
            "3ffe:2501:200:3::1,       1766,     3ffe:2501:200:1fff::7,                2794,     0x2cc18cd5, 0x40207d3d",
            "ff02::1,                  4739,     3ffe:501:8::260:97ff:fe40:efab,       14230,    0x0f0c461c, 0xdde51bbf",
            // Microsoft's third IPv6 row pairs these addresses with source port 44251 (not the IPv4 row's 12898)
            "fe80::200:f8ff:fe21:67cf, 38024,    3ffe:1900:4545:3:200:f8ff:fe21:67cf,  44251,    0x4b61e985, 0x02d1feef",
    })
    void shouldMatchEveryMicrosoftIpv6Example(String destination, int destinationPort, String source, int sourcePort,
                                              String ipOnly, String withPorts) {
        byte[] src = IpPrefix.parseAddress(source).getAddress();
        byte[] dst = IpPrefix.parseAddress(destination).getAddress();
        long srcHigh = Bytes.i64(src, 0);
        long srcLow = Bytes.i64(src, 8);
        long dstHigh = Bytes.i64(dst, 0);
        long dstLow = Bytes.i64(dst, 8);
        assertEquals(hex(ipOnly), hash.hashIpv6(srcHigh, srcLow, dstHigh, dstLow, false, sourcePort, destinationPort),
                "IPv6 (addresses only)");
        assertEquals(hex(withPorts), hash.hashIpv6(srcHigh, srcLow, dstHigh, dstLow, true, sourcePort, destinationPort),
                "IPv6 with TCP ports");
    }

    @Test
    void shouldGiveATcpPacketTheFlowIdOfItsFourTuple() {
        FlowKey key = read(ipv4Packet(IpProtocol.TCP, "66.9.149.187", 2794, "161.142.100.80", 1766, 0));

        assertTrue(key.hasPorts());
        int expected = hash.hashIpv4(ipv4("66.9.149.187"), ipv4("161.142.100.80"), true, 2794, 1766);
        assertEquals(expected, hash.flowId(key));
        assertEquals(0x51ccc178, hash.flowId(key), "Microsoft's first IPv4 TCP example");
    }

    @Test
    void shouldGiveAUdpPacketTheFlowIdOfItsFourTuple() {
        FlowKey key = read(ipv4Packet(IpProtocol.UDP, "199.92.111.2", 14230, "65.69.140.83", 4739, 0));

        assertTrue(key.hasPorts());
        assertEquals(hash.hashIpv4(ipv4("199.92.111.2"), ipv4("65.69.140.83"), true, 14230, 4739), hash.flowId(key));
        assertEquals(0xc626b0ea, hash.flowId(key));
    }

    @Test
    void shouldGiveAnIcmpPacketTheFlowIdOfItsAddressesOnly() {
        // the ICMP type/code/checksum/id bytes sit where ports would be; they must not enter the hash
        FlowKey key = read(ipv4Packet(IpProtocol.ICMP, "66.9.149.187", 0x0800, "161.142.100.80", 0x1234, 0));

        assertFalse(key.hasPorts());
        assertEquals(hash.hashIpv4(ipv4("66.9.149.187"), ipv4("161.142.100.80"), false, 0, 0), hash.flowId(key));
        assertEquals(0x323e8fc2, hash.flowId(key), "Microsoft's first IPv4 example, addresses only");
    }

    @Test
    void shouldGiveEveryFragmentOfAUdpPacketTheFlowIdOfItsAddressesOnly() {
        FlowKey first = read(ipv4Packet(IpProtocol.UDP, "24.19.198.95", 12898, "12.22.207.184", 38024,
                Ipv4View.FLAG_MORE_FRAGMENTS));

        assertFalse(first.hasPorts(), "all fragments take the same flow ID, so the first one is keyed by addresses too");
        assertEquals(0xd2d0a5de, hash.flowId(first));
    }

    @Test
    void shouldGiveAnIpv6TcpPacketTheFlowIdOfItsFourTuple() {
        FlowKey key = read(ipv6Packet(IpProtocol.TCP, "3ffe:2501:200:1fff::7", 2794, "3ffe:2501:200:3::1", 1766));

        assertTrue(key.hasPorts());
        assertEquals(0x40207d3d, hash.flowId(key), "Microsoft's first IPv6 TCP example");
    }

    @Test
    void shouldGiveAnIpv6IcmpPacketTheFlowIdOfItsAddressesOnly() {
        FlowKey key = read(ipv6Packet(IpProtocol.ICMPV6, "3ffe:501:8::260:97ff:fe40:efab", 0x8000,
                "ff02::1", 0x1234));

        assertFalse(key.hasPorts());
        assertEquals(0x0f0c461c, hash.flowId(key), "Microsoft's second IPv6 example, addresses only");
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static int ipv4(String dotted) {
        return Bytes.i32(IpPrefix.parseAddress(dotted).getAddress(), 0);
    }

    private static int hex(String value) {
        return Integer.parseUnsignedInt(value.substring(2), 16);
    }

    private static FlowKey read(byte[] packet) {
        FlowKey key = new FlowKey();
        assertTrue(key.read(packet, 0, packet.length), "packet must parse");
        return key;
    }

    /** An IPv4 packet with a 20-byte transport header whose first four bytes are the two given 16-bit values. */
    private static byte[] ipv4Packet(int protocol, String source, int sourcePort, String destination,
                                     int destinationPort, int flagsAndFragmentOffset) {
        byte[] packet = new byte[Ipv4View.MIN_HEADER_LENGTH + 20];
        new Ipv4View().wrap(packet, 0)
                .versionAndHeaderLength(Ipv4View.MIN_HEADER_LENGTH)
                .totalLength(packet.length)
                .identification(0x1c46)
                .flagsAndFragmentOffset(flagsAndFragmentOffset)
                .ttl(64)
                .protocol(protocol)
                .sourceAddress(ipv4(source))
                .destinationAddress(ipv4(destination))
                .updateChecksum();
        Bytes.u16(packet, Ipv4View.MIN_HEADER_LENGTH, sourcePort);
        Bytes.u16(packet, Ipv4View.MIN_HEADER_LENGTH + 2, destinationPort);
        if (protocol == IpProtocol.TCP) {
            packet[Ipv4View.MIN_HEADER_LENGTH + 12] = 0x50;           // data offset: 5 words
        }
        return packet;
    }

    private static byte[] ipv6Packet(int nextHeader, String source, int sourcePort, String destination, int destinationPort) {
        byte[] packet = new byte[Ipv6View.HEADER_LENGTH + 20];
        byte[] src = IpPrefix.parseAddress(source).getAddress();
        byte[] dst = IpPrefix.parseAddress(destination).getAddress();
        new Ipv6View().wrap(packet, 0)
                .versionClassAndLabel(0, 0)
                .payloadLength(20)
                .nextHeader(nextHeader)
                .hopLimit(64)
                .sourceAddress(Bytes.i64(src, 0), Bytes.i64(src, 8))
                .destinationAddress(Bytes.i64(dst, 0), Bytes.i64(dst, 8));
        Bytes.u16(packet, Ipv6View.HEADER_LENGTH, sourcePort);
        Bytes.u16(packet, Ipv6View.HEADER_LENGTH + 2, destinationPort);
        if (nextHeader == IpProtocol.TCP) {
            packet[Ipv6View.HEADER_LENGTH + 12] = 0x50;
        }
        return packet;
    }
}
