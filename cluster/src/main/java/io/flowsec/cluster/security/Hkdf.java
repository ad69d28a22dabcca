package io.flowsec.cluster.security;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;
import java.util.Arrays;

/**
 * HKDF with HMAC-SHA256 (RFC 5869) on the JDK's {@code HmacSHA256}: the one way flowsec turns the cluster secret
 * into keys, so that each purpose (sealing per epoch, the fingerprint) gets a key of its own and none reveals the
 * secret or another key.
 */
public final class Hkdf {
    public static final int HASH_LENGTH = 32;
    /** RFC 5869 §2.3: the output is at most 255 blocks. */
    public static final int MAX_OUTPUT_LENGTH = 255 * HASH_LENGTH;

    private static final String HMAC_SHA256 = "HmacSHA256";

    private Hkdf() {
    }

    /** Extract then expand: {@code length} bytes of output keying material. */
    public static byte[] derive(byte[] salt, byte[] inputKeyMaterial, byte[] info, int length) {
        byte[] pseudoRandomKey = extract(salt, inputKeyMaterial);
        try {
            return expand(pseudoRandomKey, info, length);
        } finally {
            Arrays.fill(pseudoRandomKey, (byte) 0);
        }
    }

    /**
     * RFC 5869 §2.2: PRK = HMAC(salt, IKM). An empty salt stands for HashLen zero bytes, as the RFC says; HMAC pads
     * its key with zeros anyway, but the JDK refuses an empty key.
     */
    public static byte[] extract(byte[] salt, byte[] inputKeyMaterial) {
        byte[] key = salt.length == 0 ? new byte[HASH_LENGTH] : salt;
        Mac mac = hmac(key);
        return mac.doFinal(inputKeyMaterial);
    }

    /** RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) | info | i), concatenated and cut to {@code length}. */
    public static byte[] expand(byte[] pseudoRandomKey, byte[] info, int length) {
        if (length < 1 || length > MAX_OUTPUT_LENGTH) {
            throw new IllegalArgumentException("HKDF output length must be 1.." + MAX_OUTPUT_LENGTH + ", got "
                    + length);
        }
        Mac mac = hmac(pseudoRandomKey);
        byte[] output = new byte[length];
        byte[] block = new byte[0];
        int written = 0;
        for (int counter = 1; written < length; counter++) {
            mac.update(block);
            mac.update(info);
            mac.update((byte) counter);
            Arrays.fill(block, (byte) 0);
            block = mac.doFinal();
            int take = Math.min(block.length, length - written);
            System.arraycopy(block, 0, output, written, take);
            written += take;
        }
        Arrays.fill(block, (byte) 0);
        return output;
    }

    private static Mac hmac(byte[] key) {
        try {
            Mac mac = Mac.getInstance(HMAC_SHA256);
            mac.init(new SecretKeySpec(key, HMAC_SHA256));
            return mac;
        } catch (GeneralSecurityException e) {
            // every Java SE runtime has HmacSHA256; the key is not in the message
            throw new IllegalStateException("HmacSHA256 is not available: " + e.getClass().getSimpleName(), e);
        }
    }
}
