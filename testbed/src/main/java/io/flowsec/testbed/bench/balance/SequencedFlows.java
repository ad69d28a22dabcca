package io.flowsec.testbed.bench.balance;

import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.Syscalls;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static io.flowsec.testbed.demo.InNamespace.in;

/**
 * UDP flows from one namespace to another at a fixed offered rate, each datagram carrying its flow and a per-flow
 * sequence number, and a sink that counts what arrives: in total, and out of order (a sequence number below the
 * highest the flow has delivered so far: it was overtaken). Flow f leaves from source port {@code basePort + f}, so
 * the flows hash apart wherever a 5-tuple is hashed (TUN queues, SA groups). The sender paces in batches of a
 * millisecond's worth; what it could not send in time is not sent later (the offered rate stays the rate asked).
 * <p>
 * Datagram payload: {@code magic (4) | flow (4) | sequence (8) | zero padding}, big-endian.
 */
public final class SequencedFlows implements AutoCloseable {
    private static final int MAGIC = 0x5EC0F10E;
    private static final long PACE_NS = 1_000_000;

    private final int flows;
    /** Each flow sends for {@code onMs}, then pauses {@code offMs} (0: never), its phase shifted by its number. */
    private final int onMs;
    private final int offMs;
    private volatile boolean running = true;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong sendErrors = new AtomicLong();
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong outOfOrder = new AtomicLong();
    private final AtomicLong foreign = new AtomicLong();
    private final CompletableFuture<Void> sender;
    private final CompletableFuture<Void> sink;
    /** The sink's count every {@link #SAMPLE_NS}: (time, received) pairs, for the slowest stretch of a phase. */
    private final List<long[]> timeline = new ArrayList<>();
    private final Thread sampler;
    private static final long SAMPLE_NS = 50_000_000;

    /** What the flows have done so far; subtract two to get a phase. */
    public record Counts(long atNs, long sent, long sendErrors, long received, long outOfOrder) {
        public Counts minus(Counts earlier) {
            return new Counts(atNs - earlier.atNs, sent - earlier.sent, sendErrors - earlier.sendErrors,
                    received - earlier.received, outOfOrder - earlier.outOfOrder);
        }

        public double seconds() {
            return atNs / 1e9;
        }

        public double deliveredPerSecond() {
            return received / seconds();
        }

        /** Delivered over sent: the offered rate itself depends on how much CPU the sender got. */
        public double deliveredFraction() {
            return sent == 0 ? 0 : (double) received / sent;
        }

        public double offeredPerSecond() {
            return sent / seconds();
        }
    }

    private SequencedFlows(int flows, String from, String source, int basePort, String to, String destination,
                           int port, int perSecond, int payloadBytes, int cpu, int onMs, int offMs) throws Exception {
        this.flows = flows;
        this.onMs = onMs;
        this.offMs = offMs;
        CompletableFuture<DatagramSocket> bound = new CompletableFuture<>();
        sink = in(to, () -> {
            pin(cpu);
            try (DatagramSocket socket = new DatagramSocket(null)) {
                socket.setReceiveBufferSize(8 << 20);
                socket.bind(new InetSocketAddress(InetAddress.getByName(destination), port));
                socket.setSoTimeout(100);
                bound.complete(socket);
                receive(socket);
            } catch (Throwable t) {
                bound.completeExceptionally(t);
                throw t;
            }
            return null;
        });
        bound.get(10, TimeUnit.SECONDS);
        sender = in(from, () -> {
            pin(cpu);
            send(source, basePort, destination, port, perSecond, payloadBytes);
            return null;
        });
        sampler = Thread.ofPlatform().daemon().name("sequenced-flows-sampler").start(() -> {
            while (running) {
                synchronized (timeline) {
                    timeline.add(new long[] {System.nanoTime(), received.get()});
                }
                LockSupport.parkNanos(SAMPLE_NS);
            }
        });
    }

    /**
     * The lowest delivery rate over any {@code windowNs} stretch between {@code fromNs} and {@code toNs}
     * ({@code System.nanoTime()}), from the sink's counts sampled every 50 ms: a stall the phase's mean would hide.
     */
    public double slowestPerSecond(long fromNs, long toNs, long windowNs) {
        List<long[]> samples;
        synchronized (timeline) {
            samples = new ArrayList<>(timeline);
        }
        double slowest = Double.MAX_VALUE;
        int end = 0;
        for (int start = 0; start < samples.size(); start++) {
            if (samples.get(start)[0] < fromNs) {
                continue;
            }
            end = Math.max(end, start);
            while (end < samples.size() && samples.get(end)[0] - samples.get(start)[0] < windowNs) {
                end++;
            }
            if (end >= samples.size() || samples.get(end)[0] > toNs) {
                break;
            }
            long[] a = samples.get(start);
            long[] b = samples.get(end);
            slowest = Math.min(slowest, (b[1] - a[1]) * 1e9 / (b[0] - a[0]));
        }
        return slowest == Double.MAX_VALUE ? Double.NaN : slowest;
    }

    /**
     * Starts the sink in namespace {@code to}, then the sender in {@code from}, both threads pinned to {@code cpu}
     * (-1: not pinned).
     */
    public static SequencedFlows start(int flows, String from, String source, int basePort, String to, String destination,
                                int port, int perSecond, int payloadBytes, int cpu) throws Exception {
        return new SequencedFlows(flows, from, source, basePort, to, destination, port, perSecond, payloadBytes, cpu, 0, 0);
    }

    /**
     * Flows in bursts, as TCP's flowlets are: each sends for {@code onMs}, then pauses {@code offMs}, the flows'
     * phases spread over the period so the total stays near {@code perSecond}.
     */
    public static SequencedFlows startInBursts(int flows, String from, String source, int basePort, String to,
                                        String destination, int port, int perSecond, int payloadBytes, int cpu,
                                        int onMs, int offMs) throws Exception {
        return new SequencedFlows(flows, from, source, basePort, to, destination, port, perSecond, payloadBytes, cpu,
                onMs, offMs);
    }

    /** Whether flow {@code flow} is in a burst {@code elapsedMs} after the start. */
    private boolean sending(int flow, long elapsedMs) {
        if (offMs == 0) {
            return true;
        }
        long period = onMs + offMs;
        return (elapsedMs + (long) flow * period / flows) % period < onMs;
    }

    private static void pin(int cpu) throws NativeException {
        if (cpu >= 0) {
            Syscalls.pinCurrentThread(cpu);
        }
    }

    public Counts counts() {
        return new Counts(System.nanoTime(), sent.get(), sendErrors.get(), received.get(), outOfOrder.get());
    }

    /** Datagrams that arrived at the sink without this sender's header (none expected). */
    public long foreign() {
        return foreign.get();
    }

    private void receive(DatagramSocket socket) throws IOException {
        long[] highest = new long[flows];
        java.util.Arrays.fill(highest, -1);
        byte[] buffer = new byte[2048];
        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        ByteBuffer view = ByteBuffer.wrap(buffer);
        while (running) {
            try {
                socket.receive(packet);
            } catch (SocketTimeoutException idle) {
                continue;
            }
            if (packet.getLength() < 16 || view.getInt(0) != MAGIC || view.getInt(4) < 0 || view.getInt(4) >= flows) {
                foreign.incrementAndGet();
                continue;
            }
            int flow = view.getInt(4);
            long sequence = view.getLong(8);
            if (sequence < highest[flow]) {
                outOfOrder.incrementAndGet();
            } else {
                highest[flow] = sequence;
            }
            received.incrementAndGet();
        }
    }

    private void send(String source, int basePort, String destination, int port, int perSecond, int payloadBytes)
            throws IOException {
        List<DatagramChannel> channels = new ArrayList<>();
        try {
            InetSocketAddress target = new InetSocketAddress(InetAddress.getByName(destination), port);
            for (int flow = 0; flow < flows; flow++) {
                DatagramChannel channel = DatagramChannel.open();
                channels.add(channel);
                channel.setOption(StandardSocketOptions.SO_SNDBUF, 1 << 20);
                channel.bind(new InetSocketAddress(InetAddress.getByName(source), basePort + flow));
                channel.connect(target);
            }
            long[] sequence = new long[flows];
            ByteBuffer payload = ByteBuffer.allocateDirect(Math.max(16, payloadBytes));
            long startNs = System.nanoTime();
            long due = 0;
            long done = 0;
            int flow = 0;
            while (running) {
                long elapsedNs = System.nanoTime() - startNs;
                due = elapsedNs * perSecond / 1_000_000_000L;
                // a stall (the sender starved of CPU) is not made up for in a burst: at most 20 ms' worth is owed
                long owed = Math.min(due - done, perSecond / 50);
                long elapsedMs = elapsedNs / 1_000_000;
                for (long i = 0; i < owed; i++) {
                    int skipped = 0;
                    while (!sending(flow, elapsedMs) && skipped++ < flows) {
                        flow = (flow + 1) % flows;
                    }
                    payload.clear();
                    payload.putInt(MAGIC).putInt(flow).putLong(sequence[flow]);
                    payload.position(0).limit(payload.capacity());
                    try {
                        channels.get(flow).write(payload);
                        sequence[flow]++;
                        sent.incrementAndGet();
                    } catch (PortUnreachableException notYet) {
                        sendErrors.incrementAndGet();
                    } catch (IOException e) {
                        sendErrors.incrementAndGet();
                    }
                    flow = (flow + 1) % flows;
                }
                done = due;
                LockSupport.parkNanos(PACE_NS);
            }
        } finally {
            for (DatagramChannel channel : channels) {
                channel.close();
            }
        }
    }

    @Override
    public void close() throws Exception {
        running = false;
        sampler.join(1000);
        sender.get(10, TimeUnit.SECONDS);
        sink.get(10, TimeUnit.SECONDS);
    }
}
