package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.FlowletTable;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.sa.SaGroup;

import java.lang.foreign.MemorySegment;

/**
 * One lane: one thread (its event loop), one site queue, its tunnel sockets, its ESP processor, its outbound SAs and
 * its counters. In {@code flow} mode a packet never leaves the lane's thread. The event loop calls
 * {@link #onSiteReadable} and {@link #onTunnelReadable} when a queue is readable; each call drains at most one batch.
 *
 * <p>Outbound (site → tunnel), {@link #onSiteReadable}:
 * <ol>
 *   <li>read a batch from the lane's site queue (TUN queue i: the kernel already spread inner flows over them);</li>
 *   <li>encapsulate each: SPD, flow ID → one of the group's SAs that this lane owns (a reweighting moves a flow
 *       only at a flowlet boundary, dated by the batch's one clock read), its sequence number (a plain lane-local
 *       counter), encryption ({@link EspProcessor});</li>
 *   <li>send the batch, each ESP packet on the lane's socket for its SA's local endpoint, to the SA's peer; the
 *       packets of {@code bypass} policies go unchanged to the policy's next hop on the lane's clear path.</li>
 * </ol>
 * <p>Inbound (tunnel → site), {@link #onTunnelReadable}:
 * <ol>
 *   <li>receive a batch from one of the lane's sockets (steering chose this lane for these SAs);</li>
 *   <li>decapsulate each: SPI → SA, replay pre-check, ICV and decryption, selectors;</li>
 *   <li>write the batch of inner packets to the lane's site queue.</li>
 * </ol>
 * Its counters, I/O and outcomes alike, are its processor's {@link io.flowsec.dataplane.esp.LaneCounters}.
 * A batch that ends in an unexpected exception is counted ({@link IoCounter#LANE_FAULTS}), reported, and the lane
 * goes on with the next one: a bug costs a batch, never the lane.
 */
public final class Lane {
    /** Packets per batch, as wireguard-go's IdealBatchSize order of magnitude. */
    public static final int BATCH = 64;
    /**
     * A slot's room: the largest IPv6 packet (a 16-bit payload length after its 40-byte header) with a TUN queue's
     * 10-byte virtio_net_hdr before it, as a TSO superpacket arrives.
     */
    public static final int MAX_PACKET = Packet.MAX_IP_PACKET + 40 + 10;

    private final int index;
    private final SiteQueue site;
    private final TunnelSocket[] sockets;
    private final ClearPath clearPath;
    private final EspProcessor processor;
    private final Packet[] slots = new Packet[BATCH];
    /** Per socket: the packets of this batch to send on it and their destinations. */
    private final Packet[][] sendPackets;
    private final MemorySegment[][] sendDestinations;
    private final int[] sendCounts;
    /** Inner packets waiting to be written to the site queue (this batch's, or pcrypt's completed ones). */
    private final Packet[] toSite = new Packet[BATCH];
    private int toSiteCount;
    private final long[] results = new long[BATCH];
    private final Packet[] clearPackets = new Packet[BATCH];
    private final MemorySegment[] clearNextHops = new MemorySegment[BATCH];
    /** For each policy of the SPD in use (by index) the native sockaddr of its bypass next hop, or null. */
    private MemorySegment[] nextHopByPolicyIndex = new MemorySegment[0];
    /** For each outbound SA (by SAD index) the socket and peer to send to; replaced whole by {@link #useOutbound}. */
    private TunnelPeer[] peerBySaIndex = new TunnelPeer[0];
    /** Set on this lane's thread when it is the receiving lane of {@code pcrypt} mode; null otherwise. */
    private PcryptInbound pcrypt;
    private LaneFaultListener faultListener = LaneFaultListener.IGNORE;

    /** @param clearPath where bypass packets go; null when no policy bypasses (they are then dropped, counted) */
    public Lane(int index, SiteQueue site, TunnelSocket[] sockets, ClearPath clearPath, EspProcessor processor) {
        this.index = index;
        this.site = site;
        this.sockets = sockets;
        this.clearPath = clearPath;
        this.processor = processor;
        for (int i = 0; i < BATCH; i++) {
            slots[i] = Packet.withRoomFor(MAX_PACKET);
        }
        sendPackets = new Packet[sockets.length][BATCH];
        sendDestinations = new MemorySegment[sockets.length][BATCH];
        sendCounts = new int[sockets.length];
        site.countInto(processor.counters());
        for (TunnelSocket socket : sockets) {
            socket.countInto(processor.counters());
        }
    }

    public int index() {
        return index;
    }

    public EspProcessor processor() {
        return processor;
    }

    public SiteQueue site() {
        return site;
    }

    public TunnelSocket[] sockets() {
        return sockets;
    }

    public void faultListener(LaneFaultListener listener) {
        this.faultListener = listener;
    }

    /**
     * Command, on the lane's thread between batches: from the next batch on, match {@code policies}, encrypt with
     * the lane's own SAs ({@code tablesByGroupId}; {@code moves} says whether a flow bucket whose SA changes waits
     * for a flowlet boundary) and send them as {@code peerBySaIndex} says.
     */
    public void useOutbound(SecurityPolicyDatabase policies, SaGroup.LaneTable[] tablesByGroupId, FlowletTable.Moves moves,
                            TunnelPeer[] peerBySaIndex, MemorySegment[] nextHopByPolicyIndex) {
        processor.useOutbound(policies, tablesByGroupId, moves, System.nanoTime());
        this.peerBySaIndex = peerBySaIndex;
        this.nextHopByPolicyIndex = nextHopByPolicyIndex;
    }

    /** Drains one batch from the site queue; returns the number of packets read (0: the queue is empty). */
    public int onSiteReadable() {
        long startNs = System.nanoTime();
        int count = 0;
        try {
            // 1. read a batch
            count = site.read(slots, 0, BATCH);
            add(IoCounter.SITE_PACKETS_READ, count);
            // 2. encapsulate, sorting the packets by the socket they leave from; the batch's start dates its flows
            processor.startBatch(startNs);
            TunnelPeer[] peers = peerBySaIndex;
            int clearCount = 0;
            for (int i = 0; i < count; i++) {
                Packet packet = slots[i];
                Outcome outcome = processor.encapsulate(packet);
                if (outcome == Outcome.BYPASS) {
                    MemorySegment nextHop = nextHopOf(processor.bypassPolicyIndex());
                    if (nextHop == null || clearPath == null) {
                        add(IoCounter.CLEAR_SEND_ERRORS, 1);
                    } else {
                        clearPackets[clearCount] = packet;
                        clearNextHops[clearCount++] = nextHop;
                    }
                    continue;
                }
                if (outcome != Outcome.ACCEPTED) {
                    continue;
                }
                int saIndex = packet.saIndex();
                TunnelPeer peer = saIndex < peers.length ? peers[saIndex] : null;
                if (peer == null) {
                    add(IoCounter.SEND_ERRORS, 1);   // an SA without a route on this lane: not reached by the runtime
                    continue;
                }
                int socket = peer.socketIndex();
                sendPackets[socket][sendCounts[socket]] = packet;
                sendDestinations[socket][sendCounts[socket]++] = peer.destination();
            }
            // 3. send
            if (clearCount > 0) {
                clearPath.send(clearPackets, clearNextHops, clearCount, results);
                for (int i = 0; i < clearCount; i++) {
                    add(results[i] >= 0 ? IoCounter.CLEAR_PACKETS_SENT : IoCounter.CLEAR_SEND_ERRORS, 1);
                }
            }
            for (int socket = 0; socket < sockets.length; socket++) {
                int toSend = sendCounts[socket];
                if (toSend == 0) {
                    continue;
                }
                sendCounts[socket] = 0;
                sockets[socket].send(sendPackets[socket], sendDestinations[socket], toSend, results);
                for (int i = 0; i < toSend; i++) {
                    add(results[i] >= 0 ? IoCounter.TUNNEL_DATAGRAMS_SENT : IoCounter.SEND_ERRORS, 1);
                }
            }
        } catch (RuntimeException | Error fault) {
            onFault(fault);
            java.util.Arrays.fill(sendCounts, 0);
        }
        finishBatch(startNs, count);
        return count;
    }

    private MemorySegment nextHopOf(int policyIndex) {
        MemorySegment[] hops = nextHopByPolicyIndex;
        return policyIndex >= 0 && policyIndex < hops.length ? hops[policyIndex] : null;
    }

    /** Drains one batch from the lane's tunnel socket {@code socketIndex}; returns the number of datagrams received. */
    public int onTunnelReadable(int socketIndex) {
        long startNs = System.nanoTime();
        int count = 0;
        try {
            TunnelSocket socket = sockets[socketIndex];
            if (pcrypt != null) {
                count = pcrypt.onTunnelReadable(socket);
            } else {
                // 1. receive a batch
                count = socket.receive(slots, 0, BATCH);
                add(IoCounter.TUNNEL_DATAGRAMS_RECEIVED, count);
                // 2. decapsulate
                for (int i = 0; i < count; i++) {
                    Packet packet = slots[i];
                    Outcome outcome = processor.decapsulateUdpPayload(packet, packet.offset(), packet.length());
                    if (outcome == Outcome.ACCEPTED) {
                        queueForSite(packet);
                    } else if (outcome == Outcome.MARKER) {
                        add(IoCounter.TUNNEL_DATAGRAMS_RECEIVED, -1);   // the data plane's own, not the tunnel's
                    }
                }
                // 3. deliver
                flushToSite();
            }
        } catch (RuntimeException | Error fault) {
            onFault(fault);
            toSiteCount = 0;
        }
        finishBatch(startNs, count);
        return count;
    }

    /** Adds an inner packet to the batch for the site queue, writing the batch first when it is full. */
    void queueForSite(Packet packet) {
        if (toSiteCount == BATCH) {
            flushToSite();
        }
        toSite[toSiteCount++] = packet;
    }

    /** Writes the packets queued for the site. */
    void flushToSite() {
        int count = toSiteCount;
        if (count == 0) {
            return;
        }
        toSiteCount = 0;
        site.write(toSite, count, results);
        for (int i = 0; i < count; i++) {
            long written = results[i];
            if (written >= 0) {
                add(IoCounter.SITE_PACKETS_WRITTEN, 1);
                add(IoCounter.SITE_BYTES_WRITTEN, written);
            } else {
                add(IoCounter.TUN_WRITE_ERRORS, 1);
            }
        }
    }

    void countTunnelReceived(int count) {
        add(IoCounter.TUNNEL_DATAGRAMS_RECEIVED, count);
    }

    /** Time spent in work handed to this lane by another (pcrypt's cryptography). */
    void addBusyNanos(long nanos) {
        add(IoCounter.BUSY_NANOS, nanos);
    }

    /** Makes this lane the receiving lane of pcrypt mode, or (null) a lane of its own again. Call on its thread. */
    void usePcrypt(PcryptInbound inbound) {
        this.pcrypt = inbound;
    }

    PcryptInbound pcrypt() {
        return pcrypt;
    }

    /** The fault barrier: count, report, go on. Work handed to this lane by another (pcrypt) comes here too. */
    void onFault(Throwable fault) {
        if (fault instanceof VirtualMachineError fatal && !(fault instanceof StackOverflowError)) {
            throw fatal;   // out of memory or a broken VM: nothing a lane can continue from
        }
        add(IoCounter.LANE_FAULTS, 1);
        try {
            faultListener.onLaneFault(index, fault);
        } catch (RuntimeException ignored) {
            // a listener's failure must not take the lane down either
        }
    }

    private void finishBatch(long startNs, int count) {
        if (count > 0) {
            add(IoCounter.BUSY_NANOS, System.nanoTime() - startNs);
            add(IoCounter.BATCHES, 1);
        }
    }

    private void add(IoCounter counter, long delta) {
        processor.counters().add(counter, delta);
    }

    /** Readable from any thread. */
    public long ioCounter(IoCounter counter) {
        return processor.counters().io(counter);
    }
}
