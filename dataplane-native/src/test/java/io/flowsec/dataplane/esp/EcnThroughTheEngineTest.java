package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.testing.TestPackets;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DSCP and ECN through the engine: copied outward on encapsulation, combined inward per RFC 6040 on decapsulation. */
class EcnThroughTheEngineTest {
    private static final int EF_ECT0 = (46 << 2) | 0b10;
    private static final int EF_NOT_ECT = 46 << 2;
    private static final int CE = 0b11;

    private final TestPackets.Tunnel tunnel = TestPackets.tunnel().build();
    private final EspProcessor a = tunnel.a().processor(EspProcessor.Framing.IP);
    private final EspProcessor b = tunnel.b().processor(EspProcessor.Framing.IP);

    /** A UDP packet from host A to host B with {@code tos}, its header checksum valid. */
    private static byte[] inner(int tos) {
        byte[] packet = TestPackets.udp(TestPackets.HOST_A_V4, 1000, TestPackets.HOST_B_V4, 2000, 32);
        setTos(packet, 0, tos);
        return packet;
    }

    private static void setTos(byte[] packet, int offset, int tos) {
        packet[offset + 1] = (byte) tos;
        TestPackets.put16(packet, offset + 10, 0);
        TestPackets.put16(packet, offset + 10, ~TestPackets.checksum(packet, offset, 20, 0) & 0xFFFF);
    }

    /** Encapsulates {@code inner} at A, lets {@code outerTos} replace the outer TOS (a router on the way), decapsulates at B. */
    private Packet acrossTheTunnel(byte[] inner, int outerTos) {
        Packet packet = TestPackets.slot(inner);
        assertEquals(Outcome.ACCEPTED, a.encapsulate(packet));
        setTos(packet.buffer(), packet.offset(), outerTos);
        return packet;
    }

    @Test
    void shouldCopyTheInnerDscpAndEcnIntoTheOuterHeader() {
        Packet packet = TestPackets.slot(inner(EF_ECT0));
        assertEquals(Outcome.ACCEPTED, a.encapsulate(packet));
        assertEquals(EF_ECT0, packet.buffer()[packet.offset() + 1] & 0xFF, "outer TOS written with IP framing");
        assertEquals(EF_ECT0, packet.outerTrafficClass(), "and recorded for a socket that writes the header itself");
    }

    @Test
    void shouldMarkAnEcnCapableInnerPacketCeWhenTheOuterHeaderCarriesCe() {
        Packet packet = acrossTheTunnel(inner(EF_ECT0), (46 << 2) | CE);
        assertEquals(Outcome.ACCEPTED, b.decapsulate(packet));
        byte[] delivered = packet.toByteArray();
        assertEquals((46 << 2) | CE, delivered[1] & 0xFF, "inner ECN becomes CE, DSCP unchanged");
        assertTrue(TestPackets.isIpv4HeaderChecksumValid(delivered, 0), "the inner checksum follows");
    }

    @Test
    void shouldDropANotEctInnerPacketUnderAnOuterCeAndCountIt() {
        Packet packet = acrossTheTunnel(inner(EF_NOT_ECT), (46 << 2) | CE);
        assertEquals(Outcome.CE_ON_NOT_ECT, b.decapsulate(packet));
        assertEquals(1, b.counters().total(Outcome.CE_ON_NOT_ECT));
        assertEquals(0, b.counters().total(Outcome.ACCEPTED));
    }

    @Test
    void shouldLeaveTheInnerPacketAsSentWhenTheOuterCarriesNoNewMark() {
        byte[] sent = inner(EF_ECT0);
        Packet packet = acrossTheTunnel(sent, EF_ECT0);
        assertEquals(Outcome.ACCEPTED, b.decapsulate(packet));
        assertArrayEquals(sent, packet.toByteArray());
    }
}
