package io.flowsec.testbed.system;

import io.flowsec.testbed.demo.Topology;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
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

    /**
     * Sends {@code perFlow} 400-byte datagrams on each of {@code flows} flows (source ports 20000 on) from host A to
     * host B's {@code port}; returns how many host B received.
     */
    static int udpFlows(Topology topology, int flows, int perFlow, int port) throws Exception {
        CompletableFuture<Integer> received = in(topology.hostB(), () -> {
            try (DatagramSocket socket = new DatagramSocket(port,
                    InetAddress.getByName(Topology.HOST_B_ADDRESS))) {
                socket.setSoTimeout(1500);
                // the routers deliver a burst at once (GRO runs, batches): host B's socket, not the tunnel, would
                // drop what its thread is too slow to take on a loaded machine
                socket.setReceiveBufferSize(4 << 20);
                byte[] buffer = new byte[2048];
                int count = 0;
                try {
                    while (true) {
                        socket.receive(new DatagramPacket(buffer, buffer.length));
                        count++;
                    }
                } catch (SocketTimeoutException done) {
                    return count;
                }
            }
        });
        Thread.sleep(200);
        in(topology.hostA(), () -> {
            InetSocketAddress target = new InetSocketAddress(Topology.HOST_B_ADDRESS, port);
            byte[] payload = new byte[400];
            for (int flow = 0; flow < flows; flow++) {
                try (DatagramSocket socket = new DatagramSocket(
                        new InetSocketAddress(Topology.HOST_A_ADDRESS, 20000 + flow))) {
                    for (int i = 0; i < perFlow; i++) {
                        socket.send(new DatagramPacket(payload, payload.length, target));
                    }
                }
                Thread.sleep(2);
            }
            return null;
        }).get(60, TimeUnit.SECONDS);
        return received.get(60, TimeUnit.SECONDS);
    }
}
