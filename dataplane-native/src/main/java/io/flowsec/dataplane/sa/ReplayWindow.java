package io.flowsec.dataplane.sa;

/**
 * Anti-replay window (RFC 4303 §3.4.3) as a ring of 64-bit blocks (RFC 6479): sliding forward clears whole blocks
 * instead of shifting bits, so a check and an update cost a few instructions whatever the window size.
 * <p>
 * The inbound path calls {@link #check} before decrypting and {@link #commit} only after the ICV verified, so a
 * forged packet never marks a number as seen. With ESN, {@link #inferSequence} rebuilds the 64-bit number from
 * the 32 bits on the wire (RFC 4303 Appendix A2). Owned by the one lane that receives the SA: not thread-safe.
 * <p>
 * Size {@link #DISABLED} turns anti-replay off, which RFC 4303 §3.4.3 leaves to the receiver: every authentic
 * packet is accepted, duplicates included. {@code flowsec bench receiver} needs it to replay one set of pre-built
 * packets many times; ESN needs the window, so the configuration refuses ESN without it.
 */
public final class ReplayWindow {
    public static final int DEFAULT_SIZE = 1024;
    public static final int MIN_SIZE = 64;
    public static final int MAX_SIZE = 65536;
    /** The size that means "anti-replay off". */
    public static final int DISABLED = 0;

    /** Outcomes of {@link #check}: plain ints so the hot path compares without a lookup. */
    public static final int ACCEPTABLE = 0;
    public static final int DUPLICATE = 1;
    public static final int TOO_OLD = 2;

    private static final int BLOCK_BITS = 64;
    private static final int BLOCK_SHIFT = 6;

    private final int size;
    private final long[] blocks;
    private final int blockMask;
    /** Highest authenticated sequence number (unsigned 64-bit); 0 before the first packet. */
    private long highest;

    public ReplayWindow(int size) {
        if (size != DISABLED && (size < MIN_SIZE || size > MAX_SIZE || size % BLOCK_BITS != 0)) {
            throw new IllegalArgumentException("replay window must be a multiple of 64 between " + MIN_SIZE
                    + " and " + MAX_SIZE + ", or 0 for no anti-replay, got " + size);
        }
        this.size = size;
        int blockCount = Integer.highestOneBit(size / BLOCK_BITS + 1);
        if (blockCount < size / BLOCK_BITS + 1) {
            blockCount <<= 1;
        }
        this.blocks = new long[blockCount];
        this.blockMask = blockCount - 1;
    }

    public int size() {
        return size;
    }

    public boolean enabled() {
        return size != DISABLED;
    }

    public long highest() {
        return highest;
    }

    /**
     * RFC 4303 Appendix A2.2: the 64-bit sequence number a 32-bit one on the wire most likely belongs to, given the
     * window. Returns 0 (never valid) when the number would lie before the SA's first packet.
     */
    public long inferSequence(long sequenceLow) {
        long topLow = highest & 0xFFFF_FFFFL;
        long topHigh = highest >>> 32;
        long bottomLow = (topLow - size + 1) & 0xFFFF_FFFFL;
        long high;
        if (topLow >= size - 1) {
            high = sequenceLow >= bottomLow ? topHigh : topHigh + 1;   // case A: window inside one subspace
        } else {
            if (sequenceLow >= bottomLow) {                            // case B: window spans two subspaces
                if (topHigh == 0) {
                    return 0;
                }
                high = topHigh - 1;
            } else {
                high = topHigh;
            }
        }
        return (high << 32) | sequenceLow;
    }

    /**
     * After a restart: every number up to {@code mark} counts as seen (the durable mark the SA had reached), so no
     * packet sent before the restart is accepted again.
     */
    public void seenUpTo(long mark) {
        java.util.Arrays.fill(blocks, -1L);
        highest = mark;
    }

    /** Forgets every number seen, as for a fresh SA (benchmarks replay one set of packets many times). */
    public void reset() {
        java.util.Arrays.fill(blocks, 0);
        highest = 0;
    }

    /** Pre-check before decryption: {@link #ACCEPTABLE}, {@link #DUPLICATE} or {@link #TOO_OLD}. */
    public int check(long sequence) {
        if (sequence == 0) {
            return TOO_OLD;
        }
        if (size == DISABLED || Long.compareUnsigned(sequence, highest) > 0) {
            return ACCEPTABLE;
        }
        if (Long.compareUnsigned(highest - sequence, size) >= 0) {
            return TOO_OLD;
        }
        long block = blocks[(int) (sequence >>> BLOCK_SHIFT) & blockMask];
        return (block & (1L << (sequence & (BLOCK_BITS - 1)))) != 0 ? DUPLICATE : ACCEPTABLE;
    }

    /** Marks an authenticated sequence number as seen, sliding the window forward if it is the new highest. */
    public void commit(long sequence) {
        if (size == DISABLED) {
            highest = Long.compareUnsigned(sequence, highest) > 0 ? sequence : highest;
            return;
        }
        if (Long.compareUnsigned(sequence, highest) > 0) {
            long currentBlock = highest >>> BLOCK_SHIFT;
            long newBlock = sequence >>> BLOCK_SHIFT;
            long toClear = Math.min(newBlock - currentBlock, blocks.length);
            for (long i = 1; i <= toClear; i++) {
                blocks[(int) (currentBlock + i) & blockMask] = 0;
            }
            highest = sequence;
        }
        blocks[(int) (sequence >>> BLOCK_SHIFT) & blockMask] |= 1L << (sequence & (BLOCK_BITS - 1));
    }
}
