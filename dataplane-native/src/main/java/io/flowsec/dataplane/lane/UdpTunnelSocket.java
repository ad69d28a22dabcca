package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;

/** A lane's reuseport UDP socket on one tunnel endpoint, one non-blocking system call per datagram. */
public final class UdpTunnelSocket implements TunnelSocket {
    private final UdpSocket socket;
    private final Errno errno = new Errno();

    public UdpTunnelSocket(UdpSocket socket) {
        this.socket = socket;
    }

    public UdpSocket socket() {
        return socket;
    }

    @Override
    public int fd() {
        return socket.fd();
    }

    @Override
    public int receive(Packet[] slots, int from, int count) {
        int received = 0;
        while (received < count) {
            Packet slot = slots[from + received];
            long length = socket.receive(errno, slot.receiveTarget());
            if (length < 0) {
                break;
            }
            slot.set(Packet.DEFAULT_HEADROOM, (int) length);
            received++;
        }
        return received;
    }

    @Override
    public void send(Packet[] packets, MemorySegment[] destinations, int count, long[] results) {
        for (int i = 0; i < count; i++) {
            Packet packet = packets[i];
            results[i] = socket.send(errno, packet.segment(), packet.length(), destinations[i]);
        }
    }
}
