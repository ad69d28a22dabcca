package io.flowsec.appliance.runtime;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * A local socket (Unix domain) on which a running appliance answers every connection with its status as JSON and
 * closes it; {@code flowsec status} is its client. Local only: nothing is reachable from the network.
 */
public final class StatusServer implements AutoCloseable {
    private final Path path;
    private final ServerSocketChannel server;
    private final Thread thread;

    private StatusServer(Path path, ServerSocketChannel server, Supplier<String> status) {
        this.path = path;
        this.server = server;
        this.thread = Thread.ofPlatform().daemon().name("flowsec-status").start(() -> serve(status));
    }

    public static StatusServer start(Path path, Supplier<String> status) throws IOException {
        if (path.getParent() != null) {
            Files.createDirectories(path.getParent());
        }
        Files.deleteIfExists(path);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        return new StatusServer(path, server, status);
    }

    private void serve(Supplier<String> status) {
        while (server.isOpen()) {
            try (SocketChannel client = server.accept()) {
                ByteBuffer reply = ByteBuffer.wrap((status.get() + "\n").getBytes(StandardCharsets.UTF_8));
                while (reply.hasRemaining()) {
                    client.write(reply);
                }
            } catch (IOException e) {
                if (!server.isOpen()) {
                    return;
                }
            }
        }
    }

    /** Reads one status reply from the socket at {@code path}. */
    public static String query(Path path) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            return new String(readAll(channel), StandardCharsets.UTF_8);
        }
    }

    private static byte[] readAll(SocketChannel channel) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer buffer = ByteBuffer.allocate(16384);
        while (channel.read(buffer) >= 0) {
            out.write(buffer.array(), 0, buffer.position());
            buffer.clear();
        }
        return out.toByteArray();
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(path);
        thread.interrupt();
    }
}
