package io.flowsec.dataplane.lane;

/**
 * How a lane learns that one of its queues has something to read: a file descriptor its event loop polls (io_uring
 * {@code POLL_ADD}, or epoll), or, for in-memory test doubles, a callback the queue calls when something arrives.
 */
public interface LaneReadiness {
    /** The descriptor to poll for readability, or -1 when the queue signals through {@link #whenReadable}. */
    int fd();

    /** For a queue without a descriptor: {@code wake} is to be run (from any thread) whenever data arrives. */
    default void whenReadable(Runnable wake) {
    }

    /**
     * Called once, before the lane starts: where the queue counts what only it sees (superpackets cut or coalesced,
     * runs of datagrams), on the lane's thread as it reads and writes.
     */
    default void countInto(io.flowsec.dataplane.esp.LaneCounters counters) {
    }

    /** The batching and offload paths of this queue (control side; allocates). */
    default java.util.List<Offload> offloads() {
        return java.util.List.of();
    }

    /**
     * True while something waits to be read that a poll of the descriptor would not report: for a queue without a
     * descriptor, anything; for one with a descriptor, what it already took from the kernel and holds (a GRO run or
     * a TSO superpacket cut only in part). The lane then drains again, as a level-triggered poll would.
     */
    default boolean hasPending() {
        return false;
    }
}
