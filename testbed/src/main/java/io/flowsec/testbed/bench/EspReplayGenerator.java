package io.flowsec.testbed.bench;

import io.flowsec.appliance.config.ConfigException;
import io.flowsec.appliance.config.SaFile;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.NativeException;
import io.flowsec.dataplane.linux.NetworkNamespace;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.packet.UdpView;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * The receiver benchmark's load: tunnel datagrams built once with flowsec's own engine (router A's SA group, so
 * each flow leaves from its SA's UDP source port, as router A would send it), then replayed at router B as fast as
 * the sending threads can, round and round. Router B must have anti-replay off for its inbound SAs: the same
 * sequence numbers come back every round.
 */
public final class EspReplayGenerator implements AutoCloseable {
    /** Inner packets go to this UDP port of host B, where a socket that is never read swallows them. */
    public static final int SINK_PORT = 9;

    /**
     * Pre-built datagrams: the ESP bytes of each (the outer UDP payload) and the source port it leaves from, in
     * sending order (flows interleaved).
     */
    public record Datagrams(int innerPayloadBytes, int flows, int[] sourcePorts, byte[][] espPayloads) {
        public int count() {
            return espPayloads.length;
        }
    }

    private final List<Thread> senders = new ArrayList<>();
    private final LongAdder sent = new LongAdder();
    private final LongAdder sendErrors = new LongAdder();
    private volatile boolean running = true;
    private final AtomicReference<Exception> failure = new AtomicReference<>();

    private EspReplayGenerator() {
    }

    /**
     * Encrypts {@code packetsPerFlow} IPv4/UDP packets of {@code payloadBytes} for each of {@code flows} flows (source
     * ports 20000+i) from {@code source} to {@code destination}:{@link #SINK_PORT}, with the SAs of {@code policies}.
     */
    public static Datagrams build(JsonObject policies, InetAddress source, InetAddress destination, int flows,
                                  int packetsPerFlow, int payloadBytes) throws ConfigException {
        SaFile.Tables tables = SaFile.parse(policies).buildTables();
        EspProcessor processor = new EspProcessor(tables.spd(), tables.sad(), EspProcessor.Framing.IP);
        int count = flows * packetsPerFlow;
        int[] sourcePorts = new int[count];
        byte[][] payloads = new byte[count][];
        byte[] inner = innerPacket(source, destination, payloadBytes);
        Packet slot = Packet.withRoomFor(inner.length + 256);
        Ipv4View outer = new Ipv4View();
        UdpView udp = new UdpView();
        int next = 0;
        for (int round = 0; round < packetsPerFlow; round++) {
            for (int flow = 0; flow < flows; flow++) {
                Bytes.u16(inner, Ipv4View.MIN_HEADER_LENGTH, 20000 + flow);
                slot.load(inner, 0, inner.length);
                Outcome outcome = processor.encapsulate(slot);
                if (outcome != Outcome.ACCEPTED) {
                    throw new IllegalStateException("the generator's SAs refused a packet: " + outcome.label());
                }
                outer.wrap(slot.buffer(), slot.offset());
                if (outer.version() != 4 || outer.protocol() != IpProtocol.UDP) {
                    throw new IllegalStateException("the generator replays ESP-in-UDP over IPv4 only");
                }
                int udpOffset = slot.offset() + outer.headerLength();
                udp.wrap(slot.buffer(), udpOffset);
                sourcePorts[next] = udp.sourcePort();
                int espOffset = udpOffset + UdpView.HEADER_LENGTH;
                payloads[next] = Arrays.copyOfRange(slot.buffer(), espOffset, slot.offset() + slot.length());
                next++;
            }
        }
        return new Datagrams(payloadBytes, flows, sourcePorts, payloads);
    }

    /** An IPv4/UDP packet with a valid header checksum and UDP checksum 0 (allowed over IPv4, RFC 768). */
    static byte[] innerPacket(InetAddress source, InetAddress destination, int payloadBytes) {
        if (!(source instanceof Inet4Address) || !(destination instanceof Inet4Address)) {
            throw new IllegalArgumentException("the generator sends IPv4 inner packets");
        }
        int length = Ipv4View.MIN_HEADER_LENGTH + UdpView.HEADER_LENGTH + payloadBytes;
        byte[] packet = new byte[length];
        new Ipv4View().wrap(packet, 0).versionAndHeaderLength(Ipv4View.MIN_HEADER_LENGTH).tos(0).totalLength(length)
                .identification(0).flagsAndFragmentOffset(Ipv4View.FLAG_DONT_FRAGMENT).ttl(64).protocol(IpProtocol.UDP)
                .sourceAddress(Bytes.i32(source.getAddress(), 0))
                .destinationAddress(Bytes.i32(destination.getAddress(), 0)).updateChecksum();
        int udp = Ipv4View.MIN_HEADER_LENGTH;
        Bytes.u16(packet, udp + 2, SINK_PORT);
        Bytes.u16(packet, udp + 4, UdpView.HEADER_LENGTH + payloadBytes);
        for (int i = 0; i < payloadBytes; i++) {
            packet[udp + UdpView.HEADER_LENGTH + i] = (byte) i;
        }
        return packet;
    }

    /**
     * Starts {@code threads} sending threads in {@code namespace} (null: this one), each bound to the datagrams'
     * source ports on {@code source} and sending its share of them to {@code destination}, round after round, until
     * {@link #close}.
     */
    public static EspReplayGenerator start(String namespace, Datagrams datagrams, InetAddress source,
                                           InetSocketAddress destination, int threads) throws InterruptedException, IOException {
        EspReplayGenerator generator = new EspReplayGenerator();
        threads = Math.min(threads, datagrams.count()); // a thread with nothing to send would spin
        CountDownLatch bound = new CountDownLatch(threads);
        AtomicReference<Exception> failure = generator.failure;
        int stride = threads;
        for (int t = 0; t < threads; t++) {
            int first = t;
            generator.senders.add(Thread.ofPlatform().daemon().name("bench-generator-" + t).start(() -> {
                try {
                    if (namespace != null) {
                        NetworkNamespace.enter(namespace);
                    }
                    generator.send(datagrams, first, stride, source, destination, bound);
                } catch (Exception e) {
                    failure.compareAndSet(null, e);
                    bound.countDown();
                }
            }));
        }
        if (!bound.await(10, TimeUnit.SECONDS) || failure.get() != null) {
            generator.close();
            Exception cause = failure.get();
            throw new IOException("the generator did not start: " + (cause == null ? "timeout" : cause.getMessage()));
        }
        return generator;
    }

    /**
     * One sending thread.
     * 1. bind one socket per source port (SO_REUSEPORT: every thread binds them all);
     * 2. wrap each datagram of this thread's share once;
     * 3. send round after round, counting per round so the loop itself allocates nothing.
     */
    private void send(Datagrams datagrams, int first, int stride, InetAddress source, InetSocketAddress destination,
                      CountDownLatch bound) throws NativeException {
        int[] ports = Arrays.stream(datagrams.sourcePorts()).distinct().sorted().toArray();
        UdpSocket[] sockets = new UdpSocket[ports.length];
        try (Arena arena = Arena.ofConfined()) {
            // 1. sockets
            for (int i = 0; i < ports.length; i++) {
                sockets[i] = UdpSocket.bind(source, ports[i], true);
            }
            MemorySegment target = SocketAddress.of(arena, destination.getAddress(), destination.getPort());

            // 2. this thread's datagrams
            List<MemorySegment> segments = new ArrayList<>();
            List<UdpSocket> via = new ArrayList<>();
            for (int i = first; i < datagrams.count(); i += stride) {
                segments.add(MemorySegment.ofArray(datagrams.espPayloads()[i]));
                via.add(sockets[Arrays.binarySearch(ports, datagrams.sourcePorts()[i])]);
            }
            MemorySegment[] payloads = segments.toArray(MemorySegment[]::new);
            UdpSocket[] socketOf = via.toArray(UdpSocket[]::new);
            Errno errno = new Errno();
            bound.countDown();

            // 3. replay
            while (running) {
                long errors = 0;
                for (int i = 0; i < payloads.length; i++) {
                    if (socketOf[i].send(errno, payloads[i], target) < 0) {
                        errors++; // EAGAIN (buffer full) or ECONNREFUSED (router B not listening yet)
                    }
                }
                sent.add(payloads.length - errors);
                sendErrors.add(errors);
            }
        } finally {
            for (UdpSocket socket : sockets) {
                if (socket != null) {
                    socket.close();
                }
            }
        }
    }

    public long sent() {
        return sent.sum();
    }

    /** Why a sending thread stopped before {@link #close}, or null: a point with a dead sender is not valid. */
    public Exception failure() {
        return failure.get();
    }

    public long sendErrors() {
        return sendErrors.sum();
    }

    /** Stops the senders and waits for them (each finishes the round it is in). */
    @Override
    public void close() throws InterruptedException {
        running = false;
        for (Thread sender : senders) {
            sender.join(5000);
        }
    }
}
