package io.flowsec.dataplane.esp;

/**
 * What became of one packet. Everything but {@link #ACCEPTED}, {@link #BYPASS} and the data plane's own
 * {@link #MARKER}s is a drop, counted per lane and per SA with this reason; the packet path returns these instead of
 * throwing.
 */
public enum Outcome {
    /** Encapsulated, or decapsulated and checked against the SA's selectors. */
    ACCEPTED("accepted"),
    /** Outbound policy says bypass: forwarded in clear. */
    BYPASS("bypass"),
    /** Headers inconsistent or truncated (outer, ESP, or lengths not matching the suite's block size). */
    MALFORMED("malformed"),
    /** The outer packet is neither ESP nor ESP-in-UDP. */
    NOT_ESP("not-esp"),
    /** The outer packet is an IP fragment: outer reassembly is not done here. */
    OUTER_FRAGMENT("outer-fragment"),
    /** RFC 3948 §2.3 NAT-keepalive (one 0xFF byte): consumed, counted. */
    NAT_KEEPALIVE("nat-keepalive"),
    /** RFC 3948 §2.2 non-ESP marker: an IKE message, not for the ESP path. */
    NON_ESP_MARKER("non-esp-marker"),
    /**
     * The data plane's own marker datagram ({@link io.flowsec.dataplane.packet.HandOverMarker}: a probe of the lane's
     * queue delay, or the end of an SA's hand-over): consumed and counted, not a drop.
     */
    MARKER("marker"),
    /** No inbound SA has this SPI. */
    UNKNOWN_SPI("unknown-spi"),
    /** The sequence number was already received (RFC 4303 §3.4.3). */
    REPLAY("replay"),
    /** The sequence number lies left of the replay window. */
    REPLAY_TOO_OLD("replay-too-old"),
    /** ICV verification failed. */
    AUTHENTICATION_FAILED("authentication-failed"),
    /** Pad length larger than the payload, or padding bytes other than 1, 2, 3, ... (RFC 4303 §2.4). */
    BAD_PADDING("bad-padding"),
    /** RFC 4303 §2.6 dummy packet (next header 59): discarded silently, counted. */
    DUMMY_PACKET("dummy-packet"),
    /** Next header is neither IPv4 nor IPv6 (tunnel mode only). */
    UNSUPPORTED_NEXT_HEADER("unsupported-next-header"),
    /** The inner packet's IP header is inconsistent. */
    INNER_MALFORMED("inner-malformed"),
    /** The decrypted inner packet is outside the SA's selectors (RFC 4301 §5.2). */
    POLICY_MISMATCH("policy-mismatch"),
    /** No security policy matches the outbound packet (RFC 4301 default: discard). */
    NO_POLICY("no-policy"),
    /** The matching policy says discard. */
    POLICY_DISCARD("policy-discard"),
    /** The SA's sequence counter is used up; it refuses to wrap (RFC 4303 §3.3.3). */
    SEQUENCE_EXHAUSTED("sequence-exhausted"),
    /** The buffer has too little headroom or tailroom for the ESP and outer headers. */
    NO_ROOM("no-room"),
    /** The JCE refused an operation (should not happen; counted, never thrown). */
    CRYPTO_ERROR("crypto-error"),
    /** The SA reached a hard lifetime limit (RFC 4301 §4.4.2.1): it no longer sends or accepts. */
    SA_EXPIRED("sa-expired"),
    /** The lane owns no SA of the policy's group (a group with fewer SAs than lanes cannot be installed). */
    NO_LANE_SA("no-lane-sa"),
    /** RFC 6040 §4.2: the outer header says congestion (CE) but the inner packet is not ECN-capable. */
    CE_ON_NOT_ECT("ce-on-not-ect"),
    /** The sequence number lies above the SA's durable mark, which the disk has not caught up with yet. */
    SEQUENCE_NOT_DURABLE("sequence-not-durable");

    private static final Outcome[] VALUES = values();

    private final String label;

    Outcome(String label) {
        this.label = label;
    }

    /** Stable lower-case name used in JSON output, metrics and the API. */
    public String label() {
        return label;
    }

    public boolean isDrop() {
        return this != ACCEPTED && this != BYPASS && this != MARKER;
    }

    public static Outcome fromOrdinal(int ordinal) {
        return VALUES[ordinal];
    }

    public static int count() {
        return VALUES.length;
    }
}
