package io.flowsec.dataplane.offload;

import io.flowsec.dataplane.offload.OffloadTestPackets.Ip;
import io.flowsec.dataplane.packet.Packet;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The user-space offloads per segment, on one core: what cutting a TCP superpacket read from the TUN costs, against
 * its two parts measured alone (copying the segments' bytes, and summing them for their checksums).
 * <ol>
 *   <li>{@link #segment}: {@link GsoSegmenter#begin} on a 64 KB IPv4 TCP superpacket (MSS {@code mss}) and
 *       {@link GsoSegmenter#next} for each of its segments, into the lane's slots;</li>
 *   <li>{@link #copyOnly}: the same bytes copied into the same slots, headers and payload, nothing else;</li>
 *   <li>{@link #checksumOnly}: {@link Checksums#sum} over each segment's transport bytes, nothing else.</li>
 * </ol>
 * One op is one superpacket: the time per segment is the op's time over {@code segments()}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class OffloadBenchmark {
    private static final int SUPERPACKET_PAYLOAD = 65_000;

    @Param({"1448"})
    public int mss;

    private byte[] read;
    private int headers;
    private int segments;
    private Packet[] slots;
    private final GsoSegmenter segmenter = new GsoSegmenter(65_535 + 50);

    @Setup
    public void setUp() {
        Ip superpacket = Ip.v4();
        superpacket.tcpOptions = OffloadTestPackets.timestamps(1, 2);
        superpacket.payload(SUPERPACKET_PAYLOAD - SUPERPACKET_PAYLOAD % mss).partial();
        byte[] ip = superpacket.build();
        headers = 20 + 20 + superpacket.tcpOptions.length;
        read = OffloadTestPackets.tunRead(0, VirtioNetHeader.F_NEEDS_CSUM, VirtioNetHeader.GSO_TCPV4, headers, mss, 20, 16, ip);
        segments = (ip.length - headers + mss - 1) / mss;
        slots = new Packet[segments];
        for (int i = 0; i < segments; i++) {
            slots[i] = Packet.withRoomFor(65_535 + 50);
        }
        if (segmenter.begin(read, 0, read.length) != segments) {
            throw new IllegalStateException("the superpacket does not cut into " + segments + " segments");
        }
        while (segmenter.hasNext()) {
            segmenter.next(slots[0]);
        }
    }

    @Benchmark
    public int segment() {
        int count = segmenter.begin(read, 0, read.length);
        for (int i = 0; i < count; i++) {
            segmenter.next(slots[i]);
        }
        return count;
    }

    @Benchmark
    public int copyOnly() {
        int sum = 0;
        for (int i = 0; i < segments; i++) {
            byte[] target = slots[i].buffer();
            System.arraycopy(read, VirtioNetHeader.LENGTH, target, Packet.DEFAULT_HEADROOM, headers);
            System.arraycopy(read, VirtioNetHeader.LENGTH + headers + i * mss, target, Packet.DEFAULT_HEADROOM + headers,
                    Math.min(mss, read.length - VirtioNetHeader.LENGTH - headers - i * mss));
            sum += target[Packet.DEFAULT_HEADROOM];
        }
        return sum;
    }

    @Benchmark
    public int checksumOnly() {
        int sum = 0;
        for (int i = 0; i < segments; i++) {
            sum += Checksums.sum(read, VirtioNetHeader.LENGTH + headers - 32 + i * mss, 32 + mss, 7);
        }
        return sum;
    }
}
