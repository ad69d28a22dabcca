package io.flowsec.dataplane.sa;

import io.flowsec.dataplane.testing.TestPackets;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RFC 4301 §4.4.2.1 lifetimes: each limit reported once, soft before hard, hard stops the SA. */
class SaLifetimeTest {
    private final List<String> events = new ArrayList<>();
    private final SaLifetimeListener recorder = new SaLifetimeListener() {
        @Override
        public void onSoftLifetime(SecurityAssociation sa, String limit) {
            events.add("soft " + limit);
        }

        @Override
        public void onHardLifetime(SecurityAssociation sa, String limit) {
            events.add("hard " + limit);
        }
    };

    private static SecurityAssociation outbound(SaLifetime lifetime, long lastSequenceUsed) {
        return TestPackets.tunnel().lifetime(lifetime).initialSequence(lastSequenceUsed).build().a().outboundGroup().member(0);
    }

    @Test
    void shouldRaiseSoftOnceAtItsPacketLimitThenExpireAtTheHardOne() {
        SecurityAssociation sa = outbound(new SaLifetime(0, 0, 3, 5, 0, 0), 0);
        for (int i = 1; i <= 7; i++) {
            sa.countUse(100, recorder);
            assertEquals(i >= 5, sa.isExpired(), "after packet " + i);
        }
        assertEquals(List.of("soft packets", "hard packets"), events);
        assertTrue(sa.isSoftLifetimeReached());
        assertEquals(7, sa.packetsUsed());
        assertEquals(700, sa.bytesUsed());
    }

    @Test
    void shouldCountInnerBytesAgainstTheByteLimits() {
        SecurityAssociation sa = outbound(new SaLifetime(1000, 1500, 0, 0, 0, 0), 0);
        sa.countUse(999, recorder);
        assertEquals(List.of(), events);
        sa.countUse(1, recorder);
        assertEquals(List.of("soft bytes"), events);
        sa.countUse(499, recorder);
        assertFalse(sa.isExpired());
        sa.countUse(1, recorder);
        assertTrue(sa.isExpired());
        assertEquals(List.of("soft bytes", "hard bytes"), events);
    }

    @Test
    void shouldCheckSecondsAgainstTheAgeTheRuntimeGives() {
        SecurityAssociation sa = outbound(new SaLifetime(0, 0, 0, 0, 60, 90), 0);
        sa.checkAge(59, recorder);
        assertEquals(List.of(), events);
        sa.checkAge(60, recorder);
        sa.checkAge(61, recorder);
        assertEquals(List.of("soft seconds"), events);
        sa.checkAge(90, recorder);
        assertEquals(List.of("soft seconds", "hard seconds"), events);
        assertTrue(sa.isExpired());
    }

    @Test
    void shouldRaiseSoftWellBeforeTheSequenceNumbersRunOutWithNoLifetimeConfigured() {
        long softAt = 0xFFFF_FFFFL - (0xFFFF_FFFFL >>> 4);
        SecurityAssociation sa = outbound(SaLifetime.NONE, softAt - 2);
        sa.nextSequenceNumber();
        sa.countUse(64, recorder);
        assertEquals(List.of(), events, "below 15/16 of the counter");
        sa.nextSequenceNumber();
        sa.countUse(64, recorder);
        assertEquals(List.of("soft sequence"), events);
        sa.nextSequenceNumber();
        sa.countUse(64, recorder);
        assertEquals(List.of("soft sequence"), events, "once");
        assertFalse(sa.isExpired(), "the counter's own end stops it (sequence-exhausted), not a lifetime");
    }

    @Test
    void shouldRefuseASoftLimitNotBelowItsHardOneOrANegativeOne() {
        assertThrows(IllegalArgumentException.class, () -> new SaLifetime(0, 0, 5, 5, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new SaLifetime(0, 0, 0, 0, 10, 3));
        assertThrows(IllegalArgumentException.class, () -> new SaLifetime(-1, 0, 0, 0, 0, 0));
        assertTrue(new SaLifetime(0, 0, 0, 0, 0, 0).isUnlimited());
    }
}
