package io.flowsec.testbed.bench;

import io.flowsec.dataplane.linux.NetworkNamespace;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * The sending end of the micro-benchmark (host A): worker threads, each with a selector (epoll) driving its share of
 * TCP connections; every connection writes a fixed number of fixed-size messages, closes and reconnects at once, so
 * the router keeps seeing new flows (a new ephemeral source port each time) as in the paper's client.
 * <p>
 * Only whole messages count as sent, and a connection closes gracefully after its last one, so everything counted
 * reaches the server. {@link #close()} lets a connection that is in the middle of a message finish it (for at most
 * {@value #DRAIN_MILLIS} ms) for the same reason. A failed connection is counted and retried after
 * {@value #BACKOFF_MILLIS} ms, so an unreachable server costs a few wake-ups, not a spinning core.
 */
public final class MessageClient implements AutoCloseable {
    static final long BACKOFF_MILLIS = 10;
    static final long DRAIN_MILLIS = 2000;
    private static final long BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(BACKOFF_MILLIS);
    private static final long DRAIN_NANOS = TimeUnit.MILLISECONDS.toNanos(DRAIN_MILLIS);
    private static final long START_TIMEOUT_SECONDS = 10;
    private static final long JOIN_MILLIS = 5000;

    private final LongAdder sentBytes = new LongAdder();
    private final LongAdder sentMessages = new LongAdder();
    private final LongAdder connections = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final List<Worker> workers = new ArrayList<>();
    private final InetSocketAddress server;
    private final InetSocketAddress source;
    private final ProtocolFamily family;
    private final ByteBuffer content;
    private final int messageSize;
    private final int messagesPerConnection;
    private volatile boolean stopping;

    private MessageClient(InetSocketAddress server, InetAddress source, int messageSize, int messagesPerConnection) {
        this.server = server;
        this.source = source == null ? null : new InetSocketAddress(source, 0);
        this.family = server.getAddress() instanceof Inet4Address ? StandardProtocolFamily.INET
                : StandardProtocolFamily.INET6;
        this.messageSize = messageSize;
        this.messagesPerConnection = messagesPerConnection;
        ByteBuffer message = ByteBuffer.allocateDirect(messageSize);
        for (int i = 0; i < messageSize; i++) {
            message.put((byte) ('a' + i % 26));
        }
        this.content = message.flip().asReadOnlyBuffer();
    }

    /**
     * Starts {@code workers} threads inside namespace {@code namespace} ({@code null}: where the caller is), each
     * keeping {@code connectionsPerWorker} connections to {@code server} busy, from {@code source} (an ephemeral
     * port on it; {@code null}: as the route decides). Each connection sends {@code messagesPerConnection} messages
     * of {@code messageSize} bytes, then reconnects. Throws if a worker cannot enter the namespace or use
     * {@code source}; an unreachable server is not a start failure but {@link #errors()}.
     */
    public static MessageClient start(String namespace, InetAddress source, InetSocketAddress server, int workers,
                                      int connectionsPerWorker, int messageSize, int messagesPerConnection)
            throws IOException {
        Objects.requireNonNull(server, "server");
        if (server.isUnresolved() || workers < 1 || connectionsPerWorker < 1 || messageSize < 1
                || messagesPerConnection < 1) {
            throw new IllegalArgumentException("server " + server + ", workers " + workers + ", connections per worker "
                    + connectionsPerWorker + ", message size " + messageSize + ", messages per connection "
                    + messagesPerConnection);
        }
        MessageClient client = new MessageClient(server, source, messageSize, messagesPerConnection);
        try {
            List<CompletableFuture<Void>> ready = new ArrayList<>();
            for (int i = 0; i < workers; i++) {
                ready.add(client.startWorker(i, namespace, connectionsPerWorker));
            }
            for (int i = 0; i < workers; i++) {
                awaitReady(ready.get(i), i, namespace);
            }
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        return client;
    }

    /** Bytes of whole messages written. */
    public long sentBytes() {
        return sentBytes.sum();
    }

    /** Whole messages written. */
    public long sentMessages() {
        return sentMessages.sum();
    }

    /** Connections established (each one a new flow). */
    public long connections() {
        return connections.sum();
    }

    /** Failed connects and writes (refused, reset, no route...); each one retried after the back-off. */
    public long errors() {
        return errors.sum();
    }

    /**
     * Stops the workers: no new connections or messages, a message under way is finished (at most
     * {@value #DRAIN_MILLIS} ms), every connection is closed gracefully; waits for the threads (at most 5 s each).
     */
    @Override
    public void close() {
        stopping = true;
        for (Worker worker : workers) {
            worker.selector.wakeup();
        }
        try {
            for (Worker worker : workers) {
                worker.thread.join(DRAIN_MILLIS + JOIN_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private CompletableFuture<Void> startWorker(int index, String namespace, int connectionsPerWorker)
            throws IOException {
        Worker worker = new Worker(Selector.open(), connectionsPerWorker);
        CompletableFuture<Void> ready = new CompletableFuture<>();
        worker.thread = Thread.ofPlatform().daemon().name("bench-client-" + index)
                .unstarted(() -> worker.run(namespace, ready));
        workers.add(worker);
        worker.thread.start();
        return ready;
    }

    private static void awaitReady(CompletableFuture<Void> ready, int index, String namespace) throws IOException {
        try {
            ready.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IOException("bench client worker " + index + " could not start"
                    + (namespace == null ? "" : " in " + namespace) + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("bench client worker " + index + " did not start in " + START_TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the bench client started");
        }
    }

    /** One connection slot: its state is allocated once and reused by every connection made in it. */
    private static final class Connection {
        /** This slot's view of the shared message: position = bytes of the current message written. */
        final ByteBuffer message;
        SocketChannel channel;
        boolean connected;
        int messagesLeft;
        /** Waiting to (re)connect at {@link #reconnectAt} (System.nanoTime). */
        boolean waiting;
        long reconnectAt;

        Connection(ByteBuffer message) {
            this.message = message;
        }

        /** Some but not all bytes of a message are written: closing now would leave half a message at the server. */
        boolean inMessage() {
            return connected && message.position() > 0 && message.hasRemaining();
        }
    }

    private final class Worker {
        final Selector selector;
        final Connection[] slots;
        final Consumer<SelectionKey> onReady = this::onReady;
        Thread thread;
        int open;
        int waiting;
        /** The earliest {@link Connection#reconnectAt} of the waiting slots; meaningful while {@code waiting > 0}. */
        long nextReconnect;
        boolean draining;

        Worker(Selector selector, int connections) {
            this.selector = selector;
            this.slots = new Connection[connections];
            for (int i = 0; i < connections; i++) {
                slots[i] = new Connection(content.duplicate());
            }
        }

        void run(String namespace, CompletableFuture<Void> ready) {
            try {
                try {
                    if (namespace != null) {
                        NetworkNamespace.enter(namespace); // every socket below is made in the namespace
                    }
                    if (source != null) {
                        try (SocketChannel probe = SocketChannel.open(family)) {
                            probe.bind(source); // a source address the namespace does not have fails here, once
                        }
                    }
                    ready.complete(null);
                } catch (Throwable e) {
                    ready.completeExceptionally(e);
                    return;
                }
                loop();
            } finally {
                for (Connection slot : slots) {
                    closeQuietly(slot.channel);
                }
                closeQuietly(selector);
            }
        }

        private void loop() {
            // 1. start every connection (non-blocking connect)
            // 2. wait for readiness, at most until the earliest reconnect is due (forever when none is)
            // 3. connected: count it and write; writable: write until the socket buffer is full; a message counts
            //    once all its bytes are written; after the last message close and schedule an immediate reconnect
            // 4. a failure is counted, its connection closed and its reconnect scheduled after the back-off
            // 5. reconnect the slots that are due
            // 6. once close() is called: close what is not in the middle of a message, let the rest finish theirs
            //    (bounded), then leave
            for (Connection slot : slots) {
                connect(slot);
            }
            long drainDeadline = 0;
            while (true) {
                try {
                    if (!draining && stopping) {
                        draining = true;
                        drainDeadline = System.nanoTime() + DRAIN_NANOS;
                        beginDrain();
                    }
                    if (draining && (open == 0 || System.nanoTime() - drainDeadline > 0)) {
                        return;
                    }
                    if (draining) {
                        selector.select(onReady, 10); // wakes up for the drain deadline
                        continue;
                    }
                    if (waiting == 0) {
                        selector.select(onReady);
                    } else {
                        long untilReconnect = nextReconnect - System.nanoTime();
                        if (untilReconnect <= 0) {
                            selector.selectNow(onReady);
                        } else {
                            selector.select(onReady, Math.max(1, (untilReconnect + 999_999) / 1_000_000));
                        }
                    }
                    if (waiting > 0) {
                        reconnectDue(System.nanoTime());
                    }
                } catch (ClosedSelectorException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    errors.increment();
                }
            }
        }

        private void onReady(SelectionKey key) {
            Connection slot = (Connection) key.attachment();
            try {
                if (!slot.connected) {
                    if (!slot.channel.finishConnect()) {
                        return;
                    }
                    established(slot, key);
                }
                write(slot);
            } catch (IOException | RuntimeException e) {
                failed(slot);
            }
        }

        /** Opens a new connection in {@code slot}; a failure schedules the next try. */
        private void connect(Connection slot) {
            slot.waiting = false;
            try {
                SocketChannel channel = SocketChannel.open(family);
                slot.channel = channel;
                slot.connected = false;
                open++;
                channel.configureBlocking(false);
                if (source != null) {
                    channel.bind(source);
                }
                if (channel.connect(server)) {
                    established(slot, channel.register(selector, SelectionKey.OP_WRITE, slot));
                    write(slot);
                } else {
                    channel.register(selector, SelectionKey.OP_CONNECT, slot);
                }
            } catch (IOException | RuntimeException e) {
                failed(slot);
            }
        }

        private void established(Connection slot, SelectionKey key) {
            connections.increment();
            slot.connected = true;
            slot.messagesLeft = messagesPerConnection;
            slot.message.clear();
            key.interestOps(SelectionKey.OP_WRITE);
        }

        /** Writes until the socket buffer is full or the connection has sent its last message. */
        private void write(Connection slot) throws IOException {
            ByteBuffer message = slot.message;
            while (true) {
                slot.channel.write(message);
                if (message.hasRemaining()) {
                    return; // the socket buffer is full: the selector says when to go on
                }
                sentMessages.increment();
                sentBytes.add(messageSize);
                if (--slot.messagesLeft == 0 || draining) {
                    close(slot); // graceful: the kernel still delivers what is queued, then FIN
                    if (!draining) {
                        schedule(slot, System.nanoTime());
                    }
                    return;
                }
                message.clear();
            }
        }

        private void failed(Connection slot) {
            errors.increment();
            close(slot);
            if (!draining) {
                schedule(slot, System.nanoTime() + BACKOFF_NANOS);
            }
        }

        private void close(Connection slot) {
            if (slot.channel != null) {
                closeQuietly(slot.channel);
                slot.channel = null;
                slot.connected = false;
                open--;
            }
        }

        private void schedule(Connection slot, long at) {
            slot.waiting = true;
            slot.reconnectAt = at;
            if (waiting++ == 0 || at - nextReconnect < 0) {
                nextReconnect = at;
            }
        }

        /** Reconnects the slots whose time has come; {@link #nextReconnect} becomes the earliest still waiting. */
        private void reconnectDue(long now) {
            if (nextReconnect - now > 0) {
                return;
            }
            int stillWaiting = 0;
            long next = 0;
            for (Connection slot : slots) {
                if (slot.waiting && slot.reconnectAt - now > 0) {
                    if (stillWaiting++ == 0 || slot.reconnectAt - next < 0) {
                        next = slot.reconnectAt;
                    }
                }
            }
            // the due ones go now; one that fails at once is scheduled again by schedule(), which keeps the minimum
            waiting = stillWaiting;
            nextReconnect = next;
            for (Connection slot : slots) {
                if (slot.waiting && slot.reconnectAt - now <= 0) {
                    connect(slot);
                }
            }
        }

        private void beginDrain() {
            for (Connection slot : slots) {
                if (slot.waiting) {
                    slot.waiting = false;
                    waiting--;
                }
                if (!slot.inMessage()) {
                    close(slot);
                }
            }
        }
    }

    private static void closeQuietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception ignored) {
            // closing anyway
        }
    }
}
