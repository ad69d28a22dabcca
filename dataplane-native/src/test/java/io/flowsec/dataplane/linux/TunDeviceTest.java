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
