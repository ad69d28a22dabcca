package io.flowsec.dataplane.flow;

import io.flowsec.dataplane.packet.FlowKey;

/**
 * The Toeplitz hash that NICs use for RSS (Microsoft's RSS specification), so the sender's flow ID is the value a
 * receiving NIC would compute for the inner packet. Input order as the specification: source address, destination
 * address, then source and destination port when the protocol has them.
 * <p>
 * The hash is linear in the input bits, so it is precomputed per input byte position and byte value: one table
 * lookup and XOR per input byte, nothing allocated.
 */
public final class ToeplitzHash {
    /** The key from Microsoft's RSS verification suite, also the default of most NIC drivers. */
    public static final byte[] MICROSOFT_KEY = {
            (byte) 0x6d, (byte) 0x5a, (byte) 0x56, (byte) 0xda, (byte) 0x25, (byte) 0x5b, (byte) 0x0e, (byte) 0xc2,
            (byte) 0x41, (byte) 0x67, (byte) 0x25, (byte) 0x3d, (byte) 0x43, (byte) 0xa3, (byte) 0x8f, (byte) 0xb0,
            (byte) 0xd0, (byte) 0xca, (byte) 0x2b, (byte) 0xcb, (byte) 0xae, (byte) 0x7b, (byte) 0x30, (byte) 0xb4,
            (byte) 0x77, (byte) 0xcb, (byte) 0x2d, (byte) 0xa3, (byte) 0x80, (byte) 0x30, (byte) 0xf2, (byte) 0x0c,
            (byte) 0x6a, (byte) 0x42, (byte) 0xb7, (byte) 0x3b, (byte) 0xbe, (byte) 0xac, (byte) 0x01, (byte) 0xfa};

    /** IPv6 addresses and ports: the longest input. */
    public static final int MAX_INPUT_LENGTH = 36;

    private final int[] table;

    public ToeplitzHash(byte[] key) {
        if (key.length < MAX_INPUT_LENGTH + 4) {
            throw new IllegalArgumentException("Toeplitz key needs at least " + (MAX_INPUT_LENGTH + 4) + " bytes");
        }
        table = new int[MAX_INPUT_LENGTH * 256];
        for (int position = 0; position < MAX_INPUT_LENGTH; position++) {
            for (int value = 0; value < 256; value++) {
                int result = 0;
                for (int bit = 0; bit < 8; bit++) {
                    if ((value & (0x80 >>> bit)) != 0) {
                        result ^= keyWindow(key, position * 8 + bit);
                    }
                }
                table[position * 256 + value] = result;
            }
        }
    }

    public static ToeplitzHash microsoft() {
        return new ToeplitzHash(MICROSOFT_KEY);
    }

    /** The 32 key bits starting at bit {@code start}. */
    private static int keyWindow(byte[] key, int start) {
        int result = 0;
        for (int i = 0; i < 32; i++) {
            int bit = start + i;
            int keyBit = (key[bit >>> 3] >>> (7 - (bit & 7))) & 1;
            result = (result << 1) | keyBit;
        }
        return result;
    }

    private int mixInt(int hash, int position, int value) {
        return hash
                ^ table[position * 256 + (value >>> 24)]
                ^ table[(position + 1) * 256 + ((value >>> 16) & 0xFF)]
                ^ table[(position + 2) * 256 + ((value >>> 8) & 0xFF)]
                ^ table[(position + 3) * 256 + (value & 0xFF)];
    }

    private int mixLong(int hash, int position, long value) {
        return mixInt(mixInt(hash, position, (int) (value >>> 32)), position + 4, (int) value);
    }

    /** Hash of the IPv4 2-tuple, or 4-tuple when {@code withPorts}. */
    public int hashIpv4(int source, int destination, boolean withPorts, int sourcePort, int destinationPort) {
        int hash = mixInt(0, 0, source);
        hash = mixInt(hash, 4, destination);
        if (withPorts) {
            hash = mixInt(hash, 8, (sourcePort << 16) | destinationPort);
        }
        return hash;
    }

    /** Hash of the IPv6 2-tuple, or 4-tuple when {@code withPorts}. */
    public int hashIpv6(long sourceHigh, long sourceLow, long destinationHigh, long destinationLow,
                        boolean withPorts, int sourcePort, int destinationPort) {
        int hash = mixLong(0, 0, sourceHigh);
        hash = mixLong(hash, 8, sourceLow);
        hash = mixLong(hash, 16, destinationHigh);
        hash = mixLong(hash, 24, destinationLow);
        if (withPorts) {
            hash = mixInt(hash, 32, (sourcePort << 16) | destinationPort);
        }
        return hash;
    }

    /** The flow ID of an inner packet: 4-tuple for TCP, UDP and SCTP, addresses otherwise (as RSS does). */
    public int flowId(FlowKey key) {
        if (key.family == 4) {
            return hashIpv4((int) key.sourceLow, (int) key.destinationLow, key.hasPorts(), key.sourcePort, key.destinationPort);
        }
        return hashIpv6(key.sourceHigh, key.sourceLow, key.destinationHigh, key.destinationLow,
                key.hasPorts(), key.sourcePort, key.destinationPort);
    }
}
