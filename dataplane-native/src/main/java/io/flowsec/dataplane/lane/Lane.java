package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One lane: one thread (its event loop), one TUN queue, its tunnel sockets, its ESP processor and counters. In
 * {@code flow} mode a packet never leaves the lane's thread. The event loop calls {@link #onSiteReadable} and
 * {@link #onTunnelReadable} when the descriptors are readable; each call drains at most one batch.
 *
 * <p>Outbound (site → tunnel), {@link #onSiteReadable}:
 * <ol>
 *   <li>read up to {@link #BATCH} packets from TUN queue i straight into the lane's heap slots (the kernel already
 *       spread inner flows over the queues);</li>
 *   <li>encapsulate each: SPD, flow ID → SA of the group, sequence number, encryption ({@link EspProcessor});</li>
 *   <li>send each ESP packet on the lane's socket for the SA's local address and port to the SA's peer.</li>
 * </ol>
 * <p>Inbound (tunnel → site), {@link #onTunnelReadable}:
 * <ol>
 *   <li>receive up to {@link #BATCH} datagrams from one of the lane's sockets (steering chose this lane);</li>
 *   <li>decapsulate each: SPI → SA, replay pre-check, ICV and decryption, selectors;</li>
 *   <li>write the inner packets to TUN queue i.</li>
 * </ol>
 */
public final class Lane {
    /** Packets per batch, as wireguard-go's IdealBatchSize order of magnitude. */
    public static final int BATCH = 64;
    static final int MAX_PACKET = 65535;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    /** Lane-level I/O counters (packet outcomes live in the processor's {@link io.flowsec.dataplane.esp.LaneCounters}). */
    public enum IoCounter {
        SITE_PACKETS_READ, TUNNEL_DATAGRAMS_RECEIVED, TUNNEL_DATAGRAMS_SENT, SITE_PACKETS_WRITTEN, SITE_BYTES_WRITTEN,
        SEND_ERRORS, TUN_WRITE_ERRORS, BUSY_NANOS, BATCHES
    }

    private final int index;
    private final TunDevice tun;
    private final int queue;
    private final UdpSocket[] sockets;
    private final EspProcessor processor;
    private final TunnelPeer[] peerBySaIndex;
    private final Errno errno = new Errno();
    private final Packet[] slots = new Packet[BATCH];
    private final MemorySegment[] receiveTargets = new MemorySegment[BATCH];
    private final SlotSegments[] segments = new SlotSegments[BATCH];
    /** Set on this lane's thread when it is the receiving lane of {@code pcrypt} mode; null otherwise. */
    private PcryptInbound pcrypt;
    private final long[] ioCounters = new long[IoCounter.values().length];

    /**
     * @param peerBySaIndex for each outbound SA (by SAD index) the socket and destination to send with
     */
    public Lane(int index, TunDevice tun, int queue, UdpSocket[] sockets, EspProcessor processor, TunnelPeer[] peerBySaIndex) {
        this.index = index;
        this.tun = tun;
        this.queue = queue;
        this.sockets = sockets;
        this.processor = processor;
        this.peerBySaIndex = peerBySaIndex;
        for (int i = 0; i < BATCH; i++) {
            slots[i] = Packet.withRoomFor(MAX_PACKET);
            // reads land at the default headroom so ESP (outbound) or the outer headers (inbound) fit around them
            receiveTargets[i] = MemorySegment.ofArray(slots[i].buffer()).asSlice(Packet.DEFAULT_HEADROOM, MAX_PACKET);
            segments[i] = new SlotSegments(slots[i]);
        }
    }

    public int index() {
        return index;
    }

    public EspProcessor processor() {
        return processor;
    }

    public int tunQueueFd() {
        return tun.queueFd(queue);
    }

    public UdpSocket[] sockets() {
        return sockets;
    }

    /** Drains one batch from the TUN queue; returns the number of packets read (0: the queue is empty). */
    public int onSiteReadable() {
        long startNs = System.nanoTime();
        // 1. read a batch
        int count = 0;
        while (count < BATCH) {
            long length = tun.read(errno, queue, receiveTargets[count]);
            if (length <= 0) {
                break;
            }
            slots[count].set(Packet.DEFAULT_HEADROOM, (int) length);
            count++;
        }
        add(IoCounter.SITE_PACKETS_READ, count);
        // 2-3. encapsulate and send
        for (int i = 0; i < count; i++) {
            Packet packet = slots[i];
            if (processor.encapsulate(packet) != Outcome.ACCEPTED) {
                continue;
            }
            TunnelPeer peer = peerBySaIndex[packet.saIndex()];
            long sent = peer.socket().send(errno, segments[i].at(packet.offset()), packet.length(), peer.destination());
            add(sent >= 0 ? IoCounter.TUNNEL_DATAGRAMS_SENT : IoCounter.SEND_ERRORS, 1);
        }
        finishBatch(startNs, count);
        return count;
    }

    /** Drains one batch from the lane's tunnel socket {@code socketIndex}; returns the number of datagrams received. */
    public int onTunnelReadable(int socketIndex) {
        long startNs = System.nanoTime();
        UdpSocket socket = sockets[socketIndex];
        if (pcrypt != null) {
            int received = pcrypt.onTunnelReadable(socket);
            finishBatch(startNs, received);
            return received;
        }
        // 1. receive a batch
        int count = 0;
        while (count < BATCH) {
            long length = socket.receive(errno, receiveTargets[count]);
            if (length < 0) {
                break;
            }
            slots[count].set(Packet.DEFAULT_HEADROOM, (int) length);
            count++;
        }
        add(IoCounter.TUNNEL_DATAGRAMS_RECEIVED, count);
        // 2-3. decapsulate and deliver
        for (int i = 0; i < count; i++) {
            Packet packet = slots[i];
            if (processor.decapsulateUdpPayload(packet, packet.offset(), packet.length()) != Outcome.ACCEPTED) {
                continue;
            }
            deliverToSite(segments[i].at(packet.offset()), packet.length());
        }
        finishBatch(startNs, count);
        return count;
    }

    /** Writes one inner packet to this lane's TUN queue. */
    void deliverToSite(MemorySegment packet, int length) {
        long written = tun.write(errno, queue, packet, length);
        if (written >= 0) {
            add(IoCounter.SITE_PACKETS_WRITTEN, 1);
            add(IoCounter.SITE_BYTES_WRITTEN, written);
        } else {
            add(IoCounter.TUN_WRITE_ERRORS, 1);
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

    private void finishBatch(long startNs, int count) {
        if (count > 0) {
            add(IoCounter.BUSY_NANOS, System.nanoTime() - startNs);
            add(IoCounter.BATCHES, 1);
        }
    }

    private void add(IoCounter counter, long delta) {
        int i = counter.ordinal();
        LONGS.setOpaque(ioCounters, i, (long) LONGS.getOpaque(ioCounters, i) + delta);
    }

    /** Readable from any thread. */
    public long ioCounter(IoCounter counter) {
        return (long) LONGS.getOpaque(ioCounters, counter.ordinal());
    }
}
