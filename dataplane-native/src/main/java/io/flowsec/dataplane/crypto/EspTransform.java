package io.flowsec.dataplane.crypto;

/**
 * One SA's cipher state on one lane: the JCE objects are not thread-safe, so every lane builds its own.
 * <p>
 * Both operations work in place on an ESP packet laid out as {@code [espOffset] SPI | seq | IV | payload+trailer | ICV}.
 * The caller writes the header and, through {@link #writeIv}, the IV; {@link #seal} encrypts the payload and trailer and
 * writes the ICV behind them; {@link #open} verifies the ICV and exposes plaintext only of an authentic packet
 * (a refused packet's payload is left encrypted or wiped, never decrypted).
 * Neither throws: a false return is the outcome.
 */
public abstract sealed class EspTransform permits AeadTransform, CbcHmacTransform, NullHmacTransform {
    protected final EspSuite suite;
    protected final boolean extendedSequenceNumbers;

    protected EspTransform(EspSuite suite, boolean extendedSequenceNumbers) {
        this.suite = suite;
        this.extendedSequenceNumbers = extendedSequenceNumbers;
    }

    public static EspTransform create(EspSuite suite, byte[] encryptionKey, byte[] integrityKey, boolean esn) {
        return switch (suite.kind()) {
            case AEAD_GCM, AEAD_CHACHA -> new AeadTransform(suite, encryptionKey, esn);
            case CBC_HMAC_SHA1, CBC_HMAC_SHA256 -> new CbcHmacTransform(suite, encryptionKey, integrityKey, esn);
            case NULL_HMAC_SHA256 -> new NullHmacTransform(suite, integrityKey, esn);
        };
    }

    public EspSuite suite() {
        return suite;
    }

    /** Writes the IV for {@code sequenceNumber}; IVs never repeat under one key (see each suite). */
    public abstract void writeIv(byte[] buffer, int ivOffset, long sequenceNumber);

    /**
     * Encrypts {@code [payloadOffset, payloadOffset + paddedLength)} in place and writes the ICV right after it.
     * @param sequenceHigh the high 32 bits of the ESN (ignored without ESN)
     * @return false only when the JCE refused, which the caller counts as a crypto error
     */
    public abstract boolean seal(byte[] buffer, int espOffset, int payloadOffset, int paddedLength, int sequenceHigh);

    /**
     * Verifies the ICV behind {@code [payloadOffset, payloadOffset + ciphertextLength)} and, if authentic, decrypts
     * the ciphertext in place.
     * @return true when authentic (and decrypted)
     */
    public abstract boolean open(byte[] buffer, int espOffset, int payloadOffset, int ciphertextLength, int sequenceHigh);


}
