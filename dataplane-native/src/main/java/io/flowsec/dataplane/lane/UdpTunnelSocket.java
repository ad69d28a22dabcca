package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;

/**
 * A lane's reuseport UDP socket on one tunnel endpoint, one non-blocking system call per datagram. The kernel writes
 * the outer header, so the outer DSCP/ECN the engine chose goes with each datagram as a control message (and, over
 * IPv6, the flow ID as the flow label, RFC 6438), and each received datagram's outer TOS / Traffic Class is read
 * back for RFC 6040 decapsulation.
 */
public final class UdpTunnelSocket implements TunnelSocket {
    private final UdpSocket socket;
    private final boolean ipv6;
    private final Errno errno = new Errno();
    private volatile ReceiveQueue lastReceiveQueue = ReceiveQueue.UNKNOWN;

    /** Enables what the lane needs on {@code socket}: the received TOS, and over IPv6 sending a flow label. */
    public UdpTunnelSocket(UdpSocket socket) throws io.flowsec.dataplane.linux.NativeException {
        this.socket = socket;
        this.ipv6 = socket.family() == io.flowsec.dataplane.linux.Syscalls.AF_INET6;
        socket.enableReceiveTrafficClass();
        if (ipv6) {
            socket.enableSendFlowLabel();
        }
    }

    public UdpSocket socket() {
        return socket;
    }

    @Override
    public int fd() {
        return socket.fd();
    }

    /**
     * SO_MEMINFO. A failed read (the socket closed) repeats the last one read rather than fail a snapshot, so the
     * cumulative drops never seem to go back to 0 and then jump.
     */
    @Override
    public ReceiveQueue receiveQueue() {
        try {
            UdpSocket.ReceiveMemory memory = socket.receiveMemory();
            ReceiveQueue read = new ReceiveQueue(memory.queuedBytes(), memory.bufferBytes(), memory.drops());
            lastReceiveQueue = read;
            return read;
        } catch (io.flowsec.dataplane.linux.NativeException e) {
            return lastReceiveQueue;
        }
    }

    @Override
    public int receive(Packet[] slots, int from, int count) {
        int received = 0;
        while (received < count) {
            Packet slot = slots[from + received];
            long length = socket.receiveWithTrafficClass(errno, slot.receiveTarget());
            if (length < 0) {
                break;
            }
            slot.set(Packet.DEFAULT_HEADROOM, (int) length);
            slot.outerTrafficClass(socket.lastTrafficClass());
            received++;
        }
        return received;
    }

    @Override
    public void send(Packet[] packets, MemorySegment[] destinations, int count, long[] results) {
        for (int i = 0; i < count; i++) {
            Packet packet = packets[i];
            int trafficClass = Math.max(0, packet.outerTrafficClass());
            if (ipv6) {
                results[i] = socket.sendWithTrafficClass(errno, packet.segment(), packet.length(), destinations[i],
                        trafficClass, packet.flowId() & UdpSocket.FLOW_LABEL_MASK);
            } else if (trafficClass != 0) {
                results[i] = socket.sendWithTrafficClass(errno, packet.segment(), packet.length(), destinations[i], trafficClass);
            } else {
                // the socket's default TOS is 0 already: the plain sendto is cheaper than sendmsg with a control message
                results[i] = socket.send(errno, packet.segment(), packet.length(), destinations[i]);
            }
        }
    }
}
