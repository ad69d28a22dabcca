package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;

/**
 * Where a lane forwards the packets of {@code bypass} policies, in clear: raw IP sockets in the appliance
 * ({@link RawClearPath}), an in-memory recorder in tests. Batch-shaped like the lane's other queues.
 */
public interface ClearPath {
    /** Sends {@code packets[0 .. count)} unchanged, packet i towards next hop {@code nextHops[i]}; results as TunnelSocket's. */
    void send(Packet[] packets, MemorySegment[] nextHops, int count, long[] results);
}
