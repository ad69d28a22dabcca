package io.flowsec.dataplane.testing;

import io.flowsec.dataplane.lane.SiteQueue;
import io.flowsec.dataplane.packet.Packet;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An in-memory TUN queue (wireguard-go's {@code tuntest}): the test {@link #inject}s inner packets the lane reads,
 * and takes what the lane wrote with {@link #take}. A fault can be planted in the next read.
 */
public final class MemorySiteQueue implements SiteQueue {
    private final ConcurrentLinkedQueue<byte[]> toLane = new ConcurrentLinkedQueue<>();
    private final BlockingQueue<byte[]> fromLane;
    private final AtomicReference<RuntimeException> plantedFault = new AtomicReference<>();
    private volatile Runnable wake = () -> {
    };

    public MemorySiteQueue() {
        this(new LinkedBlockingQueue<>());
    }

    /**
     * A queue whose writes go to {@code site}, which several queues may share: the site then sees packets in the
     * order the lanes wrote them, as the kernel's stack does for the queues of one TUN device.
     */
    public MemorySiteQueue(BlockingQueue<byte[]> site) {
        this.fromLane = site;
    }

    @Override
    public boolean hasPending() {
        return !toLane.isEmpty() || plantedFault.get() != null;
    }

    @Override
    public int fd() {
        return -1;
    }

    @Override
    public void whenReadable(Runnable wake) {
        this.wake = wake;
    }

    /** A packet from the site, for the lane to read. */
    public void inject(byte[] packet) {
        toLane.add(packet.clone());
        wake.run();
    }

    /** The lane's next read throws {@code fault} (an injected bug). */
    public void failNextRead(RuntimeException fault) {
        plantedFault.set(fault);
        wake.run();
    }

    @Override
    public int read(Packet[] slots, int from, int count) {
        RuntimeException fault = plantedFault.getAndSet(null);
        if (fault != null) {
            throw fault;
        }
        int read = 0;
        while (read < count) {
            byte[] packet = toLane.poll();
            if (packet == null) {
                break;
            }
            slots[from + read].load(packet, 0, packet.length);
            read++;
        }
        return read;
    }

    @Override
    public void write(Packet[] packets, int count, long[] results) {
        for (int i = 0; i < count; i++) {
            fromLane.add(packets[i].toByteArray());
            results[i] = packets[i].length();
        }
    }

    /** The next packet the lane wrote to the site, or null after {@code timeoutMs}. */
    public byte[] take(long timeoutMs) throws InterruptedException {
        return fromLane.poll(timeoutMs, TimeUnit.MILLISECONDS);
    }

    public int written() {
        return fromLane.size();
    }
}
