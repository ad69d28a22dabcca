package io.flowsec.cluster.security;

import io.flowsec.cluster.security.OpenResult.Opened;
import io.flowsec.cluster.security.OpenResult.Rejected;
import io.flowsec.cluster.security.TestSecrets.ManualClock;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.LongStream;

import static io.flowsec.cluster.security.TestSecrets.secret;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The sealer: the documented layout, a nonce that never repeats under a key, and the limits on what it seals. */
class SealerTest {
    private static final long NOW_MS = 1_790_000_000_000L;
    private final ClusterSecret secret = secret(1);

    @Test
    void theEnvelopeHasEveryFieldAtItsDocumentedOffset() {
        Sealer sealer = new Sealer(secret, "router-a", new ManualClock(NOW_MS));
        byte[] payload = {1, 2, 3};

        byte[] envelope = sealer.seal(MessageType.ASSIGNMENT, "tunnel-7", payload);

        ByteBuffer buffer = ByteBuffer.wrap(envelope);
        assertEquals(0x46, buffer.get(0));
        assertEquals(0x43, buffer.get(1));
        assertEquals(1, buffer.get(Envelope.VERSION_OFFSET));
        assertEquals(MessageType.ASSIGNMENT.code(), buffer.get(Envelope.TYPE_OFFSET));
        assertEquals(8, buffer.get(Envelope.SENDER_LENGTH_OFFSET));
        assertEquals(8, buffer.get(Envelope.SUBJECT_LENGTH_OFFSET));
        assertArrayEquals(sealer.epoch().toBytes(), Arrays.copyOfRange(envelope, 6, 22));
        assertEquals(1, buffer.getLong(Envelope.COUNTER_OFFSET));
        assertEquals(NOW_MS, buffer.getLong(Envelope.TIMESTAMP_OFFSET));
        assertEquals("router-a", new String(envelope, 38, 8, StandardCharsets.UTF_8));
        assertEquals("tunnel-7", new String(envelope, 46, 8, StandardCharsets.UTF_8));
        assertEquals(38 + 8 + 8 + payload.length + 16, envelope.length);
    }

    @Test
    void thePayloadIsEncrypted() {
        byte[] payload = "lane 3 serves SPI 0x1001".getBytes(StandardCharsets.US_ASCII);

        byte[] envelope = new Sealer(secret, "router-a").seal(MessageType.ASSIGNMENT, "t", payload);

        byte[] ciphertext = Arrays.copyOfRange(envelope, 38 + 8 + 1, envelope.length - 16);
        assertFalse(Arrays.equals(payload, ciphertext));
        assertFalse(new String(envelope, StandardCharsets.ISO_8859_1).contains("SPI"));
    }

    @Test
    void countersStrictlyIncreaseAndNeverRepeatWhenSealingFromManyThreads() throws Exception {
        Sealer sealer = new Sealer(secret, "router-a");
        ConcurrentLinkedQueue<Long> counters = new ConcurrentLinkedQueue<>();
        try (ExecutorService threads = Executors.newFixedThreadPool(4)) {
            Callable<Void> sealFiveHundred = () -> sealInto(sealer, counters);
            List<Future<Void>> sealing = threads.invokeAll(Collections.nCopies(4, sealFiveHundred));
            for (Future<Void> done : sealing) {
                done.get();
            }
        }
        Set<Long> distinct = new HashSet<>(counters);
        assertEquals(2000, distinct.size());
        assertEquals(Set.copyOf(LongStream.rangeClosed(1, 2000).boxed().toList()), distinct);
    }

    @Test
    void twoSealersOfOneSecretSealUnderDifferentKeysSoTheirEqualCountersNeverShareANonceAndKey() {
        Sealer first = new Sealer(secret, "router-a", new ManualClock(NOW_MS));
        Sealer second = new Sealer(secret, "router-a", new ManualClock(NOW_MS));
        byte[] payload = new byte[32];

        byte[] fromFirst = first.seal(MessageType.LOAD_REPORT, "", payload);
        byte[] fromSecond = second.seal(MessageType.LOAD_REPORT, "", payload);

        // same counter (1), same header but for the epoch, same payload: only the epoch's key tells them apart
        assertNotEquals(first.epoch(), second.epoch());
        assertEquals(ByteBuffer.wrap(fromFirst).getLong(Envelope.COUNTER_OFFSET),
                ByteBuffer.wrap(fromSecond).getLong(Envelope.COUNTER_OFFSET));
        byte[] firstCiphertext = Arrays.copyOfRange(fromFirst, 38 + 8, fromFirst.length);
        byte[] secondCiphertext = Arrays.copyOfRange(fromSecond, 38 + 8, fromSecond.length);
        assertFalse(Arrays.equals(firstCiphertext, secondCiphertext), "same keystream: key and nonce repeated");

        // the epoch is bound to the key: the first's ciphertext under the second's epoch does not open
        System.arraycopy(second.epoch().toBytes(), 0, fromFirst, Envelope.EPOCH_OFFSET, Epoch.LENGTH);
        Opener opener = new Opener(secret, Opener.DEFAULT_FRESHNESS, new ManualClock(NOW_MS));
        assertEquals(new Rejected(Rejection.BAD_TAG), opener.open(fromFirst));
        assertInstanceOf(Opened.class, opener.open(fromSecond));
    }

    @Test
    void everySealerDrawsItsOwnEpoch() {
        Set<Epoch> epochs = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            epochs.add(new Sealer(secret, "router-a").epoch());
        }
        assertEquals(1000, epochs.size());
    }

    @Test
    void whatCannotBeSealedIsRefusedBeforeACounterIsSpent() {
        Sealer sealer = new Sealer(secret, "router-a", new ManualClock(NOW_MS));

        assertThrows(IllegalArgumentException.class,
                () -> sealer.seal(MessageType.ASSIGNMENT, "t", new byte[Envelope.MAX_PAYLOAD_BYTES + 1]));
        assertThrows(IllegalArgumentException.class,
                () -> sealer.seal(MessageType.ASSIGNMENT, "t".repeat(Envelope.MAX_SUBJECT_BYTES + 1), new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> new Sealer(secret, ""));
        assertThrows(IllegalArgumentException.class, () -> new Sealer(secret, "é".repeat(33)));

        byte[] largest = sealer.seal(MessageType.ASSIGNMENT, "t".repeat(Envelope.MAX_SUBJECT_BYTES),
                new byte[Envelope.MAX_PAYLOAD_BYTES]);
        assertEquals(1, ByteBuffer.wrap(largest).getLong(Envelope.COUNTER_OFFSET));
        Opener opener = new Opener(secret, Opener.DEFAULT_FRESHNESS, new ManualClock(NOW_MS));
        assertEquals(Envelope.MAX_PAYLOAD_BYTES, assertInstanceOf(Opened.class, opener.open(largest)).payload().length);
    }

    private static Void sealInto(Sealer sealer, ConcurrentLinkedQueue<Long> counters) {
        for (int i = 0; i < 500; i++) {
            byte[] envelope = sealer.seal(MessageType.LOAD_REPORT, "", new byte[8]);
            counters.add(ByteBuffer.wrap(envelope).getLong(Envelope.COUNTER_OFFSET));
        }
        return null;
    }
}
