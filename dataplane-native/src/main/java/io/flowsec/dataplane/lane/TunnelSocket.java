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

    /**
     * The socket's receive queue now, for the control side (it may allocate or make a system call; never called from
     * a lane). A socket that cannot tell reports {@link ReceiveQueue#UNKNOWN}.
     */
    default ReceiveQueue receiveQueue() {
        return ReceiveQueue.UNKNOWN;
    }

    /**
     * What waits in a socket for its lane, and what never reached it: datagrams the kernel dropped at the socket
     * because its receive buffer was full are counted here and nowhere else (the lane's outcomes count what it read).
     *
     * @param queuedBytes buffer space the waiting datagrams hold
     * @param bufferBytes the receive buffer they count against; 0 when unbounded or unknown
     * @param drops       datagrams dropped at the socket since it opened (cumulative)
     */
    record ReceiveQueue(long queuedBytes, long bufferBytes, long drops) {
        public static final ReceiveQueue UNKNOWN = new ReceiveQueue(0, 0, 0);

        public ReceiveQueue {
            if (queuedBytes < 0 || bufferBytes < 0 || drops < 0) {
                throw new IllegalArgumentException("receive queue figures are counts: " + queuedBytes + ", "
                        + bufferBytes + ", " + drops);
            }
        }

        /** Two sockets' figures added up (a lane's over its tunnel sockets). */
        public ReceiveQueue plus(ReceiveQueue other) {
            return new ReceiveQueue(queuedBytes + other.queuedBytes, bufferBytes + other.bufferBytes, drops + other.drops);
        }
    }
}
