package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.linux.UdpSocket;

import java.lang.foreign.MemorySegment;

/**
 * Where a lane sends an outbound SA's packets: the lane's socket bound to the SA's local address and source port,
 * and the peer's native sockaddr. Built once per lane and SA on the control path.
 */
public record TunnelPeer(UdpSocket socket, MemorySegment destination) {
}
