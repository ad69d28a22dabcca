package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.packet.Packet;

/** Queue {@code queue} of a multi-queue TUN device, read and written with one non-blocking system call per packet. */
public final class TunSiteQueue implements SiteQueue {
    private final TunDevice device;
    private final int queue;
    private final Errno errno = new Errno();

    public TunSiteQueue(TunDevice device, int queue) {
        this.device = device;
        this.queue = queue;
    }

    @Override
    public int fd() {
        return device.queueFd(queue);
    }

    @Override
    public int read(Packet[] slots, int from, int count) {
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
        for (int i = 0; i < count; i++) {
            Packet packet = packets[i];
            results[i] = device.write(errno, queue, packet.segment(), packet.length());
        }
    }
}
