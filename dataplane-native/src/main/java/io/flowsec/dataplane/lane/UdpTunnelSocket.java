package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.linux.DatagramReceiveBatch;
import io.flowsec.dataplane.linux.DatagramSendBatch;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.Syscalls;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.Packet;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A lane's reuseport UDP socket on one tunnel endpoint. The kernel writes the outer header, so the outer DSCP/ECN the
 * engine chose goes with each datagram as a control message (and, over IPv6, the flow ID as the flow label,
 * RFC 6438), and each received datagram's outer TOS / Traffic Class is read back for RFC 6040 decapsulation.
 * <p>
 * With batching (the default) a lane's batch costs one system call each way, not one per datagram:
 * <ol>
 *   <li>send: the batch's datagrams go out in one sendmmsg(2); with UDP GSO, each run of datagrams of one SA (same
 *       destination, DSCP/ECN and flow label, equal lengths but the last, as the segments of one TCP superpacket
 *       are) is one message that the kernel cuts (UDP_SEGMENT), so it crosses the stack once;</li>
 *   <li>receive: recvmmsg(2) fills up to {@value #RECEIVE_MESSAGES} messages; with UDP GRO a message holds a run
 *       of one sender's datagrams, cut here into the lane's slots. What does not fit the lane's batch waits here for
 *       the next one, in order.</li>
 * </ol>
 * Each path the kernel refuses (at start, or a GSO send refused later) falls back to the one below it, once,
 * recorded for the status ({@link #offloads}). Nothing here allocates per packet.
 */
public final class UdpTunnelSocket implements TunnelSocket {
    /** Messages per recvmmsg(2): each holds a whole datagram, or with GRO a run of them. */
    static final int RECEIVE_MESSAGES = 16;
    static final int RECEIVE_BUFFER_BYTES = 65536;
    static final int SEND_MESSAGES = Lane.BATCH;
    static final int SEND_STAGING_BYTES = 256 * 1024;

    /** What a socket may use; each needs the one before it. */
    public record Paths(boolean batching, boolean segmentation, boolean coalescing) {
        public static final Paths ALL = new Paths(true, true, true);
        public static final Paths NONE = new Paths(false, false, false);
    }

    private final UdpSocket socket;
    private final boolean ipv6;
    private final Errno errno = new Errno();
    private volatile ReceiveQueue lastReceiveQueue = ReceiveQueue.UNKNOWN;

    private final DatagramSendBatch sendBatch;
    private final DatagramReceiveBatch receiveBatch;
    private final boolean coalescing;
    /** Lane thread writes, the control side reads for the status. */
    private volatile boolean segmentation;
    private volatile Offload batchingState;
    private volatile Offload segmentationState;
    private final Offload coalescingState;

    /** The lane's counters (runs sent and received); a private set until the lane hands over its own. */
    private LaneCounters counters = new LaneCounters();
    /** Per message of the batch being sent: its first packet's index. */
    private final int[] firstPacketOfMessage = new int[SEND_MESSAGES];
    private final long[] messageResults = new long[SEND_MESSAGES];
    private final int[] datagramCounts = new int[SEND_MESSAGES];
    /** Messages received and not yet all handed to the lane: which, and how far into it. */
    private int messagesReceived;
    private int messageCursor;
    private int offsetInMessage;

    /** Enables what the lane needs on {@code socket}, with every batching and offload path the kernel offers. */
    public UdpTunnelSocket(UdpSocket socket) throws NativeException {
        this(socket, Paths.ALL);
    }

    public UdpTunnelSocket(UdpSocket socket, Paths wanted) throws NativeException {
        this.socket = socket;
        this.ipv6 = socket.family() == Syscalls.AF_INET6;
        socket.enableReceiveTrafficClass();
        if (ipv6) {
            socket.enableSendFlowLabel();
        }
        if (wanted.batching()) {
            sendBatch = socket.sendBatch(SEND_MESSAGES, SEND_STAGING_BYTES);
            receiveBatch = socket.receiveBatch(RECEIVE_MESSAGES, RECEIVE_BUFFER_BYTES);
            batchingState = Offload.on("udp-batching", "sendmmsg/recvmmsg");
        } else {
            sendBatch = null;
            receiveBatch = null;
            batchingState = Offload.notRequested("udp-batching");
        }
        segmentationState = wanted.segmentation() ? Offload.refused("udp-gso", "needs udp-batching")
                : Offload.notRequested("udp-gso");
        if (wanted.segmentation() && wanted.batching()) {
            try {
                socket.probeSendSegmentation();
                segmentation = true;
                segmentationState = Offload.on("udp-gso", "UDP_SEGMENT");
            } catch (NativeException refused) {
                segmentationState = Offload.refused("udp-gso", refused.getMessage());
            }
        }
        boolean gro = false;
        Offload groState = wanted.coalescing() ? Offload.refused("udp-gro", "needs udp-batching")
                : Offload.notRequested("udp-gro");
        if (wanted.coalescing() && wanted.batching()) {
            try {
                socket.enableReceiveCoalescing();
                gro = true;
                groState = Offload.on("udp-gro", "UDP_GRO");
            } catch (NativeException refused) {
                groState = Offload.refused("udp-gro", refused.getMessage());
            }
        }
        this.coalescing = gro;
        this.coalescingState = groState;
    }

    public UdpSocket socket() {
        return socket;
    }

    @Override
    public int fd() {
        return socket.fd();
    }

    @Override
    public void countInto(LaneCounters counters) {
        this.counters = counters;
    }

    @Override
    public List<Offload> offloads() {
        return List.of(batchingState, segmentationState, coalescingState);
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
        } catch (NativeException e) {
            return lastReceiveQueue;
        }
    }

    @Override
    public int receive(Packet[] slots, int from, int count) {
        return receiveBatch == null ? receiveEach(slots, from, count) : receiveBatched(slots, from, count);
    }

    private int receiveBatched(Packet[] slots, int from, int count) {
        DatagramReceiveBatch batch = receiveBatch;
        int received = 0;
        while (received < count) {
            if (messageCursor == messagesReceived) {
                int messages = batch.receive(errno);
                if (messages <= 0) {
                    messagesReceived = 0;
                    messageCursor = 0;
                    break;
                }
                messagesReceived = messages;
                messageCursor = 0;
                offsetInMessage = 0;
                if (coalescing) {
                    countRuns(batch, messages);
                }
            }
            // one datagram: the whole message, or with GRO the next segment of its run
            int message = messageCursor;
            int length = batch.length(message);
            int segmentSize = batch.segmentSize(message);
            int datagram = segmentSize > 0 ? Math.min(segmentSize, length - offsetInMessage) : length - offsetInMessage;
            Packet slot = slots[from + received];
            batch.copy(message, offsetInMessage, slot.receiveTarget(), datagram);
            slot.set(Packet.DEFAULT_HEADROOM, datagram);
            slot.outerTrafficClass(batch.trafficClass(message));
            received++;
            offsetInMessage += datagram;
            if (offsetInMessage >= length) {
                messageCursor++;
                offsetInMessage = 0;
            }
        }
        return received;
    }

    private void countRuns(DatagramReceiveBatch batch, int messages) {
        for (int m = 0; m < messages; m++) {
            if (batch.segmentSize(m) > 0 && batch.length(m) > batch.segmentSize(m)) {
                counters.add(IoCounter.TUNNEL_RUNS_RECEIVED, 1);
            }
        }
    }

    private int receiveEach(Packet[] slots, int from, int count) {
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
    public boolean hasPending() {
        return messageCursor < messagesReceived;
    }

    @Override
    public void send(Packet[] packets, MemorySegment[] destinations, int count, long[] results) {
        if (sendBatch == null) {
            sendEach(packets, destinations, 0, count, results);
        } else {
            sendBatched(packets, destinations, 0, count, results, segmentation);
        }
    }

    /**
     * 1. gather: each packet starts a message, unless it continues the run of the message before (GSO);
     * 2. send the messages in one sendmmsg(2) whenever the batch or its staging area is full, and at the end;
     * 3. a run the kernel refused as a run (GSO unavailable on this path) turns GSO off and goes again, one message
     *    per datagram.
     */
    private void sendBatched(Packet[] packets, MemorySegment[] destinations, int from, int to, long[] results,
                             boolean runs) {
        DatagramSendBatch batch = sendBatch;
        int i = from;
        while (i < to) {
            Packet first = packets[i];
            MemorySegment destination = destinations[i];
            int trafficClass = Math.max(0, first.outerTrafficClass());
            int flowLabel = first.flowId();
            int segmentSize = first.length();
            if (!batch.hasRoomFor(segmentSize) || !batch.startMessage(destination, trafficClass, flowLabel)) {
                flush(packets, destinations, i, results);
                batch.startMessage(destination, trafficClass, flowLabel);
            }
            firstPacketOfMessage[batch.count() - 1] = i;
            batch.append(first.segment(), segmentSize);
            i++;
            int runBytes = segmentSize;
            int runLength = 1;
            while (runs && i < to && runLength < DatagramSendBatch.MAX_SEGMENTS) {
                Packet next = packets[i];
                int length = next.length();
                if (destinations[i] != destination || length > segmentSize || runBytes + length > DatagramSendBatch.MAX_RUN_BYTES
                        || Math.max(0, next.outerTrafficClass()) != trafficClass || (ipv6 && next.flowId() != flowLabel)
                        || !batch.hasRoomFor(length)) {
                    break;
                }
                batch.append(next.segment(), length);
                runBytes += length;
                runLength++;
                i++;
                if (length < segmentSize) {
                    break;                       // a shorter datagram ends a run
                }
            }
        }
        flush(packets, destinations, i, results);
    }

    /** Sends what is gathered; {@code end} is the index after the last packet gathered. */
    private void flush(Packet[] packets, MemorySegment[] destinations, int end, long[] results) {
        DatagramSendBatch batch = sendBatch;
        int messages = batch.count();
        if (messages == 0) {
            return;
        }
        int[] datagramsOfMessage = datagramCounts;
        for (int m = 0; m < messages; m++) {
            datagramsOfMessage[m] = batch.datagrams(m);
        }
        batch.send(errno, messageResults);
        for (int m = 0; m < messages; m++) {
            int first = firstPacketOfMessage[m];
            int last = m + 1 < messages ? firstPacketOfMessage[m + 1] : end;
            long result = messageResults[m];
            if (result < 0 && datagramsOfMessage[m] > 1 && isSegmentationRefusal((int) -result)) {
                refuseSegmentation((int) -result);
                sendEach(packets, destinations, first, last, results);   // the run, one datagram at a time
                continue;
            }
            for (int p = first; p < last; p++) {
                results[p] = result < 0 ? result : packets[p].length();
            }
            if (result >= 0 && datagramsOfMessage[m] > 1) {
                counters.add(IoCounter.TUNNEL_RUNS_SENT, 1);
            }
        }
    }

    /**
     * What a kernel or a device says when it cannot segment a run (EMSGSIZE: the segments exceed the path's MTU,
     * which the kernel then leaves to IP fragmentation only for single datagrams): no run is sent again on this socket.
     */
    private static boolean isSegmentationRefusal(int errnoValue) {
        return errnoValue == Errno.EIO || errnoValue == Errno.EINVAL || errnoValue == Errno.ENOPROTOOPT
                || errnoValue == Errno.EOPNOTSUPP || errnoValue == Errno.EMSGSIZE;
    }

    private void refuseSegmentation(int errnoValue) {
        if (segmentation) {
            segmentation = false;
            segmentationState = Offload.refused("udp-gso", "a run was refused (errno " + errnoValue
                    + "); each datagram is sent on its own since");
        }
    }

    private void sendEach(Packet[] packets, MemorySegment[] destinations, int from, int to, long[] results) {
        for (int i = from; i < to; i++) {
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
