package io.flowsec.dataplane.offload;

import io.flowsec.dataplane.packet.Packet;

import java.util.Arrays;

/**
 * Test material for the offload package, written without its production code (nor {@code Bytes}): a builder for
 * IPv4/IPv6 TCP and UDP packets with their checksums done by a textbook 16-bit word loop, the virtio_net_hdr laid
 * out byte by byte, and the kernel's side of CHECKSUM_PARTIAL, so a test comparing the two can fail.
 */
final class OffloadTestPackets {
    static final int TCP = 6;
    static final int UDP = 17;
    static final int FIN = 0x01;
    static final int SYN = 0x02;
    static final int RST = 0x04;
    static final int PSH = 0x08;
    static final int ACK = 0x10;
    static final int URG = 0x20;
    static final int ECE = 0x40;
    static final int CWR = 0x80;

    /** NOP, NOP, timestamps (kind 8, length 10): what Linux puts in every segment of a bulk transfer. */
    static byte[] timestamps(int value, int echo) {
        byte[] option = new byte[12];
        option[0] = 1;
        option[1] = 1;
        option[2] = 8;
        option[3] = 10;
        put32(option, 4, value);
        put32(option, 8, echo);
        return option;
    }

    private OffloadTestPackets() {
    }

    /** A fluent, copyable description of one packet; {@link #build} lays it out. */
    static final class Ip {
        int version = 4;
        byte[] source = {10, 1, 0, 10};
        byte[] destination = {10, 2, 0, 20};
        byte[] ipOptions = {};
        int tos;
        int ttl = 64;
        int id = 0x1234;
        /** IPv4 flags and fragment offset word. */
        int fragmentWord = 0x4000;
        int flowLabel = 0x5_4321;
        /** IPv6: a hop-by-hop header (8 bytes of PadN) before the transport header. */
        boolean hopByHop;
        int protocol = TCP;
        int sourcePort = 40000;
        int destinationPort = 5201;
        long sequence = 1_000_000;
        long acknowledgment = 77_000;
        int flags = ACK;
        int window = 0x01F6;
        byte[] tcpOptions = {};
        byte[] payload = {};
        /** CHECKSUM_PARTIAL: the transport checksum field holds the folded pseudo-header sum, not the checksum. */
        boolean partial;
        /** Added to the transport checksum field after it is computed, to make it wrong. */
        int checksumError;

        static Ip v4() {
            return new Ip();
        }

        static Ip v6() {
            Ip ip = new Ip();
            ip.version = 6;
            ip.source = new byte[]{(byte) 0xfd, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
            ip.destination = new byte[]{(byte) 0xfd, 0, 0, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20};
            return ip;
        }

        Ip copy() {
            Ip c = new Ip();
            c.version = version;
            c.source = source.clone();
            c.destination = destination.clone();
            c.ipOptions = ipOptions.clone();
            c.tos = tos;
            c.ttl = ttl;
            c.id = id;
            c.fragmentWord = fragmentWord;
            c.flowLabel = flowLabel;
            c.hopByHop = hopByHop;
            c.protocol = protocol;
            c.sourcePort = sourcePort;
            c.destinationPort = destinationPort;
            c.sequence = sequence;
            c.acknowledgment = acknowledgment;
            c.flags = flags;
            c.window = window;
            c.tcpOptions = tcpOptions.clone();
            c.payload = payload.clone();
            c.partial = partial;
            c.checksumError = checksumError;
            return c;
        }

        Ip udp() {
            protocol = UDP;
            return this;
        }

        Ip payload(byte[] bytes) {
            payload = bytes;
            return this;
        }

        Ip payload(int length) {
            return payload(pattern(length, 0));
        }

        Ip flags(int value) {
            flags = value;
            return this;
        }

        Ip seq(long value) {
            sequence = value;
            return this;
        }

        Ip id(int value) {
            id = value;
            return this;
        }

        Ip partial() {
            partial = true;
            return this;
        }

        int ipHeaderLength() {
            return version == 4 ? 20 + ipOptions.length : 40 + (hopByHop ? 8 : 0);
        }

        int transportHeaderLength() {
            return protocol == TCP ? 20 + tcpOptions.length : 8;
        }

        byte[] build() {
            if (ipOptions.length % 4 != 0 || tcpOptions.length % 4 != 0) {
                throw new IllegalArgumentException("options must fill whole words");
            }
            int ipHeader = ipHeaderLength();
            int l4Length = transportHeaderLength() + payload.length;
            byte[] p = new byte[ipHeader + l4Length];
            if (version == 4) {
                p[0] = (byte) (0x40 | (ipHeader / 4));
                p[1] = (byte) tos;
                put16(p, 2, p.length);
                put16(p, 4, id);
                put16(p, 6, fragmentWord);
                p[8] = (byte) ttl;
                p[9] = (byte) protocol;
                System.arraycopy(source, 0, p, 12, 4);
                System.arraycopy(destination, 0, p, 16, 4);
                System.arraycopy(ipOptions, 0, p, 20, ipOptions.length);
                put16(p, 10, ~sum16(p, 0, ipHeader, 0) & 0xFFFF);
            } else {
                put32(p, 0, (6 << 28) | (tos << 20) | flowLabel);
                put16(p, 4, p.length - 40);
                p[6] = (byte) (hopByHop ? 0 : protocol);
                p[7] = (byte) ttl;
                System.arraycopy(source, 0, p, 8, 16);
                System.arraycopy(destination, 0, p, 24, 16);
                if (hopByHop) {
                    p[40] = (byte) protocol;
                    p[41] = 0;
                    p[42] = 1;   // PadN of 4 bytes
                    p[43] = 4;
                }
            }
            int l4 = ipHeader;
            put16(p, l4, sourcePort);
            put16(p, l4 + 2, destinationPort);
            int checksumField;
            if (protocol == TCP) {
                put32(p, l4 + 4, (int) sequence);
                put32(p, l4 + 8, (int) acknowledgment);
                p[l4 + 12] = (byte) ((transportHeaderLength() / 4) << 4);
                p[l4 + 13] = (byte) flags;
                put16(p, l4 + 14, window);
                System.arraycopy(tcpOptions, 0, p, l4 + 20, tcpOptions.length);
                checksumField = l4 + 16;
            } else {
                put16(p, l4 + 4, l4Length);
                checksumField = l4 + 6;
            }
            System.arraycopy(payload, 0, p, l4 + transportHeaderLength(), payload.length);
            long pseudo = pseudoHeader(p, version, protocol, l4Length);
            int checksum;
            if (partial) {
                checksum = sum16(p, 0, 0, pseudo);
            } else {
                checksum = ~sum16(p, l4, l4Length, pseudo) & 0xFFFF;
                if (checksum == 0 && protocol == UDP) {
                    checksum = 0xFFFF;
                }
            }
            put16(p, checksumField, checksum + checksumError);
            return p;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The virtio_net_hdr, and the TUN's two sides

    /** What read(2) from the TUN returns, after {@code leading} bytes of other data: virtio_net_hdr, IP packet. */
    static byte[] tunRead(int leading, int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset,
                          byte[] ip) {
        byte[] b = new byte[leading + 10 + ip.length];
        Arrays.fill(b, 0, leading, (byte) 0xEE);
        b[leading] = (byte) flags;
        b[leading + 1] = (byte) gsoType;
        putLe16(b, leading + 2, hdrLen);
        putLe16(b, leading + 4, gsoSize);
        putLe16(b, leading + 6, csumStart);
        putLe16(b, leading + 8, csumOffset);
        System.arraycopy(ip, 0, b, leading + 10, ip.length);
        return b;
    }

    /** The ten bytes of a virtio_net_hdr, little endian, as the kernel's struct has them on x86. */
    static byte[] vnet(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset) {
        return Arrays.copyOf(tunRead(0, flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset, new byte[0]), 10);
    }

    /**
     * The kernel's side of a written packet's NEEDS_CSUM (skb_checksum_help): sums from csum_start to the end, the
     * field included, and stores the complement at csum_start + csum_offset. {@code written} starts with the
     * virtio_net_hdr; returns the IP packet.
     */
    static byte[] completeAsTheKernelWould(byte[] written) {
        byte[] ip = Arrays.copyOfRange(written, 10, written.length);
        if ((written[0] & 1) != 0) {
            int start = getLe16(written, 6);
            int field = start + getLe16(written, 8);
            int sum = sum16(ip, start, ip.length - start, 0);
            put16(ip, field, ~sum & 0xFFFF);
        }
        return ip;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Checks

    static boolean isIpv4HeaderValid(byte[] ip) {
        return sum16(ip, 0, (ip[0] & 0xF) * 4, 0) == 0xFFFF;
    }

    /** The TCP or UDP checksum verifies over the pseudo-header and the whole transport part. */
    static boolean isTransportChecksumValid(byte[] ip) {
        int version = (ip[0] >> 4) & 0xF;
        int l4;
        int protocol;
        if (version == 4) {
            l4 = (ip[0] & 0xF) * 4;
            protocol = ip[9] & 0xFF;
        } else {
            l4 = 40;
            protocol = ip[6] & 0xFF;
            if (protocol == 0) {
                protocol = ip[40] & 0xFF;
                l4 = 48;
            }
        }
        int l4Length = ip.length - l4;
        return sum16(ip, l4, l4Length, pseudoHeader(ip, version, protocol, l4Length)) == 0xFFFF;
    }

    /** RFC 1071, one 16-bit word at a time. */
    static int sum16(byte[] b, int offset, int length, long initial) {
        long sum = initial;
        int i = 0;
        for (; i + 1 < length; i += 2) {
            sum += ((b[offset + i] & 0xFF) << 8) | (b[offset + i + 1] & 0xFF);
        }
        if (i < length) {
            sum += (b[offset + i] & 0xFF) << 8;
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (int) sum;
    }

    static long pseudoHeader(byte[] ip, int version, int protocol, int l4Length) {
        int addresses = version == 4 ? 8 : 32;
        int from = version == 4 ? 12 : 8;
        long sum = 0;
        for (int i = 0; i < addresses; i += 2) {
            sum += get16(ip, from + i);
        }
        return sum + protocol + l4Length;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Bytes

    /** {@code length} bytes that differ from one offset to the next, starting at {@code seed}. */
    static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed + i * 7 + (i >> 8));
        }
        return b;
    }

    static Packet slot(byte[] ip) {
        Packet packet = Packet.withRoomFor(Packet.MAX_IP_PACKET);
        if (!packet.load(ip, 0, ip.length)) {
            throw new IllegalArgumentException("does not fit");
        }
        return packet;
    }

    static int get16(byte[] b, int offset) {
        return ((b[offset] & 0xFF) << 8) | (b[offset + 1] & 0xFF);
    }

    static long get32(byte[] b, int offset) {
        return ((long) get16(b, offset) << 16) | get16(b, offset + 2);
    }

    static void put16(byte[] b, int offset, int value) {
        b[offset] = (byte) (value >> 8);
        b[offset + 1] = (byte) value;
    }

    static void put32(byte[] b, int offset, int value) {
        put16(b, offset, value >>> 16);
        put16(b, offset + 2, value);
    }

    static int getLe16(byte[] b, int offset) {
        return (b[offset] & 0xFF) | ((b[offset + 1] & 0xFF) << 8);
    }

    static void putLe16(byte[] b, int offset, int value) {
        b[offset] = (byte) value;
        b[offset + 1] = (byte) (value >> 8);
    }
}
