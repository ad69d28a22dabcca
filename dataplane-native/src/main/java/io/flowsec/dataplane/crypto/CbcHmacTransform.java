package io.flowsec.dataplane.crypto;

import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;

/**
 * AES-CBC (RFC 3602) with HMAC-SHA1-96 (RFC 2404) or HMAC-SHA-256-128 (RFC 4868), encrypt-then-MAC.
 * <p>
 * Zero allocation per packet: each direction keeps one CBC cipher initialised once and only ever calls
 * {@code update}, so the JDK's chaining register carries over from the previous packet. To use a packet's own IV,
 * the first plaintext block is pre-whitened with (previous last ciphertext block XOR IV) when encrypting, and the
 * first decrypted block is corrected the same way when decrypting: C1 = E(P1 ^ IV), P1 = D(C1) ^ IV.
 * <p>
 * IVs must be unpredictable (RFC 3602 §2): IV = AES-K(random 64-bit SA nonce || sequence number), the encrypted
 * counter method of NIST SP 800-38A Appendix C; unique because sequence numbers never repeat.
 */
final class CbcHmacTransform extends EspTransform {
    private static final int BLOCK = 16;

    private final SecretKeySpec key;
    private final Cipher encryptChain;
    private final Cipher decryptChain;
    private final Cipher ivGenerator;
    private final byte[] encryptChainBlock = new byte[BLOCK];
    private final byte[] decryptChainBlock = new byte[BLOCK];
    private final byte[] ivCounterBlock = new byte[BLOCK];
    private final Hmac hmac;
    /**
     * Input staging for the chains: the JDK's CBC ({@code CipherCore.update}) copies its input into a new array
     * whenever input and output are the same array, so encrypting in place would allocate the whole payload per
     * packet. Grows once to the largest packet seen, then never again.
     */
    private byte[] staging = new byte[2048];

    CbcHmacTransform(EspSuite suite, byte[] encryptionKey, byte[] integrityKey, boolean esn) {
        super(suite, esn);
        this.key = new SecretKeySpec(encryptionKey, "AES");
        try {
            encryptChain = Cipher.getInstance("AES/CBC/NoPadding");
            decryptChain = Cipher.getInstance("AES/CBC/NoPadding");
            ivGenerator = Cipher.getInstance("AES/ECB/NoPadding");
            resetChains();
            ivGenerator.init(Cipher.ENCRYPT_MODE, key);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("JDK lacks AES-CBC", e);
        }
        new SecureRandom().nextBytes(ivCounterBlock);
        boolean sha1 = suite.kind() == EspSuite.Kind.CBC_HMAC_SHA1;
        this.hmac = new Hmac(sha1 ? "SHA-1" : "SHA-256", 64, integrityKey);
    }

    private void resetChains() throws GeneralSecurityException {
        java.util.Arrays.fill(encryptChainBlock, (byte) 0);
        java.util.Arrays.fill(decryptChainBlock, (byte) 0);
        encryptChain.init(Cipher.ENCRYPT_MODE, key, new IvParameterSpec(encryptChainBlock));
        decryptChain.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(decryptChainBlock));
    }

    @Override
    public void writeIv(byte[] buffer, int ivOffset, long sequenceNumber) {
        io.flowsec.dataplane.packet.Bytes.i64(ivCounterBlock, 8, sequenceNumber);
        try {
            ivGenerator.update(ivCounterBlock, 0, BLOCK, buffer, ivOffset);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e); // the output always has room for one block
        }
    }

    @Override
    public boolean seal(byte[] buffer, int espOffset, int payloadOffset, int paddedLength, int sequenceHigh) {
        if (!encryptInPlace(buffer, payloadOffset - BLOCK, payloadOffset, paddedLength)) {
            return false;
        }
        hmac.signEsp(buffer, espOffset, payloadOffset + paddedLength, extendedSequenceNumbers, sequenceHigh, suite.icvLength());
        return true;
    }

    @Override
    public boolean open(byte[] buffer, int espOffset, int payloadOffset, int ciphertextLength, int sequenceHigh) {
        if (!hmac.verifyEsp(buffer, espOffset, payloadOffset + ciphertextLength, extendedSequenceNumbers, sequenceHigh,
                suite.icvLength())) {
            return false;
        }
        return decryptInPlace(buffer, payloadOffset - BLOCK, payloadOffset, ciphertextLength);
    }

    /** CBC-encrypts whole blocks in place with the IV found at {@code ivOffset}. Package-private for the RFC 3602 vectors. */
    boolean encryptInPlace(byte[] buffer, int ivOffset, int offset, int length) {
        byte[] plaintext = staging(length);
        System.arraycopy(buffer, offset, plaintext, 0, length);
        for (int i = 0; i < BLOCK; i++) {
            plaintext[i] ^= (byte) (encryptChainBlock[i] ^ buffer[ivOffset + i]);
        }
        try {
            encryptChain.update(plaintext, 0, length, buffer, offset);
        } catch (GeneralSecurityException e) {
            return recoverChains();
        }
        System.arraycopy(buffer, offset + length - BLOCK, encryptChainBlock, 0, BLOCK);
        return true;
    }

    /** CBC-decrypts whole blocks in place with the IV found at {@code ivOffset}. */
    boolean decryptInPlace(byte[] buffer, int ivOffset, int offset, int length) {
        byte[] ciphertext = staging(length);
        System.arraycopy(buffer, offset, ciphertext, 0, length);
        try {
            decryptChain.update(ciphertext, 0, length, buffer, offset);
        } catch (GeneralSecurityException e) {
            return recoverChains();
        }
        for (int i = 0; i < BLOCK; i++) {
            buffer[offset + i] ^= (byte) (decryptChainBlock[i] ^ buffer[ivOffset + i]);
        }
        System.arraycopy(ciphertext, length - BLOCK, decryptChainBlock, 0, BLOCK);
        return true;
    }

    private byte[] staging(int length) {
        if (staging.length < length) {
            staging = new byte[Math.max(length, staging.length * 2)];
        }
        return staging;
    }

    /** A refused update leaves the chaining register unknown: start both chains again from a zero register. */
    private boolean recoverChains() {
        try {
            resetChains();
        } catch (GeneralSecurityException ignored) {
            // the key was accepted at construction; nothing else can be done here
        }
        return false;
    }

    @Override
    public String toString() {
        return "CbcHmacTransform[" + suite.configName() + "]";
    }
}
