package io.flowsec.dataplane.offload;

import io.flowsec.dataplane.offload.OffloadTestPackets.Ip;
import io.flowsec.dataplane.packet.Packet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

import static io.flowsec.dataplane.offload.OffloadTestPackets.ACK;
import static io.flowsec.dataplane.offload.OffloadTestPackets.CWR;
import static io.flowsec.dataplane.offload.OffloadTestPackets.ECE;
import static io.flowsec.dataplane.offload.OffloadTestPackets.FIN;
import static io.flowsec.dataplane.offload.OffloadTestPackets.PSH;
import static io.flowsec.dataplane.offload.OffloadTestPackets.RST;
import static io.flowsec.dataplane.offload.OffloadTestPackets.SYN;
import static io.flowsec.dataplane.offload.OffloadTestPackets.URG;
import static io.flowsec.dataplane.offload.OffloadTestPackets.completeAsTheKernelWould;
import static io.flowsec.dataplane.offload.OffloadTestPackets.get16;
import static io.flowsec.dataplane.offload.OffloadTestPackets.isIpv4HeaderValid;
import static io.flowsec.dataplane.offload.OffloadTestPackets.isTransportChecksumValid;
import static io.flowsec.dataplane.offload.OffloadTestPackets.pattern;
import static io.flowsec.dataplane.offload.OffloadTestPackets.timestamps;
import static io.flowsec.dataplane.offload.OffloadTestPackets.tunRead;
import static io.flowsec.dataplane.offload.OffloadTestPackets.vnet;
import static io.flowsec.dataplane.offload.VirtioNetHeader.F_NEEDS_CSUM;
import static io.flowsec.dataplane.offload.VirtioNetHeader.GSO_TCPV4;
import static io.flowsec.dataplane.offload.VirtioNetHeader.GSO_TCPV6;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TcpCoalescerTest {
    private static final int MSS = 1448;
    private static final byte[] ALONE = new byte[10];

    private final TcpCoalescer coalescer = new TcpCoalescer();

    // ---------------------------------------------------------------------------------------------------------------
    // Segmenting, then coalescing: the superpacket again

    @Test
    void shouldGiveBackTheIpv4SuperpacketItsSegmentsWereCutFrom() {
        Ip superpacket = flow(4).flags(ACK | PSH).payload(3 * MSS + 656).partial();
        byte[] ip = superpacket.build();
        List<byte[]> segments = segment(ip, GSO_TCPV4, 20);

        Batch batch = coalesce(segments);

        batch.assertOutputOf(0, 0, 0, 0);
        byte[] written = batch.written(0);
        assertArrayEquals(concat(vnet(F_NEEDS_CSUM, GSO_TCPV4, 20 + 32, MSS, 20, 16), ip), written,
                "the virtio_net_hdr, then the superpacket byte for byte (its TCP field the pseudo-header sum)");
        byte[] completed = completeAsTheKernelWould(written);
        assertTrue(isIpv4HeaderValid(completed));
        assertTrue(isTransportChecksumValid(completed), "the TCP checksum, once the kernel completes it");
        superpacket.partial = false;
        assertArrayEquals(superpacket.build(), completed);
    }

    @Test
    void shouldGiveBackTheIpv6SuperpacketItsSegmentsWereCutFrom() {
        Ip superpacket = flow(6).payload(5 * 1000).partial();
        byte[] ip = superpacket.build();
        List<byte[]> segments = segment(ip, GSO_TCPV6, 40, 1000);

        Batch batch = coalesce(segments);

        batch.assertOutputOf(0, 0, 0, 0, 0);
        byte[] written = batch.written(0);
        assertArrayEquals(concat(vnet(F_NEEDS_CSUM, GSO_TCPV6, 40 + 32, 1000, 40, 16), ip), written);
        byte[] completed = completeAsTheKernelWould(written);
        assertTrue(isTransportChecksumValid(completed));
        assertEquals(5 * 1000 + 32, get16(completed, 4), "payload length");
    }

    @Test
    void shouldCoalesceEachFlowOnItsOwnWhenFlowsInterleave() {
        Ip a = flow(4);
        Ip b = flow(4);
        b.sourcePort = 40001;
        Ip c = flow(6);
        List<byte[]> packets = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            packets.add(segment(a, k).build());
            packets.add(segment(b, k).build());
            packets.add(segment(c, k).build());
        }

        Batch batch = coalesce(packets);

        batch.assertOutputOf(0, 1, 2, 0, 1, 2, 0, 1, 2);
        batch.assertMerged(0, a, 3);
        batch.assertMerged(1, b, 3);
        batch.assertMerged(2, c, 3);
    }

    @Test
    void shouldMergeAShorterLastSegmentAndThenCloseTheHead() {
        Batch batch = coalesce(List.of(
                segment(flow(4), 0).build(),
                segment(flow(4), 1).build(),
                segment(flow(4), 2, 500).build(),
                segment(flow(4), 2, 500).seq(flow(4).sequence + 2 * MSS + 500).build()));

        batch.assertOutputOf(0, 0, 0, 1);
        batch.assertMerged(0, flow(4), 3, 2 * MSS + 500);
        batch.assertAlone(1);
    }

    @Test
    void shouldSetPshOnTheSuperpacketWhenItsLastSegmentHadIt() {
        Batch batch = coalesce(List.of(
                segment(flow(4), 0).build(),
                segment(flow(4), 1).build(),
                segment(flow(4), 2).flags(ACK | PSH).build(),
                segment(flow(4), 3).build(),
                segment(flow(4), 4).build()));

        batch.assertOutputOf(0, 0, 0, 1, 1);
        byte[] first = completeAsTheKernelWould(batch.written(0));
        byte[] second = completeAsTheKernelWould(batch.written(1));
        assertEquals(ACK | PSH, first[20 + 13] & 0xFF, "a PSH segment joins and closes");
        assertEquals(ACK, second[20 + 13] & 0xFF);
        batch.assertMerged(0, flow(4), 3);
        batch.assertMerged(1, segment(flow(4), 3), 2);
    }

    @Test
    void shouldWriteAPshSegmentWithoutAHeadAlone() {
        Batch batch = coalesce(List.of(segment(flow(4), 0).flags(ACK | PSH).build(), segment(flow(4), 1).build()));

        batch.assertOutputOf(0, 1);
        batch.assertAlone(0);
        batch.assertAlone(1);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // What does not merge

    @Test
    void shouldNotMergeAcrossAGapInTheSequence() {
        Batch batch = coalesce(List.of(segment(flow(4), 0).build(), segment(flow(4), 1).build(), segment(flow(4), 3).build()));

        batch.assertOutputOf(0, 0, 1);
        batch.assertMerged(0, flow(4), 2);
        batch.assertAlone(1);
    }

    @Test
    void shouldNotMergeADifferentAcknowledgment() {
        Ip acked = flow(4);
        acked.acknowledgment += 1000;
        Batch batch = coalesce(List.of(segment(flow(4), 0).build(), segment(acked, 1).build(), segment(acked, 2).build()));

        batch.assertOutputOf(0, 1, 1);
        batch.assertAlone(0);
        batch.assertMerged(1, segment(acked, 1), 2);
    }

    @Test
    void shouldNotMergeDifferentOptions() {
        Ip later = flow(4);
        later.tcpOptions = timestamps(101, 200);
        Batch batch = coalesce(List.of(segment(flow(4), 0).build(), segment(later, 1).build()));

        batch.assertOutputOf(0, 1);
        batch.assertAlone(0);
        batch.assertAlone(1);
    }

    @Test
    void shouldNotMergeADifferentTcpHeaderLength() {
        Ip plain = flow(4);
        plain.tcpOptions = new byte[0];
        Batch batch = coalesce(List.of(segment(flow(4), 0).build(), segment(plain, 1).build()));

        batch.assertOutputOf(0, 1);
    }

    @ParameterizedTest
    @ValueSource(ints = {ACK | SYN, ACK | FIN, ACK | RST, ACK | URG, ACK | ECE, ACK | CWR, ACK | PSH | FIN, 0})
    void shouldNeverMergeOtherFlagsAndStartAfreshAfterThem(int flags) {
        Batch batch = coalesce(List.of(
                segment(flow(4), 0).build(),
                segment(flow(4), 1).build(),
                segment(flow(4), 2).flags(flags).build(),
                segment(flow(4), 3).build(),
                segment(flow(4), 4).build()));

        batch.assertOutputOf(0, 0, 1, 2, 2);
        batch.assertMerged(0, flow(4), 2);
        batch.assertAlone(1);
        batch.assertMerged(2, segment(flow(4), 3), 2);
    }

    @Test
    void shouldWriteASegmentWhoseTcpChecksumFailsAloneAndUntouched() {
        Ip bad = segment(flow(4), 2);
        bad.checksumError = 1;
        Batch batch = coalesce(List.of(segment(flow(4), 0).build(), segment(flow(4), 1).build(), bad.build(),
                segment(flow(4), 3).build()));

        batch.assertOutputOf(0, 0, 1, 2);
        batch.assertMerged(0, flow(4), 2);
        batch.assertAlone(1);
        batch.assertAlone(2);
    }

    @Test
    void shouldNotLetAHeadWhoseChecksumFailsTakeSegments() {
        Ip bad = segment(flow(6), 0);
        bad.checksumError = 0x100;
        Batch batch = coalesce(List.of(bad.build(), segment(flow(6), 1).build(), segment(flow(6), 2).build()));

        batch.assertOutputOf(0, 1, 1);
        batch.assertAlone(0);
        batch.assertMerged(1, segment(flow(6), 1), 2);
    }

    @Test
    void shouldWriteASegmentWhoseIpv4HeaderChecksumFailsAloneAndUntouched() {
        byte[] bad = segment(flow(4), 1).build();
        bad[11] ^= 1;
        Batch batch = coalesce(List.of(segment(flow(4), 0).build(), bad, segment(flow(4), 2).build()));

        batch.assertOutputOf(0, 1, 2);
    }

    @Test
    void shouldNotMergeIpv4WithOptions() {
        Ip withOptions = flow(4);
        withOptions.ipOptions = new byte[]{1, 1, 1, 0};
        Batch batch = coalesce(List.of(segment(withOptions, 0).build(), segment(withOptions, 1).build(),
                segment(withOptions, 2).build()));

        batch.assertOutputOf(0, 1, 2);
        for (int i = 0; i < 3; i++) {
            batch.assertAlone(i);
        }
    }

    @Test
    void shouldLetNoSegmentOvertakeAnotherPacketOfItsFlow() {
        Ip pureAck = segment(flow(4), 2).payload(0);
        Ip withOptions = segment(flow(4), 4).payload(0);
        withOptions.ipOptions = new byte[]{1, 1, 1, 0};
        Ip hopByHop = segment(flow(6), 2).payload(0);
        hopByHop.hopByHop = true;
        Batch batch = coalesce(List.of(
                segment(flow(4), 0).build(), segment(flow(4), 1).build(),
                pureAck.build(),
                segment(flow(4), 2).build(), segment(flow(4), 3).build(),
                withOptions.build(),
                segment(flow(4), 4).build(),
                segment(flow(6), 0).build(), segment(flow(6), 1).build(),
                hopByHop.build(),
                segment(flow(6), 2).build()));

        batch.assertOutputOf(0, 0, 1, 2, 2, 3, 4, 5, 5, 6, 7);
        batch.assertMerged(0, flow(4), 2);
        batch.assertAlone(1);
        batch.assertMerged(2, segment(flow(4), 2), 2);
        batch.assertAlone(3);
        batch.assertAlone(4);
        batch.assertMerged(5, flow(6), 2);
        batch.assertAlone(6);
        batch.assertAlone(7);
    }

    @Test
    void shouldPassOtherPacketsThroughWithAnEmptyHeader() {
        byte[] udp = Ip.v4().udp().payload(100).build();
        byte[] garbage = {0x45, 0, 0};
        Batch batch = coalesce(List.of(segment(flow(4), 0).build(), udp, garbage, segment(flow(4), 1).build()));

        batch.assertOutputOf(0, 1, 2, 0);
        batch.assertMerged(0, flow(4), 2);
        batch.assertAlone(1);
        batch.assertAlone(2);
    }

    @Test
    void shouldNotMergeAcrossIpFieldsThatGroKeeps() {
        List<Consumer<Ip>> changes = List.of(
                ip -> ip.tos = 0x01,                 // ECN bits
                ip -> ip.tos = 0x28,                 // DSCP
                ip -> ip.ttl = 63,
                ip -> ip.fragmentWord = 0x0000);     // DF cleared
        for (Consumer<Ip> change : changes) {
            Ip other = segment(flow(4), 1);
            change.accept(other);
            Batch batch = coalesce(List.of(segment(flow(4), 0).build(), other.build()));
            batch.assertOutputOf(0, 1);
        }
        List<Consumer<Ip>> changes6 = List.of(ip -> ip.tos = 0x02, ip -> ip.ttl = 1, ip -> ip.flowLabel = 7);
        for (Consumer<Ip> change : changes6) {
            Ip other = segment(flow(6), 1);
            change.accept(other);
            Batch batch = coalesce(List.of(segment(flow(6), 0).build(), other.build()));
            batch.assertOutputOf(0, 1);
        }
    }

    @Test
    void shouldMergeWhateverTheIpv4IdentificationSays() {
        Ip other = segment(flow(4), 1).id(0x0777);
        Batch batch = coalesce(List.of(segment(flow(4), 0).build(), other.build()));

        batch.assertOutputOf(0, 0);
    }

    @Test
    void shouldNotMergeASegmentLongerThanTheHeadsFirst() {
        Batch batch = coalesce(List.of(
                segment(flow(4), 0, 1000).build(),
                segment(flow(4), 1).seq(flow(4).sequence + 1000).build()));

        batch.assertOutputOf(0, 1);
    }

    @Test
    void shouldStopAtTheLargestIpv4TotalLength() {
        int mss = 5953;   // 52 + 11 * 5953 = 65535
        List<byte[]> packets = new ArrayList<>();
        for (int k = 0; k < 12; k++) {
            packets.add(segment(flow(4), k, k < 11 ? mss : 1).seq(flow(4).sequence + (long) k * mss).build());
        }

        Batch batch = coalesce(packets);

        batch.assertOutputOf(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);   // one byte more would be 65536
        assertEquals(65535, get16(batch.ip(0), 2));
        batch.assertMerged(0, flow(4), 11, 11 * mss);
    }

    @Test
    void shouldStopAtTheLargestIpv6PayloadLength() {
        int mss = 2113;   // 32 + 31 * 2113 = 65535
        List<byte[]> packets = new ArrayList<>();
        for (int k = 0; k < 32; k++) {
            packets.add(segment(flow(6), k, k < 31 ? mss : 1).seq(flow(6).sequence + (long) k * mss).build());
        }

        Batch batch = coalesce(packets);

        assertEquals(2, batch.outputs);
        assertEquals(0, batch.outputOf[30]);
        assertEquals(1, batch.outputOf[31]);
        assertEquals(65535, get16(batch.ip(0), 4));
        batch.assertMerged(0, flow(6), 31, 31 * mss);
    }

    @Test
    void shouldStartANewHeadWhenTheHeadsBufferIsFull() {
        List<Packet> packets = new ArrayList<>();
        for (int k = 0; k < 4; k++) {
            byte[] ip = segment(flow(4), k).build();
            Packet small = new Packet(Packet.DEFAULT_HEADROOM + 3000 + 64);   // room for 52 + 2 * 1448 = 2948
            small.load(ip, 0, ip.length);
            packets.add(small);
        }

        Batch batch = coalesce(packets.toArray(Packet[]::new));

        batch.assertOutputOf(0, 0, 1, 1);
    }

    @Test
    void shouldCloseTheOldestHeadWhenAllAreOpen() {
        int flows = TcpCoalescer.MAX_OPEN_HEADS + 1;
        List<byte[]> packets = new ArrayList<>();
        for (int f = 0; f < flows; f++) {
            packets.add(segment(flowOnPort(f), 0).build());
        }
        packets.add(segment(flowOnPort(0), 1).build());            // flow 0's head was closed for the last flow's
        packets.add(segment(flowOnPort(flows - 1), 1).build());    // the newest is still open

        Batch batch = coalesce(packets);

        assertEquals(flows + 1, batch.outputs);
        assertEquals(flows, batch.outputOf[flows]);
        assertEquals(flows - 1, batch.outputOf[flows + 1]);
        batch.assertAlone(0);
        batch.assertAlone(flows);
        batch.assertMerged(flows - 1, flowOnPort(flows - 1), 2);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The batch itself

    @Test
    void shouldKeepEverySlotInTheArrayAndTheOutputsInOrder() {
        Packet[] slots = slots(List.of(
                segment(flow(4), 0).build(), Ip.v4().udp().payload(10).build(), segment(flow(4), 1).build(),
                segment(flow(6), 0).build(), segment(flow(4), 2).build(), segment(flow(6), 1).build(),
                Ip.v6().udp().payload(10).build()));
        Packet[] before = slots.clone();
        int[] outputOf = new int[slots.length];

        int outputs = coalescer.coalesce(slots, slots.length, outputOf);

        assertEquals(4, outputs);
        assertArrayEquals(new int[]{0, 1, 0, 2, 0, 2, 3}, outputOf);
        assertSame(before[0], slots[0]);
        assertSame(before[1], slots[1]);
        assertSame(before[3], slots[2]);
        assertSame(before[6], slots[3]);
        Set<Packet> all = Collections.newSetFromMap(new IdentityHashMap<>());
        all.addAll(Arrays.asList(slots));
        assertEquals(Set.of(before).size(), all.size(), "merged-away slots are kept after the outputs");
        assertTrue(all.containsAll(Arrays.asList(before)));
    }

    @Test
    void shouldWidenEachOutputByItsVirtioNetHeader() {
        Packet[] slots = slots(List.of(segment(flow(4), 0).build(), segment(flow(4), 1).build(),
                Ip.v4().udp().payload(10).build()));
        int[] outputOf = new int[3];

        coalescer.coalesce(slots, 3, outputOf);

        assertEquals(Packet.DEFAULT_HEADROOM - 10, slots[0].offset());
        assertEquals(10 + 52 + 2 * MSS, slots[0].length());
        assertEquals(Packet.DEFAULT_HEADROOM - 10, slots[1].offset());
        assertEquals(10 + 38, slots[1].length());
    }

    @Test
    void shouldCoalesceNothingOutOfAnEmptyBatch() {
        assertEquals(0, coalescer.coalesce(new Packet[0], 0, new int[0]));
    }

    @Test
    void shouldRefuseAPacketWithoutRoomForTheVirtioNetHeader() {
        Packet packet = Packet.withRoomFor(100);
        packet.set(9, 40);
        assertThrows(IllegalArgumentException.class, () -> coalescer.coalesce(new Packet[]{packet}, 1, new int[1]));
    }

    @Test
    void shouldAllocateNothingWhileSegmentingAndCoalescing() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[] read4 = tunRead(0, F_NEEDS_CSUM, GSO_TCPV4, 52, MSS, 20, 16, flow(4).payload(20 * MSS).partial().build());
        byte[] read6 = tunRead(0, F_NEEDS_CSUM, GSO_TCPV6, 72, MSS, 40, 16, flow(6).payload(20 * MSS).partial().build());
        GsoSegmenter segmenter = new GsoSegmenter(Packet.MAX_IP_PACKET);
        Packet[] slots = new Packet[40];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = Packet.withRoomFor(Packet.MAX_IP_PACKET);
        }
        int[] outputOf = new int[slots.length];
        byte[][] reads = {read4, read6};
        Runnable round = () -> {
            int count = 0;
            for (byte[] read : reads) {
                if (segmenter.begin(read, 0, read.length) != 20) {
                    throw new AssertionError("twenty segments expected");
                }
                while (segmenter.hasNext()) {
                    segmenter.next(slots[count++]);
                }
            }
            int outputs = coalescer.coalesce(slots, count, outputOf);
            if (outputs != 2) {
                throw new AssertionError("two superpackets expected, not " + outputs);
            }
        };
        for (int i = 0; i < 20_000; i++) {
            round.run();
        }
        long before = threads.getThreadAllocatedBytes(Thread.currentThread().threadId());
        for (int i = 0; i < 10_000; i++) {
            round.run();
        }
        long allocated = threads.getThreadAllocatedBytes(Thread.currentThread().threadId()) - before;

        assertTrue(allocated < 10_000, allocated + " bytes allocated in 10,000 rounds");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers

    /** A bulk flow with timestamps, as Linux sends it. */
    private static Ip flow(int version) {
        Ip ip = version == 4 ? Ip.v4() : Ip.v6();
        ip.tcpOptions = timestamps(100, 200);
        return ip;
    }

    private static Ip flowOnPort(int index) {
        Ip ip = flow(4);
        ip.sourcePort = 30000 + index;
        return ip;
    }

    /** Segment {@code k} of {@code flow}: MSS bytes at sequence k * MSS, its own ID and payload. */
    private static Ip segment(Ip flow, int k) {
        return segment(flow, k, MSS);
    }

    private static Ip segment(Ip flow, int k, int payload) {
        Ip s = flow.copy();
        s.sequence = (flow.sequence + (long) k * MSS) & 0xFFFF_FFFFL;
        s.id = (flow.id + k) & 0xFFFF;
        s.payload = pattern(payload, 31 * k + flow.sourcePort);
        return s;
    }

    private static List<byte[]> segment(byte[] superpacket, int gsoType, int csumStart) {
        return segment(superpacket, gsoType, csumStart, MSS);
    }

    private static List<byte[]> segment(byte[] superpacket, int gsoType, int csumStart, int gsoSize) {
        byte[] read = tunRead(0, F_NEEDS_CSUM, gsoType, 0, gsoSize, csumStart, 16, superpacket);
        GsoSegmenter segmenter = new GsoSegmenter(Packet.MAX_IP_PACKET);
        segmenter.begin(read, 0, read.length);
        List<byte[]> segments = new ArrayList<>();
        Packet out = Packet.withRoomFor(Packet.MAX_IP_PACKET);
        while (segmenter.hasNext()) {
            segmenter.next(out);
            segments.add(out.toByteArray());
        }
        return segments;
    }

    private static Packet[] slots(List<byte[]> packets) {
        return packets.stream().map(OffloadTestPackets::slot).toArray(Packet[]::new);
    }

    private Batch coalesce(List<byte[]> packets) {
        return coalesce(slots(packets));
    }

    private Batch coalesce(Packet[] slots) {
        Batch batch = new Batch();
        batch.inputs = new ArrayList<>();
        for (Packet slot : slots) {
            batch.inputs.add(slot.toByteArray());
        }
        batch.slots = slots;
        batch.outputOf = new int[slots.length + 3];
        Arrays.fill(batch.outputOf, -7);
        batch.outputs = coalescer.coalesce(slots, slots.length, batch.outputOf);
        for (int i = slots.length; i < batch.outputOf.length; i++) {
            assertEquals(-7, batch.outputOf[i], "outputOf beyond the count is left alone");
        }
        return batch;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(a);
        out.writeBytes(b);
        return out.toByteArray();
    }

    /** A coalesced batch and the checks on its outputs. */
    private static final class Batch {
        List<byte[]> inputs;
        Packet[] slots;
        int[] outputOf;
        int outputs;

        byte[] written(int output) {
            return slots[output].toByteArray();
        }

        byte[] ip(int output) {
            byte[] written = written(output);
            return Arrays.copyOfRange(written, 10, written.length);
        }

        void assertOutputOf(int... expected) {
            assertArrayEquals(expected, Arrays.copyOf(outputOf, inputs.size()), "outputOf");
            assertEquals(Arrays.stream(expected).max().orElse(-1) + 1, outputs, "outputs");
        }

        /** Output {@code output} is one input as it came, behind an all-zero virtio_net_hdr. */
        void assertAlone(int output) {
            int input = -1;
            for (int i = 0; i < inputs.size(); i++) {
                if (outputOf[i] == output) {
                    assertEquals(-1, input, "output " + output + " has only one input");
                    input = i;
                }
            }
            assertArrayEquals(concat(ALONE, inputs.get(input)), written(output), "output " + output);
        }

        void assertMerged(int output, Ip first, int segments) {
            assertMerged(output, first, segments, segments * MSS);
        }

        /**
         * Output {@code output} is a TCP superpacket of {@code segments} segments and {@code payload} bytes,
         * starting with {@code first}: the payload the inputs mapped to it had, in order; the virtio_net_hdr field
         * by field; checksums that verify once the kernel completes the TCP one.
         */
        void assertMerged(int output, Ip first, int segments, int payload) {
            byte[] written = written(output);
            int ipHeader = first.ipHeaderLength();
            int headers = ipHeader + first.transportHeaderLength();
            List<byte[]> merged = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                if (outputOf[i] == output) {
                    merged.add(inputs.get(i));
                }
            }
            assertEquals(segments, merged.size(), "segments in output " + output);
            ByteArrayOutputStream expectedPayload = new ByteArrayOutputStream();
            for (byte[] segment : merged) {
                expectedPayload.write(segment, headers, segment.length - headers);
            }
            assertEquals(payload, expectedPayload.size());

            byte[] head = merged.get(0);
            int gsoSize = head.length - headers;
            assertArrayEquals(vnet(F_NEEDS_CSUM, first.version == 4 ? GSO_TCPV4 : GSO_TCPV6, headers, gsoSize,
                    ipHeader, 16), Arrays.copyOf(written, 10), "virtio_net_hdr of output " + output);
            byte[] completed = completeAsTheKernelWould(written);
            assertEquals(headers + payload, completed.length);
            assertArrayEquals(expectedPayload.toByteArray(), Arrays.copyOfRange(completed, headers, completed.length));
            if (first.version == 4) {
                assertEquals(completed.length, get16(completed, 2), "total length");
                assertTrue(isIpv4HeaderValid(completed), "IPv4 header checksum");
                assertArrayEquals(Arrays.copyOfRange(head, 4, 10), Arrays.copyOfRange(completed, 4, 10),
                        "the head's ID, flags, TTL and protocol");
            } else {
                assertEquals(completed.length - 40, get16(completed, 4), "payload length");
            }
            assertArrayEquals(Arrays.copyOfRange(head, ipHeader, ipHeader + 13),
                    Arrays.copyOfRange(completed, ipHeader, ipHeader + 13), "the head's ports, sequence, ack");
            assertTrue(isTransportChecksumValid(completed), "TCP checksum of output " + output);
        }
    }
}
