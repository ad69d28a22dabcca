package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.RawIpSocket;
import io.flowsec.dataplane.linux.Syscalls;
import io.flowsec.dataplane.packet.Packet;

import java.io.Closeable;
import java.lang.foreign.MemorySegment;

/** A lane's clear path: one raw socket per IP version, chosen by each packet's version nibble. */
public final class RawClearPath implements ClearPath, Closeable {
    private final RawIpSocket ipv4;
    private final RawIpSocket ipv6;
    private final Errno errno = new Errno();

    private RawClearPath(RawIpSocket ipv4, RawIpSocket ipv6) {
        this.ipv4 = ipv4;
        this.ipv6 = ipv6;
    }

    public static RawClearPath open() throws NativeException {
        RawIpSocket ipv4 = RawIpSocket.open(Syscalls.AF_INET);
        try {
            return new RawClearPath(ipv4, RawIpSocket.open(Syscalls.AF_INET6));
        } catch (NativeException e) {
            ipv4.close();
            throw e;
        }
    }

    @Override
    public void send(Packet[] packets, MemorySegment[] nextHops, int count, long[] results) {
        for (int i = 0; i < count; i++) {
            Packet packet = packets[i];
            int version = (packet.buffer()[packet.offset()] >> 4) & 0xF;
            RawIpSocket socket = version == 6 ? ipv6 : ipv4;
            results[i] = socket.send(errno, packet.segment(), packet.length(), nextHops[i]);
        }
    }

    @Override
    public void close() {
        ipv4.close();
        ipv6.close();
    }
}
