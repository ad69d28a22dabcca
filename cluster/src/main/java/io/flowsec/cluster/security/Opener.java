package io.flowsec.cluster.security;

import io.flowsec.cluster.security.OpenResult.Opened;
import io.flowsec.cluster.security.OpenResult.Rejected;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Opens envelopes sealed by any {@link Sealer} of the same {@link ClusterSecret}. Every outcome is a result, never
 * an exception, whatever the bytes; every refusal is counted by {@link Rejection}. Thread-safe: Hazelcast delivers
 * events on several threads.
 * <p>
 * The checks, in order:
 * <ol>
 * <li>parse the header: lengths, magic, version, type ({@link Rejection#MALFORMED});</li>
 * <li>take the epoch's key: cached if the epoch was authenticated before, else derived now and not kept;</li>
 * <li>decrypt and verify the tag over header and ciphertext ({@link Rejection#BAD_TAG});</li>
 * <li>timestamp within the freshness window of now, either way ({@link Rejection#STALE});</li>
 * <li>the type and subject the caller expects here ({@link Rejection#MISDIRECTED});</li>
 * <li>counter above the highest seen for its stream, then commit it ({@link Rejection#REPLAYED}).</li>
 * </ol>
 * Only a message that passed the tag reaches the state of steps 2 and 6, so a member without the secret can flood
 * this opener with fake senders and epochs without growing it. A stream is (sender, epoch, type, subject): messages
 * of different tunnels, or assignments and load reports, travel on different Hazelcast paths and may overtake one
 * another, while within one stream Hazelcast keeps the order. Both tables are LRU-bounded ({@link #MAX_STREAMS},
 * {@link #MAX_CACHED_KEYS}); a stream forgotten under pressure could accept a replay within the freshness window,
 * never later, since the timestamp is authenticated.
 */
public final class Opener {
    public static final Duration DEFAULT_FRESHNESS = Duration.ofSeconds(30);
    /** Streams whose highest counter is remembered: senders × (tunnels + 1) × recent epochs, with room to spare. */
    public static final int MAX_STREAMS = 4096;
    /** Epoch keys kept so that HKDF runs once per epoch rather than once per message. */
    public static final int MAX_CACHED_KEYS = 256;

    private final ClusterSecret secret;
    private final long freshnessMs;
    private final InstantSource clock;
    private final ThreadLocal<Cipher> ciphers = ThreadLocal.withInitial(Sealer::newGcm);

    private final Object stateLock = new Object();
    private final Map<Epoch, SecretKeySpec> keysByEpoch = lruMap(MAX_CACHED_KEYS);
    private final Map<Stream, Long> highestCounterByStream = lruMap(MAX_STREAMS);

    private final AtomicLong opened = new AtomicLong();
    private final AtomicLongArray rejections = new AtomicLongArray(Rejection.values().length);

    private record Stream(String sender, Epoch epoch, MessageType type, String subject) {
    }

    public Opener(ClusterSecret secret) {
        this(secret, DEFAULT_FRESHNESS, InstantSource.system());
    }

    /** {@code freshness}: how far a message's timestamp may be from this clock, either way (clocks are NTP-close). */
    public Opener(ClusterSecret secret, Duration freshness, InstantSource clock) {
        this.secret = Objects.requireNonNull(secret, "secret");
        if (freshness.isNegative() || freshness.isZero()) {
            throw new IllegalArgumentException("freshness window must be positive, got " + freshness);
        }
        this.freshnessMs = freshness.toMillis();
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** Opens a message of any type and subject. */
    public OpenResult open(byte[] envelope) {
        return open(envelope, null, null);
    }

    /**
     * Opens a message that must be of {@code expectedType} about {@code expectedSubject} (null: any). Never throws;
     * a refused message's plaintext, if it was decrypted, is wiped.
     */
    public OpenResult open(byte[] envelope, MessageType expectedType, String expectedSubject) {
        try {
            return openChecked(envelope, expectedType, expectedSubject);
        } catch (RuntimeException e) {
            // no input should get here; if one does it is still refused, never thrown at an event thread
            return reject(Rejection.MALFORMED, null);
        }
    }

    private OpenResult openChecked(byte[] envelope, MessageType expectedType, String expectedSubject) {
        // 1. header
        Envelope.Header header = Envelope.parse(envelope);
        if (header == null) {
            return reject(Rejection.MALFORMED, null);
        }
        // 2. key
        SecretKeySpec key;
        synchronized (stateLock) {
            key = keysByEpoch.get(header.epoch());
        }
        if (key == null) {
            key = Sealer.epochKey(secret, header.epoch());
        }
        // 3. tag
        byte[] payload;
        try {
            Cipher cipher = ciphers.get();
            cipher.init(Cipher.DECRYPT_MODE, key,
                    new GCMParameterSpec(Sealer.TAG_BITS, Envelope.nonce(header.counter())));
            cipher.updateAAD(envelope, 0, header.length());
            payload = cipher.doFinal(envelope, header.length(), envelope.length - header.length());
        } catch (GeneralSecurityException e) {
            return reject(Rejection.BAD_TAG, null);
        }
        // 4. freshness
        long nowMs = clock.millis();
        if (header.timestampMs() < nowMs - freshnessMs || header.timestampMs() > nowMs + freshnessMs) {
            return reject(Rejection.STALE, payload);
        }
        // 5. where it was found
        if ((expectedType != null && header.type() != expectedType)
                || (expectedSubject != null && !header.subject().equals(expectedSubject))) {
            return reject(Rejection.MISDIRECTED, payload);
        }
        // 6. replay, checked and committed at once
        Stream stream = new Stream(header.sender(), header.epoch(), header.type(), header.subject());
        synchronized (stateLock) {
            Long highest = highestCounterByStream.get(stream);
            if (highest != null && header.counter() <= highest) {
                return reject(Rejection.REPLAYED, payload);
            }
            highestCounterByStream.put(stream, header.counter());
            keysByEpoch.put(header.epoch(), key);
        }
        opened.incrementAndGet();
        return new Opened(header.type(), header.sender(), header.epoch(), header.counter(), header.timestampMs(),
                header.subject(), payload);
    }

    /** Messages opened since this opener was created. */
    public long opened() {
        return opened.get();
    }

    /** Messages refused for {@code reason} since this opener was created. */
    public long rejected(Rejection reason) {
        return rejections.get(reason.ordinal());
    }

    /** An opened message whose content its reader refused: counted as {@link Rejection#UNREADABLE}. */
    public void unreadable() {
        rejections.incrementAndGet(Rejection.UNREADABLE.ordinal());
    }

    /** All refusal counters at once, every reason present. */
    public Map<Rejection, Long> rejections() {
        Map<Rejection, Long> snapshot = new EnumMap<>(Rejection.class);
        for (Rejection reason : Rejection.values()) {
            snapshot.put(reason, rejected(reason));
        }
        return snapshot;
    }

    /** For tests: how many streams the replay state holds. */
    int trackedStreams() {
        synchronized (stateLock) {
            return highestCounterByStream.size();
        }
    }

    /** For tests: how many epoch keys are cached. */
    int cachedKeys() {
        synchronized (stateLock) {
            return keysByEpoch.size();
        }
    }

    @Override
    public String toString() {
        return "Opener[opened=" + opened() + ", rejected=" + rejections() + "]";
    }

    private Rejected reject(Rejection reason, byte[] plaintext) {
        if (plaintext != null) {
            Arrays.fill(plaintext, (byte) 0);
        }
        rejections.incrementAndGet(reason.ordinal());
        return new Rejected(reason);
    }

    private static <K, V> Map<K, V> lruMap(int capacity) {
        return new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                return size() > capacity;
            }
        };
    }
}
