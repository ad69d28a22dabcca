package io.flowsec.dataplane.linux;

import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Ipv4View;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A multi-queue TUN device, made through the FFM bindings inside a namespace the test creates and deletes. */
class TunDeviceTest {

    @Test
    void shouldCreateAMultiQueueDeviceThatCarriesPacketsToTheKernelAndBack() throws Exception {
        try (NetnsFixture netns = NetnsFixture.create("fstun")) {
            TunDevice tun = netns.inside(() -> TunDevice.open("fstun0", 4));
            try {
                assertEquals(4, tun.queues());
                netns.ip("addr", "add", "10.77.0.1/24", "dev", "fstun0");
                netns.ip("link", "set", "fstun0", "up");
                String details = netns.ip("-d", "link", "show", "fstun0");
                assertTrue(details.contains("multi_queue"), details);

                // an echo request from 10.77.0.2 (behind the TUN) to the kernel's 10.77.0.1: the reply comes back out
                byte[] request = echoRequest(0x0A4D0002, 0x0A4D0001, 7);
                Errno errno = new Errno();
                assertEquals(request.length, tun.write(errno, 0, MemorySegment.ofArray(request)), "errno " + errno.value());
                byte[] reply = readFromAnyQueue(tun, errno);
                Ipv4View ip = new Ipv4View().wrap(reply, 0);
                assertEquals(1, ip.protocol());
                assertEquals(0x0A4D0001, ip.sourceAddress());
                assertEquals(0x0A4D0002, ip.destinationAddress());
                assertEquals(0, reply[20], "ICMP echo reply");
                assertEquals(7, Bytes.u16(reply, 26), "same sequence number");
            } finally {
                tun.close();
            }
            assertTrue(!netns.ip("link", "show").contains("fstun0"), "closing every queue removes the device");
        }
    }

    @Test
    void withOffloadsAskedForTheKernelGrantsSegmentationAndARefusedFlagFallsBackToWhatItTakes() throws Exception {
        try (NetnsFixture netns = NetnsFixture.create("fstuno")) {
            TunDevice all = netns.inside(() -> TunDevice.open("fstun0", 2, TunDevice.ALL_OFFLOADS));
            try {
                assertTrue(all.vnetHeader());
                int granted = all.offloads();
                assertEquals(TunDevice.TUN_F_CSUM | TunDevice.TUN_F_TSO4 | TunDevice.TUN_F_TSO6,
                        granted & (TunDevice.TUN_F_CSUM | TunDevice.TUN_F_TSO4 | TunDevice.TUN_F_TSO6),
                        TunDevice.describe(granted));
            } finally {
                all.close();
            }
            // a flag no kernel knows is refused with everything asked alongside it, until only CSUM is asked
            TunDevice fallback = netns.inside(() -> TunDevice.open("fstun1", 1, TunDevice.ALL_OFFLOADS | 0x100000));
            try {
                assertTrue(fallback.vnetHeader());
                assertEquals(TunDevice.TUN_F_CSUM, fallback.offloads());
                assertTrue(fallback.offloadRefusal().contains("TUNSETOFFLOAD"), fallback.offloadRefusal());
            } finally {
                fallback.close();
            }
            TunDevice none = netns.inside(() -> TunDevice.open("fstun2", 1, 0));
            try {
                assertTrue(!none.vnetHeader());
                assertEquals(0, none.offloads());
            } finally {
                none.close();
            }
        }
    }

    /**
     * A GSO run sent from a socket behind the kernel reaches the TUN as one UDP superpacket (USO) where the kernel
     * grants USO, else as single datagrams; either way the site queue hands the lane the same six datagrams, each a
     * whole IP packet whose UDP checksum verifies.
     */
    @Test
    void aUdpSuperpacketFromTheKernelIsCutIntoItsDatagramsWithTheirChecksums() throws Exception {
        try (NetnsFixture netns = NetnsFixture.create("fstuns")) {
            TunDevice tun = netns.inside(() -> TunDevice.open("fstun0", 1, TunDevice.ALL_OFFLOADS));
            try {
                netns.ip("addr", "add", "10.77.0.1/24", "dev", "fstun0");
                netns.ip("link", "set", "fstun0", "up");
                netns.inside(() -> {
                    try (UdpSocket socket = UdpSocket.bind(java.net.InetAddress.getByName("10.77.0.1"), 0, false);
                         java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                        DatagramSendBatch batch = socket.sendBatch(2, 1 << 16);
                        batch.startMessage(SocketAddress.of(arena, java.net.InetAddress.getByName("10.77.0.2"), 9999), 0, 0);
                        for (int i = 0; i < 6; i++) {
                            byte[] datagram = datagram(i, i == 5 ? 200 : 1000);
                            batch.append(MemorySegment.ofArray(datagram), datagram.length);
                        }
                        long[] results = new long[2];
                        batch.send(new Errno(), results);
                        assertEquals(5200, results[0]);
                    }
                    return null;
                });
                io.flowsec.dataplane.lane.TunSiteQueue queue = new io.flowsec.dataplane.lane.TunSiteQueue(tun, 0);
                io.flowsec.dataplane.esp.LaneCounters counters = new io.flowsec.dataplane.esp.LaneCounters();
                queue.countInto(counters);
                io.flowsec.dataplane.packet.Packet[] slots = new io.flowsec.dataplane.packet.Packet[4];
                for (int i = 0; i < slots.length; i++) {
                    slots[i] = io.flowsec.dataplane.packet.Packet.withRoomFor(io.flowsec.dataplane.lane.Lane.MAX_PACKET);
                }
                int seen = 0;
                for (int attempt = 0; seen < 6 && attempt < 500; attempt++) {
                    int read = queue.read(slots, 0, slots.length);   // four slots: the superpacket spans two reads
                    for (int i = 0; i < read; i++) {
                        byte[] packet = slots[i].toByteArray();
                        if ((packet[0] >> 4) != 4 || packet[9] != 17) {
                            continue;                 // the kernel's own chatter (IPv6 is off; none expected)
                        }
                        assertEquals(20 + 8 + (seen == 5 ? 200 : 1000), packet.length);
                        assertEquals(packet.length - 20, Bytes.u16(packet, 24), "UDP length");
                        int sum = Bytes.onesComplementSum(packet, 12, 8, 17 + packet.length - 20);
                        assertEquals(0xFFFF, Bytes.onesComplementSum(packet, 20, packet.length - 20, sum),
                                "the UDP checksum verifies");
                        assertEquals(0, Bytes.onesComplementSum(packet, 0, 20, 0) ^ 0xFFFF, "the IPv4 checksum verifies");
                        assertTrue(java.util.Arrays.equals(datagram(seen, seen == 5 ? 200 : 1000),
                                java.util.Arrays.copyOfRange(packet, 28, packet.length)), "datagram " + seen);
                        seen++;
                    }
                    if (read == 0) {
                        Thread.sleep(2);
                    }
                }
                assertEquals(6, seen);
                boolean uso = (tun.offloads() & TunDevice.TUN_F_USO4) != 0;
                assertEquals(uso ? 1 : 0, counters.io(io.flowsec.dataplane.esp.IoCounter.SITE_SUPERPACKETS_READ),
                        "USO granted: " + TunDevice.describe(tun.offloads()));
            } finally {
                tun.close();
            }
        }
    }

    private static byte[] datagram(int seed, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (seed * 13 + i);
        }
        return bytes;
    }

    @Test
    void shouldRefuseABadInterfaceNameClearly() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TunDevice.open("a-name-far-too-long", 1));
        assertTrue(e.getMessage().contains("1-15 characters"), e.getMessage());
    }

    private static byte[] readFromAnyQueue(TunDevice tun, Errno errno) throws InterruptedException {
        byte[] buffer = new byte[2048];
        MemorySegment segment = MemorySegment.ofArray(buffer);
        for (int attempt = 0; attempt < 500; attempt++) {
            for (int queue = 0; queue < tun.queues(); queue++) {
                long length = tun.read(errno, queue, segment);
                if (length > 0 && (buffer[0] >> 4) == 4 && buffer[9] == 1) {
                    return java.util.Arrays.copyOf(buffer, (int) length);
                }
            }
            Thread.sleep(2);
        }
        throw new AssertionError("no echo reply came out of the TUN device");
    }

    static byte[] echoRequest(int source, int destination, int sequence) {
        byte[] packet = new byte[28 + 8];
        new Ipv4View().wrap(packet, 0).versionAndHeaderLength(20).totalLength(packet.length).ttl(64).protocol(1)
                .sourceAddress(source).destinationAddress(destination).updateChecksum();
        packet[20] = 8;                       // echo request
        Bytes.u16(packet, 24, 0x1234);        // identifier
        Bytes.u16(packet, 26, sequence);
        int sum = Bytes.onesComplementSum(packet, 20, packet.length - 20, 0);
        Bytes.u16(packet, 22, ~sum & 0xFFFF);
        return packet;
    }
}
