package io.flowsec.cluster.security;

import io.flowsec.cluster.security.OpenResult.Opened;
import io.flowsec.cluster.security.OpenResult.Rejected;
import io.flowsec.cluster.security.TestSecrets.ManualClock;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;

import static io.flowsec.cluster.security.TestSecrets.secret;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The opener: what it accepts, every reason it refuses for, its counters (checked whole after each case, so a wrong
 * count cannot hide), and that no input makes it throw or grow.
 */
class OpenerTest {
    private static final long NOW_MS = 1_790_000_000_000L;
    private static final byte[] PAYLOAD = "lane 2 serves SPI 0x1002".getBytes(StandardCharsets.US_ASCII);

    private final ClusterSecret secret = secret(1);
    private final ManualClock clock = new ManualClock(NOW_MS);
    private final Sealer sealer = new Sealer(secret, "router-a", clock);
    private final Opener opener = new Opener(secret, Opener.DEFAULT_FRESHNESS, clock);
    private final Map<Rejection, Long> expectedRejections = new EnumMap<>(Rejection.class);
    private long expectedOpened;

    @Test
    void aSealedMessageOpensToWhatWasSealed() {
        byte[] envelope = sealer.seal(MessageType.ASSIGNMENT, "tunnel-1", PAYLOAD);

        Opened opened = assertInstanceOf(Opened.class, opener.open(envelope, MessageType.ASSIGNMENT, "tunnel-1"));

        assertEquals(MessageType.ASSIGNMENT, opened.type());
        assertEquals("router-a", opened.sender());
        assertEquals(sealer.epoch(), opened.epoch());
        assertEquals(1, opened.counter());
        assertEquals(NOW_MS, opened.timestampMs());
        assertEquals("tunnel-1", opened.subject());
        assertArrayEquals(PAYLOAD, opened.payload());
        assertLedger(1);
    }

    @Test
    void everyMessageTypeAndAnEmptyPayloadOpen() {
        for (MessageType type : MessageType.values()) {
            assertInstanceOf(Opened.class, opener.open(sealer.seal(type, "", new byte[0])));
        }
        assertLedger(MessageType.values().length);
    }

    @Test
    void flippingAnySingleBitOfASealedMessageIsRefusedAndCounted() {
        byte[] envelope = sealer.seal(MessageType.ASSIGNMENT, "tunnel-1", PAYLOAD);

        int flips = 0;
        for (int index = 0; index < envelope.length; index++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] changed = envelope.clone();
                changed[index] ^= (byte) (1 << bit);
                Rejected rejected = assertInstanceOf(Rejected.class, opener.open(changed),
                        () -> "a flip accepted at offset " + Arrays.toString(changed));
                assertTrue(rejected.reason() == Rejection.BAD_TAG || rejected.reason() == Rejection.MALFORMED,
                        rejected::toString);
                flips++;
            }
        }
        assertEquals(flips, opener.rejected(Rejection.BAD_TAG) + opener.rejected(Rejection.MALFORMED));
        assertTrue(opener.rejected(Rejection.MALFORMED) > 0 && opener.rejected(Rejection.BAD_TAG) > 0);
        assertEquals(0, opener.opened());

        // forgeries touched no replay state: the original still opens, once
        assertInstanceOf(Opened.class, opener.open(envelope));
        assertEquals(new Rejected(Rejection.REPLAYED), opener.open(envelope));
    }

    @Test
    void theLedgerCountsEachOutcomeByItsReason() {
        Sealer outsider = new Sealer(secret(2), "intruder", clock);
        byte[] first = sealer.seal(MessageType.ASSIGNMENT, "tunnel-1", PAYLOAD);
        byte[] second = sealer.seal(MessageType.ASSIGNMENT, "tunnel-1", PAYLOAD);
        byte[] otherTunnel = sealer.seal(MessageType.ASSIGNMENT, "tunnel-2", PAYLOAD);
        byte[] report = sealer.seal(MessageType.LOAD_REPORT, "", PAYLOAD);

        assertOutcome(null, opener.open(second));
        assertOutcome(Rejection.REPLAYED, opener.open(second));                  // the same message again
        assertOutcome(Rejection.REPLAYED, opener.open(first));                   // an older one of the same stream
        assertOutcome(null, opener.open(otherTunnel));                           // another tunnel: its own stream
        assertOutcome(null, opener.open(report));                                // a report overtaking: its own stream
        assertOutcome(Rejection.BAD_TAG, opener.open(outsider.seal(MessageType.ASSIGNMENT, "tunnel-1", PAYLOAD)));
        assertOutcome(Rejection.MALFORMED, opener.open(new byte[10]));
        assertOutcome(Rejection.MALFORMED, opener.open(null));
        byte[] third = sealer.seal(MessageType.ASSIGNMENT, "tunnel-1", PAYLOAD);
        assertOutcome(Rejection.MISDIRECTED, opener.open(third, MessageType.ASSIGNMENT, "tunnel-9"));
        assertOutcome(Rejection.MISDIRECTED, opener.open(third, MessageType.LOAD_REPORT, null));
        assertOutcome(null, opener.open(third, MessageType.ASSIGNMENT, "tunnel-1"));   // misdirection spent no counter
        byte[] laterReport = sealer.seal(MessageType.LOAD_REPORT, "", PAYLOAD);
        clock.set(NOW_MS + 31_000);                                              // delivered 31 s after sealing
        assertOutcome(Rejection.STALE, opener.open(laterReport));
    }

    @Test
    void aMessageOutsideTheFreshnessWindowEitherWayIsStale() {
        ManualClock sealerClock = new ManualClock(NOW_MS - 30_001);
        Sealer sealerOfThePast = new Sealer(secret, "router-a", sealerClock);

        assertOutcome(Rejection.STALE, opener.open(sealerOfThePast.seal(MessageType.LOAD_REPORT, "", PAYLOAD)));
        sealerClock.set(NOW_MS - 30_000);
        assertOutcome(null, opener.open(sealerOfThePast.seal(MessageType.LOAD_REPORT, "", PAYLOAD)));
        sealerClock.set(NOW_MS + 30_000);
        assertOutcome(null, opener.open(sealerOfThePast.seal(MessageType.LOAD_REPORT, "", PAYLOAD)));
        sealerClock.set(NOW_MS + 30_001);
        assertOutcome(Rejection.STALE, opener.open(sealerOfThePast.seal(MessageType.LOAD_REPORT, "", PAYLOAD)));
    }

    @Test
    void aRecordingIsStaleOnceItsWindowPassedEvenForAnOpenerThatNeverSawItsEpoch() {
        byte[] recorded = sealer.seal(MessageType.ASSIGNMENT, "tunnel-1", PAYLOAD);
        Opener restarted = new Opener(secret, Duration.ofSeconds(30), clock);
        clock.set(NOW_MS + 60_000);

        assertEquals(new Rejected(Rejection.STALE), restarted.open(recorded));
    }

    @Test
    void randomBytesTruncationsAndForgedHeadersNeverThrowAndAreAllCounted() {
        Random random = new Random(4303);
        byte[] envelope = sealer.seal(MessageType.ASSIGNMENT, "tunnel-1", PAYLOAD);
        int attempts = 0;

        for (int i = 0; i < 2000; i++) {
            byte[] noise = new byte[random.nextInt(300)];
            random.nextBytes(noise);
            assertInstanceOf(Rejected.class, opener.open(noise));
            attempts++;
        }
        for (int length = 0; length < envelope.length; length++) {
            assertInstanceOf(Rejected.class, opener.open(Arrays.copyOf(envelope, length)));
            attempts++;
        }
        for (int i = 0; i < 2000; i++) {
            // a plausible header with random lengths, epoch, counter and names: gets past the magic to the bounds
            byte[] forged = new byte[Envelope.MIN_LENGTH + random.nextInt(400)];
            random.nextBytes(forged);
            forged[0] = Envelope.MAGIC_0;
            forged[1] = Envelope.MAGIC_1;
            forged[2] = Envelope.VERSION;
            forged[3] = (byte) (1 + random.nextInt(3));
            assertInstanceOf(Rejected.class, opener.open(forged, MessageType.ASSIGNMENT, "tunnel-1"));
            attempts++;
        }
        assertInstanceOf(Rejected.class, opener.open(new byte[Envelope.MAX_LENGTH + 1]));
        attempts++;

        long counted = opener.rejections().values().stream().mapToLong(Long::longValue).sum();
        assertEquals(attempts, counted);
        assertEquals(0, opener.opened());
        assertEquals(0, opener.trackedStreams());
    }

    @Test
    void aFloodOfForgedSendersAndEpochsLeavesNoState() {
        for (int i = 0; i < 2000; i++) {
            Sealer forger = new Sealer(secret(1000 + i % 7), "fake-" + i, clock);
            assertEquals(new Rejected(Rejection.BAD_TAG),
                    opener.open(forger.seal(MessageType.LOAD_REPORT, "", PAYLOAD)));
        }
        assertEquals(0, opener.trackedStreams());
        assertEquals(0, opener.cachedKeys());
        assertEquals(2000, opener.rejected(Rejection.BAD_TAG));
    }

    @Test
    void manyAuthenticSendersAreRememberedUpToTheBoundOnly() {
        int senders = Opener.MAX_STREAMS + 100;
        for (int i = 0; i < senders; i++) {
            Sealer member = new Sealer(secret, "member-" + i, clock);
            assertInstanceOf(Opened.class, opener.open(member.seal(MessageType.LOAD_REPORT, "", PAYLOAD)));
        }
        assertEquals(Opener.MAX_STREAMS, opener.trackedStreams());
        assertEquals(Opener.MAX_CACHED_KEYS, opener.cachedKeys());
        assertEquals(senders, opener.opened());
    }

    @Test
    void aPayloadDeclaredLongerThanTheLimitIsMalformedNotDecrypted() {
        byte[] envelope = sealer.seal(MessageType.LOAD_REPORT, "", new byte[Envelope.MAX_PAYLOAD_BYTES]);
        byte[] tooLong = Arrays.copyOf(envelope, envelope.length + 1);

        assertOutcome(Rejection.MALFORMED, opener.open(tooLong));
        assertOutcome(null, opener.open(envelope));
    }

    @Test
    void aCounterOfZeroOrAnUnknownTypeIsMalformed() {
        byte[] envelope = sealer.seal(MessageType.LOAD_REPORT, "", PAYLOAD);
        byte[] zeroCounter = envelope.clone();
        ByteBuffer.wrap(zeroCounter).putLong(Envelope.COUNTER_OFFSET, 0);
        byte[] unknownType = envelope.clone();
        unknownType[Envelope.TYPE_OFFSET] = 99;

        assertOutcome(Rejection.MALFORMED, opener.open(zeroCounter));
        assertOutcome(Rejection.MALFORMED, opener.open(unknownType));
    }

    /** Opened when {@code reason} is null; then every counter cell is checked. */
    private void assertOutcome(Rejection reason, OpenResult result) {
        if (reason == null) {
            assertInstanceOf(Opened.class, result);
            expectedOpened++;
        } else {
            assertEquals(new Rejected(reason), result);
            expectedRejections.merge(reason, 1L, Long::sum);
        }
        assertLedger(expectedOpened);
    }

    private void assertLedger(long opened) {
        Map<Rejection, Long> expected = new EnumMap<>(Rejection.class);
        for (Rejection reason : Rejection.values()) {
            expected.put(reason, expectedRejections.getOrDefault(reason, 0L));
        }
        assertEquals(expected, opener.rejections());
        assertEquals(opened, opener.opened());
    }
}
