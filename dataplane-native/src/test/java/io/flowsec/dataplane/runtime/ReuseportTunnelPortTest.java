package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.linux.Errno;
import io.flowsec.dataplane.linux.SocketAddress;
import io.flowsec.dataplane.linux.SteeringPrograms;
import io.flowsec.dataplane.linux.UdpSocket;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tunnel endpoint's steering as the data plane drives it: plans far beyond what a classic-BPF chain holds are
 * carried out exactly, replaced in one step by the next plan, and named for status.
 */
class ReuseportTunnelPortTest {
    private static final int LANES = 4;
    private final Errno errno = new Errno();

    private static int freePort(InetAddress address) throws Exception {
        try (UdpSocket probe = UdpSocket.bind(address, 0, false)) {
            return probe.localPort();
        }
    }

    /** The lane whose socket received the one datagram sent, or -1. */
    private int laneThatReceived(ReuseportTunnelPort port) throws InterruptedException {
        MemorySegment buffer = MemorySegment.ofArray(new byte[256]);
        for (int attempt = 0; attempt < 200; attempt++) {
            for (int lane = 0; lane < LANES; lane++) {
                if (((io.flowsec.dataplane.lane.UdpTunnelSocket) port.socket(lane)).socket().receive(errno, buffer) >= 0) {
                    return lane;
                }
            }
            Thread.sleep(1);
        }
        return -1;
    }

    private static Map<Integer, Integer> spread(int count, int firstSpi, int rotation) {
        Map<Integer, Integer> laneBySpi = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            laneBySpi.put(firstSpi + i, (i + rotation) % LANES);
        }
        return laneBySpi;
    }

    @Test
    void shouldSteer65536InboundSasAndReplaceThePlanWhole() throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        try (ReuseportTunnelPort port = ReuseportTunnelPort.bind(loopback, freePort(loopback), LANES, 1 << 20);
             UdpSocket sender = UdpSocket.bind(loopback, 0, false);
             Arena arena = Arena.ofConfined()) {
            MemorySegment to = SocketAddress.of(arena, loopback, port.port());
            int count = 65_536;
            long startNs = System.nanoTime();
            String program = port.steer(new SteeringPlan(SteeringPlan.Field.SPI, spread(count, 0x100000, 0)));
            long steerMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
            System.out.printf("steering %,d inbound SAs: %s, built and attached in %d ms (classic BPF holds %,d)%n",
                    count, program, steerMs, SteeringPrograms.CLASSIC_MAX_ENTRIES);
            assertEquals("eBPF map, 65536 entries", program);
            for (int spi : new int[] {0x100000, 0x100000 + 2_047, 0x100000 + 40_001, 0x100000 + count - 1}) {
                sender.send(errno, MemorySegment.ofArray(ByteBuffer.allocate(16).putInt(spi).array()), to);
                assertEquals((spi - 0x100000) % LANES, laneThatReceived(port), "SPI 0x" + Integer.toHexString(spi));
            }

            // the next plan replaces the map whole: every SA moved one lane on, and an SA that left goes to lane 0
            port.steer(new SteeringPlan(SteeringPlan.Field.SPI, spread(count - 1, 0x100000, 1)));
            for (int spi : new int[] {0x100000, 0x100000 + 2_047, 0x100000 + 40_001}) {
                sender.send(errno, MemorySegment.ofArray(ByteBuffer.allocate(16).putInt(spi).array()), to);
                assertEquals((spi - 0x100000 + 1) % LANES, laneThatReceived(port), "moved SPI 0x" + Integer.toHexString(spi));
            }
            sender.send(errno, MemorySegment.ofArray(ByteBuffer.allocate(16).putInt(0x100000 + count - 1).array()), to);
            assertEquals(0, laneThatReceived(port), "an SPI no longer in the plan goes to lane 0");

            assertEquals("none, kernel hash", port.steer(SteeringPlan.KERNEL_HASH));
            assertTrue(port.steer(SteeringPlan.LANE_ZERO).startsWith("classic BPF"));
        }
    }
}
