package io.flowsec.appliance.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The control socket under clients that misbehave. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StatusServerTest {
    @TempDir
    Path directory;

    private final List<String> applied = new CopyOnWriteArrayList<>();

    private StatusServer start(Path path) throws IOException {
        return StatusServer.start(path, command -> {
            applied.add(command);
            return "{\"ok\":\"" + command + "\"}";
        });
    }

    @Test
    void aHundredIdleClientsDoNotDelayAStatusQuery() throws Exception {
        Path path = directory.resolve("control.sock");
        List<SocketChannel> idle = new ArrayList<>();
        try (StatusServer server = start(path)) {
            for (int i = 0; i < 100; i++) {
                idle.add(SocketChannel.open(UnixDomainSocketAddress.of(path)));   // connect, say nothing
            }
            long startNs = System.nanoTime();
            assertEquals("{\"ok\":\"status\"}", StatusServer.query(path).strip());
            assertTrue(System.nanoTime() - startNs < TimeUnit.SECONDS.toNanos(2), "answered at once");
        } finally {
            for (SocketChannel channel : idle) {
                channel.close();
            }
        }
    }

    @Test
    void theClientsTimeoutCoversConnectingToAListenerThatNeverAccepts() throws Exception {
        Path path = directory.resolve("stuck.sock");
        List<SocketChannel> queued = new ArrayList<>();
        try (java.nio.channels.ServerSocketChannel stuck = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            stuck.bind(UnixDomainSocketAddress.of(path), 1);   // never accepts: the backlog fills
            for (int i = 0; i < 4; i++) {   // fill the backlog without blocking this thread
                SocketChannel channel = SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
                channel.configureBlocking(false);
                queued.add(channel);
                try {
                    channel.connect(UnixDomainSocketAddress.of(path));
                } catch (IOException full) {
                    break;
                }
            }
            long startNs = System.nanoTime();
            IOException timedOut = assertThrows(IOException.class, () -> StatusServer.query(path, "status", 1_500));
            long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
            assertTrue(waitedMs >= 1_000 && waitedMs < 5_000, "gave up after its timeout: " + waitedMs + " ms");
            assertTrue(timedOut.getMessage().contains("within 1500 ms"), timedOut.getMessage());
        } finally {
            for (SocketChannel channel : queued) {
                channel.close();
            }
        }
    }

    @Test
    void anIdleClientIsClosedAfterItsTimeoutAndAHalfSentCommandIsNeverApplied() throws Exception {
        Path path = directory.resolve("control.sock");
        try (StatusServer server = start(path);
             SocketChannel idle = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            try (SocketChannel quitter = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
                quitter.write(ByteBuffer.wrap("mode pcr".getBytes(StandardCharsets.UTF_8)));   // gives up mid-line
            }
            ByteBuffer buffer = ByteBuffer.allocate(64);
            long startNs = System.nanoTime();
            assertEquals(-1, idle.read(buffer), "closed by the server");
            long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
            assertTrue(waitedMs >= StatusServer.IDLE_TIMEOUT_MS - 1000 && waitedMs < StatusServer.IDLE_TIMEOUT_MS + 3000,
                    "after about its idle timeout: " + waitedMs + " ms");
            assertEquals(List.of(), applied, "nothing applied for a client that gave up");
        }
    }

    @Test
    void aRegularFileOrALiveSocketAtThePathIsNeverTakenOver() throws Exception {
        Path file = Files.writeString(directory.resolve("precious.txt"), "keep me");
        IOException refused = assertThrows(IOException.class, () -> start(file));
        assertTrue(refused.getMessage().contains("not a socket"), refused.getMessage());
        assertEquals("keep me", Files.readString(file));

        Path path = directory.resolve("control.sock");
        try (StatusServer first = start(path)) {
            IOException inUse = assertThrows(IOException.class, () -> start(path));
            assertTrue(inUse.getMessage().contains("in use by another process"), inUse.getMessage());
            assertEquals("{\"ok\":\"status\"}", StatusServer.query(path).strip(), "the first still answers");
        }
    }

    @Test
    void aStaleSocketLeftBehindIsReplaced() throws Exception {
        Path path = directory.resolve("control.sock");
        java.nio.channels.ServerSocketChannel left = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        left.bind(UnixDomainSocketAddress.of(path));
        left.close();   // the file stays, nobody listens: a crashed appliance's
        try (StatusServer server = start(path)) {
            assertEquals("{\"ok\":\"status\"}", StatusServer.query(path).strip());
        }
    }

    @Test
    void anotherUserIsRefusedEvenWhenTheSocketsModeLetsThemConnect() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to run a client as nobody");
        Path path = directory.resolve("control.sock");
        try (StatusServer server = start(path)) {
            Files.setPosixFilePermissions(directory, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
            // the server answers at once, before reading: the client reads first, then tries its command
            String client = "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('" + path + "')\n"
                    + "print(s.recv(4096).decode().strip())\ntry:\n    s.sendall(b'mode single\\n')\nexcept OSError:\n    pass";
            Process process = new ProcessBuilder("runuser", "-u", "nobody", "--", "python3", "-c", client)
                    .redirectErrorStream(true).start();
            String reply = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(process.waitFor(20, TimeUnit.SECONDS));
            assertTrue(reply.contains("only root may use this socket"), reply);
            assertEquals(List.of(), applied, "nothing applied for another user");
        }
    }
}
