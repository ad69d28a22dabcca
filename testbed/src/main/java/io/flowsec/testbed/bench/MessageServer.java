package io.flowsec.testbed.bench;

import io.flowsec.dataplane.linux.NetworkNamespace;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
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
 * The receiving end of the micro-benchmark (host B): worker threads, each with its own listening socket on one
 * address and port ({@code SO_REUSEPORT}, so the kernel spreads the connections over the workers, as in the paper's
 * server) and its own selector (epoll), reading everything and counting it. Nothing is echoed: the benchmark measures
 * one direction through the router.
 */
public final class MessageServer implements AutoCloseable {
    private static final int BACKLOG = 4096;
    private static final int BUFFER_BYTES = 256 * 1024;
    /** Reads per readable connection per wake-up, so one busy connection cannot starve the others. */
    private static final int READS_PER_WAKEUP = 16;
    private static final long START_TIMEOUT_SECONDS = 10;
    private static final long JOIN_MILLIS = 5000;

    private final LongAdder receivedBytes = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final List<Worker> workers = new ArrayList<>();
    private volatile boolean running = true;
    private int port;

    private MessageServer() {
    }

    /**
     * Starts {@code workers} threads listening on {@code address}:{@code port} ({@code port} 0: the kernel picks one,
     * which every worker then shares; see {@link #port()}), inside namespace {@code namespace} ({@code null}: where
     * the caller is). Returns once every worker is bound, or throws with the reason one could not be.
     */
    public static MessageServer start(String namespace, InetAddress address, int port, int workers)
            throws IOException {
        Objects.requireNonNull(address, "address");
        if (workers < 1 || port < 0 || port > 65535) {
            throw new IllegalArgumentException("workers " + workers + ", port " + port);
        }
        MessageServer server = new MessageServer();
        try {
            // the first worker binds alone, so a kernel-picked port is known before the others join it
            server.port = server.startWorker(0, namespace, new InetSocketAddress(address, port));
            InetSocketAddress shared = new InetSocketAddress(address, server.port);
            for (int i = 1; i < workers; i++) {
                server.startWorker(i, namespace, shared);
            }
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        return server;
    }

    /** The port every worker listens on. */
    public int port() {
        return port;
    }

    public long receivedBytes() {
        return receivedBytes.sum();
    }

    public long acceptedConnections() {
        long sum = 0;
        for (Worker worker : workers) {
            sum += worker.accepted;
        }
        return sum;
    }

    /** Accepted connections per worker (worker order): how evenly the kernel spread them. */
    public long[] acceptedPerWorker() {
        long[] accepted = new long[workers.size()];
        for (int i = 0; i < accepted.length; i++) {
            accepted[i] = workers.get(i).accepted;
        }
        return accepted;
    }

    /** Failed accepts and reads (a reset connection, for one). */
    public long errors() {
        return errors.sum();
    }

    /** Stops the workers, closes every socket and waits for the threads (at most 5 s each). */
    @Override
    public void close() {
        running = false;
        for (Worker worker : workers) {
            worker.selector.wakeup();
        }
        try {
            for (Worker worker : workers) {
                worker.thread.join(JOIN_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Starts worker {@code index} and waits until it is bound; returns the port it is bound to. */
    private int startWorker(int index, String namespace, InetSocketAddress bindTo) throws IOException {
        Worker worker = new Worker(Selector.open());
        CompletableFuture<Integer> bound = new CompletableFuture<>();
        worker.thread = Thread.ofPlatform().daemon().name("bench-server-" + index)
                .unstarted(() -> worker.run(namespace, bindTo, bound));
        workers.add(worker);
        worker.thread.start();
        try {
            return bound.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IOException("bench server worker " + index + " could not listen on " + bindTo
                    + (namespace == null ? "" : " in " + namespace) + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("bench server worker " + index + " did not start in " + START_TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the bench server started");
        }
    }

    /** One thread, one listening socket, one selector; the connections the kernel gives this socket stay here. */
    private final class Worker {
        final Selector selector;
        final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
        final Consumer<SelectionKey> onReady = this::onReady;
        Thread thread;
        /** Written by the worker thread only. */
        volatile long accepted;

        Worker(Selector selector) {
            this.selector = selector;
        }

        void run(String namespace, InetSocketAddress bindTo, CompletableFuture<Integer> bound) {
            try {
                try {
                    if (namespace != null) {
                        NetworkNamespace.enter(namespace); // the listening socket is made in the namespace below
                    }
                    ServerSocketChannel listener = ServerSocketChannel.open(
                            bindTo.getAddress() instanceof Inet4Address
                                    ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6);
                    listener.configureBlocking(false);
                    listener.register(selector, SelectionKey.OP_ACCEPT);
                    listener.setOption(StandardSocketOptions.SO_REUSEPORT, true);
                    listener.bind(bindTo, BACKLOG);
                    bound.complete(((InetSocketAddress) listener.getLocalAddress()).getPort());
                } catch (Throwable e) {
                    bound.completeExceptionally(e);
                    return;
                }
                loop();
            } finally {
                closeAll();
            }
        }

        private void loop() {
            // 1. wait until a connection is waiting to be accepted or has data (or close() wakes us up)
            // 2. accept every waiting connection, non-blocking, registered for reading on this selector
            // 3. read what each readable connection has into the one buffer and count it; at EOF close it
            // 4. a failed accept or read is counted (a failed read closes its connection); the loop goes on
            while (running) {
                try {
                    selector.select(onReady);
                } catch (ClosedSelectorException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    errors.increment();
                }
            }
        }

        private void onReady(SelectionKey key) {
            if (key.channel() instanceof ServerSocketChannel listener) {
                accept(listener);
            } else {
                read(key);
            }
        }

        private void accept(ServerSocketChannel listener) {
            try {
                SocketChannel connection;
                while ((connection = listener.accept()) != null) {
                    accepted = accepted + 1;
                    connection.configureBlocking(false);
                    connection.register(selector, SelectionKey.OP_READ);
                }
            } catch (IOException e) {
                errors.increment();
            }
        }

        private void read(SelectionKey key) {
            SocketChannel connection = (SocketChannel) key.channel();
            try {
                for (int i = 0; i < READS_PER_WAKEUP; i++) {
                    buffer.clear();
                    int n = connection.read(buffer);
                    if (n > 0) {
                        receivedBytes.add(n);
                    } else {
                        if (n < 0) {
                            connection.close();
                        }
                        return;
                    }
                }
            } catch (IOException e) {
                errors.increment();
                closeQuietly(connection);
            }
        }

        private void closeAll() {
            try {
                for (SelectionKey key : selector.keys()) {
                    closeQuietly(key.channel());
                }
            } catch (ClosedSelectorException ignored) {
                // already closed
            }
            closeQuietly(selector);
        }
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception ignored) {
            // closing anyway
        }
    }
}
