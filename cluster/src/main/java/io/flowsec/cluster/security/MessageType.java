package io.flowsec.cluster.security;

/**
 * What a sealed message is, on the wire as one byte. The type is authenticated with the message, so an assignment
 * can never be passed off as a load report; codes are never reused, new types take new codes.
 */
public enum MessageType {
    /** A tunnel's versioned assignment: which receiver lane serves each inbound SA, and the sender's SA weights. */
    ASSIGNMENT(1),
    /** One member's periodic per-lane load. */
    LOAD_REPORT(2);

    private static final MessageType[] BY_CODE = new MessageType[256];

    static {
        for (MessageType type : values()) {
            BY_CODE[type.code] = type;
        }
    }

    private final int code;

    MessageType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The type for a wire code, or null for a code this version does not know (the opener counts it MALFORMED). */
    public static MessageType ofCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
