package io.flowsec.dataplane.linux;

import io.flowsec.dataplane.lane.Offload;
import io.flowsec.dataplane.lane.UdpTunnelSocket;
import io.flowsec.dataplane.packet.Packet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batched UDP on real sockets over loopback: sendmmsg/recvmmsg, a GSO run that GRO hands over as one message and the
 * same run cut by the kernel when the receiver did not ask for GRO, every combination of paths between two tunnel
 * sockets carrying the same datagrams in the same order, and a run the kernel refuses falling back to single
 * datagrams (in a namespace of its own, whose loopback MTU is smaller than the run's segments).
 */
class UdpBatchingTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private final List<UdpSocket> opened = new ArrayList<>();
    private final Errno errno = new Errno();
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void close() {
        opened.forEach(UdpSocket::close);
        arena.close();
    }

    private UdpSocket open() throws NativeException {
        UdpSocket socket = UdpSocket.bind(LOOPBACK, 0, false);
        opened.add(socket);
        return socket;
    }

    private static byte[] payload(int seed, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (seed * 31 + i * 7);
        }
        return bytes;
    }

    private MemorySegment destination(UdpSocket socket) throws NativeException {
        return SocketAddress.of(arena, LOOPBACK, socket.localPort());
    }

    /** Receives through {@code batch} until something arrives (loopback delivers within microseconds). */
    private int receiveSome(DatagramReceiveBatch batch) throws InterruptedException {
        for (int attempt = 0; attempt < 2000; attempt++) {
            int received = batch.receive(errno);
            if (received > 0) {
                return received;
            }
            Thread.sleep(1);
        }
        return 0;
    }

    private static byte[] runOf(int segments, int segmentSize, int lastSize) {
        byte[] run = new byte[(segments - 1) * segmentSize + lastSize];
        for (int i = 0; i < segments; i++) {
            byte[] datagram = payload(i, i == segments - 1 ? lastSize : segmentSize);
            System.arraycopy(datagram, 0, run, i * segmentSize, datagram.length);
        }
        return run;
    }

    private static void appendRun(DatagramSendBatch batch, int segments, int segmentSize, int lastSize) {
        for (int i = 0; i < segments; i++) {
            byte[] datagram = payload(i, i == segments - 1 ? lastSize : segmentSize);
            batch.append(MemorySegment.ofArray(datagram), datagram.length);
        }
    }

    @Test
    void aGsoRunReachesAGroSocketAsOneMessageCutAtItsSegmentSize() throws Exception {
        UdpSocket sender = open();
        UdpSocket receiver = open();
        receiver.enableReceiveTrafficClass();
        receiver.enableReceiveCoalescing();
        sender.probeSendSegmentation();
        DatagramSendBatch send = sender.sendBatch(4, 1 << 20);
        assertTrue(send.startMessage(destination(receiver), 0xB8, 0));
        appendRun(send, 11, 1000, 300);
        long[] results = new long[4];
        send.send(errno, results);
        assertEquals(10_300, results[0]);
        assertEquals(0, send.count());

        DatagramReceiveBatch receive = receiver.receiveBatch(4, 65536);
        assertEquals(1, receiveSome(receive));
        assertEquals(10_300, receive.length(0));
        assertEquals(1000, receive.segmentSize(0));
        assertEquals(0xB8, receive.trafficClass(0));
        assertFalse(receive.truncated(0));
        MemorySegment copy = MemorySegment.ofArray(new byte[10_300]);
        receive.copy(0, 0, copy, 10_300);
        assertArrayEquals(runOf(11, 1000, 300), copy.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    @Test
    void withoutGroTheKernelCutsTheRunIntoItsDatagrams() throws Exception {
        UdpSocket sender = open();
        UdpSocket receiver = open();
        DatagramSendBatch send = sender.sendBatch(4, 1 << 20);
        send.startMessage(destination(receiver), 0, 0);
        appendRun(send, 5, 700, 699);
        long[] results = new long[4];
        send.send(errno, results);
        assertEquals(4 * 700 + 699, results[0]);

        DatagramReceiveBatch receive = receiver.receiveBatch(8, 65536);
        List<byte[]> datagrams = new ArrayList<>();
        while (datagrams.size() < 5) {
            int received = receiveSome(receive);
            assertTrue(received > 0, "the kernel delivered " + datagrams.size() + " of 5");
            for (int i = 0; i < received; i++) {
                assertEquals(0, receive.segmentSize(i));
                byte[] datagram = new byte[receive.length(i)];
                receive.copy(i, 0, MemorySegment.ofArray(datagram), datagram.length);
                datagrams.add(datagram);
            }
        }
        for (int i = 0; i < 5; i++) {
            assertArrayEquals(payload(i, i == 4 ? 699 : 700), datagrams.get(i));
        }
    }

    /** A lane-shaped traffic mix: runs of one flow, single datagrams, a DSCP change inside a flow, a short tail. */
    private static Packet[] traffic() {
        int[] lengths = {1200, 1200, 1200, 1200, 600, 80, 80, 1200, 1200, 1300, 1300, 1300, 90, 64, 64, 64, 64, 1200};
        int[] trafficClasses = {0, 0, 0, 0, 0, 0xB8, 0xB8, 0, 0, 0x02, 0x02, 0x03, 0, 0, 0, 0, 0, 0};
        Packet[] packets = new Packet[lengths.length];
        for (int i = 0; i < lengths.length; i++) {
            packets[i] = Packet.withRoomFor(2048);
            byte[] bytes = payload(100 + i, lengths[i]);
            packets[i].load(bytes, 0, bytes.length);
            packets[i].outerTrafficClass(trafficClasses[i]);
        }
        return packets;
    }

    private void roundTrip(UdpTunnelSocket.Paths senderPaths, UdpTunnelSocket.Paths receiverPaths) throws Exception {
        UdpSocket senderSocket = open();
        UdpSocket receiverSocket = open();
        UdpTunnelSocket sender = new UdpTunnelSocket(senderSocket, senderPaths);
        UdpTunnelSocket receiver = new UdpTunnelSocket(receiverSocket, receiverPaths);
        Packet[] packets = traffic();
        MemorySegment[] destinations = new MemorySegment[packets.length];
        Arrays.fill(destinations, destination(receiverSocket));
        long[] results = new long[packets.length];
        sender.send(packets, destinations, packets.length, results);
        for (int i = 0; i < packets.length; i++) {
            assertEquals(packets[i].length(), results[i], "datagram " + i + " with " + senderPaths);
        }

        Packet[] slots = new Packet[4];   // a small batch: a GRO run spans several receives
        for (int i = 0; i < slots.length; i++) {
            slots[i] = Packet.withRoomFor(65600);
        }
        int next = 0;
        for (int attempt = 0; next < packets.length && attempt < 2000; attempt++) {
            int received = receiver.receive(slots, 0, slots.length);
            for (int i = 0; i < received; i++, next++) {
                String where = "datagram " + next + " from " + senderPaths + " to " + receiverPaths;
                assertArrayEquals(packets[next].toByteArray(), slots[i].toByteArray(), where);
                assertEquals(packets[next].outerTrafficClass(), slots[i].outerTrafficClass(), where);
            }
            if (received == 0) {
                Thread.sleep(1);
            }
        }
        assertEquals(packets.length, next);
        assertFalse(receiver.hasPending());
    }

    @Test
    void everyCombinationOfPathsCarriesTheSameDatagramsInOrder() throws Exception {
        UdpTunnelSocket.Paths[] paths = {UdpTunnelSocket.Paths.ALL, UdpTunnelSocket.Paths.NONE,
                new UdpTunnelSocket.Paths(true, false, false), new UdpTunnelSocket.Paths(true, true, false)};
        for (UdpTunnelSocket.Paths senderPaths : paths) {
            for (UdpTunnelSocket.Paths receiverPaths : paths) {
                roundTrip(senderPaths, receiverPaths);
            }
        }
    }

    @Test
    void offloadsAreReportedAsAskedAndGranted() throws Exception {
        UdpTunnelSocket all = new UdpTunnelSocket(open(), UdpTunnelSocket.Paths.ALL);
        assertTrue(all.offloads().stream().allMatch(Offload::active), all.offloads().toString());
        UdpTunnelSocket none = new UdpTunnelSocket(open(), UdpTunnelSocket.Paths.NONE);
        assertTrue(none.offloads().stream().noneMatch(Offload::active), none.offloads().toString());
        assertTrue(none.offloads().stream().allMatch(o -> o.detail().equals("off")));
        UdpTunnelSocket gsoWithoutBatching = new UdpTunnelSocket(open(), new UdpTunnelSocket.Paths(false, true, true));
        assertEquals("needs udp-batching", gsoWithoutBatching.offloads().get(1).detail());
    }

    @Test
    void aRunTheKernelRefusesGoesOutOneDatagramAtATimeAndGsoStaysOff() throws Exception {
        try (NetnsFixture netns = NetnsFixture.create("fsgso")) {
            netns.ip("link", "set", "lo", "mtu", "1280");
            netns.inside(() -> {
                UdpSocket senderSocket = open();
                UdpSocket receiverSocket = open();
                UdpTunnelSocket sender = new UdpTunnelSocket(senderSocket, UdpTunnelSocket.Paths.ALL);
                UdpTunnelSocket receiver = new UdpTunnelSocket(receiverSocket, UdpTunnelSocket.Paths.ALL);
                Packet[] packets = new Packet[3];
                for (int i = 0; i < packets.length; i++) {
                    packets[i] = Packet.withRoomFor(2048);
                    byte[] bytes = payload(i, 1400);     // beyond the MTU: GSO refuses the run (EINVAL)
                    packets[i].load(bytes, 0, bytes.length);
                }
                MemorySegment[] destinations = new MemorySegment[3];
                Arrays.fill(destinations, destination(receiverSocket));
                long[] results = new long[3];
                sender.send(packets, destinations, 3, results);
                assertArrayEquals(new long[] {1400, 1400, 1400}, results);
                Offload gso = sender.offloads().get(1);
                assertFalse(gso.active());
                assertTrue(gso.detail().contains("refused"), gso.detail());

                Packet[] slots = {Packet.withRoomFor(65600), Packet.withRoomFor(65600), Packet.withRoomFor(65600)};
                int received = 0;
                for (int attempt = 0; received < 3 && attempt < 2000; attempt++) {
                    int now = receiver.receive(slots, received, 3 - received);
                    received += now;
                    if (now == 0) {
                        Thread.sleep(1);
                    }
                }
                assertEquals(3, received);
                for (int i = 0; i < 3; i++) {
                    assertArrayEquals(packets[i].toByteArray(), slots[i].toByteArray());
                }
                return null;
            });
        }
    }

    /** The batched paths allocate nothing per datagram: 5,000 batches of runs out and back, after a warm-up. */
    @Test
    void sendingAndReceivingBatchesAllocatesNothingPerDatagram() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        UdpSocket receiverSocket = open();
        receiverSocket.receiveBufferBytes(8 << 20);
        UdpTunnelSocket sender = new UdpTunnelSocket(open(), UdpTunnelSocket.Paths.ALL);
        UdpTunnelSocket receiver = new UdpTunnelSocket(receiverSocket, UdpTunnelSocket.Paths.ALL);
        Packet[] packets = traffic();
        MemorySegment[] destinations = new MemorySegment[packets.length];
        Arrays.fill(destinations, destination(receiverSocket));
        long[] results = new long[packets.length];
        Packet[] slots = new Packet[64];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = Packet.withRoomFor(65600);
        }
        exchange(sender, receiver, packets, destinations, results, slots, 20_000);
        // the least of three windows: a compilation finishing inside one (a deoptimisation, an OSR) may allocate once
        long allocated = Long.MAX_VALUE;
        for (int window = 0; window < 3; window++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            long received = exchange(sender, receiver, packets, destinations, results, slots, 5_000);
            allocated = Math.min(allocated, threads.getCurrentThreadAllocatedBytes() - before);
            assertTrue(received > 5_000L * packets.length / 2, "only " + received + " datagrams came back");
        }
        // nothing per datagram (one object each would be 16 bytes or more a datagram); in some compilations (seen
        // with other tests' profiles in the same JVM) the JDK's downcall stub slices the errno capture segment
        // (SharedUtils.checkCaptureSegment, 40 bytes) on each system call: per batch, not per packet, bounded here
        long datagrams = 5_000L * packets.length;
        assertTrue(allocated < datagrams * 4, allocated + " bytes allocated over " + datagrams + " datagrams out and back");
    }

    private static long exchange(UdpTunnelSocket sender, UdpTunnelSocket receiver, Packet[] packets,
                                 MemorySegment[] destinations, long[] results, Packet[] slots, int batches) {
        long received = 0;
        for (int i = 0; i < batches; i++) {
            sender.send(packets, destinations, packets.length, results);
            int now;
            while ((now = receiver.receive(slots, 0, slots.length)) > 0) {
                received += now;
            }
        }
        return received;
    }
}
