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
     * For a queue without a descriptor: true while something waits to be read, so the lane drains again, as a
     * level-triggered poll would report a descriptor that still has data.
     */
    default boolean hasPending() {
        return false;
    }
}
