package io.flowsec.dataplane.offload;

import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Ipv6View;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.packet.TcpView;

import java.util.Arrays;

/**
 * User-space GRO for the write side of a TUN device with offloads: merges the in-sequence TCP segments of a batch
 * into superpackets the kernel takes whole (one write, one trip through its stack) and cuts again only if it must.
 * One per TUN queue; allocates nothing after construction; not thread-safe.
 * <ol>
 *   <li><b>Classify</b> each packet: a <em>candidate</em> (TCP over IPv4 without options or fragmenting, or TCP
 *       right after the IPv6 header; only ACK or ACK|PSH; payload; lengths that agree; IPv4 header and TCP
 *       checksums that verify), other TCP whose flow is still known, or anything else.</li>
 *   <li><b>Find the head</b>: the open head of the same addresses and ports, by linear scan (at most
 *       {@link #MAX_OPEN_HEADS}, the oldest closed when a new one needs room). A flow has at most one open head.</li>
 *   <li><b>Append</b> a candidate that continues its head (same IP fields that GRO keeps, same ack and options,
 *       the next sequence number, no longer than the head's first payload, room left): its payload goes to the
 *       end of the head's buffer. A PSH segment or a shorter one closes the head after joining. Any other packet of
 *       the flow closes the head first, so nothing of that flow overtakes it; a candidate then opens a new head
 *       unless it carries PSH.</li>
 *   <li><b>Write headers</b> when a head closes (and for every other packet as it is placed): a head of two or
 *       more segments gets its IP length (IPv4 header checksum), PSH if any segment had it, the pseudo-header sum
 *       in its TCP checksum field (CHECKSUM_PARTIAL: the kernel adds the rest and complements) and a virtio_net_hdr
 *       asking for TCP segmentation; anything else gets an all-zero virtio_net_hdr and keeps its own checksums.</li>
 * </ol>
 * The IPv4 ID is not compared: the kernel numbers the segments it cuts from the head's ID, as Linux's own GRO
 * output is cut.
 */
public final class TcpCoalescer {
    /** Open heads tracked at once; scanned linearly, so kept small. */
    public static final int MAX_OPEN_HEADS = 16;

    private static final int TCP_FLAG_PSH = 0x08;
    private static final int ACK = TcpView.FLAG_ACK;
    private static final int ACK_PSH = TcpView.FLAG_ACK | TCP_FLAG_PSH;
    private static final int IPV6_FIRST_WORD_OFFSET = 0;   // version, traffic class, flow label

    /** {@link #classify}: not TCP, or TCP whose ports cannot be found. */
    private static final int OTHER = 0;
    /** {@link #classify}: TCP of a known flow that cannot be merged. */
    private static final int TCP_ALONE = 1;
    /** {@link #classify}: TCP that may open or join a head. */
    private static final int CANDIDATE = 2;

    /** A head being merged into: the flow it belongs to and what a segment must match to join. */
    private static final class Head {
        Packet packet;
        int output;
        int version;
        long key0;
        long key1;
        long key2;
        long key3;
        int ports;
        int tcpHeaderLength;
        int nextSequence;
        int gsoSize;
        int segments;
        boolean push;
    }

    private final Ipv6View ipv6 = new Ipv6View();
    /** {@code open[0, openCount)}: open heads, oldest first; the rest are free. */
    private final Head[] open = new Head[MAX_OPEN_HEADS];
    private int openCount;

    // The packet just classified.
    private int version;
    private long key0;
    private long key1;
    private long key2;
    private long key3;
    private int ports;
    private int ipHeaderLength;
    private int tcpHeaderLength;
    private int payloadLength;
    private boolean push;

    public TcpCoalescer() {
        for (int i = 0; i < MAX_OPEN_HEADS; i++) {
            open[i] = new Head();
        }
    }

    /**
     * Merges the segments of {@code packets[0, count)} (inner IP packets, each with at least
     * {@link VirtioNetHeader#LENGTH} bytes free before its offset; a head grows up to the end of its buffer).
     * Afterwards {@code packets[0, result)} are the packets to write, in their original order, each with its
     * virtio_net_hdr in front and its window widened to include it; {@code packets[result, count)} hold the slots
     * whose segments were merged away, so the caller's slots are all still there. {@code outputOf[i]} tells which
     * output input {@code i} went into.
     */
    public int coalesce(Packet[] packets, int count, int[] outputOf) {
        openCount = 0;
        int outputs = 0;
        for (int i = 0; i < count; i++) {
            Packet packet = packets[i];
            if (packet.offset() < VirtioNetHeader.LENGTH) {
                throw new IllegalArgumentException("packet " + i + " has no room for a virtio_net_hdr");
            }
            // 1. Classify.
            int kind = classify(packet);
            // 2. Find the head.
            int head = kind == OTHER ? -1 : findHead();
            // 3. Append.
            if (head >= 0 && kind == CANDIDATE && canJoin(open[head], packet)) {
                Head joined = open[head];
                append(joined, packet);
                outputOf[i] = joined.output;
                if (push || payloadLength < joined.gsoSize) {
                    close(head);
                }
                continue;
            }
            if (head >= 0) {
                close(head);
            }
            packets[i] = packets[outputs];   // [outputs, i) are merged-away slots: swap one back
            packets[outputs] = packet;
            outputOf[i] = outputs;
            if (kind == CANDIDATE && !push) {
                openHead(packet, outputs);
            } else {
                writeAlone(packet);
            }
            outputs++;
        }
        while (openCount > 0) {
            close(openCount - 1);
        }
        return outputs;
    }

    /**
     * 1. Reads what the later steps need into this object's fields: the flow (version, addresses, ports) for TCP,
     * and header lengths, payload and PSH for candidates.
     */
    private int classify(Packet packet) {
        byte[] b = packet.buffer();
        int o = packet.offset();
        int length = packet.length();
        boolean exact;   // lengths agree and the IP header has nothing a merge would have to carry along
        int tcp;
        if (length >= Ipv4View.MIN_HEADER_LENGTH && ((b[o] >> 4) & 0xF) == 4) {
            tcp = (b[o] & 0xF) * 4;
            int fragment = Bytes.u16(b, o + Ipv4View.FLAGS_FRAGMENT_FIELD_OFFSET);
            if (tcp < Ipv4View.MIN_HEADER_LENGTH || tcp + 4 > length || (fragment & Ipv4View.FRAGMENT_OFFSET_MASK) != 0
                    || Bytes.u8(b, o + Ipv4View.PROTOCOL_FIELD_OFFSET) != IpProtocol.TCP) {
                return OTHER;
            }
            version = 4;
            key0 = Bytes.i64(b, o + Ipv4View.SOURCE_FIELD_OFFSET);   // source and destination
            key1 = 0;
            key2 = 0;
            key3 = 0;
            exact = tcp == Ipv4View.MIN_HEADER_LENGTH && (fragment & Ipv4View.FLAG_MORE_FRAGMENTS) == 0
                    && Bytes.u16(b, o + Ipv4View.TOTAL_LENGTH_FIELD_OFFSET) == length;
        } else if (length >= Ipv6View.HEADER_LENGTH && ((b[o] >> 4) & 0xF) == 6) {
            long upper = ipv6.wrap(b, o).upperLayer(length);
            if (upper < 0 || (upper >>> 32) != IpProtocol.TCP || (int) upper + 4 > length) {
                return OTHER;
            }
            tcp = (int) upper;
            version = 6;
            key0 = Bytes.i64(b, o + Ipv6View.SOURCE_FIELD_OFFSET);
            key1 = Bytes.i64(b, o + Ipv6View.SOURCE_FIELD_OFFSET + 8);
            key2 = Bytes.i64(b, o + Ipv6View.DESTINATION_FIELD_OFFSET);
            key3 = Bytes.i64(b, o + Ipv6View.DESTINATION_FIELD_OFFSET + 8);
            exact = tcp == Ipv6View.HEADER_LENGTH
                    && Bytes.u16(b, o + Ipv6View.PAYLOAD_LENGTH_FIELD_OFFSET) + Ipv6View.HEADER_LENGTH == length;
        } else {
            return OTHER;
        }
        ports = Bytes.i32(b, o + tcp);
        if (!exact || tcp + TcpView.MIN_HEADER_LENGTH > length) {
            return TCP_ALONE;
        }
        int headerLength = ((b[o + tcp + TcpView.DATA_OFFSET_FIELD_OFFSET] >> 4) & 0xF) * 4;
        int flags = Bytes.u8(b, o + tcp + TcpView.FLAGS_FIELD_OFFSET);
        if (headerLength < TcpView.MIN_HEADER_LENGTH || tcp + headerLength >= length || (flags != ACK && flags != ACK_PSH)) {
            return TCP_ALONE;   // >=: no payload
        }
        // Last, as they cost a pass over the packet: a segment that fails them goes out untouched, to be dropped.
        if (version == 4 && !Checksums.isIpv4HeaderChecksumValid(b, o)) {
            return TCP_ALONE;
        }
        int tcpLength = length - tcp;
        int pseudo = Checksums.pseudoHeaderSum(b, o, version, IpProtocol.TCP, tcpLength);
        if (Checksums.sum(b, o + tcp, tcpLength, pseudo) != 0xFFFF) {
            return TCP_ALONE;
        }
        ipHeaderLength = tcp;
        tcpHeaderLength = headerLength;
        payloadLength = tcpLength - headerLength;
        push = flags == ACK_PSH;
        return CANDIDATE;
    }

    /** 2. The index in {@code open} of the classified packet's flow, or -1. */
    private int findHead() {
        for (int h = 0; h < openCount; h++) {
            Head head = open[h];
            if (head.ports == ports && head.key0 == key0 && head.key1 == key1 && head.key2 == key2
                    && head.key3 == key3 && head.version == version) {
                return h;
            }
        }
        return -1;
    }

    /** 3. Whether the classified candidate continues {@code head} and fits in it. */
    private boolean canJoin(Head head, Packet packet) {
        byte[] hb = head.packet.buffer();
        int ho = head.packet.offset();
        int headLength = head.packet.length();
        byte[] b = packet.buffer();
        int o = packet.offset();
        if (version == 4) {
            if (b[o + Ipv4View.TOS_FIELD_OFFSET] != hb[ho + Ipv4View.TOS_FIELD_OFFSET]
                    || b[o + Ipv4View.TTL_FIELD_OFFSET] != hb[ho + Ipv4View.TTL_FIELD_OFFSET]
                    || ((b[o + Ipv4View.FLAGS_FRAGMENT_FIELD_OFFSET] ^ hb[ho + Ipv4View.FLAGS_FRAGMENT_FIELD_OFFSET])
                        & (Ipv4View.FLAG_DONT_FRAGMENT >> 8)) != 0) {
                return false;
            }
        } else if (Bytes.i32(b, o + IPV6_FIRST_WORD_OFFSET) != Bytes.i32(hb, ho + IPV6_FIRST_WORD_OFFSET)
                || b[o + Ipv6View.HOP_LIMIT_FIELD_OFFSET] != hb[ho + Ipv6View.HOP_LIMIT_FIELD_OFFSET]) {
            return false;   // traffic class and, as Linux's GRO asks, the flow label too
        }
        int t = o + ipHeaderLength;
        int ht = ho + ipHeaderLength;
        if (tcpHeaderLength != head.tcpHeaderLength
                || Bytes.i32(b, t + TcpView.SEQUENCE_FIELD_OFFSET) != head.nextSequence
                || Bytes.i32(b, t + TcpView.ACKNOWLEDGMENT_FIELD_OFFSET) != Bytes.i32(hb, ht + TcpView.ACKNOWLEDGMENT_FIELD_OFFSET)
                || b[t + TcpView.DATA_OFFSET_FIELD_OFFSET] != hb[ht + TcpView.DATA_OFFSET_FIELD_OFFSET]   // reserved bits too
                || Arrays.mismatch(b, t + TcpView.MIN_HEADER_LENGTH, t + tcpHeaderLength,
                                   hb, ht + TcpView.MIN_HEADER_LENGTH, ht + tcpHeaderLength) >= 0
                || payloadLength > head.gsoSize) {
            return false;
        }
        int merged = headLength + payloadLength;
        int ipLengthField = version == 4 ? merged : merged - Ipv6View.HEADER_LENGTH;
        return ipLengthField <= Packet.MAX_IP_PACKET && ho + merged <= hb.length;
    }

    /** 3. Copies the classified candidate's payload to the end of {@code head}. */
    private void append(Head head, Packet packet) {
        Packet target = head.packet;
        int end = target.offset() + target.length();
        System.arraycopy(packet.buffer(), packet.offset() + ipHeaderLength + tcpHeaderLength,
                target.buffer(), end, payloadLength);
        target.set(target.offset(), target.length() + payloadLength);
        head.nextSequence += payloadLength;
        head.segments++;
        head.push |= push;
    }

    /** 2. Opens a head for the classified candidate, closing the oldest head if all are open. */
    private void openHead(Packet packet, int output) {
        if (openCount == MAX_OPEN_HEADS) {
            close(0);
        }
        Head head = open[openCount++];
        head.packet = packet;
        head.output = output;
        head.version = version;
        head.key0 = key0;
        head.key1 = key1;
        head.key2 = key2;
        head.key3 = key3;
        head.ports = ports;
        head.tcpHeaderLength = tcpHeaderLength;
        head.nextSequence = Bytes.i32(packet.buffer(), packet.offset() + ipHeaderLength + TcpView.SEQUENCE_FIELD_OFFSET)
                + payloadLength;
        head.gsoSize = payloadLength;
        head.segments = 1;
        head.push = false;
    }

    /** 4. Writes the headers of {@code open[index]} and frees its place, keeping the others oldest first. */
    private void close(int index) {
        Head head = open[index];
        if (head.segments >= 2) {
            writeMerged(head);
        } else {
            writeAlone(head.packet);
        }
        head.packet = null;
        System.arraycopy(open, index + 1, open, index, openCount - index - 1);
        open[--openCount] = head;
    }

    /** 4. A superpacket for the kernel to segment: IP length, PSH, CHECKSUM_PARTIAL and the virtio_net_hdr. */
    private static void writeMerged(Head head) {
        Packet packet = head.packet;
        byte[] b = packet.buffer();
        int o = packet.offset();
        int length = packet.length();
        int ipHeaderLength;
        int gsoType;
        if (head.version == 4) {
            ipHeaderLength = Ipv4View.MIN_HEADER_LENGTH;
            gsoType = VirtioNetHeader.GSO_TCPV4;
            Bytes.u16(b, o + Ipv4View.TOTAL_LENGTH_FIELD_OFFSET, length);
            Checksums.updateIpv4HeaderChecksum(b, o);
        } else {
            ipHeaderLength = Ipv6View.HEADER_LENGTH;
            gsoType = VirtioNetHeader.GSO_TCPV6;
            Bytes.u16(b, o + Ipv6View.PAYLOAD_LENGTH_FIELD_OFFSET, length - Ipv6View.HEADER_LENGTH);
        }
        int t = o + ipHeaderLength;
        if (head.push) {
            b[t + TcpView.FLAGS_FIELD_OFFSET] |= (byte) TCP_FLAG_PSH;
        }
        int pseudo = Checksums.pseudoHeaderSum(b, o, head.version, IpProtocol.TCP, length - ipHeaderLength);
        Bytes.u16(b, t + TcpView.CHECKSUM_FIELD_OFFSET, pseudo);
        VirtioNetHeader.write(b, o - VirtioNetHeader.LENGTH, VirtioNetHeader.F_NEEDS_CSUM, gsoType,
                ipHeaderLength + head.tcpHeaderLength, head.gsoSize, ipHeaderLength, TcpView.CHECKSUM_FIELD_OFFSET);
        packet.set(o - VirtioNetHeader.LENGTH, length + VirtioNetHeader.LENGTH);
    }

    /** 4. A packet written as it is: an all-zero virtio_net_hdr (GSO_NONE, its checksums stand). */
    private static void writeAlone(Packet packet) {
        int o = packet.offset();
        VirtioNetHeader.clear(packet.buffer(), o - VirtioNetHeader.LENGTH);
        packet.set(o - VirtioNetHeader.LENGTH, packet.length() + VirtioNetHeader.LENGTH);
    }
}
