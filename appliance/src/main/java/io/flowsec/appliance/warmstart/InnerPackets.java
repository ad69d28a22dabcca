package io.flowsec.appliance.warmstart;

import io.flowsec.dataplane.offload.VirtioNetHeader;
import io.flowsec.dataplane.packet.TcpView;

/**
 * The inner packets of the training: IPv4 or IPv6, UDP or TCP, with a given source port (the flow) and total length,
 * headers consistent as a site's stack would send them (IPv4 header checksum, lengths), payload zero; each behind the
 * virtio_net_hdr a TUN queue with offloads puts before it: all zero for a packet, TSO for a TCP superpacket.
 */
final class InnerPackets {
    static final int UDP = 17;
    static final int TCP = 6;
    private static final int IPV4_HEADER = 20;
    private static final int IPV6_HEADER = 40;
    private static final int TCP_HEADER = 20;
    /** struct virtio_net_hdr, before every packet a TUN queue with offloads reads or writes. */
    static final int VIRTIO_HEADER = VirtioNetHeader.LENGTH;

    private InnerPackets() {
    }

    /** An IPv4 packet of {@code length} bytes (at least 48) from {@code source}:{@code sourcePort} to {@code destination}:9. */
    static byte[] ipv4(int protocol, byte[] source, int sourcePort, byte[] destination, int length) {
        byte[] packet = new byte[Math.max(length, IPV4_HEADER + 28)];
        packet[0] = 0x45;
        put16(packet, 2, packet.length);
        put16(packet, 4, sourcePort);    // identification
        packet[6] = 0x40;                // DF
        packet[8] = 64;
        packet[9] = (byte) protocol;
        System.arraycopy(source, 0, packet, 12, 4);
        System.arraycopy(destination, 0, packet, 16, 4);
        put16(packet, 10, checksum(packet, 0, IPV4_HEADER));
        transport(packet, IPV4_HEADER, protocol, sourcePort);
        return packet;
    }

    /** An IPv6 packet of {@code length} bytes (at least 68), as {@link #ipv4}. */
    static byte[] ipv6(int protocol, byte[] source, int sourcePort, byte[] destination, int length) {
        byte[] packet = new byte[Math.max(length, IPV6_HEADER + 28)];
        packet[0] = 0x60;
        put16(packet, 4, packet.length - IPV6_HEADER);
        packet[6] = (byte) protocol;
        packet[7] = 64;
        System.arraycopy(source, 0, packet, 8, 16);
        System.arraycopy(destination, 0, packet, 24, 16);
        transport(packet, IPV6_HEADER, protocol, sourcePort);
        return packet;
    }

    /** {@code packet} behind an all-zero virtio_net_hdr: a whole packet, its checksum complete. */
    static byte[] plain(byte[] packet) {
        byte[] read = new byte[VIRTIO_HEADER + packet.length];
        System.arraycopy(packet, 0, read, VIRTIO_HEADER, packet.length);
        return read;
    }

    /**
     * A TCP packet ({@link #ipv4} or {@link #ipv6}, {@code segments} x {@code mss} bytes of payload) behind the
     * virtio_net_hdr of a TSO superpacket, as the kernel hands one to a TUN queue with offloads: NEEDS_CSUM at the TCP
     * checksum, GSO_TCPV4 or GSO_TCPV6 with {@code mss} as gso_size, to be cut into {@code segments} packets.
     */
    static byte[] tcpSuperpacket(byte[] source, int sourcePort, byte[] destination, int mss, int segments) {
        boolean v4 = source.length == 4;
        int ipHeader = v4 ? IPV4_HEADER : IPV6_HEADER;
        int headers = ipHeader + TCP_HEADER;
        int length = headers + mss * segments;
        byte[] packet = v4 ? ipv4(TCP, source, sourcePort, destination, length) : ipv6(TCP, source, sourcePort, destination, length);
        byte[] read = plain(packet);
        VirtioNetHeader.write(read, 0, VirtioNetHeader.F_NEEDS_CSUM,
                v4 ? VirtioNetHeader.GSO_TCPV4 : VirtioNetHeader.GSO_TCPV6, headers, mss, ipHeader, TcpView.CHECKSUM_FIELD_OFFSET);
        return read;
    }

    /**
     * How many packets the first {@code length} bytes of {@code read} (a virtio_net_hdr and what follows it) stand
     * for: 1, or a superpacket's segments (its payload over gso_size, rounded up).
     */
    static int segments(byte[] read, int length) {
        if (length <= VIRTIO_HEADER || VirtioNetHeader.gsoType(read, 0) == VirtioNetHeader.GSO_NONE) {
            return 1;
        }
        int gsoSize = VirtioNetHeader.gsoSize(read, 0);
        int payload = length - VIRTIO_HEADER - VirtioNetHeader.hdrLen(read, 0);
        return gsoSize == 0 || payload <= 0 ? 1 : (payload + gsoSize - 1) / gsoSize;
    }

    private static void transport(byte[] packet, int offset, int protocol, int sourcePort) {
        put16(packet, offset, sourcePort);
        put16(packet, offset + 2, 9);   // discard
        if (protocol == UDP) {
            put16(packet, offset + 4, packet.length - offset);
        } else {
            packet[offset + 12] = 0x50;   // data offset 5 words
            packet[offset + 13] = 0x18;   // PSH, ACK
            put16(packet, offset + 14, 65535);
        }
    }

    /** An address with the last bytes set to {@code host} (a /16 or /64 site of {@code prefix}). */
    static byte[] host(byte[] prefix, int host) {
        byte[] address = prefix.clone();
        address[address.length - 2] = (byte) (host >> 8);
        address[address.length - 1] = (byte) host;
        return address;
    }

    private static void put16(byte[] packet, int offset, int value) {
        packet[offset] = (byte) (value >> 8);
        packet[offset + 1] = (byte) value;
    }

    private static int checksum(byte[] bytes, int offset, int length) {
        int sum = 0;
        for (int i = offset; i < offset + length; i += 2) {
            sum += ((bytes[i] & 0xFF) << 8) | (bytes[i + 1] & 0xFF);
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return ~sum & 0xFFFF;
    }
}
