package io.flowsec.dataplane.testing;

import io.flowsec.dataplane.lane.ClearPath;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records what lanes forward in clear, and to which next hop. */
public final class MemoryClearPath implements ClearPath {
    public record Forwarded(byte[] packet, InetAddress nextHop) {
    }

    private final List<Forwarded> forwarded = new CopyOnWriteArrayList<>();

    @Override
    public void send(Packet[] packets, MemorySegment[] nextHops, int count, long[] results) {
        for (int i = 0; i < count; i++) {
            forwarded.add(new Forwarded(packets[i].toByteArray(), SocketAddress.address(nextHops[i])));
            results[i] = packets[i].length();
        }
    }

    public List<Forwarded> forwarded() {
        return List.copyOf(forwarded);
    }
}
