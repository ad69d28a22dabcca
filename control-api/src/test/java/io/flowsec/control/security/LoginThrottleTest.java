package io.flowsec.control.security;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoginThrottleTest {
    private static final String ATTACKER = "192.0.2.1";
    private static final String NEIGHBOUR = "2001:db8::7";

    /** A clock the test moves by hand. */
    private static final class ManualClock extends Clock {
        private Instant now = Instant.parse("2025-01-31T12:00:00Z");

        void advance(Duration duration) {
            now = now.plus(duration);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }
    }

    private final ManualClock clock = new ManualClock();
    private final LoginThrottle throttle =
            new LoginThrottle(5, Duration.ofSeconds(60), Duration.ofSeconds(30), 1_000, clock);

    private void fail(String address, int times, Duration apart) {
        for (int i = 0; i < times; i++) {
            throttle.failed(address);
            clock.advance(apart);
        }
    }

    @Test
    void anAddressIsLockedOutAfterMaxFailuresWithinTheWindow() {
        fail(ATTACKER, 4, Duration.ofSeconds(10));
        assertEquals(Optional.empty(), throttle.refusedFor(ATTACKER));

        throttle.failed(ATTACKER);

        assertEquals(Optional.of(Duration.ofSeconds(30)), throttle.refusedFor(ATTACKER));
        clock.advance(Duration.ofSeconds(12));
        assertEquals(Optional.of(Duration.ofSeconds(18)), throttle.refusedFor(ATTACKER));
    }

    @Test
    void failuresSpreadBeyondTheWindowNeverLock() {
        fail(ATTACKER, 100, Duration.ofSeconds(16));

        assertEquals(Optional.empty(), throttle.refusedFor(ATTACKER));
        assertEquals(100, throttle.failuresTotal());
    }

    @Test
    void theLockoutEndsWhenItsDurationHasPassedSinceTheLastFailure() {
        fail(ATTACKER, 5, Duration.ZERO);
        clock.advance(Duration.ofSeconds(20));
        throttle.failed(ATTACKER);

        clock.advance(Duration.ofSeconds(29));
        assertTrue(throttle.refusedFor(ATTACKER).isPresent(), "a failure while locked extends the lockout");
        clock.advance(Duration.ofSeconds(1));
        assertEquals(Optional.empty(), throttle.refusedFor(ATTACKER));

        throttle.failed(ATTACKER);
        assertEquals(Optional.empty(), throttle.refusedFor(ATTACKER), "after the lockout the count starts afresh");
    }

    @Test
    void otherAddressesAreUnaffectedByALockout() {
        fail(ATTACKER, 5, Duration.ZERO);
        fail(NEIGHBOUR, 4, Duration.ZERO);

        assertTrue(throttle.refusedFor(ATTACKER).isPresent());
        assertEquals(Optional.empty(), throttle.refusedFor(NEIGHBOUR));
    }

    @Test
    void aSuccessClearsOnlyItsOwnAddress() {
        fail(ATTACKER, 4, Duration.ZERO);
        fail(NEIGHBOUR, 4, Duration.ZERO);

        throttle.succeeded(NEIGHBOUR);
        throttle.failed(NEIGHBOUR);
        throttle.failed(ATTACKER);

        assertEquals(Optional.empty(), throttle.refusedFor(NEIGHBOUR));
        assertTrue(throttle.refusedFor(ATTACKER).isPresent());
        assertEquals(10, throttle.failuresTotal(), "the counter counts every failure, cleared or not");
    }

    @Test
    void aFloodOfAddressesIsBoundedByMaxTrackedForgettingTheStalest() {
        fail(ATTACKER, 5, Duration.ZERO);
        for (int i = 0; i < 50_000; i++) {
            throttle.failed("10." + (i >> 16 & 0xff) + "." + (i >> 8 & 0xff) + "." + (i & 0xff));
            assertTrue(throttle.tracked() <= 1_000);
        }

        assertEquals(1_000, throttle.tracked());
        assertEquals(Optional.empty(), throttle.refusedFor(ATTACKER), "the stalest address was forgotten");
        assertEquals(50_005, throttle.failuresTotal());
    }

    @Test
    void theDefaultsAllowTenFailuresAMinute() {
        LoginThrottle defaults = LoginThrottle.defaults();
        for (int i = 0; i < 9; i++) {
            defaults.failed(ATTACKER);
        }
        assertEquals(Optional.empty(), defaults.refusedFor(ATTACKER));

        defaults.failed(ATTACKER);

        Duration retryAfter = defaults.refusedFor(ATTACKER).orElseThrow();
        assertTrue(retryAfter.compareTo(Duration.ofSeconds(50)) > 0 && retryAfter.compareTo(Duration.ofSeconds(60)) <= 0,
                retryAfter::toString);
    }
}
