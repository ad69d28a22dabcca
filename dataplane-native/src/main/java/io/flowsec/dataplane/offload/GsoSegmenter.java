package io.flowsec.dataplane.offload;

import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Ipv6View;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.packet.TcpView;
import io.flowsec.dataplane.packet.UdpView;

/**
 * Turns what a TUN device with offloads reads (a virtio_net_hdr, then an IP packet of up to 64 KB) into the IP
 * packets it stands for, as the kernel's tcp_gso_segment and __udp_gso_segment would have cut them on a device
 * without offloads. One per TUN queue; allocates nothing after construction; not thread-safe.
 * <ol>
 *   <li>{@link #begin}: read the virtio_net_hdr. GSO_NONE: complete a partial checksum in place if asked
 *       ({@link VirtioNetHeader#F_NEEDS_CSUM}) and hand the packet back as it is ({@link #IN_PLACE}).</li>
 *   <li>{@link #begin}: check the superpacket (IP and transport headers, lengths, the GSO type against them) and
 *       count its segments; refuse what cannot be cut ({@link #MALFORMED}, {@link #UNSUPPORTED},
 *       {@link #TOO_LARGE}).</li>
 *   <li>{@link #next}, once per segment, over as many calls as the caller's batches need: copy the headers and
 *       a gso_size slice of the payload into the output slot.</li>
 *   <li>{@link #next}: fix each copy: IP length, IPv4 ID (+1 a segment) and header checksum; TCP sequence number
 *       and flags (CWR on the first segment only, FIN and PSH on the last only) or UDP length; then the full
 *       transport checksum. The superpacket's checksum field holds only the pseudo-header sum, so it is never
 *       reused.</li>
 * </ol>
 * The superpacket's buffer is read, not copied: the caller keeps it unchanged until the last segment is taken.
 */
public final class GsoSegmenter {
    /** {@link #begin}: no segmenting; the IP packet after the virtio_net_hdr is used as it is. */
    public static final int IN_PLACE = 0;
    /** {@link #begin}: the lengths or headers disagree with each other or with the virtio_net_hdr. */
    public static final int MALFORMED = -1;
    /** {@link #begin}: well formed but not cut here: UFO, IPv6 extension headers, IPv4 fragments, a GSO type
     *  that does not match the IP version or transport protocol. */
    public static final int UNSUPPORTED = -2;
    /** {@link #begin}: a segment would not fit the output slot. */
    public static final int TOO_LARGE = -3;

    private static final int TCP_FLAG_PSH = 0x08;
    private static final int TCP_FLAG_CWR = 0x80;
    private static final int TCP_FLAGS_LAST_ONLY = TcpView.FLAG_FIN | TCP_FLAG_PSH;
    private static final int TCP_CHECKSUM_OFFSET = TcpView.CHECKSUM_FIELD_OFFSET;
    private static final int UDP_CHECKSUM_OFFSET = UdpView.CHECKSUM_FIELD_OFFSET;

    private final int maxSegmentLength;
    private final Ipv6View ipv6 = new Ipv6View();

    // The superpacket being cut: where its IP packet lies and what each segment copies from it.
    private byte[] buffer;
    private int ipOffset;
    private int version;
    private int protocol;
    private int transportOffset;
    private int headersLength;
    private int payloadLength;
    private int gsoSize;
    private int firstId;
    private int firstSequence;
    private int tcpFlags;
    private int addressSum;
    private int segments;
    private int nextSegment;

    /**
     * @param maxSegmentLength the longest IP packet an output slot takes:
     *                         {@code out.buffer().length - Packet.DEFAULT_HEADROOM - Packet.DEFAULT_TAILROOM}
     */
    public GsoSegmenter(int maxSegmentLength) {
        if (maxSegmentLength < Ipv4View.MIN_HEADER_LENGTH) {
            throw new IllegalArgumentException("maxSegmentLength " + maxSegmentLength);
        }
        this.maxSegmentLength = maxSegmentLength;
    }

    /**
     * Starts on what one read(2) from the TUN returned: {@code [offset, offset + length)} is the virtio_net_hdr and
     * the IP packet after it. Returns {@link #IN_PLACE}, the number of segments {@link #next} will write (at least
     * 1), or a negative refusal ({@link #MALFORMED}, {@link #UNSUPPORTED}, {@link #TOO_LARGE}); segments left from
     * an earlier superpacket are dropped. A GSO_NONE packet without NEEDS_CSUM is not looked at: the packet path
     * checks it as it checks any other. hdr_len is not checked: TUN fills in the length of the packet's linear part.
     */
    public int begin(byte[] buffer, int offset, int length) {
        this.buffer = null;
        segments = 0;
        nextSegment = 0;
        if (length < VirtioNetHeader.LENGTH) {
            return MALFORMED;
        }
        int flags = VirtioNetHeader.flags(buffer, offset);
        int gsoType = VirtioNetHeader.gsoType(buffer, offset) & ~VirtioNetHeader.GSO_ECN;
        int ip = offset + VirtioNetHeader.LENGTH;
        int ipLength = length - VirtioNetHeader.LENGTH;
        if (gsoType == VirtioNetHeader.GSO_NONE) {
            return (flags & VirtioNetHeader.F_NEEDS_CSUM) == 0 ? IN_PLACE : completeChecksum(buffer, offset, ip, ipLength);
        }

        int wantedVersion;
        int wantedProtocol;
        switch (gsoType) {
            case VirtioNetHeader.GSO_TCPV4 -> {
                wantedVersion = 4;
                wantedProtocol = IpProtocol.TCP;
            }
            case VirtioNetHeader.GSO_TCPV6 -> {
                wantedVersion = 6;
                wantedProtocol = IpProtocol.TCP;
            }
            case VirtioNetHeader.GSO_UDP_L4 -> {
                wantedVersion = 0;   // either
                wantedProtocol = IpProtocol.UDP;
            }
            default -> {
                return UNSUPPORTED;   // GSO_UDP (UFO) and types this code does not know
            }
        }
        int size = VirtioNetHeader.gsoSize(buffer, offset);
        if (size == 0) {
            return MALFORMED;
        }
        long transport = locateTransport(buffer, ip, ipLength, false);
        if (transport < 0) {
            return (int) transport;
        }
        int ipVersion = (buffer[ip] >> 4) & 0xF;
        int l4Protocol = (int) (transport >>> 32);
        int l4Offset = (int) transport;
        if (l4Protocol != wantedProtocol || (wantedVersion != 0 && ipVersion != wantedVersion)) {
            return UNSUPPORTED;   // IPv6 extension headers land here too: the next header is not TCP or UDP
        }
        int l4HeaderLength;
        int checksumOffset;
        if (l4Protocol == IpProtocol.TCP) {
            if (l4Offset + TcpView.MIN_HEADER_LENGTH > ipLength) {
                return MALFORMED;
            }
            l4HeaderLength = ((buffer[ip + l4Offset + TcpView.DATA_OFFSET_FIELD_OFFSET] >> 4) & 0xF) * 4;
            if (l4HeaderLength < TcpView.MIN_HEADER_LENGTH || l4Offset + l4HeaderLength > ipLength) {
                return MALFORMED;
            }
            checksumOffset = TCP_CHECKSUM_OFFSET;
        } else {
            l4HeaderLength = UdpView.HEADER_LENGTH;
            if (l4Offset + l4HeaderLength > ipLength) {
                return MALFORMED;
            }
            checksumOffset = UDP_CHECKSUM_OFFSET;
        }
        if ((flags & VirtioNetHeader.F_NEEDS_CSUM) != 0
                && (VirtioNetHeader.csumStart(buffer, offset) != l4Offset
                    || VirtioNetHeader.csumOffset(buffer, offset) != checksumOffset)) {
            return MALFORMED;
        }
        int headers = l4Offset + l4HeaderLength;
        int payload = ipLength - headers;
        if (payload == 0) {
            return MALFORMED;   // nothing to segment: not something the kernel sends with a GSO type
        }
        if (headers + Math.min(size, payload) > maxSegmentLength) {
            return TOO_LARGE;
        }

        this.buffer = buffer;
        ipOffset = ip;
        version = ipVersion;
        protocol = l4Protocol;
        transportOffset = l4Offset;
        headersLength = headers;
        payloadLength = payload;
        gsoSize = size;
        firstId = ipVersion == 4 ? Bytes.u16(buffer, ip + Ipv4View.IDENTIFICATION_FIELD_OFFSET) : 0;
        firstSequence = l4Protocol == IpProtocol.TCP ? Bytes.i32(buffer, ip + l4Offset + TcpView.SEQUENCE_FIELD_OFFSET) : 0;
        tcpFlags = l4Protocol == IpProtocol.TCP ? Bytes.u8(buffer, ip + l4Offset + TcpView.FLAGS_FIELD_OFFSET) : 0;
        addressSum = Checksums.pseudoHeaderSum(buffer, ip, ipVersion, 0, 0);
        segments = (payload + size - 1) / size;
        return segments;
    }

    public boolean hasNext() {
        return nextSegment < segments;
    }

    /** Segments of the current superpacket not yet taken. */
    public int remaining() {
        return segments - nextSegment;
    }

    /**
     * Writes the next segment, a complete IP packet, into {@code out} at {@link Packet#DEFAULT_HEADROOM} and sets
     * its window to it. Calling it without {@link #hasNext}, or with a slot smaller than the constructor was told,
     * is a programming error (IllegalStateException, IllegalArgumentException).
     */
    public void next(Packet out) {
        if (nextSegment >= segments) {
            throw new IllegalStateException("no segment left");
        }
        int segment = nextSegment;
        int sliceStart = segment * gsoSize;   // below 64 KB: no overflow
        int slice = Math.min(gsoSize, payloadLength - sliceStart);
        int segmentLength = headersLength + slice;
        byte[] target = out.buffer();
        int at = Packet.DEFAULT_HEADROOM;
        if (at + segmentLength + Packet.DEFAULT_TAILROOM > target.length) {
            throw new IllegalArgumentException("output slot of " + target.length + " bytes is smaller than promised");
        }

        // 3. Headers, then this segment's slice of the payload.
        System.arraycopy(buffer, ipOffset, target, at, headersLength);
        System.arraycopy(buffer, ipOffset + headersLength + sliceStart, target, at + headersLength, slice);

        // 4. IP: length, and for IPv4 the next ID and the header checksum.
        if (version == 4) {
            Bytes.u16(target, at + Ipv4View.TOTAL_LENGTH_FIELD_OFFSET, segmentLength);
            Bytes.u16(target, at + Ipv4View.IDENTIFICATION_FIELD_OFFSET, firstId + segment);
            Checksums.updateIpv4HeaderChecksum(target, at);
        } else {
            Bytes.u16(target, at + Ipv6View.PAYLOAD_LENGTH_FIELD_OFFSET, segmentLength - Ipv6View.HEADER_LENGTH);
        }

        // 4. Transport: sequence number and flags, or length; then the full checksum.
        int l4 = at + transportOffset;
        int l4Length = segmentLength - transportOffset;
        int checksumField;
        if (protocol == IpProtocol.TCP) {
            Bytes.i32(target, l4 + TcpView.SEQUENCE_FIELD_OFFSET, firstSequence + segment * gsoSize);
            int flags = tcpFlags;
            if (segment != 0) {
                flags &= ~TCP_FLAG_CWR;
            }
            if (segment != segments - 1) {
                flags &= ~TCP_FLAGS_LAST_ONLY;
            }
            Bytes.u8(target, l4 + TcpView.FLAGS_FIELD_OFFSET, flags);
            checksumField = l4 + TCP_CHECKSUM_OFFSET;
        } else {
            Bytes.u16(target, l4 + UdpView.LENGTH_FIELD_OFFSET, l4Length);
            checksumField = l4 + UDP_CHECKSUM_OFFSET;
        }
        Bytes.u16(target, checksumField, 0);
        int sum = Checksums.sum(target, l4, l4Length, (long) addressSum + protocol + l4Length);
        Bytes.u16(target, checksumField, transportChecksum(sum, protocol));

        out.set(at, segmentLength);
        nextSegment = segment + 1;
    }

    /**
     * 1. GSO_NONE with a partial checksum: sum from csum_start (the transport header, whose checksum field already
     * holds the pseudo-header sum) to the end, and store the complement at csum_start + csum_offset.
     */
    private int completeChecksum(byte[] buffer, int offset, int ip, int ipLength) {
        long transport = locateTransport(buffer, ip, ipLength, true);
        if (transport < 0) {
            return (int) transport;
        }
        int start = VirtioNetHeader.csumStart(buffer, offset);
        int field = start + VirtioNetHeader.csumOffset(buffer, offset);
        if (start != (int) transport || field + 2 > ipLength) {
            return MALFORMED;
        }
        int sum = Checksums.sum(buffer, ip + start, ipLength - start, 0);
        Bytes.u16(buffer, ip + field, transportChecksum(sum, (int) (transport >>> 32)));
        return IN_PLACE;
    }

    /** The complemented sum; for UDP a 0 goes out as 0xFFFF, since 0 there means "no checksum" (RFC 768). */
    private static int transportChecksum(int sum, int protocol) {
        int checksum = Checksums.complement(sum);
        return checksum == 0 && protocol == IpProtocol.UDP ? 0xFFFF : checksum;
    }

    /**
     * Checks the IP header against the packet's length and finds the transport header: returns
     * {@code (protocol << 32) | offsetFromIpStart}, or {@link #MALFORMED} / {@link #UNSUPPORTED}. IPv6 extension
     * headers are walked only when {@code walkExtensions}; otherwise the fixed header's next header is returned.
     */
    private long locateTransport(byte[] buffer, int ip, int ipLength, boolean walkExtensions) {
        if (ipLength < 1) {
            return MALFORMED;
        }
        int ipVersion = (buffer[ip] >> 4) & 0xF;
        if (ipVersion == 4) {
            if (ipLength < Ipv4View.MIN_HEADER_LENGTH) {
                return MALFORMED;
            }
            int headerLength = (buffer[ip] & 0xF) * 4;
            if (headerLength < Ipv4View.MIN_HEADER_LENGTH || headerLength > ipLength
                    || Bytes.u16(buffer, ip + Ipv4View.TOTAL_LENGTH_FIELD_OFFSET) != ipLength) {
                return MALFORMED;
            }
            int fragment = Bytes.u16(buffer, ip + Ipv4View.FLAGS_FRAGMENT_FIELD_OFFSET);
            if ((fragment & (Ipv4View.FLAG_MORE_FRAGMENTS | Ipv4View.FRAGMENT_OFFSET_MASK)) != 0) {
                return UNSUPPORTED;
            }
            return ((long) Bytes.u8(buffer, ip + Ipv4View.PROTOCOL_FIELD_OFFSET) << 32) | headerLength;
        }
        if (ipVersion == 6) {
            if (ipLength < Ipv6View.HEADER_LENGTH
                    || Bytes.u16(buffer, ip + Ipv6View.PAYLOAD_LENGTH_FIELD_OFFSET) + Ipv6View.HEADER_LENGTH != ipLength) {
                return MALFORMED;
            }
            if (!walkExtensions) {
                return ((long) Bytes.u8(buffer, ip + Ipv6View.NEXT_HEADER_FIELD_OFFSET) << 32) | Ipv6View.HEADER_LENGTH;
            }
            long upper = ipv6.wrap(buffer, ip).upperLayer(ipLength);
            if (upper == Ipv6View.FRAGMENT) {
                return UNSUPPORTED;
            }
            return upper == Ipv6View.MALFORMED_CHAIN ? MALFORMED : upper;
        }
        return MALFORMED;
    }
}
