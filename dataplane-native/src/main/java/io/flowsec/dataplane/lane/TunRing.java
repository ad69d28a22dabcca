package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.linux.Errno;
import io.netty.channel.IoRegistration;
import io.netty.channel.uring.IoUringIoOps;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A TUN queue's reads and writes through its lane's io_uring, so the queue costs no system call per packet; the
 * lane's event loop enters the ring once per loop turn for everything.
 * <ol>
 *   <li>reads, in bursts: when a poll says the queue is readable, a burst of reads that do not wait
 *       ({@code RWF_NOWAIT}) goes in with the loop's next enter; the kernel runs them at once, in order, each taking
 *       one packet or finding the queue empty (EAGAIN), and the lane takes the packets in that order into its slots.
 *       A burst that found no end is followed by another, without a poll; one that did waits for the next poll.
 *       Reads are never left waiting in the kernel: several waiting on one queue would all be woken by each packet.
 *       A burst is twice the packets the last one found, at least {@value #MIN_BURST}, at most {@value #READS};</li>
 *   <li>writes: each packet is copied into a free native buffer and queued as a one-iovec {@code WRITEV}; the loop
 *       submits the lane's whole batch with its next {@code io_uring_enter}, and the completion frees the buffer.
 *       A write the kernel refuses is counted then ({@link IoCounter#TUN_WRITE_ERRORS}). With no buffer free the
 *       caller writes with a system call.</li>
 * </ol>
 * A read that fails with anything but EAGAIN/EINTR stops the ring's reads ({@link #readFailure}): the queue goes
 * back to reading with system calls.
 * <p>
 * Only the lane's thread touches it. Every submission entry is made once, one per buffer (a write's length travels
 * in its iovec), so nothing allocates per packet. The buffers live until the ring is unreachable, which is after
 * the loop saw the completion of every operation posted (it holds the registration, and the registration this).
 */
final class TunRing {
    static final int READS = 32;
    static final int MIN_BURST = 4;
    static final int SMALL_WRITES = 256;
    static final int SMALL_WRITE_BYTES = 2048;
    static final int LARGE_WRITES = 16;

    static final byte IORING_OP_NOP = 0;
    static final byte IORING_OP_WRITEV = 2;
    static final byte IORING_OP_POLL_ADD = 6;
    static final byte IORING_OP_ASYNC_CANCEL = 14;
    static final byte IORING_OP_READ = 22;
    private static final int IORING_ASYNC_CANCEL_ALL = 1;
    private static final int IORING_ASYNC_CANCEL_FD = 1 << 1;
    private static final int RWF_NOWAIT = 0x8;
    /** An operation's data field names its buffer: reads 0 .. READS, writes from here on. */
    private static final int WRITE_DATA = 0x1000;
    private static final long IOVEC_BYTES = 16;

    private final int fd;
    private final MemorySegment[] readBuffers = new MemorySegment[READS];
    private final IoUringIoOps[] readOps = new IoUringIoOps[READS];
    /** Buffers to post: free, or taken by the lane and copied out. */
    private final int[] unposted = new int[READS];
    private int unpostedCount;
    private int postedCount;
    /** Reads of the burst in flight; what the last complete burst found. */
    private int burstOutstanding;
    private int burstPackets;
    private boolean burstFoundEnd;
    /** Completed reads in completion order: a circular queue of (buffer, length). */
    private final int[] completedBuffer = new int[READS];
    private final int[] completedLength = new int[READS];
    private int completedHead;
    private int completedCount;
    private int readFailure;

    private final MemorySegment[] writeBuffers = new MemorySegment[SMALL_WRITES + LARGE_WRITES];
    private final MemorySegment iovecs;
    private final IoUringIoOps[] writeOps = new IoUringIoOps[SMALL_WRITES + LARGE_WRITES];
    private final int[] freeSmall = new int[SMALL_WRITES];
    private int freeSmallCount;
    private final int[] freeLarge = new int[LARGE_WRITES];
    private int freeLargeCount;
    private final IoUringIoOps cancelAll;

    private IoRegistration registration;
    private LaneCounters counters = new LaneCounters();
    /**
     * When the writes in flight, and the burst in flight, began: the kernel does their work inside the loop's next
     * enter, outside any batch, so the lane's busy time counts it from then until their last completion. The load
     * feedback reads busy time; without this a lane's TUN writes would not show in it.
     */
    private long writesSinceNs;
    private long burstSinceNs;

    /** @param largestPacket the longest read or write, virtio header included */
    TunRing(int fd, int largestPacket) {
        this.fd = fd;
        Arena arena = Arena.ofAuto();
        for (int i = 0; i < READS; i++) {
            readBuffers[i] = arena.allocate(largestPacket, 64);
            readOps[i] = operation(IORING_OP_READ, readBuffers[i].address(), largestPacket, RWF_NOWAIT, i);
            unposted[unpostedCount++] = i;
        }
        iovecs = arena.allocate(IOVEC_BYTES * writeBuffers.length, 8);
        for (int i = 0; i < writeBuffers.length; i++) {
            writeBuffers[i] = arena.allocate(i < SMALL_WRITES ? SMALL_WRITE_BYTES : largestPacket, 64);
            iovecs.set(ValueLayout.JAVA_LONG, i * IOVEC_BYTES, writeBuffers[i].address());
            writeOps[i] = operation(IORING_OP_WRITEV, iovecs.address() + i * IOVEC_BYTES, 1, 0, WRITE_DATA + i);
            if (i < SMALL_WRITES) {
                freeSmall[freeSmallCount++] = i;
            } else {
                freeLarge[freeLargeCount++] = i;
            }
        }
        cancelAll = new IoUringIoOps(IORING_OP_ASYNC_CANCEL, (byte) 0, (short) 0, fd, 0L, 0L, 0,
                IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD, (long) WRITE_DATA - 1, (short) 0, (short) 0, 0, 0L);
    }

    private IoUringIoOps operation(byte opcode, long address, int length, int flags, int data) {
        return new IoUringIoOps(opcode, (byte) 0, (short) 0, fd, 0L, address, length, flags, (long) data,
                (short) 0, (short) 0, 0, 0L);
    }

    /** From the lane's loop, once: where operations are submitted. */
    void attach(IoRegistration registration) {
        this.registration = registration;
    }

    void countInto(LaneCounters counters) {
        this.counters = counters;
    }

    /**
     * Submits a burst of reads into free buffers (the loop enters the ring with them on its next turn); returns how
     * many, 0 when no buffer is free (the lane still holds them all) or reads have failed.
     */
    int postBurst() {
        if (registration == null || readFailure != 0 || burstOutstanding > 0) {
            return 0;
        }
        int reads = Math.min(unpostedCount, Math.max(MIN_BURST, 2 * burstPackets));
        for (int i = 0; i < reads; i++) {
            registration.submit(readOps[unposted[--unpostedCount]]);
        }
        postedCount += reads;
        if (reads > 0) {
            burstSinceNs = System.nanoTime();
        }
        burstOutstanding = reads;
        burstPackets = 0;
        burstFoundEnd = false;
        return reads;
    }

    /** Which buffer a submitted read fills (the data its completion carries), -1 for another operation (tests). */
    int readBufferOf(io.netty.channel.IoOps operation) {
        for (int i = 0; i < READS; i++) {
            if (readOps[i] == operation) {
                return i;
            }
        }
        return -1;
    }

    /** Writes queued or submitted whose completion has not come yet. */
    int writesInFlight() {
        return SMALL_WRITES - freeSmallCount + LARGE_WRITES - freeLargeCount;
    }

    boolean burstInFlight() {
        return burstOutstanding > 0;
    }

    /** Whether the last burst found the queue empty: then only a poll says when to read again. */
    boolean burstFoundEnd() {
        return burstFoundEnd;
    }

    /** 0 while reads go through the ring; else the errno that stopped them (reads then take system calls). */
    int readFailure() {
        return readFailure;
    }

    boolean hasCompletedReads() {
        return completedCount > 0;
    }

    /** Completions, from the loop. Returns true when the last read of a burst completed. */
    boolean onCompletion(byte opcode, int data, int result) {
        if (opcode == IORING_OP_READ && data >= 0 && data < READS) {
            postedCount--;
            burstOutstanding--;
            if (result == 0) {
                result = -Errno.EIO;         // a TUN read never ends: 0 bytes means the descriptor is not a TUN's
            }
            if (result > 0) {
                int tail = (completedHead + completedCount) % READS;
                completedBuffer[tail] = data;
                completedLength[tail] = result;
                completedCount++;
                burstPackets++;
            } else {
                unposted[unpostedCount++] = data;
                burstFoundEnd = true;
                if (result != -Errno.EAGAIN && result != -Errno.EINTR && result != -Errno.ECANCELED) {
                    readFailure = -result;
                }
            }
            if (burstOutstanding == 0) {
                counters.add(IoCounter.BUSY_NANOS, System.nanoTime() - burstSinceNs);
                return true;
            }
            return false;
        }
        if (opcode == IORING_OP_WRITEV && data >= WRITE_DATA && data < WRITE_DATA + writeBuffers.length) {
            int buffer = data - WRITE_DATA;
            if (buffer < SMALL_WRITES) {
                freeSmall[freeSmallCount++] = buffer;
            } else {
                freeLarge[freeLargeCount++] = buffer;
            }
            if (result < 0) {
                counters.add(IoCounter.TUN_WRITE_ERRORS, 1);
            }
            if (writesInFlight() == 0) {
                counters.add(IoCounter.BUSY_NANOS, System.nanoTime() - writesSinceNs);
            }
        }
        return false;
    }

    /**
     * The next completed read, copied into {@code target} (which must hold it); returns its length, or -EAGAIN when
     * none has completed. Its buffer is free for the next burst.
     */
    long takeRead(MemorySegment target) {
        if (completedCount == 0) {
            return -Errno.EAGAIN;
        }
        int buffer = completedBuffer[completedHead];
        int length = completedLength[completedHead];
        completedHead = (completedHead + 1) % READS;
        completedCount--;
        MemorySegment.copy(readBuffers[buffer], 0, target, 0, Math.min(length, target.byteSize()));
        unposted[unpostedCount++] = buffer;
        return length;
    }

    /**
     * Queues {@code packet[0 .. length)} for writing; returns {@code length}, or -1 with no buffer free (the caller
     * writes it itself). The kernel's verdict comes with the completion.
     */
    long write(MemorySegment packet, int length) {
        if (registration == null) {
            return -1;
        }
        int buffer;
        if (length <= SMALL_WRITE_BYTES && freeSmallCount > 0) {
            buffer = freeSmall[--freeSmallCount];
        } else if (length <= writeBuffers[SMALL_WRITES].byteSize() && freeLargeCount > 0) {
            buffer = freeLarge[--freeLargeCount];
        } else {
            return -1;
        }
        if (writesInFlight() == 1) {
            writesSinceNs = System.nanoTime();   // the first of this run of writes (its buffer just taken)
        }
        MemorySegment.copy(packet, 0, writeBuffers[buffer], 0, length);
        iovecs.set(ValueLayout.JAVA_LONG, buffer * IOVEC_BYTES + 8, length);
        registration.submit(writeOps[buffer]);
        return length;
    }

    /** Cancels every operation posted on the queue's descriptor (closing); their completions still arrive. */
    void cancel() {
        if (registration != null && registration.isValid() && postedCount > 0) {
            registration.submit(cancelAll);
        }
    }
}
