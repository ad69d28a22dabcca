package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.sa.SecurityAssociation;

import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The inbound path of {@code pcrypt} mode (Linux pcrypt): one lane receives everything, the cryptography of each
 * packet runs on the lanes in turn, and the receiving lane puts the results back in arrival order before writing
 * them to its TUN queue. The paper's middle way: crypto is parallel, reception and re-serialisation are not.
 *
 * <ol>
 *   <li>receive datagrams into a ring of slots while the ring has room; for each, on the receiving lane: SA by
 *       SPI and replay pre-check ({@link EspProcessor#prepareInbound}); the SA found is kept with the slot;</li>
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
    private final Executor receiverLoop;
    private final Lane[] workers;
    private final Executor[] workerLoops;
    private final Packet[] ring = new Packet[RING];
    /** The SA of each slot, found once by the receiving lane and carried through the three steps. */
    private final SecurityAssociation[] ringSa = new SecurityAssociation[RING];
    private final Runnable[] cryptoJobs = new Runnable[RING];
    private final AtomicIntegerArray results = new AtomicIntegerArray(RING);
    /** Completion woken by a worker: counted as the receiving lane's busy time, as its batches are. */
    private final Runnable completeInOrder;
    /** Next slot to receive into, and next slot to complete: both only advanced on the receiving lane. */
    private long head;
    private long tail;

    PcryptInbound(Lane receiver, Executor receiverLoop, Lane[] workers, Executor[] workerLoops) {
        this.receiver = receiver;
        this.receiverLoop = receiverLoop;
        this.workers = workers;
        this.workerLoops = workerLoops;
        this.completeInOrder = () -> {
            long startNs = System.nanoTime();
            try {
                completeInOrder();
            } catch (RuntimeException | Error fault) {
                receiver.onFault(fault);
            }
            receiver.addBusyNanos(System.nanoTime() - startNs);
        };
        for (int i = 0; i < RING; i++) {
            ring[i] = Packet.withRoomFor(SLOT_PACKET);
            int slot = i;
            Lane worker = workers[i % workers.length];
            cryptoJobs[i] = worker == receiver ? null : () -> {
                long startNs = System.nanoTime();
                boolean authentic;
                try {
                    authentic = worker.processor().openPrepared(ring[slot], ringSa[slot]);
                } catch (RuntimeException | Error unexpected) {
                    authentic = false;   // never leave a slot pending: the receiving lane waits for it in order
                    worker.onFault(unexpected);
                }
                worker.addBusyNanos(System.nanoTime() - startNs);
                results.set(slot, authentic ? AUTHENTIC : FORGED);
                receiverLoop.execute(completeInOrder);
            };
        }
    }

    /** Steps 1–2 for one socket: returns the datagrams received (less than a batch: the socket is empty). */
    int onTunnelReadable(TunnelSocket socket) {
        int count = 0;
        EspProcessor processor = receiver.processor();
        while (count < Lane.BATCH && head - tail < RING) {
            int first = (int) (head & (RING - 1));
            // a contiguous run of free slots, up to the ring's end
            int room = (int) Math.min(Math.min(Lane.BATCH - count, RING - (head - tail)), RING - first);
            int received = socket.receive(ring, first, room);
            for (int slot = first; slot < first + received; slot++) {
                // the slot joins the ring before anything can fail, and a failure gives it a verdict: the receiving
                // lane completes slots strictly in order and would otherwise wait for this one for ever
                head++;
                count++;
                try {
                    dispatch(slot, processor);
                } catch (RuntimeException | Error fault) {
                    results.set(slot, SKIPPED);
                    receiver.onFault(fault);
                }
            }
            if (received < room) {
                break;
            }
        }
        receiver.countTunnelReceived(count);
        if (count > 0) {
            completeInOrder();
        }
        return count;
    }

    /** Step 1's checks for one slot, then step 2: its cryptography inline (the receiving lane's share) or handed over. */
    private void dispatch(int slot, EspProcessor processor) {
        Packet packet = ring[slot];
        SecurityAssociation sa = processor.prepareUdpPayload(packet);
        ringSa[slot] = sa;
        if (sa == null) {
            results.set(slot, SKIPPED);
        } else if (workers[slot % workers.length] == receiver) {
            // the receiving lane's share runs inline: a task queued to itself could not run while it drains
            results.set(slot, processor.openPrepared(packet, sa) ? AUTHENTIC : FORGED);
        } else {
            workerLoops[slot % workerLoops.length].execute(cryptoJobs[slot]);
        }
    }

    /** Steps 3–4: completes finished slots in arrival order; stops at the first one still in a worker's hands. */
    void completeInOrder() {
        EspProcessor processor = receiver.processor();
        while (tail < head) {
            int slot = (int) (tail & (RING - 1));
            int result = results.get(slot);
            if (result == PENDING) {
                break;
            }
            results.set(slot, PENDING);
            tail++;
            if (result == SKIPPED) {
                continue;
            }
            Packet packet = ring[slot];
            if (processor.finishInbound(packet, ringSa[slot], result == AUTHENTIC) == Outcome.ACCEPTED) {
                receiver.queueForSite(packet);
            }
        }
        receiver.flushToSite();   // before the ring slots completed here can be received into again
    }

    /** True when no packet is in flight (all received packets completed). */
    boolean isIdle() {
        return head == tail;
    }

}
