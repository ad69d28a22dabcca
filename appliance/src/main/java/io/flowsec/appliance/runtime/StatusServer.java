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
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The appliance's local control socket (Unix domain, mode 0600; nothing is reachable from the network). A client
 * sends one command line ({@code status}, {@code mode flow}, ...) and reads one JSON reply; {@code flowsec status}
 * and {@code flowsec mode} are its clients; {@link ControlCommands} answers.
 */
public final class StatusServer implements AutoCloseable {
    private static final int MAX_COMMAND = 1024;
    /** How long a client waits for a reply: a mode change drains the lanes, which takes milliseconds. */
    public static final long REPLY_TIMEOUT_MS = 30_000;

    private final Path path;
    private final ServerSocketChannel server;
    private final Thread thread;

    private StatusServer(Path path, ServerSocketChannel server, Function<String, String> commands) {
        this.path = path;
        this.server = server;
        this.thread = Thread.ofPlatform().daemon().name("flowsec-control").start(() -> serve(commands));
    }

    /** A socket that answers every command with {@code status}. */
    public static StatusServer start(Path path, Supplier<String> status) throws IOException {
        return start(path, command -> status.get());
    }

    /** A socket that answers each command line with {@code commands.apply(line)}. */
    public static StatusServer start(Path path, Function<String, String> commands) throws IOException {
        if (path.getParent() != null) {
            Files.createDirectories(path.getParent());
        }
        Files.deleteIfExists(path);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        // owner only: the socket changes the data plane, and rekey requests carry keys
        Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return new StatusServer(path, server, commands);
    }

    private void serve(Function<String, String> commands) {
        while (server.isOpen()) {
            try (SocketChannel client = server.accept()) {
                String command = readCommand(client);
                String reply;
                try {
                    reply = commands.apply(command);
                } catch (RuntimeException e) {
                    reply = "{\"error\":\"" + String.valueOf(e.getMessage()).replace("\"", "'") + "\"}";
                }
                ByteBuffer bytes = ByteBuffer.wrap((reply + "\n").getBytes(StandardCharsets.UTF_8));
                while (bytes.hasRemaining()) {
                    client.write(bytes);
                }
            } catch (IOException e) {
                if (!server.isOpen()) {
                    return;
                }
            }
        }
    }

    private static String readCommand(SocketChannel client) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(MAX_COMMAND);
        while (buffer.hasRemaining() && client.read(buffer) > 0) {
            if (buffer.get(buffer.position() - 1) == '\n') {
                break;
            }
        }
        return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).strip();
    }

    /** Sends {@code status} and returns the reply. */
    public static String query(Path path) throws IOException {
        return query(path, "status");
    }

    /** Sends one command line and returns the reply; gives up after {@link #REPLY_TIMEOUT_MS} (a stuck appliance). */
    public static String query(Path path, String command) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(path));
             Selector selector = Selector.open()) {
            channel.write(ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8)));
            channel.shutdownOutput();
            channel.configureBlocking(false);
            channel.register(selector, SelectionKey.OP_READ);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer buffer = ByteBuffer.allocate(16384);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REPLY_TIMEOUT_MS);
            while (true) {
                long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (leftMs <= 0) {
                    throw new SocketTimeoutException("no reply from " + path + " within " + REPLY_TIMEOUT_MS / 1000 + " s");
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

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(path);
        thread.interrupt();
    }
}
