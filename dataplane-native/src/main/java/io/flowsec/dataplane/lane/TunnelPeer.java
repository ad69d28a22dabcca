package io.flowsec.dataplane.lane;

import java.lang.foreign.MemorySegment;

/**
 * Where a lane sends an outbound SA's packets: the index of the lane's socket bound to the SA's local address and
 * source port, and the peer's native sockaddr. Built once per SA on the control path.
 */
public record TunnelPeer(int socketIndex, MemorySegment destination) {
}
