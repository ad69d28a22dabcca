package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.Syscalls;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.linux.UdpSocket;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A TUN queue's reads and writes through the io_uring of the loop that serves it ({@link TunRing}), on a datagram
 * socket pair or a UDP socket standing in for the TUN queue (no root): reads come in the queue's order and in bursts,
 * writes leave in order, a write the kernel refuses is counted when it completes, and a ring whose reads fail hands
 * reading back to system calls.
 */
class TunRingTest {
    private static final int SOCK_STREAM = 1;
    private static final int SO_SNDBUFFORCE = 32;

    private int[] pair;
    private TunDevice device;
    private MultiThreadIoEventLoopGroup group;

    @BeforeEach
    void socketPair() throws Exception {
        pair = Syscalls.socketpair(Syscalls.AF_UNIX, Syscalls.SOCK_DGRAM | Syscalls.SOCK_NONBLOCK | Syscalls.SOCK_CLOEXEC);
        device = TunDevice.adopt("fsring0", new int[] {pair[0]});
    }

    @AfterEach
    void close() throws Exception {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        device.close();
        if (pair[1] >= 0) {
            Syscalls.close(pair[1]);
        }
    }

    @Test
    void readsArriveInTheQueuesOrderInBurstsNotAReadPerPacket() throws Exception {
        IoEventLoop loop = ioUringLoop();
        // a UDP socket on loopback stands in for the TUN queue here: its queue holds hundreds of datagrams
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (UdpSocket receiver = UdpSocket.bind(loopback, 0, false); UdpSocket sender = UdpSocket.bind(loopback, 0, false);
             Arena arena = Arena.ofConfined()) {
            TunDevice udpDevice = TunDevice.adopt("fsring1", new int[] {receiver.fd()});
            TunSiteQueue queue = new TunSiteQueue(udpDevice, 0, false, true);
            Packet[] slots = slots(Lane.BATCH);
            List<Integer> received = new CopyOnWriteArrayList<>();   // filled on the loop, read here
            AtomicInteger drains = new AtomicInteger();
            LaneIo io = LaneIo.serveSite(queue, () -> {
                int read = queue.read(slots, 0, Lane.BATCH);
                for (int i = 0; i < read; i++) {
                    received.add(Bytes.i32(slots[i].buffer(), slots[i].offset()));
                }
                if (read > 0) {
                    drains.incrementAndGet();
                }
                return read;
            }, loop);
            awaitTrue(() -> ring(queue).active(), "the ring starts: " + ring(queue));

            // 1. while the lane is paused, the packets wait in the kernel's queue
            io.pause().sync();
            Errno errno = new Errno();
            MemorySegment destination = SocketAddress.of(arena, loopback, receiver.localPort());
            int packets = 200;
            for (int i = 0; i < packets; i++) {
                byte[] packet = new byte[100];
                Bytes.i32(packet, 0, i);
                assertEquals(packet.length, sender.send(errno, MemorySegment.ofArray(packet), destination), "datagram " + i);
            }
            Thread.sleep(100);
            assertEquals(0, drains.get(), "paused: nothing read");

            // 2. resumed, bursts of reads take them, in order, a batch at a time
            io.resume().sync();
            awaitTrue(() -> received.size() == packets, "all " + packets + " packets read: " + received.size());
            List<Integer> expected = new ArrayList<>();
            for (int i = 0; i < packets; i++) {
                expected.add(i);
            }
            assertEquals(expected, received, "the queue's order");
            assertTrue(drains.get() <= packets / TunRing.MIN_BURST, "read in bursts, not a drain per packet: "
                    + drains.get() + " drains for " + packets + " packets");
            io.close();
        }
    }

    /**
     * The ring's reads and writes allocate nothing per packet on the lane's thread: packets read from a UDP socket
     * (the TUN queue's stand-in) are written to a stream socket pair through a second ring, a thread empties the pair,
     * and the loop thread's allocation over 20,000 packets is measured after a warm-up. None of the writes may have
     * fallen back to a system call (which, before it is compiled, allocates in the JDK's errno capture).
     */
    @Test
    void readingAndWritingThroughTheRingAllocatesNothingPerPacket() throws Exception {
        IoEventLoop loop = ioUringLoop();
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (UdpSocket receiver = UdpSocket.bind(loopback, 0, false); UdpSocket sender = UdpSocket.bind(loopback, 0, false);
             Arena arena = Arena.ofConfined()) {
            receiver.receiveBufferBytes(4 << 20);
            TunSiteQueue in = new TunSiteQueue(TunDevice.adopt("fsring2", new int[] {receiver.fd()}), 0, false, true);
            // the written side is a stream pair with room for thousands of packets: a datagram pair queues 10 at
            // most, and writes waiting on its reader would run the ring out of buffers, where a TUN queue takes each
            // write at once
            int[] sink = Syscalls.socketpair(Syscalls.AF_UNIX, SOCK_STREAM | Syscalls.SOCK_NONBLOCK | Syscalls.SOCK_CLOEXEC);
            sendBufferBytes(sink[0], 16 << 20);
            TunDevice sinkDevice = TunDevice.adopt("fsring3", new int[] {sink[0]});
            TunSiteQueue out = new TunSiteQueue(sinkDevice, 0, false, true);
            Packet[] slots = slots(Lane.BATCH);
            long[] results = new long[Lane.BATCH];
            AtomicLong carried = new AtomicLong();
            LaneIo readSide = LaneIo.serveSite(in, () -> {
                int read = in.read(slots, 0, Lane.BATCH);
                out.write(slots, read, results);
                carried.addAndGet(read);
                return read;
            }, loop);
            LaneIo writeSide = LaneIo.serveSite(out, () -> 0, loop);
            awaitTrue(() -> ring(in).active() && ring(out).active(), "both rings start");
            long loopThread = loop.submit(() -> Thread.currentThread().threadId()).get();
            AtomicBoolean draining = new AtomicBoolean(true);
            Thread drainer = Thread.ofPlatform().start(() -> {
                Errno drainErrno = new Errno();
                MemorySegment buffer = MemorySegment.ofArray(new byte[64 << 10]);
                while (draining.get()) {
                    if (Syscalls.read(drainErrno, sink[1], buffer) < 0) {
                        Thread.onSpinWait();
                    }
                }
            });
            try {
                MemorySegment destination = SocketAddress.of(arena, loopback, receiver.localPort());
                MemorySegment datagram = arena.allocate(100);
                Errno errno = new Errno();
                carry(sender, errno, datagram, destination, carried, 20_000);   // warm-up: compiled, queues grown
                long allocated = Long.MAX_VALUE;
                long packets = 0;
                for (int window = 0; window < 3; window++) {
                    long before = threads.getThreadAllocatedBytes(loopThread);
                    long windowPackets = carry(sender, errno, datagram, destination, carried, 20_000);
                    long bytes = threads.getThreadAllocatedBytes(loopThread) - before;
                    if (bytes < allocated) {
                        allocated = bytes;
                        packets = windowPackets;
                    }
                }
                // one object per packet would be 16 bytes or more a packet; what the loop allocates per turn is less
                assertTrue(packets >= 10_000, "only " + packets + " packets carried");
                assertTrue(allocated < packets * 4, allocated + " bytes allocated by the loop over " + packets
                        + " packets read and written");
                assertEquals(0L, loop.submit(out::ringWritesRefused).get(), "writes that found every ring buffer in flight");
            } finally {
                draining.set(false);
                drainer.join();
                readSide.close();
                writeSide.close();
                sinkDevice.close();
                Syscalls.close(sink[1]);
            }
        }
    }

    private static void sendBufferBytes(int fd, int bytes) throws Exception {
        try {
            Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, SO_SNDBUFFORCE, bytes, "SO_SNDBUFFORCE");
        } catch (NativeException notPrivileged) {
            Syscalls.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_SNDBUF, bytes, "SO_SNDBUF");
        }
    }

    /** Sends {@code count} datagrams and waits until the loop carried them (or 5 s passed); returns how many it did. */
    private static long carry(UdpSocket sender, Errno errno, MemorySegment datagram, MemorySegment destination,
                              AtomicLong carried, int count) throws InterruptedException {
        long start = carried.get();
        for (int i = 0; i < count; i++) {
            sender.send(errno, datagram, 100, destination);
            if ((i & 63) == 63) {
                Thread.onSpinWait();
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        long last = -1;
        while (System.nanoTime() < deadline && carried.get() != last) {
            last = carried.get();
            Thread.sleep(20);
        }
        return carried.get() - start;
    }

    @Test
    void writesLeaveInOrderOneSubmissionForTheBatch() throws Exception {
        LaneCounters counters = new LaneCounters();
        TunSiteQueue queue = new TunSiteQueue(device, 0, false, true);
        LaneIo io = serveForWriting(queue, counters);
        int count = 8;   // a datagram socket pair queues 10 at most
        long[] results = new long[count];
        Packet[] out = slots(count);
        for (int i = 0; i < count; i++) {
            byte[] packet = new byte[60 + i];
            Bytes.i32(packet, 0, 1000 + i);
            out[i].load(packet, 0, packet.length);
        }
        io.run(() -> queue.write(out, count, results)).sync();
        Errno errno = new Errno();
        byte[] buffer = new byte[2048];
        int taken = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (taken < count && System.nanoTime() < deadline) {
            long length = Syscalls.read(errno, pair[1], MemorySegment.ofArray(buffer));
            if (length < 0) {
                Thread.sleep(1);
                continue;
            }
            assertEquals(60 + taken, length);
            assertEquals(1000 + taken, Bytes.i32(buffer, 0), "write " + taken + " in order");
            assertEquals(60 + taken, results[taken]);
            taken++;
        }
        assertEquals(count, taken, "every write left");
        assertEquals(0, counters.io(IoCounter.TUN_WRITE_ERRORS));
        io.close();
    }

    @Test
    void superpacketsGoByASystemCallBothWaysAndSmallPacketsBackToTheRing() throws Exception {
        IoEventLoop loop = ioUringLoop();
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (UdpSocket receiver = UdpSocket.bind(loopback, 0, false); UdpSocket sender = UdpSocket.bind(loopback, 0, false);
             Arena arena = Arena.ofConfined()) {
            TunSiteQueue in = new TunSiteQueue(TunDevice.adopt("fsring3", new int[] {receiver.fd()}), 0, false, true);
            Packet[] slots = slots(Lane.BATCH);
            List<Integer> lengths = new CopyOnWriteArrayList<>();
            LaneIo io = LaneIo.serveSite(in, () -> {
                int read = in.read(slots, 0, Lane.BATCH);
                for (int i = 0; i < read; i++) {
                    lengths.add(slots[i].length());
                }
                return read;
            }, loop);
            awaitTrue(() -> ring(in).active(), "the ring starts");
            Errno errno = new Errno();
            MemorySegment destination = SocketAddress.of(arena, loopback, receiver.localPort());
            MemorySegment large = arena.allocate(20_000);
            MemorySegment small = arena.allocate(100);

            // 1. 20 KB packets: after the first drain, the queue reads them itself
            for (int i = 0; i < 5; i++) {
                assertEquals(20_000, sender.send(errno, large, 20_000, destination));
            }
            awaitTrue(() -> lengths.size() == 5, "5 large packets read: " + lengths);
            awaitTrue(() -> onLoop(io, in::chooseDirectReads), "reads go direct after superpackets");
            // 2. small ones again: back to the ring's bursts, nothing lost or reordered on the way
            for (int i = 0; i < 20; i++) {
                assertEquals(100, sender.send(errno, small, 100, destination));
            }
            awaitTrue(() -> lengths.size() == 25, "20 small packets read: " + lengths);
            awaitTrue(() -> !onLoop(io, in::chooseDirectReads), "small packets go back to the ring");
            assertEquals(java.util.Collections.nCopies(5, 20_000), lengths.subList(0, 5));
            assertEquals(java.util.Collections.nCopies(20, 100), lengths.subList(5, 25));

            // 3. writes: a batch with a superpacket by system calls (nothing in the ring), a small one on the ring
            TunSiteQueue out = new TunSiteQueue(device, 0, false, true);
            LaneIo writeSide = LaneIo.serveSite(out, () -> 0, loop);
            awaitTrue(() -> ring(out).active(), "the ring starts");
            Packet[] batch = slots(2);
            batch[0].load(new byte[100], 0, 100);
            batch[1].load(new byte[5000], 0, 5000);
            long[] results = new long[2];
            assertEquals(0, (int) loop.submit(() -> {
                out.write(batch, 2, results);
                return out.ring().writesInFlight();
            }).get(), "a batch with a superpacket: written by system calls");
            assertEquals(5000, results[1]);
            assertEquals(1, (int) loop.submit(() -> {
                out.write(batch, 1, results);
                return out.ring().writesInFlight();
            }).get(), "a small batch: queued on the ring");
            byte[] buffer = new byte[8192];
            List<Long> arrived = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (arrived.size() < 3 && System.nanoTime() < deadline) {
                long length = Syscalls.read(errno, pair[1], MemorySegment.ofArray(buffer));
                if (length > 0) {
                    arrived.add(length);
                } else {
                    Thread.sleep(1);
                }
            }
            assertEquals(List.of(100L, 5000L, 100L), arrived, "in order");
            writeSide.close();
            io.close();
        }
    }

    /** {@code queue} counting into {@code counters}, served on an io_uring loop that reads nothing, its ring started. */
    private LaneIo serveForWriting(TunSiteQueue queue, LaneCounters counters) throws Exception {
        queue.countInto(counters);
        LaneIo io = LaneIo.serveSite(queue, () -> 0, ioUringLoop());
        awaitTrue(() -> ring(queue).active(), "the ring starts");
        return io;
    }

    private static boolean onLoop(LaneIo io, BooleanSupplier question) {
        try {
            return io.loop().submit(question::getAsBoolean).get();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aWriteTheKernelRefusesIsCountedWhenItCompletes() throws Exception {
        LaneCounters counters = new LaneCounters();
        TunSiteQueue queue = new TunSiteQueue(device, 0, false, true);
        LaneIo io = serveForWriting(queue, counters);
        Syscalls.close(pair[1]);   // the peer is gone: every write fails
        pair[1] = -1;
        Packet[] out = slots(3);
        for (Packet packet : out) {
            packet.load(new byte[80], 0, 80);
        }
        long[] results = new long[3];
        io.run(() -> queue.write(out, 3, results)).sync();
        assertEquals(80, results[0], "queued: the verdict comes with the completion");
        awaitTrue(() -> counters.io(IoCounter.TUN_WRITE_ERRORS) == 3, "three refusals counted: "
                + counters.io(IoCounter.TUN_WRITE_ERRORS));
        io.close();
    }

    @Test
    void whenTheRingsReadsFailTheQueueReadsWithSystemCallsAgain() throws Exception {
        TunSiteQueue queue = new TunSiteQueue(device, 0, false, true);
        TunRing ring = new TunRing(pair[0], Lane.MAX_PACKET);
        List<IoOps> submitted = new ArrayList<>();
        ring.attach(new RecordingRegistration(submitted));
        queue.useRing(ring);
        int burst = ring.postBurst();
        assertEquals(TunRing.MIN_BURST, burst);
        assertEquals(burst, submitted.size());
        for (int i = 0; i < burst; i++) {
            int data = ring.readBufferOf(submitted.get(i));
            assertEquals(i == burst - 1, ring.onCompletion(TunRing.IORING_OP_READ, data, -Errno.EINVAL),
                    "the burst ends with its last completion");
        }
        assertEquals(Errno.EINVAL, ring.readFailure());
        assertEquals(0, ring.postBurst(), "no reads after a failure");
        queue.ringReadsFailed(ring.readFailure());
        assertFalse(ring(queue).active());
        assertTrue(ring(queue).detail().contains("errno 22"), ring(queue).detail());

        Errno errno = new Errno();
        byte[] packet = new byte[90];
        Bytes.i32(packet, 0, 7);
        assertEquals(90, Syscalls.write(errno, pair[1], MemorySegment.ofArray(packet)));
        Packet[] slots = slots(4);
        assertEquals(1, queue.read(slots, 0, 4), "read by a system call");
        assertEquals(7, Bytes.i32(slots[0].buffer(), slots[0].offset()));
        assertEquals(90, slots[0].length());
    }

    @Test
    void aBurstThatFindsNoEndIsFollowedByOneTwiceTheSize() throws Exception {
        TunRing ring = new TunRing(pair[0], Lane.MAX_PACKET);
        List<IoOps> submitted = new ArrayList<>();
        ring.attach(new RecordingRegistration(submitted));
        assertEquals(TunRing.MIN_BURST, ring.postBurst());
        assertEquals(0, ring.postBurst(), "one burst at a time");
        for (int i = 0; i < TunRing.MIN_BURST; i++) {
            ring.onCompletion(TunRing.IORING_OP_READ, ring.readBufferOf(submitted.get(i)), 100);
        }
        assertFalse(ring.burstFoundEnd(), "every read found a packet");
        assertEquals(2 * TunRing.MIN_BURST, ring.postBurst(), "the buffers the lane still holds are not posted");
        assertTrue(ring.hasCompletedReads());
    }

    /** Takes the ring's submissions and keeps them; the test completes them by hand. */
    private record RecordingRegistration(List<IoOps> submitted) implements IoRegistration {
        @Override
        public <T> T attachment() {
            return null;
        }

        @Override
        public long submit(IoOps ops) {
            submitted.add(ops);
            return submitted.size();
        }

        @Override
        public boolean isValid() {
            return true;
        }

        @Override
        public boolean cancel() {
            return false;
        }
    }

    @Test
    void aQueueThatWantsNoRingSaysSo() {
        assertEquals(Offload.notRequested("tun-ring"), ring(new TunSiteQueue(device, 0, false, false)));
        assertFalse(ring(new TunSiteQueue(device, 0, false, true)).active(), "no loop has served it yet");
    }

    private IoEventLoop ioUringLoop() {
        assumeTrue(IoUring.isAvailable(), "io_uring is unavailable here");
        group = new MultiThreadIoEventLoopGroup(1, IoUringIoHandler.newFactory());
        return (IoEventLoop) group.next();
    }

    private static Offload ring(TunSiteQueue queue) {
        return queue.offloads().stream().filter(o -> o.name().equals("tun-ring")).findFirst().orElseThrow();
    }

    private static Packet[] slots(int count) {
        Packet[] slots = new Packet[count];
        for (int i = 0; i < count; i++) {
            slots[i] = Packet.withRoomFor(Lane.MAX_PACKET);
        }
        return slots;
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 5 s: " + what);
            }
            Thread.sleep(5);
        }
    }
}
