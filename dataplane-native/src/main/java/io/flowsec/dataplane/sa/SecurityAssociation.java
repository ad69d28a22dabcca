package io.flowsec.dataplane.sa;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.crypto.EspTransform;
import io.flowsec.dataplane.selector.TrafficSelector;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One unidirectional SA (RFC 4301 §4.4.2): SPI, suite, keys, selectors, outer endpoints, lifetime and its state.
 * <p>
 * Every SA is served by exactly one lane at a time, which alone writes its state: outbound, the lane that owns it
 * takes sequence numbers from a plain field (as Linux per-CPU SAs and strongSwan's {@code per_cpu_sas}); inbound,
 * the lane the receiver steers it to owns the replay window. Moving an SA to another lane is a hand-over done
 * between batches by the runtime, which orders the two lanes' accesses. Other threads read counters with opaque
 * loads. Keys are kept here to build each lane's {@link EspTransform}; {@link #toString} never shows them.
 */
public final class SecurityAssociation {
    public enum Direction { INBOUND, OUTBOUND }

    /** RFC 4303 §2.2: without ESN a counter must not pass 2^32 - 1. */
    public static final long MAX_SEQUENCE_32 = 0xFFFF_FFFFL;
    /** With ESN: 2^64 - 1 (unsigned). */
    public static final long MAX_SEQUENCE_64 = -1L;

    private final String name;
    private final int spi;
    private final Direction direction;
    private final EspSuite suite;
    private final byte[] encryptionKey;
    private final byte[] integrityKey;
    private final boolean extendedSequenceNumbers;
    private final TrafficSelector selector;
    private final OuterEndpoints outer;
    private final FlowEncoding peerEncoding;
    private final SaLifetime lifetime;
    private final ReplayWindow replayWindow;
    /** Sequence-number threshold of the soft event: 15/16 of the counter used, well before it runs out. */
    private final long sequenceSoftLimit;
    /** Written by the serving lane only. */
    private long lastSequenceSent;
    private long packetsUsed;
    private long bytesUsed;
    /** Bit set of {@link #SOFT_RAISED} and {@link #EXPIRED}; set once, by the lane or the runtime's clock. */
    private int lifetimeState;
    private static final int SOFT_RAISED = 1;
    private static final int EXPIRED = 2;
    private static final VarHandle LAST_SEQUENCE_SENT;
    private static final VarHandle PACKETS_USED;
    private static final VarHandle BYTES_USED;
    private static final VarHandle LIFETIME_STATE;
    /**
     * The highest sequence number that is durable: outbound, the last one that may be sent (reserved on disk);
     * inbound, the last one that may be accepted (after a restart everything up to it counts as seen). Unsigned;
     * the maximum when no state is kept.
     */
    private volatile long durableLimit = -1L;
    /** Lane-local: the limit for which the next block was requested already. */
    private long requestedAt;
    /** The number that asked for the next block; the store reserves beyond it (a peer may jump ahead). */
    private volatile long requestedSequence;
    private SequenceReservations reservations;
    private long reservationBlock;
    /**
     * Where the lane records, in a mapped file, the last number sent (outbound) or the highest accepted (inbound);
     * null when not kept.
     */
    private java.lang.foreign.MemorySegment exactMark;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            LAST_SEQUENCE_SENT = lookup.findVarHandle(SecurityAssociation.class, "lastSequenceSent", long.class);
            PACKETS_USED = lookup.findVarHandle(SecurityAssociation.class, "packetsUsed", long.class);
            BYTES_USED = lookup.findVarHandle(SecurityAssociation.class, "bytesUsed", long.class);
            LIFETIME_STATE = lookup.findVarHandle(SecurityAssociation.class, "lifetimeState", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /** Dense index assigned by the SAD (1-based), used by lanes for their per-SA arrays. */
    volatile int index;
    /**
     * Outbound: the lane that owns the SA, given once when it is first installed and kept by every group that holds
     * it, so its sequence numbers are only ever taken on that lane; -1 until then.
     */
    private volatile int ownerLane = -1;

    private SecurityAssociation(Builder builder) {
        this.name = builder.name;
        this.spi = builder.spi;
        this.direction = builder.direction;
        this.suite = builder.suite;
        this.encryptionKey = builder.encryptionKey.clone();
        this.integrityKey = builder.integrityKey == null ? new byte[0] : builder.integrityKey.clone();
        this.extendedSequenceNumbers = builder.extendedSequenceNumbers;
        this.selector = builder.selector;
        this.outer = builder.outer;
        this.replayWindow = direction == Direction.INBOUND ? new ReplayWindow(builder.replayWindowSize) : null;
        this.peerEncoding = builder.peerEncoding;
        this.lifetime = builder.lifetime;
        this.lastSequenceSent = builder.initialSequence;
        long limit = extendedSequenceNumbers ? MAX_SEQUENCE_64 : MAX_SEQUENCE_32;
        this.sequenceSoftLimit = limit - (limit >>> 4);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder for this SA's successor in a rekey: direction, suite, ESN, replay window, selectors, outer endpoints
     * (so the flows it carries keep their encoding), lifetime and the peer's encoding are carried over; the caller
     * gives the new SPI and keys, and a name.
     */
    public Builder successor() {
        return builder().direction(direction).suite(suite).extendedSequenceNumbers(extendedSequenceNumbers)
                .replayWindowSize(replayWindow != null ? replayWindow.size() : ReplayWindow.DEFAULT_SIZE)
                .selector(selector).outer(outer).lifetime(lifetime).peerEncoding(peerEncoding);
    }

    /** A new cipher context for one lane. */
    public EspTransform newTransform() {
        return EspTransform.create(suite, encryptionKey, integrityKey, extendedSequenceNumbers);
    }

    /**
     * The next outbound sequence number, or 0 when the counter is used up (the SA then refuses to send for good;
     * RFC 4303 §3.3.3 forbids reusing a number). Only the lane that owns the SA calls this: a plain increment.
     */
    public long nextSequenceNumber() {
        long limit = extendedSequenceNumbers ? MAX_SEQUENCE_64 : MAX_SEQUENCE_32;
        long current = lastSequenceSent;
        if (Long.compareUnsigned(current, limit) >= 0) {
            return 0;
        }
        LAST_SEQUENCE_SENT.setOpaque(this, current + 1);
        return current + 1;
    }

    /** True once the outbound counter reached its limit. */
    public boolean isSequenceExhausted() {
        long limit = extendedSequenceNumbers ? MAX_SEQUENCE_64 : MAX_SEQUENCE_32;
        return Long.compareUnsigned(lastSequenceSent(), limit) >= 0;
    }

    /** The lane that owns this outbound SA, or -1 when it is not installed in a running data plane. */
    public int ownerLane() {
        return ownerLane;
    }

    /**
     * Control plane: gives the SA its owning lane. An SA's owner never changes once set (another lane could still be
     * in a batch with it: two lanes would take the same sequence numbers under one key).
     */
    public void ownerLane(int lane) {
        if (ownerLane >= 0 && ownerLane != lane) {
            throw new IllegalStateException(name + " is owned by lane " + ownerLane + " already");
        }
        this.ownerLane = lane;
    }

    /** Readable from any thread. */
    public long lastSequenceSent() {
        return (long) LAST_SEQUENCE_SENT.getOpaque(this);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Durable sequence state

    /**
     * Hot path, serving lane: true when {@code sequence} lies within the durable limit. The first time it comes
     * within half a block of the limit, the lane asks for the next block (once per block, never waiting for it).
     */
    public boolean isDurable(long sequence) {
        long limit = durableLimit;
        SequenceReservations store = reservations;
        long half = reservationBlock >>> 1;
        if (store != null && requestedAt != limit
                && (Long.compareUnsigned(limit, half) <= 0 || Long.compareUnsigned(sequence, limit - half) > 0)) {
            requestedAt = limit;
            requestedSequence = sequence;
            store.requestAhead(this);
        }
        return Long.compareUnsigned(sequence, limit) <= 0;
    }

    public long durableLimit() {
        return durableLimit;
    }

    /** The sequence number whose arrival (or sending) asked for the latest block. */
    public long requestedSequence() {
        return requestedSequence;
    }

    /** The store: the limit is durable now (the block is on disk). */
    public void durableLimit(long limit) {
        this.durableLimit = limit;
    }

    /** Control plane, before any lane uses the SA: the mapped slot {@link #recordExactMark} writes. */
    public void keepExactMarkIn(java.lang.foreign.MemorySegment slot) {
        this.exactMark = slot;
    }

    /**
     * Hot path, serving lane: one memory store, no system call (see ExactMarks). Outbound, the number about to be
     * sent, before it is; inbound, the highest number accepted, before the packet is delivered.
     */
    public void recordExactMark(long mark) {
        java.lang.foreign.MemorySegment slot = exactMark;
        if (slot != null) {
            slot.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, mark);
        }
    }

    /** Whether this SA's sequence state is kept across restarts. */
    public boolean keepsState() {
        return reservations != null;
    }

    /** Control plane, before any lane uses the SA: where it reserves blocks of {@code block} numbers. */
    public void keepStateIn(SequenceReservations store, long block, long limit) {
        this.reservations = store;
        this.reservationBlock = block;
        this.durableLimit = limit;
    }

    /**
     * Control plane, before any lane uses the SA, after a restart: outbound, the counter resumes after every number
     * that may have been sent; inbound, everything up to the mark counts as seen.
     */
    public void resumeAfter(long mark) {
        if (direction == Direction.OUTBOUND) {
            if (Long.compareUnsigned(mark, lastSequenceSent) > 0) {
                LAST_SEQUENCE_SENT.setVolatile(this, mark);
            }
        } else if (replayWindow.enabled()) {
            replayWindow.seenUpTo(mark);
        }
    }

    /**
     * A stable name for this SA's state file that reveals nothing of its keys: SHA-256 over a label, direction, SPI
     * and keys, cut to 128 bits. A new key (a rekey) gets a new file; the same key and SPI find their old one.
     */
    public String stateFingerprint() {
        try {
            java.security.MessageDigest digest = java.security.MessageDigest.getInstance("SHA-256");
            digest.update("flowsec-sa-state-v1".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            digest.update((byte) direction.ordinal());
            digest.update(new byte[] {(byte) (spi >>> 24), (byte) (spi >>> 16), (byte) (spi >>> 8), (byte) spi});
            digest.update(encryptionKey);
            digest.update(integrityKey);
            return java.util.HexFormat.of().formatHex(digest.digest(), 0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    /** Whether this SA's suite takes its nonce from the sequence number (AES-GCM, ChaCha20-Poly1305). */
    public boolean nonceIsSequence() {
        return suite.isAead();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Lifetime (RFC 4301 §4.4.2.1)

    public SaLifetime lifetime() {
        return lifetime;
    }

    /** Hot path, serving lane: true once a hard limit stopped the SA. */
    public boolean isExpired() {
        return ((int) LIFETIME_STATE.getOpaque(this) & EXPIRED) != 0;
    }

    public boolean isSoftLifetimeReached() {
        return ((int) LIFETIME_STATE.getOpaque(this) & SOFT_RAISED) != 0;
    }

    /**
     * Hot path, serving lane: counts one packet of {@code bytes} inner bytes against the lifetime and tells
     * {@code listener} the first time a soft or hard limit (or, outbound, the sequence-number threshold) is reached.
     * The packet that reaches a hard limit is the SA's last.
     */
    public void countUse(int bytes, SaLifetimeListener listener) {
        long packets = packetsUsed + 1;
        long total = bytesUsed + bytes;
        PACKETS_USED.setOpaque(this, packets);
        BYTES_USED.setOpaque(this, total);
        SaLifetime limits = lifetime;
        if (limits == SaLifetime.NONE && (direction == Direction.INBOUND
                || Long.compareUnsigned(lastSequenceSent, sequenceSoftLimit) < 0)) {
            return;
        }
        checkLimits(packets, total, listener);
    }

    private void checkLimits(long packets, long total, SaLifetimeListener listener) {
        SaLifetime limits = lifetime;
        if (reached(limits.hardPackets(), packets)) {
            expire(listener, "packets");
        } else if (reached(limits.hardBytes(), total)) {
            expire(listener, "bytes");
        } else if (reached(limits.softPackets(), packets)) {
            raiseSoft(listener, "packets");
        } else if (reached(limits.softBytes(), total)) {
            raiseSoft(listener, "bytes");
        } else if (direction == Direction.OUTBOUND && Long.compareUnsigned(lastSequenceSent, sequenceSoftLimit) >= 0) {
            raiseSoft(listener, "sequence");
        }
    }

    /** The runtime's clock: checks the limits in seconds against the SA's age. */
    public void checkAge(long ageSeconds, SaLifetimeListener listener) {
        if (reached(lifetime.hardSeconds(), ageSeconds)) {
            expire(listener, "seconds");
        } else if (reached(lifetime.softSeconds(), ageSeconds)) {
            raiseSoft(listener, "seconds");
        }
    }

    private static boolean reached(long limit, long used) {
        return limit != 0 && used >= limit;
    }

    private void raiseSoft(SaLifetimeListener listener, String limit) {
        if (setState(SOFT_RAISED)) {
            listener.onSoftLifetime(this, limit);
        }
    }

    private void expire(SaLifetimeListener listener, String limit) {
        setState(SOFT_RAISED);
        if (setState(EXPIRED)) {
            listener.onHardLifetime(this, limit);
        }
    }

    /** Sets a state bit once; true for the caller that set it. */
    private boolean setState(int bit) {
        while (true) {
            int current = (int) LIFETIME_STATE.getVolatile(this);
            if ((current & bit) != 0) {
                return false;
            }
            if (LIFETIME_STATE.compareAndSet(this, current, current | bit)) {
                return true;
            }
        }
    }

    public long packetsUsed() {
        return (long) PACKETS_USED.getOpaque(this);
    }

    public long bytesUsed() {
        return (long) BYTES_USED.getOpaque(this);
    }

    /**
     * Inbound: the field the PEER's SA group shows the flow ID in, so director steering reads the right one
     * ({@link FlowEncoding#SPI} when unknown). Outbound SAs take their group's encoding.
     */
    public FlowEncoding peerEncoding() {
        return peerEncoding;
    }

    public String name() {
        return name;
    }

    public int spi() {
        return spi;
    }

    public Direction direction() {
        return direction;
    }

    public EspSuite suite() {
        return suite;
    }

    public boolean extendedSequenceNumbers() {
        return extendedSequenceNumbers;
    }

    public TrafficSelector selector() {
        return selector;
    }

    public OuterEndpoints outer() {
        return outer;
    }

    /** The inbound replay window; null for outbound SAs. Owned by the receiving lane. */
    public ReplayWindow replayWindow() {
        return replayWindow;
    }

    public int index() {
        return index;
    }

    @Override
    public String toString() {
        return "SA[" + name + " spi=0x" + Integer.toHexString(spi) + " " + direction.name().toLowerCase(java.util.Locale.ROOT) + " "
                + suite.configName() + (extendedSequenceNumbers ? " esn" : "") + " " + outer + "]";
    }

    public static final class Builder {
        private String name = "sa";
        private int spi;
        private Direction direction = Direction.INBOUND;
        private EspSuite suite;
        private byte[] encryptionKey;
        private byte[] integrityKey;
        private boolean extendedSequenceNumbers;
        private int replayWindowSize = ReplayWindow.DEFAULT_SIZE;
        private TrafficSelector selector = TrafficSelector.ANY;
        private OuterEndpoints outer;
        private long initialSequence;
        private FlowEncoding peerEncoding = FlowEncoding.SPI;
        private SaLifetime lifetime = SaLifetime.NONE;

        /** Inbound: how the peer encodes the flow ID ({@link SecurityAssociation#peerEncoding}). */
        public Builder peerEncoding(FlowEncoding encoding) {
            this.peerEncoding = encoding;
            return this;
        }

        public Builder lifetime(SaLifetime lifetime) {
            this.lifetime = lifetime;
            return this;
        }

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder spi(int spi) {
            this.spi = spi;
            return this;
        }

        public Builder direction(Direction direction) {
            this.direction = direction;
            return this;
        }

        public Builder suite(EspSuite suite) {
            this.suite = suite;
            return this;
        }

        /** Encryption key, with the 4-octet salt at its end for AEAD suites. */
        public Builder encryptionKey(byte[] key) {
            this.encryptionKey = key;
            return this;
        }

        public Builder integrityKey(byte[] key) {
            this.integrityKey = key;
            return this;
        }

        public Builder extendedSequenceNumbers(boolean esn) {
            this.extendedSequenceNumbers = esn;
            return this;
        }

        public Builder replayWindowSize(int size) {
            this.replayWindowSize = size;
            return this;
        }

        public Builder selector(TrafficSelector selector) {
            this.selector = selector;
            return this;
        }

        public Builder outer(OuterEndpoints outer) {
            this.outer = outer;
            return this;
        }

        /** The last sequence number already used (0 for a fresh SA); tests use it to reach the counter's end. */
        public Builder initialSequence(long lastUsed) {
            this.initialSequence = lastUsed;
            return this;
        }

        /** Validates and builds; every problem is an IllegalArgumentException naming the field. */
        public SecurityAssociation build() {
            if (suite == null) {
                throw new IllegalArgumentException(name + ": suite is required");
            }
            if (Integer.compareUnsigned(spi, 256) < 0) {
                throw new IllegalArgumentException(name + ": spi 0x" + Integer.toHexString(spi)
                        + " is reserved (RFC 4303 §2.1: 1-255 are reserved, 0 is never sent)");
            }
            if (encryptionKey == null) {
                encryptionKey = new byte[0];
            }
            if (encryptionKey.length != suite.encryptionKeyLength()) {
                throw new IllegalArgumentException(name + ": " + suite.configName() + " needs a "
                        + suite.encryptionKeyLength() + "-byte encryption key"
                        + (suite.saltLength() > 0 ? " (" + suite.cipherKeyLength() + " key + " + suite.saltLength() + " salt)" : "")
                        + ", got " + encryptionKey.length + " bytes");
            }
            int integrityLength = integrityKey == null ? 0 : integrityKey.length;
            if (integrityLength != suite.integrityKeyLength()) {
                throw new IllegalArgumentException(name + ": " + suite.configName() + " needs a "
                        + suite.integrityKeyLength() + "-byte integrity key, got " + integrityLength + " bytes");
            }
            if (direction == Direction.INBOUND) {
                try {
                    new ReplayWindow(replayWindowSize);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(name + ": " + e.getMessage());
                }
            }
            if (outer == null) {
                throw new IllegalArgumentException(name + ": outer tunnel endpoints are required");
            }
            return new SecurityAssociation(this);
        }
    }
}
