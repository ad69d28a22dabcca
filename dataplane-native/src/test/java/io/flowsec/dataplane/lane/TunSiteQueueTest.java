package io.flowsec.dataplane.lane;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.Syscalls;
import io.flowsec.dataplane.linux.TunDevice;
import io.flowsec.dataplane.offload.VirtioNetHeader;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Packet;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A site queue with virtio headers, on a datagram socket pair standing in for a TUN queue (no root): a superpacket
 * that cannot be cut is dropped whole and counted with its reason, and the packets around it pass untouched.
 */
class TunSiteQueueTest {
    @Test
    void aSuperpacketThatCannotBeCutIsCountedAsAnOffloadDropAndTheNextPacketPasses() throws Exception {
        int[] pair = Syscalls.socketpair(Syscalls.AF_UNIX, Syscalls.SOCK_DGRAM | Syscalls.SOCK_NONBLOCK | Syscalls.SOCK_CLOEXEC);
        try (TunDevice device = TunDevice.adopt("fstest0", new int[] {pair[0]}, true)) {
            TunSiteQueue queue = new TunSiteQueue(device, 0);
            LaneCounters counters = new LaneCounters();
            queue.countInto(counters);
            Errno errno = new Errno();

            // marked TCPV4 GSO, but its IPv4 packet carries UDP and is shorter than what was read: not cut, dropped
            byte[] plain = udpPacket(64);
            byte[] malformed = new byte[VirtioNetHeader.LENGTH + 200];
            VirtioNetHeader.write(malformed, 0, VirtioNetHeader.F_NEEDS_CSUM, VirtioNetHeader.GSO_TCPV4, 40, 100, 20, 16);
            System.arraycopy(plain, 0, malformed, VirtioNetHeader.LENGTH, plain.length);
            byte[] good = new byte[VirtioNetHeader.LENGTH + plain.length];   // an all-zero header: a plain packet
            System.arraycopy(plain, 0, good, VirtioNetHeader.LENGTH, plain.length);
            assertEquals(malformed.length, Syscalls.write(errno, pair[1], MemorySegment.ofArray(malformed)));
            assertEquals(good.length, Syscalls.write(errno, pair[1], MemorySegment.ofArray(good)));

            Packet[] slots = {Packet.withRoomFor(Lane.MAX_PACKET), Packet.withRoomFor(Lane.MAX_PACKET)};
            assertEquals(1, queue.read(slots, 0, slots.length));
            assertArrayEquals(plain, slots[0].toByteArray());
            assertEquals(1, counters.io(IoCounter.SITE_OFFLOAD_DROPS));
            assertEquals(0, counters.io(IoCounter.SITE_SUPERPACKETS_READ));

            // written back, the packet goes behind an all-zero header (nothing to coalesce it with)
            long[] results = new long[1];
            queue.write(new Packet[] {slots[0]}, 1, results);
            assertEquals(plain.length, results[0]);
            byte[] written = new byte[2048];
            long length = Syscalls.read(errno, pair[1], MemorySegment.ofArray(written));
            assertArrayEquals(good, Arrays.copyOf(written, (int) length));
        } finally {
            Syscalls.close(pair[1]);
        }
    }

    /** An IPv4 UDP packet 10.0.0.1 → 10.0.0.2 with {@code payload} bytes and a valid header checksum. */
    private static byte[] udpPacket(int payload) {
        byte[] packet = new byte[28 + payload];
        new Ipv4View().wrap(packet, 0).versionAndHeaderLength(20).totalLength(packet.length).ttl(64).protocol(17)
                .sourceAddress(0x0A000001).destinationAddress(0x0A000002).updateChecksum();
        Bytes.u16(packet, 20, 4000);
        Bytes.u16(packet, 22, 5000);
        Bytes.u16(packet, 24, 8 + payload);
        return packet;
    }
}
