package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;

/**
 * A lane's socket on one local tunnel endpoint: a reuseport UDP socket in the appliance ({@link UdpTunnelSocket}),
 * an in-memory port in tests. Batch-shaped, as wireguard-go's {@code conn.Bind}: the payload of each datagram is
 * the ESP packet (RFC 3948 ESP-in-UDP). Nothing here allocates per packet; failures are return values.
 */
public interface TunnelSocket extends LaneReadiness {
    /**
     * Receives up to {@code count} datagrams into {@code slots[from .. from + count)}, each at the slot's default
     * headroom, without blocking. Returns how many were received (0: none waiting).
     */
    int receive(Packet[] slots, int from, int count);

    /**
     * Sends {@code packets[0 .. count)}, packet i to the native sockaddr {@code destinations[i]};
     * {@code results[i]} receives the bytes sent or -errno.
     */
    void send(Packet[] packets, MemorySegment[] destinations, int count, long[] results);
}
