package io.flowsec.appliance.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.net.SocketTimeoutException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The appliance's local control socket (Unix domain, mode 0600; nothing is reachable from the network). A client
 * sends one command line ({@code status}, {@code mode flow}, ...) and reads one JSON reply; {@code flowsec status}
 * and {@code flowsec mode} are its clients; {@link ControlCommands} answers.
 * <ol>
 *   <li>one thread serves every connection without blocking: a client that connects and sends nothing holds no one
 *       up, and is closed after {@link #IDLE_TIMEOUT_MS};</li>
 *   <li>at most {@link #MAX_CLIENTS} connections at once; one more is told {@code busy} and closed;</li>
 *   <li>only the socket's owner is served (its peer credentials, SO_PEERCRED, whatever the file's mode);</li>
 *   <li>a command runs only once its whole line (ending in a newline) arrived, on one command thread, so changes
 *       never interleave; a client that gave up before that changed nothing.</li>
 * </ol>
 */
public final class StatusServer implements AutoCloseable {
    private static final int MAX_COMMAND = 1024;
    /** How long a client waits for a reply: a mode change drains the lanes, which takes milliseconds. */
    public static final long REPLY_TIMEOUT_MS = 30_000;
    /** How long a connection may take to send its command line. */
    static final long IDLE_TIMEOUT_MS = 5_000;
    static final int MAX_CLIENTS = 256;

    private final Path path;
    private final ServerSocketChannel server;
    private final Selector selector;
    private final Function<String, String> commands;
    private final ExecutorService commandThread = Executors.newSingleThreadExecutor(
            runnable -> Thread.ofPlatform().daemon().name("flowsec-control-command").unstarted(runnable));
    private final String owner;
    private final Thread thread;

    /** A connection being read: its bytes so far and its deadline. */
    private static final class Client {
        final ByteBuffer buffer = ByteBuffer.allocate(MAX_COMMAND);
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(IDLE_TIMEOUT_MS);
    }

    private StatusServer(Path path, ServerSocketChannel server, Function<String, String> commands) throws IOException {
        this.path = path;
        this.server = server;
        this.commands = commands;
        this.owner = Files.getOwner(path).getName();
        this.selector = Selector.open();
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
        this.thread = Thread.ofPlatform().daemon().name("flowsec-control").start(this::serve);
    }

    /** A socket that answers every command with {@code status}. */
    public static StatusServer start(Path path, Supplier<String> status) throws IOException {
        return start(path, command -> status.get());
    }

    /**
     * A socket that answers each command line with {@code commands.apply(line)}. An existing path is replaced only
     * when it is a stale socket: a regular file or directory there is refused (never deleted), and so is a socket
     * another process still answers on.
     */
    public static StatusServer start(Path path, Function<String, String> commands) throws IOException {
        if (path.getParent() != null) {
            Files.createDirectories(path.getParent());
        }
        removeStaleSocket(path);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        // owner only: the socket changes the data plane, and rekey requests carry keys
        Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return new StatusServer(path, server, commands);
    }

    private static void removeStaleSocket(Path path) throws IOException {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (Integer) Files.getAttribute(path, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        if ((mode & 0170000) != 0140000) {
            throw new IOException("control socket path " + path + " is taken by something that is not a socket: "
                    + "not removed; choose another statusSocket");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            throw new IOException("control socket " + path + " is in use by another process (another appliance "
                    + "with this name?): not taken over");
        } catch (java.net.ConnectException stale) {
            Files.delete(path);   // nobody answers: left by an appliance that ended without removing it
        }
    }

    private void serve() {
        while (server.isOpen()) {
            try {
                selector.select(500);
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) {
                        continue;
                    }
                    if (key.isAcceptable()) {
                        accept();
                    } else if (key.isReadable()) {
                        read(key);
                    }
                }
                selector.selectedKeys().clear();
                closeIdleClients();
            } catch (IOException | java.nio.channels.ClosedSelectorException e) {
                if (!server.isOpen()) {
                    return;
                }
            }
        }
    }

    private void accept() throws IOException {
        SocketChannel client = server.accept();
        if (client == null) {
            return;
        }
        if (!isOwner(client)) {
            answerAndClose(client, "{\"error\":\"only " + owner + " may use this socket\"}");
            return;
        }
        if (selector.keys().size() > MAX_CLIENTS) {
            answerAndClose(client, "{\"error\":\"busy: " + MAX_CLIENTS + " clients are connected\"}");
            return;
        }
        client.configureBlocking(false);
        client.register(selector, SelectionKey.OP_READ, new Client());
    }

    private boolean isOwner(SocketChannel client) {
        try {
            return client.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED).user().getName().equals(owner);
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private void read(SelectionKey key) throws IOException {
        SocketChannel channel = (SocketChannel) key.channel();
        Client client = (Client) key.attachment();
        int read;
        try {
            read = channel.read(client.buffer);
        } catch (IOException gone) {
            key.cancel();
            channel.close();
            return;
        }
        ByteBuffer buffer = client.buffer;
        boolean line = buffer.position() > 0 && buffer.get(buffer.position() - 1) == '\n';
        if (!line && read >= 0 && buffer.hasRemaining()) {
            return;   // more to come
        }
        key.cancel();
        if (!line) {
            // closed before its line was whole (or a line too long): nothing is applied, nobody to answer
            if (read >= 0) {
                answerAndClose(channel, "{\"error\":\"a command is one line of at most " + MAX_COMMAND + " bytes\"}");
            } else {
                channel.close();
            }
            return;
        }
        String command = new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).strip();
        commandThread.execute(() -> {
            String reply;
            try {
                reply = commands.apply(command);
            } catch (RuntimeException e) {
                reply = "{\"error\":\"" + String.valueOf(e.getMessage()).replace("\"", "'") + "\"}";
            }
            answerAndClose(channel, reply);
        });
    }

    private void closeIdleClients() {
        long nowNs = System.nanoTime();
        for (SelectionKey key : selector.keys()) {
            if (key.attachment() instanceof Client client && nowNs - client.deadlineNs > 0) {
                key.cancel();
                try {
                    key.channel().close();   // sent no whole command in time: nothing applied
                } catch (IOException ignored) {
                    // closing a dead connection
                }
            }
        }
    }

    /** Writes the reply (the channel may be non-blocking: a client that stops reading is given up on) and closes. */
    private static void answerAndClose(SocketChannel client, String reply) {
        try (client) {
            ByteBuffer bytes = ByteBuffer.wrap((reply + "\n").getBytes(StandardCharsets.UTF_8));
            long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(IDLE_TIMEOUT_MS);
            while (bytes.hasRemaining() && System.nanoTime() < deadlineNs) {
                if (client.write(bytes) == 0) {
                    Thread.sleep(1);
                }
            }
        } catch (IOException gone) {
            // the client left; what it asked for was applied or never started
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Sends {@code status} and returns the reply. */
    public static String query(Path path) throws IOException {
        return query(path, "status");
    }

    /** Sends one command line and returns the reply; gives up after {@link #REPLY_TIMEOUT_MS} (a stuck appliance). */
    public static String query(Path path, String command) throws IOException {
        return query(path, command, REPLY_TIMEOUT_MS);
    }

    /**
     * Sends one command line and returns the reply, all within {@code timeoutMs}: connecting too, since a listener
     * that stopped accepting leaves a Unix socket's connect(2) blocked for as long as its backlog stays full.
     */
    public static String query(Path path, String command, long timeoutMs) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        try (SocketChannel channel = connectBefore(UnixDomainSocketAddress.of(path), deadline, timeoutMs);
             Selector selector = Selector.open()) {
            channel.write(ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8)));
            channel.shutdownOutput();
            channel.configureBlocking(false);
            channel.register(selector, SelectionKey.OP_READ);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer buffer = ByteBuffer.allocate(16384);
            while (true) {
                long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (leftMs <= 0) {
                    throw new SocketTimeoutException("no reply from " + path + " within " + seconds(timeoutMs));
                }
                selector.select(leftMs);
                selector.selectedKeys().clear();
                int read = channel.read(buffer);
                if (read < 0) {
                    return out.toString(StandardCharsets.UTF_8);
                }
                out.write(buffer.array(), 0, buffer.position());
                buffer.clear();
            }
        }
    }

    /** A blocking connect on a thread of its own, abandoned (its channel closed, which ends it) at the deadline. */
    private static SocketChannel connectBefore(UnixDomainSocketAddress address, long deadline, long timeoutMs)
            throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        java.util.concurrent.CompletableFuture<Void> connected = new java.util.concurrent.CompletableFuture<>();
        Thread.ofPlatform().daemon().name("flowsec-control-connect").start(() -> {
            try {
                channel.connect(address);
                connected.complete(null);
            } catch (IOException | RuntimeException e) {
                connected.completeExceptionally(e);
            }
        });
        try {
            connected.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            return channel;
        } catch (java.util.concurrent.TimeoutException e) {
            channel.close();
            throw new SocketTimeoutException(address.getPath() + " accepted no connection within " + seconds(timeoutMs)
                    + " (the appliance is stuck or overloaded)");
        } catch (java.util.concurrent.ExecutionException e) {
            channel.close();
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        } catch (InterruptedException e) {
            channel.close();
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while connecting to " + address.getPath());
        }
    }

    private static String seconds(long ms) {
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }

    @Override
    public void close() throws IOException {
        server.close();
        selector.close();
        commandThread.shutdown();
        Files.deleteIfExists(path);
        thread.interrupt();
    }
}
