package io.flowsec.cluster.security;

/** Why {@link Opener} refused a message; each is counted. */
public enum Rejection {
    /** Not an envelope of this format: too short or long, bad magic or version, lengths out of bounds, unknown type. */
    MALFORMED,
    /** The tag did not verify: sealed with another secret (a member without ours), or changed on the way. */
    BAD_TAG,
    /** Authentic, but its timestamp is outside the freshness window: a recording, or a clock far off. */
    STALE,
    /** Authentic, but its counter is not above the highest seen from that sender, epoch, type and subject. */
    REPLAYED,
    /** Authentic, but sealed as another type or subject than where it was found, e.g. copied under another key. */
    MISDIRECTED,
    /**
     * Authentic and fresh, but not a report or an assignment this version reads (another version's fields, a value out
     * of range): counted by whoever decodes it ({@link Opener#unreadable}).
     */
    UNREADABLE
}
