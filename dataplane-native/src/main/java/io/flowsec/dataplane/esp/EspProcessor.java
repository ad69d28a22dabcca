package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.crypto.EspTransform;
import io.flowsec.dataplane.sa.ReplayWindow;
import io.flowsec.dataplane.flow.ToeplitzHash;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.EspView;
import io.flowsec.dataplane.packet.FlowKey;
import io.flowsec.dataplane.packet.HandOverMarker;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Ipv6View;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.packet.UdpView;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SaLifetimeListener;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The ESP tunnel-mode engine of one lane (RFC 4303, RFC 4301). Each lane owns one: its flyweights, its cipher
 * contexts per SA and its counters. Nothing here allocates, locks, logs or throws per packet; every packet ends with
 * an {@link Outcome}, counted.
 *
 * <p>Outbound (site → tunnel), {@link #encapsulate}:
 * <ol>
 *   <li>read the inner packet's selector fields (addresses, protocol, ports);</li>
 *   <li>match the SPD: protect, bypass or discard; no match discards (RFC 4301 §5.1);</li>
 *   <li>flow ID (Toeplitz) → the policy's SA group → SA, so one flow always takes one SA; in a lane, the group's
 *       {@link FlowletTable} moves a flow's bucket to another SA only at a flowlet boundary;</li>
 *   <li>take the SA's next sequence number; an SA whose counter is used up refuses;</li>
 *   <li>append padding and trailer, write the ESP header and IV, encrypt in place, append the ICV;</li>
 *   <li>with {@link Framing#IP}, prepend the outer IPv4/IPv6 (+UDP) header of the SA; with {@link Framing#ESP},
 *       record the outer DSCP and ECN (copied from the inner packet, RFC 4301 §5.1.2.1 and RFC 6040 normal mode)
 *       for the socket to set.</li>
 * </ol>
 *
 * <p>Inbound (tunnel → site), {@link #decapsulate}, {@link #decapsulateUdpPayload}, {@link #decapsulateEsp}:
 * <ol>
 *   <li>parse the outer IP / UDP header; NAT-keepalives and IKE (non-ESP marker) leave here (RFC 3948);</li>
 *   <li>find the SA by SPI; unknown SPIs are dropped;</li>
 *   <li>rebuild the 64-bit sequence number (ESN) and pre-check it against the replay window;</li>
 *   <li>verify the ICV and decrypt; commit the sequence number only now;</li>
 *   <li>check padding and next header (59: dummy packet) and the inner IP header;</li>
 *   <li>check the inner packet against the SA's selectors (RFC 4301 §5.2); combine the outer ECN into the inner
 *       header (RFC 6040 §4.2: outer CE marks an ECN-capable inner packet CE, and drops one that is not); expose the
 *       inner packet in the packet slot.</li>
 * </ol>
 */
public final class EspProcessor {
    /** What {@link #encapsulate} leaves in the packet slot. */
    public enum Framing {
        /** A complete outer IP packet (raw sockets, AF_XDP, pcap). */
        IP,
        /** The ESP packet alone, for a UDP or raw-ESP socket that adds the outer headers itself. */
        ESP
    }

    private static final int OUTER_TTL = 64;
    /** Marker slots: 0-254 the queue probes of the endpoints, 255 hand-overs. */
    public static final int MARKER_SLOTS = 256;
    public static final int HAND_OVER_MARKER_SLOT = 255;
    private static final long MARKER_KEY_MASK = (1L << 40) - 1;
    private static final VarHandle MARKER_LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    private SecurityPolicyDatabase spd;
    /** Lane-owned: for each SA group (by id) the 128-bucket table over the lane's own SAs; null outside a lane. */
    private FlowletTable[] outboundByGroup;
    /** How long a flow bucket must be idle before it moves to another SA; 0: at once. */
    private long flowletGapNs;
    /** The time of the batch in progress, read once per batch ({@link #startBatch}): the flowlet tables' clock. */
    private long batchNs;
    private SaLifetimeListener lifetimeListener = SaLifetimeListener.IGNORE;
    private final SecurityAssociationDatabase sad;
    private final LaneCounters counters;
    private final ToeplitzHash flowHash;
    private final Framing framing;
    private final int natTraversalPort;

    private final FlowKey flowKey = new FlowKey();
    private final Ipv4View ipv4 = new Ipv4View();
    private final Ipv6View ipv6 = new Ipv6View();
    private final UdpView udp = new UdpView();

    private EspTransform[] transforms = new EspTransform[16];
    private SecurityAssociation[] transformOwners = new SecurityAssociation[16];
    private int nextIdentification;
    /** The SPD index of the policy that the last {@link Outcome#BYPASS} packet matched. */
    private int bypassPolicyIndex = -1;
    /** The reason of the last drop, for callers of the SA-returning steps (an ordinal: no boxing, no allocation). */
    private int lastDrop;
    /** The data plane's secret part of its markers' tokens ({@link #markerToken}); 0: no marker is ours. */
    private volatile long markerKey;
    /** Per marker slot: the token of the last marker of ours read, and when (written before the token). */
    private final long[] markerTokens = new long[MARKER_SLOTS];
    private final long[] markerArrivalNs = new long[MARKER_SLOTS];

    public EspProcessor(SecurityPolicyDatabase spd, SecurityAssociationDatabase sad, LaneCounters counters,
                        ToeplitzHash flowHash, Framing framing, int natTraversalPort) {
        this.spd = spd;
        this.sad = sad;
        this.counters = counters;
        this.flowHash = flowHash;
        this.framing = framing;
        this.natTraversalPort = natTraversalPort;
    }

    public EspProcessor(SecurityPolicyDatabase spd, SecurityAssociationDatabase sad, Framing framing) {
        this(spd, sad, new LaneCounters(), ToeplitzHash.microsoft(), framing, IpProtocol.NAT_T_PORT);
    }

    public LaneCounters counters() {
        return counters;
    }

    /**
     * A marker's token: {@code key} (40 bits the data plane drew at random, so a datagram from outside passes for one
     * of ours only by guessing them), {@code slot} (what the marker is for: a queue probe of one endpoint, or a
     * hand-over, each remembered apart) and a 16-bit sequence number.
     */
    public static long markerToken(long key, int slot, int sequence) {
        return (key & MARKER_KEY_MASK) << 24 | (long) (slot & 0xFF) << 16 | (sequence & 0xFFFF);
    }

    /** Control plane, before the lane starts: the key that makes a {@link HandOverMarker} one of the data plane's. */
    public void markerKey(long key) {
        markerKey = key & MARKER_KEY_MASK;
    }

    /**
     * Control plane: when this lane read the marker with {@code token} ({@code System.nanoTime()}), or 0 when it has
     * not (yet; or a later marker of the same slot came first).
     */
    public long markerArrival(long token) {
        int slot = (int) (token >>> 16) & 0xFF;
        if ((long) MARKER_LONGS.getAcquire(markerTokens, slot) != token) {
            return 0;
        }
        return (long) MARKER_LONGS.getAcquire(markerArrivalNs, slot);
    }

    /** Inbound, for a datagram with the marker's SPI: ours (its arrival recorded) or a stranger's (an unknown SPI). */
    private boolean isOurMarker(byte[] buffer, int offset, int length) {
        long token = HandOverMarker.token(buffer, offset, length);
        long key = markerKey;
        if (key == 0 || token >>> 24 != key) {
            return false;
        }
        int slot = (int) (token >>> 16) & 0xFF;
        MARKER_LONGS.setRelease(markerArrivalNs, slot, System.nanoTime());   // a marker is rare: one clock read is fine
        MARKER_LONGS.setRelease(markerTokens, slot, token);
        return true;
    }

    /**
     * Makes the processor select outbound SAs among those its lane owns: {@code tablesByGroupId[g]} is the lane's
     * table of group {@code g} ({@link SaGroup#laneTable}), built whole by the control plane and never modified
     * afterwards. Each group keeps its {@link FlowletTable} from one publication to the next; {@code moves} says
     * whether buckets whose SA slot changed wait for a flowlet boundary. Called on the lane's thread, between batches;
     * {@code nowNs} is its clock now.
     */
    public void useOutbound(SecurityPolicyDatabase policies, SaGroup.LaneTable[] tablesByGroupId, FlowletTable.Moves moves,
                            long nowNs) {
        FlowletTable[] previous = outboundByGroup;
        FlowletTable[] tables = new FlowletTable[tablesByGroupId.length];
        int pending = 0;
        for (int groupId = 0; groupId < tables.length; groupId++) {
            SaGroup.LaneTable table = tablesByGroupId[groupId];
            if (table == null) {
                continue;
            }
            // group ids are never reused, so the table of the same id is the same group's
            FlowletTable kept = previous != null && groupId < previous.length ? previous[groupId] : null;
            if (kept == null) {
                tables[groupId] = new FlowletTable(table, counters);
            } else {
                pending += kept.publish(table, moves, nowNs, flowletGapNs);
                tables[groupId] = kept;
            }
        }
        this.spd = policies;
        this.outboundByGroup = tables;
        counters.flowletPending(pending);
    }

    /**
     * How long a flow bucket must have had no packet before it moves to another SA after a reweighting; 0 moves at
     * once. Lane thread, between batches; buckets pending and idle for a shorter new gap move now.
     */
    public void flowletGap(long gapNs, long nowNs) {
        if (gapNs < 0) {
            throw new IllegalArgumentException("a flowlet gap cannot be negative");
        }
        flowletGapNs = gapNs;
        FlowletTable[] tables = outboundByGroup;
        if (tables == null) {
            return;
        }
        int pending = 0;
        for (FlowletTable table : tables) {
            if (table != null) {
                pending += table.regap(nowNs, gapNs);
            }
        }
        counters.flowletPending(pending);
    }

    public long flowletGapNs() {
        return flowletGapNs;
    }

    /** This lane's table of the SA group with id {@code groupId}, or null (tests, diagnostics). Lane thread only. */
    public FlowletTable outboundTable(int groupId) {
        FlowletTable[] tables = outboundByGroup;
        return tables != null && groupId >= 0 && groupId < tables.length ? tables[groupId] : null;
    }

    /**
     * Once per batch, before its packets: the batch's time ({@code System.nanoTime()} read once by the caller), which
     * dates the flow buckets the batch touches; and the pending bucket moves whose flowlet gap has passed, so a
     * bucket moves just before the first packet that finds it idle. Without it a lane's buckets never move.
     */
    public void startBatch(long nowNs) {
        batchNs = nowNs;
        if (counters.flowletPending() != 0) {
            for (FlowletTable table : outboundByGroup) {
                if (table != null) {
                    table.sweep(nowNs, flowletGapNs);
                }
            }
        }
    }

    /** After {@link #encapsulate} returned {@link Outcome#BYPASS}: the index of the bypass policy in the SPD in use. */
    public int bypassPolicyIndex() {
        return bypassPolicyIndex;
    }

    /** Who hears about SAs reaching their lifetime limits (the runtime's events). */
    public void lifetimeListener(SaLifetimeListener listener) {
        this.lifetimeListener = listener;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Outbound

    /** Encapsulates a batch in place; {@code outcomes[i]} receives each packet's fate. */
    public void encapsulate(Packet[] batch, int count, Outcome[] outcomes) {
        startBatch(System.nanoTime());
        for (int i = 0; i < count; i++) {
            outcomes[i] = encapsulate(batch[i]);
        }
    }

    /** Encapsulates the inner IP packet held in {@code packet}, in place, as part of the batch of {@link #startBatch}. */
    public Outcome encapsulate(Packet packet) {
        byte[] buffer = packet.buffer();
        int innerOffset = packet.offset();
        packet.recordSa(0, 0, 0);

        // 1. selector fields; the IP header's length wins over the slot's (drops link-layer padding)
        if (!flowKey.read(buffer, innerOffset, packet.length())) {
            return drop(LaneCounters.NO_SA, Outcome.MALFORMED);
        }
        int innerLength = flowKey.totalLength;

        // 2. SPD
        int policyIndex = spd.matchOutboundIndex(flowKey);
        if (policyIndex < 0) {
            return drop(LaneCounters.NO_SA, Outcome.NO_POLICY);
        }
        SecurityPolicy policy = spd.policy(policyIndex);
        if (policy.action() == PolicyAction.DISCARD) {
            return drop(LaneCounters.NO_SA, Outcome.POLICY_DISCARD);
        }
        if (policy.action() == PolicyAction.BYPASS) {
            bypassPolicyIndex = policyIndex;
            packet.set(innerOffset, innerLength);
            counters.count(LaneCounters.NO_SA, Outcome.BYPASS, innerLength);
            return Outcome.BYPASS;
        }

        // 3. flow ID → SA: in a lane, among the SAs of the group the lane owns
        int flowId = flowHash.flowId(flowKey);
        SaGroup group = policy.outboundGroup();
        SecurityAssociation sa;
        if (outboundByGroup == null) {
            sa = group.select(flowId);
        } else {
            int groupId = group.id();
            FlowletTable laneTable = groupId >= 0 && groupId < outboundByGroup.length ? outboundByGroup[groupId] : null;
            if (laneTable == null) {
                return drop(LaneCounters.NO_SA, Outcome.NO_LANE_SA);
            }
            sa = laneTable.select(flowId, batchNs);
        }
        int saIndex = sa.index();
        if (sa.isExpired()) {
            return drop(saIndex, Outcome.SA_EXPIRED);
        }
        EspSuite suite = sa.suite();
        OuterEndpoints outer = sa.outer();
        int paddedLength = (innerLength + EspView.TRAILER_LENGTH + suite.alignment() - 1) / suite.alignment() * suite.alignment();
        int padLength = paddedLength - innerLength - EspView.TRAILER_LENGTH;
        int espHeaderLength = EspView.HEADER_LENGTH + suite.ivLength();
        int outerHeaderLength = framing == Framing.IP ? outer.headerLength() : 0;
        int espLength = espHeaderLength + paddedLength + suite.icvLength();
        if (innerOffset < espHeaderLength + outerHeaderLength
                || innerOffset + paddedLength + suite.icvLength() > buffer.length
                || espLength + outerHeaderLength > Packet.MAX_IP_PACKET) {
            return drop(saIndex, Outcome.NO_ROOM);
        }

        // 4. sequence number, within what is durable (a restart resumes after the durable mark)
        if (!sa.isDurable(sa.lastSequenceSent() + 1)) {
            return drop(saIndex, Outcome.SEQUENCE_NOT_DURABLE);
        }
        long sequence = sa.nextSequenceNumber();
        if (sequence == 0) {
            return drop(saIndex, Outcome.SEQUENCE_EXHAUSTED);
        }
        sa.recordExactMark(sequence);   // before it is used: a killed process leaves it in the page cache

        // 5. trailer, header, IV, encrypt, ICV
        int trailerOffset = innerOffset + innerLength;
        for (int i = 1; i <= padLength; i++) {
            buffer[trailerOffset + i - 1] = (byte) i;      // RFC 4303 §2.4 default padding: 1, 2, 3, ...
        }
        buffer[trailerOffset + padLength] = (byte) padLength;
        buffer[trailerOffset + padLength + 1] = (byte) (flowKey.family == 4 ? IpProtocol.IPV4 : IpProtocol.IPV6);
        int espOffset = innerOffset - espHeaderLength;
        Bytes.i32(buffer, espOffset + EspView.SPI_FIELD_OFFSET, sa.spi());
        Bytes.i32(buffer, espOffset + EspView.SEQUENCE_FIELD_OFFSET, (int) sequence);
        EspTransform transform = transformFor(sa);
        transform.writeIv(buffer, espOffset + EspView.HEADER_LENGTH, sequence);
        if (!transform.seal(buffer, espOffset, innerOffset, paddedLength, (int) (sequence >>> 32))) {
            return drop(saIndex, Outcome.CRYPTO_ERROR);
        }

        // 6. outer header
        if (framing == Framing.IP) {
            int outerOffset = espOffset - outerHeaderLength;
            writeOuterHeader(buffer, outerOffset, outer, espLength, flowId);
            packet.set(outerOffset, outerHeaderLength + espLength);
        } else {
            packet.set(espOffset, espLength);
        }
        packet.outerTrafficClass(flowKey.trafficClass);
        packet.recordSa(saIndex, sequence, flowId);
        counters.count(saIndex, Outcome.ACCEPTED, innerLength);
        sa.countUse(innerLength, lifetimeListener);
        return Outcome.ACCEPTED;
    }

    private void writeOuterHeader(byte[] buffer, int offset, OuterEndpoints outer, int espLength, int flowId) {
        int udpLength = outer.isUdp() ? UdpView.HEADER_LENGTH + espLength : 0;
        if (outer.family() == 4) {
            int totalLength = Ipv4View.MIN_HEADER_LENGTH + (outer.isUdp() ? udpLength : espLength);
            ipv4.wrap(buffer, offset)
                    .versionAndHeaderLength(Ipv4View.MIN_HEADER_LENGTH)
                    .tos(flowKey.trafficClass)                         // DSCP and ECN copied (RFC 4301, RFC 6040)
                    .totalLength(totalLength)
                    .identification(nextIdentification++ & 0xFFFF)
                    .flagsAndFragmentOffset(flowKey.dontFragment ? Ipv4View.FLAG_DONT_FRAGMENT : 0)
                    .ttl(OUTER_TTL)
                    .protocol(outer.ipProtocol())
                    .sourceAddress((int) outer.localLow())
                    .destinationAddress((int) outer.remoteLow())
                    .updateChecksum();
            if (outer.isUdp()) {
                udp.wrap(buffer, offset + Ipv4View.MIN_HEADER_LENGTH)
                        .sourcePort(outer.localPort())
                        .destinationPort(outer.remotePort())
                        .length(udpLength)
                        .checksum(0);                                   // RFC 3948 §2.1: zero over IPv4
            }
        } else {
            ipv6.wrap(buffer, offset)
                    .versionClassAndLabel(flowKey.trafficClass, flowId) // flow label from the flow ID (RFC 6438)
                    .payloadLength(outer.isUdp() ? udpLength : espLength)
                    .nextHeader(outer.ipProtocol())
                    .hopLimit(OUTER_TTL)
                    .sourceAddress(outer.localHigh(), outer.localLow())
                    .destinationAddress(outer.remoteHigh(), outer.remoteLow());
            if (outer.isUdp()) {
                udp.wrap(buffer, offset + Ipv6View.HEADER_LENGTH)
                        .sourcePort(outer.localPort())
                        .destinationPort(outer.remotePort())
                        .length(udpLength)
                        .updateChecksumIpv6(offset);                   // mandatory over IPv6 (RFC 8200 §8.1)
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Inbound

    /** Decapsulates a batch of outer IP packets in place. */
    public void decapsulate(Packet[] batch, int count, Outcome[] outcomes) {
        for (int i = 0; i < count; i++) {
            outcomes[i] = decapsulate(batch[i]);
        }
    }

    /** Decapsulates the outer IP packet (ESP or ESP-in-UDP) held in {@code packet}; on success it holds the inner one. */
    public Outcome decapsulate(Packet packet) {
        byte[] buffer = packet.buffer();
        int offset = packet.offset();
        int available = packet.length();
        packet.recordSa(0, 0, 0);

        // 1. outer header
        if (available < 1) {
            return drop(LaneCounters.NO_SA, Outcome.MALFORMED);
        }
        int version = (buffer[offset] >> 4) & 0xF;
        int protocol;
        int payloadOffset;
        int payloadLength;
        if (version == 4) {
            if (!ipv4.wrap(buffer, offset).isValid(available)) {
                return drop(LaneCounters.NO_SA, Outcome.MALFORMED);
            }
            if (ipv4.isFragment()) {
                return drop(LaneCounters.NO_SA, Outcome.OUTER_FRAGMENT);
            }
            protocol = ipv4.protocol();
            packet.outerTrafficClass(ipv4.tos());
            payloadOffset = offset + ipv4.headerLength();
            payloadLength = ipv4.totalLength() - ipv4.headerLength();
        } else if (version == 6) {
            if (!ipv6.wrap(buffer, offset).isValid(available)) {
                return drop(LaneCounters.NO_SA, Outcome.MALFORMED);
            }
            int totalLength = ipv6.totalLength();
            long upper = ipv6.upperLayer(totalLength);
            if (upper == Ipv6View.FRAGMENT) {
                return drop(LaneCounters.NO_SA, Outcome.OUTER_FRAGMENT);
            }
            if (upper < 0) {
                return drop(LaneCounters.NO_SA, Outcome.MALFORMED);
            }
            protocol = (int) (upper >>> 32);
            packet.outerTrafficClass(ipv6.trafficClass());
            payloadOffset = offset + (int) upper;
            payloadLength = totalLength - (int) upper;
        } else {
            return drop(LaneCounters.NO_SA, Outcome.MALFORMED);
        }

        if (protocol == IpProtocol.ESP) {
            return decapsulateEsp(packet, payloadOffset, payloadLength);
        }
        if (protocol == IpProtocol.UDP) {
            if (payloadLength < UdpView.HEADER_LENGTH) {
                return drop(LaneCounters.NO_SA, Outcome.MALFORMED);
            }
            udp.wrap(buffer, payloadOffset);
            int udpLength = udp.length();
            if (udpLength < UdpView.HEADER_LENGTH || udpLength > payloadLength) {
                return drop(LaneCounters.NO_SA, Outcome.MALFORMED);
            }
            if (udp.destinationPort() != natTraversalPort && udp.sourcePort() != natTraversalPort) {
                return drop(LaneCounters.NO_SA, Outcome.NOT_ESP);
            }
            return decapsulateUdpPayload(packet, payloadOffset + UdpView.HEADER_LENGTH, udpLength - UdpView.HEADER_LENGTH);
        }
        return drop(LaneCounters.NO_SA, Outcome.NOT_ESP);
    }

    /** Decapsulates the payload of a datagram received on the NAT-T port (RFC 3948 §2.2 classification first). */
    public Outcome decapsulateUdpPayload(Packet packet, int payloadOffset, int payloadLength) {
        byte[] buffer = packet.buffer();
        if (payloadLength == 1 && buffer[payloadOffset] == (byte) 0xFF) {
            return drop(LaneCounters.NO_SA, Outcome.NAT_KEEPALIVE);
        }
        if (payloadLength >= 4 && Bytes.i32(buffer, payloadOffset) == 0) {
            return drop(LaneCounters.NO_SA, Outcome.NON_ESP_MARKER);
        }
        return decapsulateEsp(packet, payloadOffset, payloadLength);
    }

    /**
     * {@link #prepareInbound} for a datagram received on the NAT-T port held in the slot: NAT-keepalives and IKE
     * leave first (RFC 3948 §2.2). Returns the packet's SA, or null when it was dropped (and counted).
     */
    public SecurityAssociation prepareUdpPayload(Packet packet) {
        byte[] buffer = packet.buffer();
        int offset = packet.offset();
        int length = packet.length();
        if (length == 1 && buffer[offset] == (byte) 0xFF) {
            drop(LaneCounters.NO_SA, Outcome.NAT_KEEPALIVE);
            return null;
        }
        if (length >= 4 && Bytes.i32(buffer, offset) == 0) {
            drop(LaneCounters.NO_SA, Outcome.NON_ESP_MARKER);
            return null;
        }
        return prepareInbound(packet, offset, length);
    }

    /** Decapsulates one ESP packet found at {@code [espOffset, espOffset + espLength)} of the slot's buffer. */
    public Outcome decapsulateEsp(Packet packet, int espOffset, int espLength) {
        SecurityAssociation sa = prepareInbound(packet, espOffset, espLength);
        if (sa == null) {
            return Outcome.fromOrdinal(lastDrop);
        }
        return finishInbound(packet, sa, openPrepared(packet, sa));
    }

    /**
     * Inbound steps 2 and 3, on the lane that owns the SA's replay window: SA by SPI, length checks, sequence number
     * and replay pre-check. Returns the SA, which the caller carries to {@link #openPrepared} and
     * {@link #finishInbound}, or null when the packet was dropped (counted). The packet records its SA index,
     * sequence number and ESP layout, found once here.
     */
    public SecurityAssociation prepareInbound(Packet packet, int espOffset, int espLength) {
        byte[] buffer = packet.buffer();
        packet.recordSa(0, 0, 0);

        // 2. SA by SPI
        if (espLength < EspView.HEADER_LENGTH) {
            drop(LaneCounters.NO_SA, Outcome.MALFORMED);
            return null;
        }
        int spi = Bytes.i32(buffer, espOffset + EspView.SPI_FIELD_OFFSET);
        SecurityAssociation sa = sad.inbound(spi);
        if (sa == null) {
            drop(LaneCounters.NO_SA, spi == HandOverMarker.SPI && isOurMarker(buffer, espOffset, espLength)
                    ? Outcome.MARKER : Outcome.UNKNOWN_SPI);
            return null;
        }
        int saIndex = sa.index();
        if (sa.isExpired()) {
            drop(saIndex, Outcome.SA_EXPIRED);
            return null;
        }
        EspSuite suite = sa.suite();
        int payloadOffset = espOffset + EspView.HEADER_LENGTH + suite.ivLength();
        int ciphertextLength = espLength - EspView.HEADER_LENGTH - suite.ivLength() - suite.icvLength();
        if (ciphertextLength < EspView.TRAILER_LENGTH || ciphertextLength % suite.alignment() != 0) {
            drop(saIndex, Outcome.MALFORMED);
            return null;
        }

        // 3. sequence number and replay pre-check
        ReplayWindow window = sa.replayWindow();
        long sequenceLow = Bytes.u32(buffer, espOffset + EspView.SEQUENCE_FIELD_OFFSET);
        long sequence = sa.extendedSequenceNumbers() ? window.inferSequence(sequenceLow) : sequenceLow;
        int replay = window.check(sequence);
        if (replay == ReplayWindow.DUPLICATE) {
            drop(saIndex, Outcome.REPLAY);
            return null;
        }
        if (replay == ReplayWindow.TOO_OLD) {
            drop(saIndex, Outcome.REPLAY_TOO_OLD);
            return null;
        }
        packet.recordSa(saIndex, sequence, 0);
        packet.recordEsp(espOffset, payloadOffset, ciphertextLength);
        return sa;
    }

    /**
     * Inbound step 4, the cryptography alone: verifies the ICV and decrypts a packet {@link #prepareInbound} let
     * through, with this processor's cipher context for {@code sa}. Touches no SA state, so in {@code pcrypt} mode
     * any lane runs it.
     */
    public boolean openPrepared(Packet packet, SecurityAssociation sa) {
        return transformFor(sa).open(packet.buffer(), packet.espOffset(), packet.payloadOffset(),
                packet.ciphertextLength(), (int) (packet.sequenceNumber() >>> 32));
    }

    /**
     * Inbound steps 4 (commit) to 6, back on the lane of {@link #prepareInbound}, in arrival order: commit the
     * sequence number of an authentic packet, check trailer, inner header and selectors, expose the inner packet.
     */
    public Outcome finishInbound(Packet packet, SecurityAssociation sa, boolean authentic) {
        byte[] buffer = packet.buffer();
        int saIndex = sa.index();
        if (!authentic) {
            return drop(saIndex, Outcome.AUTHENTICATION_FAILED);
        }
        long sequence = packet.sequenceNumber();
        ReplayWindow window = sa.replayWindow();
        if (window.check(sequence) != ReplayWindow.ACCEPTABLE) {
            // pcrypt: a duplicate that authenticated while its twin was in flight
            return drop(saIndex, Outcome.REPLAY);
        }
        if (!sa.isDurable(sequence)) {
            // above the durable mark: after a crash it could be accepted again, so not before the mark is raised
            return drop(saIndex, Outcome.SEQUENCE_NOT_DURABLE);
        }
        window.commit(sequence);
        sa.recordExactMark(window.highest());   // before delivery: a killed process leaves it in the page cache
        int payloadOffset = packet.payloadOffset();
        int ciphertextLength = packet.ciphertextLength();

        // 5. trailer and inner header
        int trailerOffset = payloadOffset + ciphertextLength - EspView.TRAILER_LENGTH;
        int padLength = buffer[trailerOffset] & 0xFF;
        int nextHeader = buffer[trailerOffset + 1] & 0xFF;
        int innerSpace = ciphertextLength - EspView.TRAILER_LENGTH - padLength;
        if (innerSpace < 0) {
            return drop(saIndex, Outcome.BAD_PADDING);
        }
        int paddingOffset = payloadOffset + innerSpace;
        for (int i = 0; i < padLength; i++) {
            if (buffer[paddingOffset + i] != (byte) (i + 1)) {
                return drop(saIndex, Outcome.BAD_PADDING);
            }
        }
        if (nextHeader == IpProtocol.NO_NEXT_HEADER) {
            return drop(saIndex, Outcome.DUMMY_PACKET);
        }
        if (nextHeader != IpProtocol.IPV4 && nextHeader != IpProtocol.IPV6) {
            return drop(saIndex, Outcome.UNSUPPORTED_NEXT_HEADER);
        }
        if (!flowKey.read(buffer, payloadOffset, innerSpace)
                || flowKey.family != (nextHeader == IpProtocol.IPV4 ? 4 : 6)) {
            return drop(saIndex, Outcome.INNER_MALFORMED);
        }

        // 6. selectors; TFC padding between the inner packet and the ESP padding is cut off here
        if (!sa.selector().matchesInbound(flowKey)) {
            return drop(saIndex, Outcome.POLICY_MISMATCH);
        }
        int outerTrafficClass = packet.outerTrafficClass();
        if (outerTrafficClass >= 0 && EcnDecapsulation.apply(buffer, payloadOffset,
                outerTrafficClass & EcnDecapsulation.ECN_MASK) == EcnDecapsulation.DROP) {
            return drop(saIndex, Outcome.CE_ON_NOT_ECT);
        }
        packet.set(payloadOffset, flowKey.totalLength);
        counters.count(saIndex, Outcome.ACCEPTED, flowKey.totalLength);
        sa.countUse(flowKey.totalLength, lifetimeListener);
        return Outcome.ACCEPTED;
    }

    // ---------------------------------------------------------------------------------------------------------------

    private Outcome drop(int saIndex, Outcome reason) {
        counters.count(saIndex, reason, 0);
        lastDrop = reason.ordinal();
        return reason;
    }

    /** Drops this lane's cipher context of a removed SA, and the keys it holds. Called on the lane's thread. */
    public void forget(SecurityAssociation sa) {
        int index = sa.index();
        if (index < transformOwners.length && transformOwners[index] == sa) {
            transforms[index] = null;
            transformOwners[index] = null;
        }
    }

    /** This lane's cipher context for an SA, built the first time the lane meets the SA. */
    private EspTransform transformFor(SecurityAssociation sa) {
        int index = sa.index();
        if (index >= transforms.length) {
            int size = Math.max(transforms.length * 2, index + 1);
            transforms = Arrays.copyOf(transforms, size);
            transformOwners = Arrays.copyOf(transformOwners, size);
        }
        if (transformOwners[index] != sa) {
            transforms[index] = sa.newTransform();
            transformOwners[index] = sa;
        }
        return transforms[index];
    }
}
