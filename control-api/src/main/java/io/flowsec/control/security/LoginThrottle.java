package io.flowsec.control.security;

import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Slows down token guessing: an address with {@code maxFailures} failed authentications within {@code window} is
 * refused until {@code lockout} has passed since its last failure. Tokens carry 256 random bits, so guessing cannot
 * succeed anyway; the throttle keeps a guesser from costing the appliance CPU and from filling its logs.
 *
 * <p>At most {@code maxTracked} addresses are remembered; beyond that the one whose last failure is oldest is
 * forgotten, so a flood of spoofed addresses costs bounded memory (at worst it frees a locked address early).
 */
public final class LoginThrottle {
    private static final int DEFAULT_MAX_FAILURES = 10;
    private static final Duration DEFAULT_WINDOW = Duration.ofSeconds(60);
    private static final Duration DEFAULT_LOCKOUT = Duration.ofSeconds(60);
    private static final int DEFAULT_MAX_TRACKED = 10_000;

    /** One address's last failures, oldest first in a ring, and when its lockout ends (0 when not locked). */
    private static final class Failures {
        final long[] atMillis;
        int next;
        int count;
        long lockedUntilMillis;

        Failures(int maxFailures) {
            atMillis = new long[maxFailures];
        }

        void record(long nowMillis) {
            atMillis[next] = nowMillis;
            next = (next + 1) % atMillis.length;
            count = Math.min(count + 1, atMillis.length);
        }

        /** The oldest of the last {@code maxFailures} failures; only meaningful once the ring is full. */
        long oldestMillis() {
            return atMillis[next];
        }
    }

    private final int maxFailures;
    private final long windowMillis;
    private final long lockoutMillis;
    private final int maxTracked;
    private final Clock clock;
    /** Insertion order is last-failure order: {@link #failed} re-inserts, so the eldest entry is the stalest. */
    private final LinkedHashMap<String, Failures> byAddress;
    private long failuresTotal;

    public LoginThrottle(int maxFailures, Duration window, Duration lockout, int maxTracked, Clock clock) {
        if (maxFailures < 1) {
            throw new IllegalArgumentException("maxFailures must be at least 1: " + maxFailures);
        }
        if (window.isNegative() || window.isZero() || lockout.isNegative() || lockout.isZero()) {
            throw new IllegalArgumentException("window and lockout must be positive: " + window + ", " + lockout);
        }
        if (maxTracked < 1) {
            throw new IllegalArgumentException("maxTracked must be at least 1: " + maxTracked);
        }
        this.maxFailures = maxFailures;
        this.windowMillis = window.toMillis();
        this.lockoutMillis = lockout.toMillis();
        this.maxTracked = maxTracked;
        this.clock = Objects.requireNonNull(clock, "clock");
        this.byAddress = new LinkedHashMap<>() {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Failures> eldest) {
                return size() > LoginThrottle.this.maxTracked;
            }
        };
    }

    /** 10 failures per 60 s lock an address out for 60 s; 10,000 addresses remembered. */
    public static LoginThrottle defaults() {
        return new LoginThrottle(DEFAULT_MAX_FAILURES, DEFAULT_WINDOW, DEFAULT_LOCKOUT, DEFAULT_MAX_TRACKED,
                Clock.systemUTC());
    }

    /** How long this address must wait before it may try again; empty when it may try now. */
    public synchronized Optional<Duration> refusedFor(String address) {
        Failures failures = byAddress.get(Objects.requireNonNull(address, "address"));
        if (failures == null || failures.lockedUntilMillis == 0) {
            return Optional.empty();
        }
        long nowMillis = clock.millis();
        if (nowMillis >= failures.lockedUntilMillis) {
            byAddress.remove(address);
            return Optional.empty();
        }
        return Optional.of(Duration.ofMillis(failures.lockedUntilMillis - nowMillis));
    }

    /** Records a failed authentication; a failure while locked out extends the lockout. */
    public synchronized void failed(String address) {
        Objects.requireNonNull(address, "address");
        long nowMillis = clock.millis();
        failuresTotal++;
        Failures failures = byAddress.remove(address);
        if (failures == null || (failures.lockedUntilMillis != 0 && nowMillis >= failures.lockedUntilMillis)) {
            failures = new Failures(maxFailures);
        }
        failures.record(nowMillis);
        boolean locked = failures.lockedUntilMillis != 0;
        boolean tooMany = failures.count == maxFailures && nowMillis - failures.oldestMillis() < windowMillis;
        if (locked || tooMany) {
            failures.lockedUntilMillis = nowMillis + lockoutMillis;
        }
        byAddress.put(address, failures);
    }

    /** Forgets this address's failures; other addresses keep theirs. */
    public synchronized void succeeded(String address) {
        byAddress.remove(Objects.requireNonNull(address, "address"));
    }

    /** Failed authentications since start, for metrics. */
    public synchronized long failuresTotal() {
        return failuresTotal;
    }

    /** How many addresses are remembered; for tests of the memory bound. */
    synchronized int tracked() {
        return byAddress.size();
    }
}
