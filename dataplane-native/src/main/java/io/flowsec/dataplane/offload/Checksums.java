package io.flowsec.dataplane.offload;

import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Ipv6View;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The Internet checksum (RFC 1071) at the speed offloads need: segmenting and coalescing sum every payload byte
 * once, up to 64 KB a packet. {@link Bytes#onesComplementSum} gives the same sums four bytes at a time and stays
 * for the short headers its callers sum; this one reads eight.
 * <p>
 * Sums are returned folded to 16 bits and not complemented, so they can be carried on ({@code initial}) and
 * complemented once at the end ({@link #complement}). A sum of anything but zeros never folds to 0 (end-around
 * carry gives 0xFFFF instead), as in the textbook loop.
 */
public final class Checksums {
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final long LOW_32 = 0xFFFF_FFFFL;

    private Checksums() {
    }

    /**
     * Ones'-complement sum of {@code length} bytes from {@code offset}, plus {@code initial} (non-negative, below
     * 2^62), folded to 16 bits, not complemented. An odd last byte counts as the high byte of a zero-padded word.
     */
    public static int sum(byte[] buffer, int offset, int length, long initial) {
        // 32-bit halves of big-endian longs: 2^16 = 1 mod 0xFFFF, so summing wider words gives the same folded sum,
        // and each step adds under 2^33, which cannot overflow a long for any byte[] length.
        long sum = initial;
        int index = offset;
        int end = offset + length;
        while (index + 32 <= end) {
            long a = (long) LONG_BE.get(buffer, index);
            long b = (long) LONG_BE.get(buffer, index + 8);
            long c = (long) LONG_BE.get(buffer, index + 16);
            long d = (long) LONG_BE.get(buffer, index + 24);
            sum += (a >>> 32) + (a & LOW_32) + (b >>> 32) + (b & LOW_32)
                    + (c >>> 32) + (c & LOW_32) + (d >>> 32) + (d & LOW_32);
            index += 32;
        }
        while (index + 8 <= end) {
            long a = (long) LONG_BE.get(buffer, index);
            sum += (a >>> 32) + (a & LOW_32);
            index += 8;
        }
        if (index + 4 <= end) {
            sum += Bytes.u32(buffer, index);
            index += 4;
        }
        if (index + 2 <= end) {
            sum += Bytes.u16(buffer, index);
            index += 2;
        }
        if (index < end) {
            sum += (buffer[index] & 0xFF) << 8;
        }
        return fold(sum);
    }

    /** Folds a non-negative running sum to 16 bits with end-around carries. */
    public static int fold(long sum) {
        long folded = (sum & LOW_32) + (sum >>> 32);
        folded = (folded & 0xFFFF) + (folded >>> 16);
        folded = (folded & 0xFFFF) + (folded >>> 16);
        return (int) ((folded & 0xFFFF) + (folded >>> 16));
    }

    /** The value a checksum field holds: the complement of the folded sum. */
    public static int complement(int sum) {
        return ~sum & 0xFFFF;
    }

    /**
     * Sum of the pseudo-header that TCP and UDP checksums cover (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6):
     * both addresses, the protocol and the transport length, folded, not complemented. {@code version} is 4 or 6.
     */
    public static int pseudoHeaderSum(byte[] packet, int ipOffset, int version, int protocol, int l4Length) {
        long sum = (long) protocol + l4Length;
        if (version == 4) {
            return sum(packet, ipOffset + Ipv4View.SOURCE_FIELD_OFFSET, 8, sum);
        }
        if (version == 6) {
            return sum(packet, ipOffset + Ipv6View.SOURCE_FIELD_OFFSET, 32, sum);
        }
        throw new IllegalArgumentException("IP version " + version);
    }

    /**
     * The IPv4 header checksum for the header at {@code ipOffset} (IHL words, options included), computed as if
     * its checksum field were zero, so the field need not be cleared first.
     */
    public static int ipv4HeaderChecksum(byte[] packet, int ipOffset) {
        int headerLength = (packet[ipOffset] & 0xF) * 4;
        int sum = sum(packet, ipOffset, Ipv4View.CHECKSUM_FIELD_OFFSET, 0);
        int afterField = Ipv4View.CHECKSUM_FIELD_OFFSET + 2;
        return complement(sum(packet, ipOffset + afterField, headerLength - afterField, sum));
    }

    /** Stores {@link #ipv4HeaderChecksum} in the header's checksum field. */
    public static void updateIpv4HeaderChecksum(byte[] packet, int ipOffset) {
        Bytes.u16(packet, ipOffset + Ipv4View.CHECKSUM_FIELD_OFFSET, ipv4HeaderChecksum(packet, ipOffset));
    }

    /** True when the IPv4 header at {@code ipOffset} sums to 0xFFFF, its checksum field included. */
    public static boolean isIpv4HeaderChecksumValid(byte[] packet, int ipOffset) {
        return sum(packet, ipOffset, (packet[ipOffset] & 0xF) * 4, 0) == 0xFFFF;
    }
}
