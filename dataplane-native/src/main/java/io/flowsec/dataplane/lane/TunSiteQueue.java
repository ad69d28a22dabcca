package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.offload.GsoSegmenter;
import io.flowsec.dataplane.offload.TcpCoalescer;
import io.flowsec.dataplane.offload.VirtioNetHeader;
import io.flowsec.dataplane.packet.Packet;

import java.util.List;

/**
 * Queue {@code queue} of a multi-queue TUN device, one system call per packet read or written.
 * <p>
 * On a device opened with offloads (a virtio_net_hdr before every packet) that one call moves up to 64 KB:
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

    public TunSiteQueue(TunDevice device, int queue) {
        this(device, queue, true);
    }

    /** @param coalescing whether writes coalesce TCP segments (only on a device with a virtio header) */
    public TunSiteQueue(TunDevice device, int queue, boolean coalescing) {
        this.device = device;
        this.queue = queue;
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
    }

    @Override
    public boolean hasPending() {
        return segmenter != null && segmenter.hasNext();
    }

    @Override
    public List<Offload> offloads() {
        if (!vnetHeader) {
            return List.of(Offload.notRequested("tun-offloads"), Offload.notRequested("tun-gro"));
        }
        int granted = device.offloads();
        Offload offloads = granted != 0
                ? Offload.on("tun-offloads", TunDevice.describe(granted)
                        + (device.offloadRefusal().isEmpty() ? "" : " (refused first: " + device.offloadRefusal() + ")"))
                : Offload.refused("tun-offloads", device.offloadRefusal());
        Offload gro = coalescing ? Offload.on("tun-gro", "TCP") : Offload.notRequested("tun-gro");
        return List.of(offloads, gro);
    }

    @Override
    public int read(Packet[] slots, int from, int count) {
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
            long length = device.read(errno, queue, slot.receiveTarget());
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
            long length = device.read(errno, queue, slot.receiveTarget());
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
            for (int i = 0; i < count; i++) {
                Packet packet = packets[i];
                results[i] = device.write(errno, queue, packet.segment(), packet.length());
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
        for (int o = 0; o < outputs; o++) {
            Packet packet = packets[o];
            outputResults[o] = device.write(errno, queue, packet.segment(), packet.length());
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
