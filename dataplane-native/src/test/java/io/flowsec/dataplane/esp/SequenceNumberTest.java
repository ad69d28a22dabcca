package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.testing.TestPackets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.flowsec.dataplane.testing.TestPackets.HOST_A_V4;
import static io.flowsec.dataplane.testing.TestPackets.HOST_B_V4;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The outbound sequence counter (RFC 4303 §3.3.3): starts at 1, shared by lanes without repeating, never wraps. */
class SequenceNumberTest {
    private static SecurityAssociation outbound(boolean esn, long lastUsed) {
        return TestPackets.tunnel().esn(esn).initialSequence(lastUsed).build().a().outbound(0);
    }

    @Test
    void shouldStartAtOneAndCountUpByOne() {
        SecurityAssociation sa = outbound(false, 0);
        assertEquals(0, sa.lastSequenceSent());
        assertEquals(1, sa.nextSequenceNumber());
        assertEquals(2, sa.nextSequenceNumber());
        assertEquals(3, sa.nextSequenceNumber());
        assertEquals(3, sa.lastSequenceSent());
        assertFalse(sa.isSequenceExhausted());
    }

    @Test
    void shouldSendTwoToThe32MinusOneThenRefuseForGoodWithoutEsn() {
        SecurityAssociation sa = outbound(false, 0xFFFF_FFFEL);
        assertFalse(sa.isSequenceExhausted());

        assertEquals(0xFFFF_FFFFL, sa.nextSequenceNumber(), "the last 32-bit number is still sent");
        assertTrue(sa.isSequenceExhausted());
        assertEquals(0, sa.nextSequenceNumber(), "then 0: exhausted");
        assertEquals(0, sa.nextSequenceNumber(), "and it stays exhausted");
        assertEquals(0xFFFF_FFFFL, sa.lastSequenceSent(), "a refusal does not move the counter");
    }

    @Test
    void shouldCrossTwoToThe32WithEsn() {
        SecurityAssociation sa = outbound(true, 0xFFFF_FFFEL);
        assertEquals(0xFFFF_FFFFL, sa.nextSequenceNumber());
        assertEquals(0x1_0000_0000L, sa.nextSequenceNumber());
        assertEquals(0x1_0000_0001L, sa.nextSequenceNumber());
        assertFalse(sa.isSequenceExhausted());
    }

    @Test
    void shouldSendTwoToThe64MinusOneThenRefuseForGoodWithEsn() {
        SecurityAssociation sa = outbound(true, -3L);                   // 2^64 - 3 already used
        assertEquals(-2L, sa.nextSequenceNumber());                      // 2^64 - 2
        assertEquals(-1L, sa.nextSequenceNumber());                      // 2^64 - 1
        assertTrue(sa.isSequenceExhausted());
        assertEquals(0, sa.nextSequenceNumber());
        assertEquals(0, sa.nextSequenceNumber());
        assertEquals(-1L, sa.lastSequenceSent());
    }

    @Test
    void shouldReturnSequenceExhaustedFromEncapsulateAndCountItOnTheSa() {
        TestPackets.Tunnel tunnel = TestPackets.tunnel().initialSequence(0xFFFF_FFFEL).build();
        EspProcessor a = tunnel.a().processor();
        SecurityAssociation sa = tunnel.a().outbound(0);
        byte[] inner = TestPackets.udp(HOST_A_V4, 1000, HOST_B_V4, 2000, 10);

        Packet last = TestPackets.slot(inner);
        assertEquals(Outcome.ACCEPTED, a.encapsulate(last));
        assertEquals(0xFFFF_FFFFL, last.sequenceNumber());

        for (int i = 1; i <= 3; i++) {
            Packet refused = TestPackets.slot(inner);
            assertEquals(Outcome.SEQUENCE_EXHAUSTED, a.encapsulate(refused));
            assertEquals(i, a.counters().packets(sa.index(), Outcome.SEQUENCE_EXHAUSTED));
            assertArrayEquals(inner, refused.toByteArray(), "a refused packet is left as it was");
        }
        assertEquals(1, a.counters().packets(sa.index(), Outcome.ACCEPTED));
        assertEquals(3, a.counters().total(Outcome.SEQUENCE_EXHAUSTED));
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(EspSuite.class)
    void shouldCarryEsnPacketsAcrossTwoToThe32ToThePeer(EspSuite suite) {
        TestPackets.Tunnel tunnel = TestPackets.tunnel().suite(suite).esn(true).replayWindowSize(64)
                .initialSequence(0xFFFF_FF00L).build();
        EspProcessor a = tunnel.a().processor();
        EspProcessor b = tunnel.b().processor();
        byte[] inner = TestPackets.udp(HOST_A_V4, 1000, HOST_B_V4, 2000, 33);
        long expected = 0xFFFF_FF01L;
        for (int i = 0; i < 0x200; i++, expected++) {
            Packet packet = TestPackets.slot(inner);
            assertEquals(Outcome.ACCEPTED, a.encapsulate(packet));
            assertEquals(expected, packet.sequenceNumber());
            assertEquals(Outcome.ACCEPTED, b.decapsulate(packet), "seq " + Long.toHexString(expected));
            assertEquals(expected, packet.sequenceNumber(), "the receiver rebuilt the high half");
            assertArrayEquals(inner, packet.toByteArray());
        }
        assertEquals(expected - 1, tunnel.b().inbound().getFirst().replayWindow().highest());
    }
}
