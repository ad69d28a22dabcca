package io.flowsec.testbed.system;

import io.flowsec.testbed.demo.Topology;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static io.flowsec.testbed.demo.InNamespace.in;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** What system tests send through the tunnel: one TCP transfer host A → host B, checked by its SHA-256. */
final class Transfers {
    private Transfers() {
    }

    /**
     * Sends {@code bytes} seeded by {@code port} from host A to host B on {@code port}, runs {@code during} while it
     * flows, and checks that host B received exactly them. A stalled transfer fails with {@code diagnostics}.
     */
    static void checksummed(Topology topology, int bytes, int port, Callable<Void> during, Supplier<String> diagnostics)
            throws Exception {
        byte[] data = new byte[bytes];
        new Random(port).nextBytes(data);
        byte[] expected = MessageDigest.getInstance("SHA-256").digest(data);
        CompletableFuture<byte[]> received = in(topology.hostB(), () -> receiveAndDigest(port, bytes));
        Thread.sleep(300);
        CompletableFuture<Object> sent = in(topology.hostA(), () -> {
            try (Socket socket = new Socket(Topology.HOST_B_ADDRESS, port); OutputStream out = socket.getOutputStream()) {
                out.write(data);
            }
            return null;
        });
        during.call();
        try {
            sent.get(40, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("transfer stalled; " + diagnostics.get(), e);
        }
        assertArrayEquals(expected, received.get(120, TimeUnit.SECONDS), "SHA-256 of the transfer");
    }

    /** Host B's side, run in its namespace: accepts one connection on {@code port}, checks its length, digests it. */
    static byte[] receiveAndDigest(int port, int bytes) throws Exception {
        try (ServerSocket server = new ServerSocket(port, 1, InetAddress.getByName(Topology.HOST_B_ADDRESS))) {
            server.setSoTimeout(30_000);
            try (Socket socket = server.accept(); InputStream in = socket.getInputStream()) {
                MessageDigest digest = MessageDigest.getInstance("SHA-256");
                byte[] buffer = new byte[65536];
                long total = 0;
                int n;
                while ((n = in.read(buffer)) > 0) {
                    digest.update(buffer, 0, n);
                    total += n;
                }
                assertEquals(bytes, total, "bytes received");
                return digest.digest();
            }
        }
    }
}
