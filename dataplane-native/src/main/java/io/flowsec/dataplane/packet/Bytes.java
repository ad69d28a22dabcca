package io.flowsec.dataplane.packet;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Network-byte-order reads and writes on heap arrays. Packet buffers are heap {@code byte[]} because the JDK's
 * AES-GCM intrinsics are fastest there (see design.md); these accessors compile to single loads and stores.
 */
public final class Bytes {
    private static final VarHandle SHORT_BE = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private Bytes() {
    }

    public static int u8(byte[] buffer, int index) {
        return buffer[index] & 0xFF;
    }

    public static int u16(byte[] buffer, int index) {
        return (short) SHORT_BE.get(buffer, index) & 0xFFFF;
    }

    public static int i32(byte[] buffer, int index) {
        return (int) INT_BE.get(buffer, index);
    }

    public static long u32(byte[] buffer, int index) {
        return (int) INT_BE.get(buffer, index) & 0xFFFF_FFFFL;
    }

    public static long i64(byte[] buffer, int index) {
        return (long) LONG_BE.get(buffer, index);
    }

    public static void u8(byte[] buffer, int index, int value) {
        buffer[index] = (byte) value;
    }

    public static void u16(byte[] buffer, int index, int value) {
        SHORT_BE.set(buffer, index, (short) value);
    }

    public static void i32(byte[] buffer, int index, int value) {
        INT_BE.set(buffer, index, value);
    }

    public static void i64(byte[] buffer, int index, long value) {
        LONG_BE.set(buffer, index, value);
    }

    /** Internet checksum (RFC 1071) of {@code length} bytes, folded, not complemented, starting from {@code initial}. */
    public static int onesComplementSum(byte[] buffer, int offset, int length, long initial) {
        long sum = initial;
        int index = offset;
        int end = offset + length;
        while (index + 4 <= end) {
            sum += u32(buffer, index);
            index += 4;
        }
        if (index + 2 <= end) {
            sum += u16(buffer, index);
            index += 2;
        }
        if (index < end) {
            sum += (buffer[index] & 0xFF) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) sum;
    }

    /** Compares two ranges in time independent of where they differ (for ICVs). */
    public static boolean constantTimeEquals(byte[] a, int aOffset, byte[] b, int bOffset, int length) {
        int difference = 0;
        for (int i = 0; i < length; i++) {
            difference |= a[aOffset + i] ^ b[bOffset + i];
        }
        return difference == 0;
    }

    /** Parses hex (whitespace and an optional 0x prefix allowed); throws IllegalArgumentException on bad input. */
    public static byte[] fromHex(String hex) {
        String clean = hex.strip();
        if (clean.startsWith("0x") || clean.startsWith("0X")) {
            clean = clean.substring(2);
        }
        clean = clean.replaceAll("[\\s:]", "");
        if ((clean.length() & 1) != 0) {
            throw new IllegalArgumentException("hex string has an odd number of digits");
        }
        byte[] out = new byte[clean.length() / 2];
        for (int i = 0; i < out.length; i++) {
            int high = asciiHexDigit(clean.charAt(2 * i));
            int low = asciiHexDigit(clean.charAt(2 * i + 1));
            if (high < 0 || low < 0) {
                throw new IllegalArgumentException("not a hex digit at position " + (2 * i));
            }
            out[i] = (byte) ((high << 4) | low);
        }
        return out;
    }

    /** 0-15 for 0-9, a-f, A-F; -1 for anything else (Character.digit would take full-width and other scripts' digits). */
    private static int asciiHexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    public static String toHex(byte[] buffer, int offset, int length) {
        StringBuilder sb = new StringBuilder(length * 2);
        for (int i = 0; i < length; i++) {
            sb.append(Character.forDigit((buffer[offset + i] >> 4) & 0xF, 16));
            sb.append(Character.forDigit(buffer[offset + i] & 0xF, 16));
        }
        return sb.toString();
    }

    public static String toHex(byte[] buffer) {
        return toHex(buffer, 0, buffer.length);
    }
}
