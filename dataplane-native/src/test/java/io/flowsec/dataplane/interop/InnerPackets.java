package io.flowsec.dataplane.interop;

import java.util.Random;

/**
 * Inner packets for the interop tests, built here without the main sources' packet views: IPv4 or IPv6 with a UDP
 * datagram of random payload, every length field and checksum right (RFC 791, RFC 8200, RFC 768).
 * Ports are random above 49152 (never 4500), so no scapy dissector claims the payload.
 */
final class InnerPackets {
    static final int IPV4_HEADER = 20;
    static final int IPV6_HEADER = 40;
    static final int UDP_HEADER = 8;
    /** The smallest inner packet carries one byte of payload. */
    static final int MIN_IPV4 = IPV4_HEADER + UDP_HEADER + 1;
    static final int MIN_IPV6 = IPV6_HEADER + UDP_HEADER + 1;
    /** A full Ethernet-MTU inner packet. */
    static final int MAX = 1500;

    private InnerPackets() {
    }

    static int minimum(int family) {
        return family == 4 ? MIN_IPV4 : MIN_IPV6;
    }

    /** An IPv4 or IPv6 packet of exactly {@code totalLength} bytes carrying UDP. */
    static byte[] udp(Random random, int family, int totalLength) {
        if (totalLength < minimum(family) || totalLength > 65535) {
            throw new IllegalArgumentException("inner IPv" + family + " length " + totalLength);
        }
        byte[] packet = new byte[totalLength];
        int header = family == 4 ? IPV4_HEADER : IPV6_HEADER;
        int udpLength = totalLength - header;
        byte[] source = new byte[family == 4 ? 4 : 16];
        byte[] destination = new byte[source.length];
        random.nextBytes(source);
        random.nextBytes(destination);
        if (family == 4) {
            source[0] = 10;                                   // 10.0.0.0/8 -> 172.16.0.0/12
            destination[0] = (byte) 172;
            destination[1] = (byte) (16 | (destination[1] & 0x0F));
            packet[0] = 0x45;
            packet[1] = (byte) random.nextInt(256);           // DSCP and ECN
            u16(packet, 2, totalLength);
            u16(packet, 4, random.nextInt(65536));            // identification
            u16(packet, 6, random.nextBoolean() ? 0x4000 : 0); // DF or not, never a fragment
            packet[8] = 64;
            packet[9] = 17;
            System.arraycopy(source, 0, packet, 12, 4);
            System.arraycopy(destination, 0, packet, 16, 4);
            u16(packet, 10, ~sum(packet, 0, IPV4_HEADER, 0) & 0xFFFF);
        } else {
            source[0] = (byte) 0xFD;                          // unique local addresses
            destination[0] = (byte) 0xFD;
            int trafficClass = random.nextInt(256);
            int flowLabel = random.nextInt(1 << 20);
            int first = (6 << 28) | (trafficClass << 20) | flowLabel;
            packet[0] = (byte) (first >>> 24);
            packet[1] = (byte) (first >>> 16);
            packet[2] = (byte) (first >>> 8);
            packet[3] = (byte) first;
            u16(packet, 4, udpLength);
            packet[6] = 17;
            packet[7] = 64;
            System.arraycopy(source, 0, packet, 8, 16);
            System.arraycopy(destination, 0, packet, 24, 16);
        }
        u16(packet, header, port(random));
        u16(packet, header + 2, port(random));
        u16(packet, header + 4, udpLength);
        byte[] payload = new byte[udpLength - UDP_HEADER];
        random.nextBytes(payload);
        System.arraycopy(payload, 0, packet, header + UDP_HEADER, payload.length);

        // pseudo-header: addresses, protocol, UDP length
        int pseudo = sum(source, 0, source.length, 0);
        pseudo = sum(destination, 0, destination.length, pseudo);
        pseudo = fold(pseudo + 17 + udpLength);
        int checksum = ~sum(packet, header, udpLength, pseudo) & 0xFFFF;
        u16(packet, header + 6, checksum == 0 ? 0xFFFF : checksum);
        return packet;
    }

    private static int port(Random random) {
        return 49152 + random.nextInt(65536 - 49152);
    }

    private static void u16(byte[] buffer, int offset, int value) {
        buffer[offset] = (byte) (value >>> 8);
        buffer[offset + 1] = (byte) value;
    }

    /** RFC 1071 ones' complement sum, folded to 16 bits. */
    static int sum(byte[] buffer, int offset, int length, int initial) {
        long sum = initial;
        int i = 0;
        for (; i + 1 < length; i += 2) {
            sum += ((buffer[offset + i] & 0xFF) << 8) | (buffer[offset + i + 1] & 0xFF);
        }
        if (i < length) {
            sum += (buffer[offset + i] & 0xFF) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) sum;
    }

    private static int fold(int sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return sum;
    }
}
