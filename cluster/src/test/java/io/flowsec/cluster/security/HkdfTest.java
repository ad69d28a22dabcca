package io.flowsec.cluster.security;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** HKDF-SHA256 against the test vectors of RFC 5869 Appendix A. */
class HkdfTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void rfc5869TestCase1BasicTestCaseWithSha256() {
        byte[] ikm = repeated(0x0b, 22);
        byte[] salt = HEX.parseHex("000102030405060708090a0b0c");
        byte[] info = HEX.parseHex("f0f1f2f3f4f5f6f7f8f9");

        assertArrayEquals(HEX.parseHex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"),
                Hkdf.extract(salt, ikm));
        assertArrayEquals(HEX.parseHex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                + "34007208d5b887185865"), Hkdf.derive(salt, ikm, info, 42));
    }

    @Test
    void rfc5869TestCase2LongerInputsAndOutputs() {
        byte[] ikm = counting(0x00, 80);
        byte[] salt = counting(0x60, 80);
        byte[] info = counting(0xb0, 80);

        assertArrayEquals(HEX.parseHex("06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244"),
                Hkdf.extract(salt, ikm));
        assertArrayEquals(HEX.parseHex("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                + "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                + "cc30c58179ec3e87c14c01d5c1f3434f1d87"), Hkdf.derive(salt, ikm, info, 82));
    }

    @Test
    void rfc5869TestCase3AnEmptySaltIsHashLenZeros() {
        byte[] ikm = repeated(0x0b, 22);

        assertArrayEquals(HEX.parseHex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04"),
                Hkdf.extract(new byte[0], ikm));
        assertArrayEquals(HEX.parseHex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                + "9d201395faa4b61a96c8"), Hkdf.derive(new byte[0], ikm, new byte[0], 42));
    }

    @Test
    void anOutputLongerThan255BlocksOrEmptyIsRefused() {
        byte[] prk = new byte[32];
        assertThrows(IllegalArgumentException.class, () -> Hkdf.expand(prk, new byte[0], 255 * 32 + 1));
        assertThrows(IllegalArgumentException.class, () -> Hkdf.expand(prk, new byte[0], 0));
    }

    private static byte[] repeated(int value, int count) {
        byte[] bytes = new byte[count];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }

    /** 0x00, 0x01, ... as the RFC writes its longer inputs: {@code count} bytes from {@code first} up. */
    private static byte[] counting(int first, int count) {
        byte[] bytes = new byte[count];
        for (int i = 0; i < count; i++) {
            bytes[i] = (byte) (first + i);
        }
        return bytes;
    }
}
