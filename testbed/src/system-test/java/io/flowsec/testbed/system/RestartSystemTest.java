package io.flowsec.testbed.system;

import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.testbed.demo.ApplianceProcess;
import io.flowsec.testbed.demo.Topology;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.flowsec.testbed.demo.InNamespace.in;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Restarts with manually keyed AES-GCM SAs (issue 9, section 1): a sender killed mid-transfer never repeats a
 * (SPI, sequence number) pair, so never a nonce, and its running peer takes it back; packets captured before both
 * ends restarted are all dropped as replays; an appliance that lost its state directory refuses its AEAD SAs. Needs
 * root and tcpdump; everything it makes is removed even when a test fails.
 */
@TestMethodOrder(MethodOrderer.MethodName.class)
class RestartSystemTest {
    private static final String PREFIX = "fsr" + ProcessHandle.current().pid() % 100000;

    @TempDir
    static Path directory;
    private static Topology topology;
    private static ApplianceProcess routerA;
    private static ApplianceProcess routerB;

    @BeforeAll
    static void buildTopology() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "system tests need root (namespaces, TUN)");
        topology = Topology.create(PREFIX);
        routerA = start(topology.routerA(), "router-a", true);
        routerB = start(topology.routerB(), "router-b", true);
    }

    @AfterAll
    static void tearDown() throws Exception {
        for (ApplianceProcess router : new ApplianceProcess[] {routerA, routerB}) {
            if (router != null) {
                router.close();
            }
        }
        if (topology != null) {
            topology.close();
        }
    }

    private static Path config(String name) throws Exception {
        boolean a = name.equals("router-a");
        return RouterConfigs.config(directory, name, a ? "site-a.sa.json" : "site-b.sa.json",
                a ? "10.2.0.0/16" : "10.1.0.0/16", true);
    }

    /** Starts a router; {@code freshSaState} false runs it as production does, refusing AEAD SAs without state. */
    private static ApplianceProcess start(String namespace, String name, boolean freshSaState) throws Exception {
        return ApplianceProcess.start(namespace, config(name), directory.resolve(name + ".sock"),
                directory.resolve(name + ".log"), Map.of(), freshSaState);
    }

    private static JsonObject status(ApplianceProcess router) throws IOException {
        return new JsonObject(StatusServer.query(router.statusSocket()));
    }

    /** Both routers' outcomes and I/O counters, for a failure's message. */
    private static String diagnosis() {
        StringBuilder text = new StringBuilder();
        for (ApplianceProcess router : new ApplianceProcess[] {routerA, routerB}) {
            try {
                JsonObject status = status(router);
                text.append("\n").append(router.statusSocket().getFileName()).append(": ")
                        .append(status.getJsonObject("totals").encode()).append(" lanes ").append(status.getJsonArray("lanes").encode());
            } catch (IOException | RuntimeException e) {
                text.append("\n").append(router.statusSocket().getFileName()).append(": ").append(e);
            }
        }
        return text.toString();
    }

    private static long total(JsonObject status, String outcome) {
        return status.getJsonObject("totals").getLong(outcome, 0L);
    }

    @Test
    void a_aSenderKilledMidTransferResumesPastEveryNumberItUsedAndItsRunningPeerTakesItBack() throws Exception {
        int bytes = 256 << 20;
        byte[] data = new byte[bytes];
        new Random(5101).nextBytes(data);
        byte[] expected = MessageDigest.getInstance("SHA-256").digest(data);
        try (TunnelCapture capture = TunnelCapture.start(topology, directory.resolve("kill.pcap"), 64)) {
            CompletableFuture<byte[]> received = in(topology.hostB(), () -> Transfers.receiveAndDigest(5101, bytes));
            Thread.sleep(300);
            CompletableFuture<Object> sent = in(topology.hostA(), () -> {
                try (Socket socket = new Socket(Topology.HOST_B_ADDRESS, 5101); OutputStream out = socket.getOutputStream()) {
                    out.write(data);
                }
                return null;
            });
            Thread.sleep(700);
            assertFalse(sent.isDone(), "the transfer is still running when router A is killed");
            routerA.kill();
            routerA = start(topology.routerA(), "router-a", false);   // its state survived the kill
            sent.get(90, TimeUnit.SECONDS);
            assertArrayEquals(expected, received.get(90, TimeUnit.SECONDS), "SHA-256 of the transfer across the kill");

            List<TunnelCapture.Datagram> datagrams = capture.espDatagrams();
            Set<Long> seen = new HashSet<>();
            int repeated = 0;
            for (TunnelCapture.Datagram datagram : datagrams) {
                if (!seen.add(((long) datagram.spi() << 32) | datagram.sequence())) {
                    repeated++;
                }
            }
            long sentAfterRestart = 0;
            for (Object lane : status(routerA).getJsonArray("lanes")) {
                sentAfterRestart += ((JsonObject) lane).getJsonObject("io").getLong("tunnel-datagrams-sent");
            }
            assertEquals(0, repeated, "no (SPI, sequence number) twice among " + datagrams.size() + " ESP datagrams");
            assertTrue(sentAfterRestart > 1000 && datagrams.size() > sentAfterRestart,
                    "captured from both of router A's lives: " + datagrams.size() + ", " + sentAfterRestart + " after the kill");
            assertEquals(0, total(status(routerB), "replay"), "router B took back router A's traffic, no replays");
            System.out.printf("killed sender: %d ESP datagrams captured, %d after the restart, none repeated%n",
                    datagrams.size(), sentAfterRestart);
        }
    }

    @Test
    void b_packetsCapturedBeforeBothEndsRestartedAreAllDroppedAsReplays() throws Exception {
        int count = 300;
        List<TunnelCapture.Datagram> captured;
        try (TunnelCapture capture = TunnelCapture.start(topology, directory.resolve("replay.pcap"), 0)) {
            int before = sendUdp(7001, count);
            assertEquals(count, before, "host B received every datagram before the restart" + diagnosis());
            captured = capture.espDatagrams();
        }
        assertTrue(captured.size() >= count, "captured " + captured.size());

        routerA.kill();           // a crash: its marks stay the blocks reserved ahead
        routerB.close();          // a clean stop: its marks are exactly the highest numbers accepted
        routerB = start(topology.routerB(), "router-b", false);
        long replaysBefore = total(status(routerB), "replay");

        // router A stays down while its captured datagrams go out again from its own address and ports
        CompletableFuture<Integer> atHostB = in(topology.hostB(), () -> countUdp(7001, 3_000));
        Thread.sleep(300);
        in(topology.routerA(), () -> {
            Map<Integer, DatagramSocket> byPort = new java.util.HashMap<>();
            try {
                for (TunnelCapture.Datagram datagram : captured) {
                    DatagramSocket socket = byPort.computeIfAbsent(datagram.sourcePort(), port -> bound(port));
                    socket.send(new DatagramPacket(datagram.payload(), datagram.payload().length,
                            new InetSocketAddress(Topology.ROUTER_B_TUNNEL_ADDRESS, 4500)));
                }
            } finally {
                byPort.values().forEach(DatagramSocket::close);
            }
            return null;
        }).get(30, TimeUnit.SECONDS);
        assertEquals(0, atHostB.get(30, TimeUnit.SECONDS), "nothing replayed reached host B");
        JsonObject after = status(routerB);
        assertEquals(captured.size(), total(after, "replay") - replaysBefore, "every replayed datagram dropped as a replay: "
                + after.getJsonObject("totals").encode());

        routerA = start(topology.routerA(), "router-a", false);
        int after2 = sendUdp(7002, count);
        assertEquals(count, after2, "after both restarts the tunnel carries traffic again" + diagnosis());
    }

    private static DatagramSocket bound(int port) {
        try {
            return new DatagramSocket(new InetSocketAddress(Topology.ROUTER_A_TUNNEL_ADDRESS, port));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Sends {@code count} datagrams from host A to host B's {@code port}; returns how many host B received. */
    private static int sendUdp(int port, int count) throws Exception {
        CompletableFuture<Integer> received = in(topology.hostB(), () -> countUdp(port, 2_000));
        Thread.sleep(300);
        in(topology.hostA(), () -> {
            try (DatagramSocket socket = new DatagramSocket()) {
                for (int i = 0; i < count; i++) {
                    byte[] payload = ("datagram " + i).getBytes();
                    socket.send(new DatagramPacket(payload, payload.length, new InetSocketAddress(Topology.HOST_B_ADDRESS, port)));
                    if (i % 50 == 49) {
                        Thread.sleep(5);
                    }
                }
            }
            return null;
        }).get(30, TimeUnit.SECONDS);
        return received.get(30, TimeUnit.SECONDS);
    }

    /** Counts the datagrams arriving on {@code port} until none came for {@code quietMs}. */
    private static int countUdp(int port, int quietMs) throws IOException {
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(Topology.HOST_B_ADDRESS, port))) {
            socket.setSoTimeout(quietMs);
            int count = 0;
            byte[] buffer = new byte[2048];
            while (true) {
                try {
                    socket.receive(new DatagramPacket(buffer, buffer.length));
                    count++;
                } catch (SocketTimeoutException quiet) {
                    return count;
                }
            }
        }
    }

    @Test
    void c_anApplianceWhoseStateDirectoryIsGoneRefusesItsManuallyKeyedAeadSas() throws Exception {
        routerB.close();
        Path state = directory.resolve("router-b-state");
        Path pulled = directory.resolve("router-b-state.pulled");
        Files.move(state, pulled);
        try {
            IOException refused = assertThrows(IOException.class, () -> start(topology.routerB(), "router-b", false));
            String message = refused.getMessage();
            assertTrue(message.contains("no sequence state for this manually keyed aes-gcm-128 SA")
                    && message.contains("--fresh-sa-state"), message);
            assertFalse(message.contains("\tat "), "a clear message, not a stack trace: " + message);
        } finally {
            if (Files.isDirectory(state)) {
                try (var files = Files.list(state)) {
                    for (Path file : files.toList()) {
                        Files.delete(file);
                    }
                }
                Files.delete(state);
            }
            Files.move(pulled, state);
            routerB = start(topology.routerB(), "router-b", false);
        }
        int back = sendUdp(7003, 50);
        assertEquals(50, back, "with its state back it carries traffic again" + diagnosis());
    }
}
