package io.flowsec.dataplane.crypto;

import java.util.Locale;

/**
 * The cipher suites an SA can use. Key lengths are those of the configuration's keys: for the AEAD suites the
 * encryption key carries the 4-octet salt at its end (RFC 4106 §8.1, RFC 7634 §2), as Linux and Wireshark expect.
 */
public enum EspSuite {
    /** RFC 4106, 16-octet ICV. */
    AES_GCM_128("aes-gcm-128", Kind.AEAD_GCM, 16, 4, 8, 16, 4, 0),
    /** RFC 4106, 16-octet ICV. */
    AES_GCM_192("aes-gcm-192", Kind.AEAD_GCM, 24, 4, 8, 16, 4, 0),
    /** RFC 4106, 16-octet ICV. */
    AES_GCM_256("aes-gcm-256", Kind.AEAD_GCM, 32, 4, 8, 16, 4, 0),
    /** RFC 3602 + RFC 2404: the paper's suite. */
    AES_CBC_128_HMAC_SHA1_96("aes-cbc-128-hmac-sha1-96", Kind.CBC_HMAC_SHA1, 16, 0, 16, 12, 16, 20),
    /** RFC 3602 + RFC 4868. */
    AES_CBC_256_HMAC_SHA256_128("aes-cbc-256-hmac-sha256-128", Kind.CBC_HMAC_SHA256, 32, 0, 16, 16, 16, 32),
    /** RFC 7634. */
    CHACHA20_POLY1305("chacha20-poly1305", Kind.AEAD_CHACHA, 32, 4, 8, 16, 4, 0),
    /** RFC 4303 §3.2 NULL encryption (RFC 2410) + RFC 4868: integrity only, readable on the wire, for debugging. */
    NULL_HMAC_SHA256_128("null-hmac-sha256-128", Kind.NULL_HMAC_SHA256, 0, 0, 0, 16, 4, 32);

    public enum Kind { AEAD_GCM, AEAD_CHACHA, CBC_HMAC_SHA1, CBC_HMAC_SHA256, NULL_HMAC_SHA256 }

    private final String configName;
    private final Kind kind;
    private final int cipherKeyLength;
    private final int saltLength;
    private final int ivLength;
    private final int icvLength;
    private final int alignment;
    private final int integrityKeyLength;

    EspSuite(String configName, Kind kind, int cipherKeyLength, int saltLength, int ivLength, int icvLength,
             int alignment, int integrityKeyLength) {
        this.configName = configName;
        this.kind = kind;
        this.cipherKeyLength = cipherKeyLength;
        this.saltLength = saltLength;
        this.ivLength = ivLength;
        this.icvLength = icvLength;
        this.alignment = alignment;
        this.integrityKeyLength = integrityKeyLength;
    }

    /** The name used in configuration files, e.g. {@code aes-gcm-128}. */
    public String configName() {
        return configName;
    }

    public Kind kind() {
        return kind;
    }

    public boolean isAead() {
        return kind == Kind.AEAD_GCM || kind == Kind.AEAD_CHACHA;
    }

    /** Length of the configured encryption key, salt included. */
    public int encryptionKeyLength() {
        return cipherKeyLength + saltLength;
    }

    public int cipherKeyLength() {
        return cipherKeyLength;
    }

    public int saltLength() {
        return saltLength;
    }

    public int ivLength() {
        return ivLength;
    }

    public int icvLength() {
        return icvLength;
    }

    /** Payload + trailer is padded to a multiple of this (the cipher block, at least the 4 octets of RFC 4303). */
    public int alignment() {
        return alignment;
    }

    /** Length of the separate integrity key; 0 for AEAD suites. */
    public int integrityKeyLength() {
        return integrityKeyLength;
    }

    /** Bytes ESP adds around an inner packet of {@code innerLength}: header, IV, padding, trailer, ICV. */
    public int overhead(int innerLength) {
        int padded = (innerLength + 2 + alignment - 1) / alignment * alignment;
        return 8 + ivLength + (padded - innerLength) + icvLength;
    }

    /** Worst-case ESP overhead, for MTU computations. */
    public int maxOverhead() {
        return 8 + ivLength + (alignment - 1) + 2 + icvLength;
    }

    /**
     * The largest inner packet whose ESP packet fits in {@code espSpace} bytes: ESP header, IV and ICV around the
     * inner packet, its 2-byte trailer and the padding to this suite's block size (RFC 4303 §2.4).
     */
    public int largestInnerPacket(int espSpace) {
        int padded = (espSpace - 8 - ivLength - icvLength) / alignment * alignment;
        return padded - 2;
    }

    public static EspSuite fromConfigName(String name) {
        String wanted = name.strip().toLowerCase(Locale.ROOT);
        for (EspSuite suite : values()) {
            if (suite.configName.equals(wanted)) {
                return suite;
            }
        }
        throw new IllegalArgumentException("unknown suite '" + name + "' (known: " + knownNames() + ")");
    }

    public static String knownNames() {
        StringBuilder sb = new StringBuilder();
        for (EspSuite suite : values()) {
            if (!sb.isEmpty()) {
                sb.append(", ");
            }
            sb.append(suite.configName);
        }
        return sb.toString();
    }
}
