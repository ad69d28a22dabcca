package io.flowsec.testbed.bench;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MessageBenchTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final int MESSAGE = 1000;
    private static final int PER_CONNECTION = 10;

    @Test
    void every_whole_message_the_client_sends_reaches_the_server_over_many_short_connections() throws Exception {
        try (MessageServer server = MessageServer.start(null, LOOPBACK, 0, 2)) {
            MessageClient client = MessageClient.start(null, null, new InetSocketAddress(LOOPBACK, server.port()),
                    2, 8, MESSAGE, PER_CONNECTION);
            try {
                Thread.sleep(1000);
                assertTrue(threadsNamed("bench-server-") == 2 && threadsNamed("bench-client-") == 2,
                        "two server and two client threads run");
            } finally {
                client.close();
            }
            assertEquals(0, threadsNamed("bench-client-"), "close() joined the client threads");
            long sent = client.sentBytes();
            long received = settledReceivedBytes(server);

            assertEquals(sent, received, "the server received exactly the whole messages the client counted");
            assertEquals(0, sent % MESSAGE, "only whole messages count");
            assertEquals(client.sentMessages() * MESSAGE, sent);
            assertTrue(client.connections() >= 2 * 16,
                    "the 16 connections reconnected: " + client.connections() + " connections");
            assertTrue(client.sentMessages() >= client.connections(), "each established connection sends");
            assertEquals(0, client.errors(), "no connection failed");
            // connects under way when the client stopped may be accepted but not counted, or counted but not accepted
            long inFlight = 2 * 8;
            assertTrue(Math.abs(server.acceptedConnections() - client.connections()) <= inFlight,
                    "accepted " + server.acceptedConnections() + " of " + client.connections() + " connections");
            long[] perWorker = server.acceptedPerWorker();
            assertTrue(perWorker[0] > 0 && perWorker[1] > 0,
                    "SO_REUSEPORT spread the connections over both workers: " + Arrays.toString(perWorker));
            assertEquals(0, server.errors());
        }
        assertEquals(0, threadsNamed("bench-server-"), "close() joined the server threads");
    }

    @Test
    void a_message_under_way_when_the_client_stops_is_finished_not_cut() throws Exception {
        // 1 MiB messages outgrow the socket buffers and connections that never finish their messages do not
        // reconnect, so close() finds both connections in the middle of a message: cut there, the server would
        // receive bytes the client never counted
        int size = 1 << 20;
        try (MessageServer server = MessageServer.start(null, LOOPBACK, 0, 1)) {
            MessageClient client = MessageClient.start(null, LOOPBACK,
                    new InetSocketAddress(LOOPBACK, server.port()), 1, 2, size, 100_000);
            try {
                Thread.sleep(300);
            } finally {
                client.close();
            }
            long sent = client.sentBytes();
            assertTrue(sent > 0, "the client sent");
            assertEquals(sent, settledReceivedBytes(server), "no half message reached the server");
            assertEquals(0, sent % size);
            assertEquals(2, client.connections());
        }
    }

    @Test
    void a_client_of_a_closed_port_counts_errors_backs_off_and_closes() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, LOOPBACK)) {
            port = probe.getLocalPort(); // closed again when the client starts
        }
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        MessageClient client = MessageClient.start(null, null, new InetSocketAddress(LOOPBACK, port), 1, 4, MESSAGE,
                PER_CONNECTION);
        long errors;
        long cpuNanos;
        try {
            Thread worker = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("bench-client-0")).findFirst().orElseThrow();
            long cpuBefore = threads.getThreadCpuTime(worker.threadId());
            long errorsBefore = client.errors();
            Thread.sleep(1000);
            errors = client.errors() - errorsBefore;
            cpuNanos = threads.getThreadCpuTime(worker.threadId()) - cpuBefore;
            assertTrue(worker.isAlive(), "the worker keeps running through the failures");
        } finally {
            client.close();
        }
        // 4 connections retrying every 10 ms: at most about 400 failures a second
        assertTrue(errors >= 4 && errors < 1000, errors + " failed connects in 1 s");
        assertTrue(cpuNanos < TimeUnit.MILLISECONDS.toNanos(300),
                "the worker does not spin: " + cpuNanos / 1_000_000 + " ms CPU in 1 s");
        assertEquals(0, client.connections());
        assertEquals(0, client.sentBytes());
        assertEquals(0, threadsNamed("bench-client-"), "close() joined the client thread");
    }

    @Test
    void a_port_taken_by_a_listener_without_SO_REUSEPORT_fails_the_server_start() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, LOOPBACK)) {
            IOException e = assertThrows(IOException.class,
                    () -> MessageServer.start(null, LOOPBACK, taken.getLocalPort(), 2));
            assertTrue(e.getMessage().contains("could not listen"), e.getMessage());
        }
        assertEquals(0, threadsNamed("bench-server-"), "the failed start left no thread behind");
    }

    /** The server's byte count once it has stopped growing (bounded). */
    private static long settledReceivedBytes(MessageServer server) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long last = server.receivedBytes();
        int stableRounds = 0;
        while (stableRounds < 6 && System.nanoTime() < deadline) {
            Thread.sleep(50);
            long now = server.receivedBytes();
            stableRounds = now == last ? stableRounds + 1 : 0;
            last = now;
        }
        return last;
    }

    private static long threadsNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith(prefix)).count();
    }
}
