package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.Packet;
import io.netty.channel.IoEventLoop;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The inbound path of {@code pcrypt} mode (Linux pcrypt): one lane receives everything, the cryptography of each
 * packet runs on the lanes in turn, and the receiving lane puts the results back in arrival order before writing
 * them to its TUN queue. The paper's middle way: crypto is parallel, reception and re-serialisation are not.
 *
 * <ol>
 *   <li>receive datagrams into a ring of slots while the ring has room; for each, on the receiving lane: SA by
 *       SPI and replay pre-check ({@link EspProcessor#prepareInbound});</li>
 *   <li>hand slot i's cryptography to lane i mod N (a task on that lane's loop, prepared once per slot:
 *       {@link EspProcessor#openPrepared} with that lane's own cipher contexts); the receiving lane's own share
 *       runs inline;</li>
 *   <li>the worker marks the slot done and wakes the receiving lane;</li>
 *   <li>the receiving lane completes done slots strictly in ring order ({@link EspProcessor#finishInbound}: replay
 *       commit, trailer, selectors) and writes them to the TUN queue.</li>
 * </ol>
 * Owned by the receiving lane; workers touch only the slot handed to them until they mark it done.
 */
final class PcryptInbound {
    /** Packets in flight at most; slots hold datagrams up to a 9000-byte jumbo frame (larger ones fail authentication). */
    static final int RING = 512;
    private static final int SLOT_PACKET = 9216;
    private static final int PENDING = 0;
    private static final int AUTHENTIC = 1;
    private static final int FORGED = 2;
    private static final int SKIPPED = 3;

    private final Lane receiver;
    private final IoEventLoop receiverLoop;
    private final Lane[] workers;
    private final IoEventLoop[] workerLoops;
    private final Packet[] ring = new Packet[RING];
    private final MemorySegment[] receiveTargets = new MemorySegment[RING];
    private final SlotSegments[] segments = new SlotSegments[RING];
    private final Runnable[] cryptoJobs = new Runnable[RING];
    private final AtomicIntegerArray results = new AtomicIntegerArray(RING);
    /** Completion woken by a worker: counted as the receiving lane's busy time, as its batches are. */
    private final Runnable completeInOrder;
    private final Errno errno = new Errno();
    /** Next slot to receive into, and next slot to complete: both only advanced on the receiving lane. */
    private long head;
    private long tail;

    PcryptInbound(Lane receiver, IoEventLoop receiverLoop, Lane[] workers, IoEventLoop[] workerLoops) {
        this.receiver = receiver;
        this.receiverLoop = receiverLoop;
        this.workers = workers;
        this.workerLoops = workerLoops;
        this.completeInOrder = () -> {
            long startNs = System.nanoTime();
            completeInOrder();
            receiver.addBusyNanos(System.nanoTime() - startNs);
        };
        for (int i = 0; i < RING; i++) {
            ring[i] = Packet.withRoomFor(SLOT_PACKET);
            receiveTargets[i] = MemorySegment.ofArray(ring[i].buffer()).asSlice(Packet.DEFAULT_HEADROOM, SLOT_PACKET);
            segments[i] = new SlotSegments(ring[i]);
            int slot = i;
            Lane worker = workers[i % workers.length];
            cryptoJobs[i] = worker == receiver ? null : () -> {
                long startNs = System.nanoTime();
                boolean authentic;
                try {
                    authentic = worker.processor().openPrepared(ring[slot]);
                } catch (RuntimeException unexpected) {
                    authentic = false;   // never leave a slot pending: the receiving lane waits for it in order
                }
                worker.addBusyNanos(System.nanoTime() - startNs);
                results.set(slot, authentic ? AUTHENTIC : FORGED);
                receiverLoop.execute(completeInOrder);
            };
        }
    }

    /** Steps 1–2 for one socket: returns the datagrams received (less than a batch: the socket is empty). */
    int onTunnelReadable(UdpSocket socket) {
        int count = 0;
        EspProcessor processor = receiver.processor();
        while (count < Lane.BATCH && head - tail < RING) {
            int slot = (int) (head & (RING - 1));
            long length = socket.receive(errno, receiveTargets[slot]);
            if (length < 0) {
                break;
            }
            Packet packet = ring[slot];
            packet.set(Packet.DEFAULT_HEADROOM, (int) length);
            count++;
            head++;
            Outcome early = processor.prepareUdpPayload(packet);
            if (early != null) {
                results.set(slot, SKIPPED);
            } else if (workers[slot % workers.length] == receiver) {
                // the receiving lane's share runs inline: a task queued to itself could not run while it drains
                results.set(slot, processor.openPrepared(packet) ? AUTHENTIC : FORGED);
            } else {
                workerLoops[slot % workerLoops.length].execute(cryptoJobs[slot]);
            }
        }
        receiver.countTunnelReceived(count);
        if (count > 0) {
            completeInOrder();
        }
        return count;
    }

    /** Steps 3–4: completes finished slots in arrival order; stops at the first one still in a worker's hands. */
    void completeInOrder() {
        EspProcessor processor = receiver.processor();
        while (tail < head) {
            int slot = (int) (tail & (RING - 1));
            int result = results.get(slot);
            if (result == PENDING) {
                return;
            }
            results.set(slot, PENDING);
            tail++;
            if (result == SKIPPED) {
                continue;
            }
            Packet packet = ring[slot];
            if (processor.finishInbound(packet, result == AUTHENTIC) == Outcome.ACCEPTED) {
                receiver.deliverToSite(segments[slot].at(packet.offset()), packet.length());
            }
        }
    }

    /** True when no packet is in flight (all received packets completed). */
    boolean isIdle() {
        return head == tail;
    }

}
