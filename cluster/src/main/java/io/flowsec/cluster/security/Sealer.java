package io.flowsec.cluster.security;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.Arrays;
import java.util.Objects;

/**
 * Seals messages (authenticates and encrypts them with AES-256-GCM) for the members that share the
 * {@link ClusterSecret}; the layout is in {@link Envelope}. Thread-safe.
 * <p>
 * <b>Why a key per epoch and the counter as nonce.</b> GCM loses both confidentiality and authenticity if a nonce
 * ever repeats under one key. A counter never repeats within a process, but a counter alone would restart at 1 with
 * every restart under the same key, unless it were stored durably. Random 96-bit nonces under one cluster-wide key
 * would be safe only up to about 2^32 messages in total, across all members and restarts. So each Sealer draws a
 * random 128-bit epoch when it is created and seals under HKDF(secret, salt = epoch, info = "flowsec cluster seal
 * v1"): a restart is a new epoch and so a new key, two members never share a key (but with probability 2^-128), and
 * within an epoch the strictly increasing counter is the nonce. Nothing has to survive a restart. The epoch is in
 * the header and the header is the AAD, so an epoch changed on the way derives a different key and the tag fails.
 * <p>
 * The timestamp lets the opener refuse recordings older than its freshness window, after its replay state for an
 * old epoch may be gone.
 */
public final class Sealer {
    static final byte[] SEAL_KEY_INFO = "flowsec cluster seal v1".getBytes(StandardCharsets.US_ASCII);
    static final int KEY_LENGTH = 32;
    static final int TAG_BITS = Envelope.TAG_LENGTH * 8;

    private final String memberName;
    private final byte[] memberNameBytes;
    private final Epoch epoch;
    private final InstantSource clock;
    private final SecretKeySpec key;
    private final Cipher cipher;
    /** The counter of the last message sealed; guarded by {@code this}, like the cipher. */
    private long counter;

    public Sealer(ClusterSecret secret, String memberName) {
        this(secret, memberName, InstantSource.system());
    }

    public Sealer(ClusterSecret secret, String memberName, InstantSource clock) {
        this.memberName = Objects.requireNonNull(memberName, "memberName");
        this.memberNameBytes = memberName.getBytes(StandardCharsets.UTF_8);
        if (memberNameBytes.length < 1 || memberNameBytes.length > Envelope.MAX_SENDER_BYTES) {
            throw new IllegalArgumentException("member name must be 1.." + Envelope.MAX_SENDER_BYTES
                    + " bytes of UTF-8, got " + memberNameBytes.length);
        }
        this.clock = Objects.requireNonNull(clock, "clock");
        this.epoch = Epoch.random(new SecureRandom());
        this.key = epochKey(secret, epoch);
        this.cipher = newGcm();
    }

    public String memberName() {
        return memberName;
    }

    public Epoch epoch() {
        return epoch;
    }

    /**
     * Seals {@code payload} (0..64 KiB) as a message of {@code type} about {@code subject} (0..128 bytes of UTF-8:
     * an assignment's tunnel id, or empty). Each call takes the next counter value.
     */
    public synchronized byte[] seal(MessageType type, String subject, byte[] payload) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(payload, "payload");
        byte[] subjectBytes = subject.getBytes(StandardCharsets.UTF_8);
        if (subjectBytes.length > Envelope.MAX_SUBJECT_BYTES) {
            throw new IllegalArgumentException("subject must be at most " + Envelope.MAX_SUBJECT_BYTES
                    + " bytes of UTF-8, got " + subjectBytes.length);
        }
        if (payload.length > Envelope.MAX_PAYLOAD_BYTES) {
            throw new IllegalArgumentException("payload must be at most " + Envelope.MAX_PAYLOAD_BYTES
                    + " bytes, got " + payload.length);
        }
        if (counter == Long.MAX_VALUE) {
            // 2^63 messages: unreachable in practice, and a repeated nonce is the one thing that must not happen
            throw new IllegalStateException("sealer of " + memberName + " has used up its counter; start a new one");
        }
        counter++;
        ByteBuffer envelope = Envelope.writeHeader(type, memberNameBytes, subjectBytes, epoch, counter,
                clock.millis(), payload.length);
        int headerLength = envelope.position();
        try {
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, Envelope.nonce(counter)));
            cipher.updateAAD(envelope.array(), 0, headerLength);
            cipher.doFinal(payload, 0, payload.length, envelope.array(), headerLength);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM sealing failed: " + e.getClass().getSimpleName(), e);
        }
        return envelope.array();
    }

    @Override
    public String toString() {
        return "Sealer[member=" + memberName + ", epoch=" + epoch + "]";
    }

    /** The AES-256 key of one epoch; the opener derives the same from the epoch in the header. */
    static SecretKeySpec epochKey(ClusterSecret secret, Epoch epoch) {
        byte[] keyBytes = secret.deriveKey(epoch.toBytes(), SEAL_KEY_INFO, KEY_LENGTH);
        try {
            return new SecretKeySpec(keyBytes, "AES");
        } finally {
            Arrays.fill(keyBytes, (byte) 0);
        }
    }

    static Cipher newGcm() {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/GCM/NoPadding is not available", e);
        }
    }
}
