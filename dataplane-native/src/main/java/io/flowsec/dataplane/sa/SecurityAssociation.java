package io.flowsec.dataplane.sa;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.crypto.EspTransform;
import io.flowsec.dataplane.sa.ReplayWindow;
import io.flowsec.dataplane.selector.TrafficSelector;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One unidirectional SA (RFC 4301 §4.4.2): SPI, suite, keys, selectors, outer endpoints and its sequence state.
 * <p>
 * Outbound, several lanes may send on one SA, so its counter is the one piece of state the protocol makes shared:
 * a lock-free compare-and-set that refuses to wrap. Inbound, the replay window belongs to the lane the receiver
 * steers this SA to. Keys are kept here to build each lane's {@link EspTransform}; {@link #toString} never shows them.
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
    private final AtomicLong lastSequenceSent = new AtomicLong();
    private final ReplayWindow replayWindow;
    /** Dense index assigned by the SAD (1-based), used by lanes for their per-SA arrays. */
    volatile int index;

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
        this.lastSequenceSent.set(builder.initialSequence);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A new cipher context for one lane. */
    public EspTransform newTransform() {
        return EspTransform.create(suite, encryptionKey, integrityKey, extendedSequenceNumbers);
    }

    /**
     * The next outbound sequence number, or 0 when the counter is used up (the SA then refuses to send for good;
     * RFC 4303 §3.3.3 forbids reusing a number).
     */
    public long nextSequenceNumber() {
        long limit = extendedSequenceNumbers ? MAX_SEQUENCE_64 : MAX_SEQUENCE_32;
        long current;
        do {
            current = lastSequenceSent.get();
            if (Long.compareUnsigned(current, limit) >= 0) {
                return 0;
            }
        } while (!lastSequenceSent.compareAndSet(current, current + 1));
        return current + 1;
    }

    /** True once the outbound counter reached its limit. */
    public boolean isSequenceExhausted() {
        long limit = extendedSequenceNumbers ? MAX_SEQUENCE_64 : MAX_SEQUENCE_32;
        return Long.compareUnsigned(lastSequenceSent.get(), limit) >= 0;
    }

    public long lastSequenceSent() {
        return lastSequenceSent.get();
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
        return "SA[" + name + " spi=0x" + Integer.toHexString(spi) + " " + direction.name().toLowerCase() + " "
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
