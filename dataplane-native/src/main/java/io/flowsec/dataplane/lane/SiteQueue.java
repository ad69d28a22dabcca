package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.packet.Packet;

/**
 * A lane's side towards its site: one queue of the multi-queue TUN device in the appliance
 * ({@link TunSiteQueue}), an in-memory queue in tests. Batch-shaped, as wireguard-go's {@code tun.Device}: a lane
 * reads a batch, processes it and writes a batch. Nothing here allocates per packet; failures are return values.
 */
public interface SiteQueue extends LaneReadiness {
    /**
     * Reads up to {@code count} packets into {@code slots[from .. from + count)}, each at the slot's default
     * headroom ({@link Packet#receiveTarget()}), without blocking. Returns how many were read (0: none waiting).
     */
    int read(Packet[] slots, int from, int count);

    /** Writes {@code packets[0 .. count)} to the site; {@code results[i]} receives the bytes written or -errno. */
    void write(Packet[] packets, int count, long[] results);
}
