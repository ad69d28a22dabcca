package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.offload.GsoSegmenter;
import io.flowsec.dataplane.offload.TcpCoalescer;
import io.flowsec.dataplane.offload.VirtioNetHeader;
import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Queue {@code queue} of a multi-queue TUN device. On a lane whose event loop runs io_uring its reads and writes go
 * through that ring ({@link TunRing}: reads posted ahead, writes submitted per batch, no system call per packet);
 * elsewhere each packet read or written is one system call.
 * <p>
 * On a device opened with offloads (a virtio_net_hdr before every packet) one read or write moves up to 64 KB:
 * <ol>
 *   <li>read: a TCP or UDP superpacket (TSO/USO) is cut here into the segments the kernel would have sent, each a
 *       whole IP packet with its checksum, in the lane's slots; what does not fit this batch waits for the next,
 *       in order. A packet with a partial checksum is completed in place. A superpacket that cannot be cut is
 *       dropped and counted ({@link IoCounter#SITE_OFFLOAD_DROPS});</li>
 *   <li>write: consecutive segments of one TCP flow in the lane's batch are coalesced into one superpacket (GRO)
 *       that the kernel takes whole, and every packet goes out behind its virtio_net_hdr.</li>
 * </ol>
 */
public final class TunSiteQueue implements SiteQueue {
    private final TunDevice device;
    private final int queue;
    private final Errno errno = new Errno();
    private final boolean vnetHeader;
    private final GsoSegmenter segmenter;
    private final TcpCoalescer coalescer;
    private final boolean coalescing;
    /** Holds the superpacket being cut while its segments fill the lane's slots: it changes places with a slot. */
    private Packet superpacket;
    private final int[] outputOf = new int[Lane.BATCH];
    private final int[] inputLengths = new int[Lane.BATCH];
    private final long[] outputResults = new long[Lane.BATCH];
    private LaneCounters counters = new LaneCounters();
    private final boolean ringWanted;
    /** Set on the lane's thread before it starts (LaneIo); null: system calls. */
    private TunRing ring;
    /** What the status says of the ring (control side). */
    private volatile Offload ringState;
    /** Packets read at least this long on average (superpackets) are read with system calls, not the ring. */
    static final int DIRECT_READ_BYTES = 8192;
    /** While the last drains brought superpackets: reads by system call. Lane's thread only. */
    private boolean readsDirect;
    /** What the current drain read from the kernel: its bytes and packets (superpackets count once). */
    private long drainBytes;
    private int drainReads;
    /** Small writes that found every ring buffer in flight and took a system call. Lane's thread only (tests read it). */
    private long ringWritesRefused;

    public TunSiteQueue(TunDevice device, int queue) {
        this(device, queue, true, true);
    }

    /**
     * @param coalescing whether writes coalesce TCP segments (only on a device with a virtio header)
     * @param ring       whether reads and writes go through the lane's io_uring where its loop has one
     */
    public TunSiteQueue(TunDevice device, int queue, boolean coalescing, boolean ring) {
        this.device = device;
        this.queue = queue;
        this.ringWanted = ring;
        this.ringState = ring ? Offload.refused("tun-ring", "the lane's event loop has no io_uring")
                : Offload.notRequested("tun-ring");
        this.vnetHeader = device.vnetHeader();
        this.coalescing = vnetHeader && coalescing;
        this.segmenter = vnetHeader ? new GsoSegmenter(Lane.MAX_PACKET) : null;
        this.coalescer = this.coalescing ? new TcpCoalescer() : null;
        this.superpacket = vnetHeader ? Packet.withRoomFor(Lane.MAX_PACKET) : null;
    }

    @Override
    public int fd() {
        return device.queueFd(queue);
    }

    @Override
    public void countInto(LaneCounters counters) {
        this.counters = counters;
        if (ring != null) {
            ring.countInto(counters);
        }
    }

    @Override
    public boolean hasPending() {
        return segmenter != null && segmenter.hasNext() || ring != null && ring.hasCompletedReads();
    }

    /** Whether this queue would take a ring from its lane's io_uring loop. */
    boolean wantsRing() {
        return ringWanted;
    }

    /** From LaneIo, on the lane's thread before the first read: reads and writes go through {@code ring}. */
    void useRing(TunRing ring) {
        ring.countInto(counters);
        this.ring = ring;
        this.ringState = Offload.on("tun-ring", "reads in bursts of " + TunRing.MIN_BURST + "-" + TunRing.READS
                + " and writes submitted per batch; superpackets by system call");
    }

    /** From LaneIo, when the ring's reads failed: reads go back to system calls; writes stay on the ring. */
    void ringReadsFailed(int errno) {
        this.ringState = Offload.refused("tun-ring", "reads refused by io_uring (errno " + errno
                + "): reads by system call, writes by the ring");
    }

    /**
     * One packet from the kernel: a completed read of the ring first (older), then, while the ring reads, nothing
     * more (its next burst brings it), or while reads go direct, a system call.
     */
    private long readOne(MemorySegment target) {
        TunRing r = ring;
        long length;
        if (r == null) {
            length = device.read(errno, queue, target);
        } else if (r.hasCompletedReads()) {
            length = r.takeRead(target);
        } else if (!readsDirect && r.readFailure() == 0) {
            return -Errno.EAGAIN;
        } else {
            length = device.read(errno, queue, target);
        }
        if (length > 0) {
            drainBytes += length;
            drainReads++;
        }
        return length;
    }

    /** One packet to the kernel: queued on the ring when {@code viaRing} (its verdict counted on completion), else a call. */
    private long writeOne(MemorySegment packet, int length, boolean viaRing) {
        if (viaRing) {
            long queued = ring.write(packet, length);
            if (queued >= 0) {
                return queued;
            }
            ringWritesRefused++;
        }
        return device.write(errno, queue, packet, length);
    }

    /**
     * Whether a batch whose longest packet is {@code longest} bytes goes through the ring: not when it carries a
     * superpacket, where one call moves 64 KB and the ring would copy it, unless writes of the ring are still in
     * flight (a call now would overtake them).
     */
    private boolean writeViaRing(int longest) {
        return ring != null && (longest <= TunRing.SMALL_WRITE_BYTES || ring.writesInFlight() > 0);
    }

    /**
     * After a drain (from LaneIo): whether its packets were superpackets on average. Then reads go direct for a
     * while, as one system call moves 64 KB and the ring would copy it; small packets go back to the ring's bursts.
     * A drain that read nothing changes nothing.
     */
    boolean chooseDirectReads() {
        if (drainReads > 0) {
            readsDirect = drainBytes / drainReads >= DIRECT_READ_BYTES;
        }
        return readsDirect;
    }

    TunRing ring() {
        return ring;
    }

    long ringWritesRefused() {
        return ringWritesRefused;
    }

    @Override
    public List<Offload> offloads() {
        if (!vnetHeader) {
            return List.of(Offload.notRequested("tun-offloads"), Offload.notRequested("tun-gro"), ringState);
        }
        int granted = device.offloads();
        Offload offloads = granted != 0
                ? Offload.on("tun-offloads", TunDevice.describe(granted)
                        + (device.offloadRefusal().isEmpty() ? "" : " (refused first: " + device.offloadRefusal() + ")"))
                : Offload.refused("tun-offloads", device.offloadRefusal());
        Offload gro = coalescing ? Offload.on("tun-gro", "TCP") : Offload.notRequested("tun-gro");
        return List.of(offloads, gro, ringState);
    }

    @Override
    public int read(Packet[] slots, int from, int count) {
        drainBytes = 0;
        drainReads = 0;
        if (!vnetHeader) {
            return readEach(slots, from, count);
        }
        int read = 0;
        // 1. the rest of a superpacket cut in part by the batch before
        while (read < count && segmenter.hasNext()) {
            segmenter.next(slots[from + read++]);
        }
        while (read < count) {
            Packet slot = slots[from + read];
            long length = readOne(slot.receiveTarget());
            if (length <= 0) {
                break;
            }
            // 2. a plain packet (its checksum completed if partial) stays where it was read
            int segments = segmenter.begin(slot.buffer(), Packet.DEFAULT_HEADROOM, (int) length);
            if (segments == GsoSegmenter.IN_PLACE) {
                slot.set(Packet.DEFAULT_HEADROOM + VirtioNetHeader.LENGTH, (int) length - VirtioNetHeader.LENGTH);
                read++;
                continue;
            }
            if (segments < 0) {
                counters.add(IoCounter.SITE_OFFLOAD_DROPS, 1);
                continue;
            }
            // 3. a superpacket: it moves out of the lane's slots, its segments move in
            counters.add(IoCounter.SITE_SUPERPACKETS_READ, 1);
            slots[from + read] = superpacket;
            superpacket = slot;
            while (read < count && segmenter.hasNext()) {
                segmenter.next(slots[from + read++]);
            }
        }
        return read;
    }

    private int readEach(Packet[] slots, int from, int count) {
        int read = 0;
        while (read < count) {
            Packet slot = slots[from + read];
            long length = readOne(slot.receiveTarget());
            if (length <= 0) {
                break;
            }
            slot.set(Packet.DEFAULT_HEADROOM, (int) length);
            read++;
        }
        return read;
    }

    @Override
    public void write(Packet[] packets, int count, long[] results) {
        if (!vnetHeader) {
            int longest = 0;
            for (int i = 0; i < count; i++) {
                longest = Math.max(longest, packets[i].length());
            }
            boolean viaRing = writeViaRing(longest);
            for (int i = 0; i < count; i++) {
                Packet packet = packets[i];
                results[i] = writeOne(packet.segment(), packet.length(), viaRing);
            }
            return;
        }
        for (int i = 0; i < count; i++) {
            inputLengths[i] = packets[i].length();
        }
        int outputs;
        if (coalescing) {
            outputs = coalescer.coalesce(packets, count, outputOf);
        } else {
            for (int i = 0; i < count; i++) {
                Packet packet = packets[i];
                VirtioNetHeader.clear(packet.buffer(), packet.offset() - VirtioNetHeader.LENGTH);
                packet.set(packet.offset() - VirtioNetHeader.LENGTH, packet.length() + VirtioNetHeader.LENGTH);
                outputOf[i] = i;
            }
            outputs = count;
        }
        int longest = 0;
        for (int o = 0; o < outputs; o++) {
            longest = Math.max(longest, packets[o].length());
        }
        boolean viaRing = writeViaRing(longest);
        for (int o = 0; o < outputs; o++) {
            Packet packet = packets[o];
            outputResults[o] = writeOne(packet.segment(), packet.length(), viaRing);
            if (outputResults[o] >= 0 && VirtioNetHeader.gsoType(packet.buffer(), packet.offset()) != VirtioNetHeader.GSO_NONE) {
                counters.add(IoCounter.SITE_SUPERPACKETS_WRITTEN, 1);
            }
        }
        for (int i = 0; i < count; i++) {
            long result = outputResults[outputOf[i]];
            results[i] = result < 0 ? result : inputLengths[i];
        }
    }
}
