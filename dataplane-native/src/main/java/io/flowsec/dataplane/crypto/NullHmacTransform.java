package io.flowsec.dataplane.crypto;

/** NULL encryption (RFC 2410) with HMAC-SHA-256-128: the payload travels in clear, authenticated. */
final class NullHmacTransform extends EspTransform {
    private final Hmac hmac;

    NullHmacTransform(EspSuite suite, byte[] integrityKey, boolean esn) {
        super(suite, esn);
        this.hmac = new Hmac("SHA-256", 64, integrityKey);
    }

    @Override
    public void writeIv(byte[] buffer, int ivOffset, long sequenceNumber) {
        // NULL encryption has no IV
    }

    @Override
    public boolean seal(byte[] buffer, int espOffset, int payloadOffset, int paddedLength, int sequenceHigh) {
        hmac.signEsp(buffer, espOffset, payloadOffset + paddedLength, extendedSequenceNumbers, sequenceHigh, suite.icvLength());
        return true;
    }

    @Override
    public boolean open(byte[] buffer, int espOffset, int payloadOffset, int ciphertextLength, int sequenceHigh) {
        return hmac.verifyEsp(buffer, espOffset, payloadOffset + ciphertextLength, extendedSequenceNumbers, sequenceHigh,
                suite.icvLength());
    }

    @Override
    public String toString() {
        return "NullHmacTransform[" + suite.configName() + "]";
    }
}
