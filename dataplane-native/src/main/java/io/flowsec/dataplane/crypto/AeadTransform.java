package io.flowsec.dataplane.crypto;

import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.EspView;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;
import java.security.spec.AlgorithmParameterSpec;

/**
 * AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634) through the JDK's intrinsified ciphers.
 * <p>
 * Nonce = salt (4, from the key material) || IV (8, on the wire). The IV is the 64-bit sequence number, which never
 * repeats under one key because an SA refuses to wrap its counter (RFC 4106 §3.1 and RFC 7634 §2 allow a counter).
 * AAD = SPI || seq (8), or SPI || seq-high || seq-low (12) with ESN (RFC 4106 §5, RFC 7634 §2.1).
 * <p>
 * Cost note: the JCE needs a fresh parameter spec and re-initialisation per packet, which allocates inside the JDK;
 * the JMH benchmark reports that against the bare-Cipher ceiling. An authentication failure surfaces as the JDK's
 * {@code AEADBadTagException}, caught here and turned into a false return.
 */
final class AeadTransform extends EspTransform {
    private final Cipher cipher;
    private final SecretKeySpec key;
    private final byte[] nonce = new byte[12];
    private final byte[] extendedAad = new byte[12];
    private final boolean gcm;

    AeadTransform(EspSuite suite, byte[] keyWithSalt, boolean esn) {
        super(suite, esn);
        this.gcm = suite.kind() == EspSuite.Kind.AEAD_GCM;
        int keyLength = suite.cipherKeyLength();
        this.key = new SecretKeySpec(keyWithSalt, 0, keyLength, gcm ? "AES" : "ChaCha20");
        System.arraycopy(keyWithSalt, keyLength, nonce, 0, 4);
        try {
            this.cipher = Cipher.getInstance(gcm ? "AES/GCM/NoPadding" : "ChaCha20-Poly1305");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("JDK lacks " + suite.configName(), e);
        }
    }

    @Override
    public void writeIv(byte[] buffer, int ivOffset, long sequenceNumber) {
        Bytes.i64(buffer, ivOffset, sequenceNumber);
    }

    @Override
    public boolean seal(byte[] buffer, int espOffset, int payloadOffset, int paddedLength, int sequenceHigh) {
        try {
            cipher.init(Cipher.ENCRYPT_MODE, key, parameters(buffer, espOffset));
            authenticateHeader(buffer, espOffset, sequenceHigh);
            cipher.doFinal(buffer, payloadOffset, paddedLength, buffer, payloadOffset);
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    @Override
    public boolean open(byte[] buffer, int espOffset, int payloadOffset, int ciphertextLength, int sequenceHigh) {
        try {
            cipher.init(Cipher.DECRYPT_MODE, key, parameters(buffer, espOffset));
            authenticateHeader(buffer, espOffset, sequenceHigh);
            cipher.doFinal(buffer, payloadOffset, ciphertextLength + suite.icvLength(), buffer, payloadOffset);
            return true;
        } catch (GeneralSecurityException e) {
            // in place, the JDK writes the plaintext before it compares the tag: never leave a forgery decrypted
            java.util.Arrays.fill(buffer, payloadOffset, payloadOffset + ciphertextLength, (byte) 0);
            return false;
        }
    }

    private AlgorithmParameterSpec parameters(byte[] buffer, int espOffset) {
        System.arraycopy(buffer, espOffset + EspView.HEADER_LENGTH, nonce, 4, 8);
        return gcm ? new GCMParameterSpec(suite.icvLength() * 8, nonce) : new IvParameterSpec(nonce);
    }

    private void authenticateHeader(byte[] buffer, int espOffset, int sequenceHigh) {
        if (extendedSequenceNumbers) {
            System.arraycopy(buffer, espOffset, extendedAad, 0, 4);
            Bytes.i32(extendedAad, 4, sequenceHigh);
            System.arraycopy(buffer, espOffset + 4, extendedAad, 8, 4);
            cipher.updateAAD(extendedAad, 0, 12);
        } else {
            cipher.updateAAD(buffer, espOffset, 8);
        }
    }

    @Override
    public String toString() {
        return "AeadTransform[" + suite.configName() + "]"; // never the key
    }
}
