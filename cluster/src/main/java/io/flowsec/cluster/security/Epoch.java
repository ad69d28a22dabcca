package io.flowsec.cluster.security;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * 128 random bits a {@link Sealer} picks when it is created, i.e. once per process start. Each epoch has its own
 * key, so the message counter can restart at 1 after a restart without ever repeating a nonce under a key. Not
 * secret: it travels in every message's header.
 */
public record Epoch(long high, long low) {
    public static final int LENGTH = 16;

    public static Epoch random(SecureRandom random) {
        return new Epoch(random.nextLong(), random.nextLong());
    }

    /** Its 16 bytes, big-endian: the HKDF salt of the epoch's key. */
    public byte[] toBytes() {
        byte[] bytes = new byte[LENGTH];
        for (int i = 0; i < 8; i++) {
            bytes[i] = (byte) (high >>> (56 - 8 * i));
            bytes[8 + i] = (byte) (low >>> (56 - 8 * i));
        }
        return bytes;
    }

    @Override
    public String toString() {
        return HexFormat.of().toHexDigits(high) + HexFormat.of().toHexDigits(low);
    }
}
