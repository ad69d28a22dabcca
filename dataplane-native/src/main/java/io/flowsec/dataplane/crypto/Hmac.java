package io.flowsec.dataplane.crypto;

import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * HMAC (RFC 2104) over two JDK {@link MessageDigest}s. The JDK's {@code Mac.doFinal} allocates its result; this
 * one writes into caller arrays, so an ICV costs no allocation. One instance per lane and SA: not thread-safe.
 */
final class Hmac {
    private static final byte INNER_PAD = 0x36;
    private static final byte OUTER_PAD = 0x5c;

    private final MessageDigest inner;
    private final MessageDigest outer;
    private final byte[] innerPadBlock;
    private final byte[] outerPadBlock;
    private final byte[] digest;
    private final byte[] sequenceHighBytes = new byte[4];

    Hmac(String digestAlgorithm, int blockLength, byte[] key) {
        try {
            this.inner = MessageDigest.getInstance(digestAlgorithm);
            this.outer = MessageDigest.getInstance(digestAlgorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK lacks " + digestAlgorithm, e);
        }
        byte[] blockKey = new byte[blockLength];
        if (key.length > blockLength) {
            byte[] hashed = inner.digest(key);
            System.arraycopy(hashed, 0, blockKey, 0, hashed.length);
        } else {
            System.arraycopy(key, 0, blockKey, 0, key.length);
        }
        innerPadBlock = new byte[blockLength];
        outerPadBlock = new byte[blockLength];
        for (int i = 0; i < blockLength; i++) {
            innerPadBlock[i] = (byte) (blockKey[i] ^ INNER_PAD);
            outerPadBlock[i] = (byte) (blockKey[i] ^ OUTER_PAD);
        }
        Arrays.fill(blockKey, (byte) 0);
        digest = new byte[inner.getDigestLength()];
        inner.update(innerPadBlock);
    }

    /**
     * The ESP ICV (RFC 4303 §3.3.2): over {@code [espOffset, end)} and, with ESN, the high half of the sequence
     * number that is authenticated but not sent (§2.2.1); written at {@code end}.
     */
    void signEsp(byte[] buffer, int espOffset, int end, boolean esn, int sequenceHigh, int icvLength) {
        updateEsp(buffer, espOffset, end, esn, sequenceHigh);
        finish(buffer, end, icvLength);
    }

    /** Checks the ESP ICV found at {@code end}, computed as {@link #signEsp} does. */
    boolean verifyEsp(byte[] buffer, int espOffset, int end, boolean esn, int sequenceHigh, int icvLength) {
        updateEsp(buffer, espOffset, end, esn, sequenceHigh);
        return finishAndVerify(buffer, end, icvLength);
    }

    private void updateEsp(byte[] buffer, int espOffset, int end, boolean esn, int sequenceHigh) {
        inner.update(buffer, espOffset, end - espOffset);
        if (esn) {
            io.flowsec.dataplane.packet.Bytes.i32(sequenceHighBytes, 0, sequenceHigh);
            inner.update(sequenceHighBytes, 0, 4);
        }
    }

    void update(byte[] buffer, int offset, int length) {
        inner.update(buffer, offset, length);
    }

    /** Completes the MAC, writes its first {@code length} bytes to {@code out} and starts the next one. */
    void finish(byte[] out, int outOffset, int length) {
        complete();
        System.arraycopy(digest, 0, out, outOffset, length);
    }

    /** Completes the MAC and compares its first {@code length} bytes with {@code expected}, in constant time. */
    boolean finishAndVerify(byte[] expected, int expectedOffset, int length) {
        complete();
        return io.flowsec.dataplane.packet.Bytes.constantTimeEquals(digest, 0, expected, expectedOffset, length);
    }

    /** Outer hash over the inner one into {@link #digest}; the inner hash starts over for the next message. */
    private void complete() {
        try {
            inner.digest(digest, 0, digest.length);
            outer.update(outerPadBlock);
            outer.update(digest, 0, digest.length);
            outer.digest(digest, 0, digest.length);
        } catch (DigestException e) {
            throw new IllegalStateException(e); // cannot happen: the digest array has the digest's length
        }
        inner.update(innerPadBlock);
    }
}
