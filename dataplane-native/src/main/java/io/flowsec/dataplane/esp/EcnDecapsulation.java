package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Ipv4View;

/**
 * ECN at the tunnel egress (RFC 6040 §4.2, which updates RFC 4301 §5.1.2 for IPsec tunnels): congestion marked on
 * the outer header inside the tunnel must survive decapsulation, or the inner flow's congestion control never hears
 * of it. The outgoing inner ECN field is the cell of Figure 4 at the arriving inner (row) and outer (column)
 * codepoints, or the packet is dropped:
 *
 * <pre>
 * +---------+------------------------------------------------+
 * |Arriving |            Arriving Outer Header               |
 * |   Inner +---------+------------+------------+------------+
 * |  Header | Not-ECT | ECT(0)     | ECT(1)     |     CE     |
 * +---------+---------+------------+------------+------------+
 * | Not-ECT | Not-ECT |Not-ECT(!!!)|Not-ECT(!!!)| &lt;drop&gt;(!!!)|
 * |  ECT(0) |  ECT(0) | ECT(0)     | ECT(1)     |     CE     |
 * |  ECT(1) |  ECT(1) | ECT(1) (!) | ECT(1)     |     CE     |
 * |    CE   |      CE |     CE     |     CE(!!!)|     CE     |
 * +---------+---------+------------+------------+------------+
 * </pre>
 *
 * Outer CE over an inner Not-ECT is dropped because the inner transport could not understand the mark: dropping is
 * the congestion signal it does understand. '(!!!)' and '(!)' mark combinations no compliant encapsulator produces
 * (RFC 6040: "currently unused", always / possibly dangerous); {@link #anomaly} tells them apart so a lane can count
 * them. Pure and allocation-free: codepoints are plain ints, packets are byte arrays at an offset.
 */
public final class EcnDecapsulation {
    /** ECN codepoints (RFC 3168 §5), the two low bits of the IPv4 TOS / IPv6 Traffic Class. */
    public static final int NOT_ECT = 0b00;
    public static final int ECT_1 = 0b01;
    public static final int ECT_0 = 0b10;
    public static final int CE = 0b11;
    public static final int ECN_MASK = 0b11;

    /** {@link #decapsulate} / {@link #apply}: the packet must be dropped (outer CE over inner Not-ECT). */
    public static final int DROP = -1;
    /** {@link #apply}: the inner packet is neither IPv4 nor IPv6; nothing was done. */
    public static final int NOT_IP = -2;

    /** {@link #anomaly}: a combination compliant tunnels produce. */
    public static final int ANOMALY_NONE = 0;
    /** {@link #anomaly}: '(!)', currently unused and possibly dangerous; the RFC allows logging it. */
    public static final int ANOMALY_POSSIBLY_DANGEROUS = 1;
    /** {@link #anomaly}: '(!!!)', currently unused and always potentially dangerous; the RFC asks to log it. */
    public static final int ANOMALY_DANGEROUS = 2;

    /** The IPv6 Traffic Class straddles bytes 0 and 1; its ECN bits are bits 4-5 of byte 1. */
    private static final int IPV6_ECN_BYTE = 1;
    private static final int IPV6_ECN_SHIFT = 4;
    private static final int IPV4_VERSION = 4;
    private static final int IPV6_VERSION = 6;

    /** Figure 4 by rows: index {@code inner * 4 + outer}, codepoints in their numeric order 00, 01, 10, 11. */
    private static final int[] OUTGOING = {
            //            outer: Not-ECT  ECT(1)  ECT(0)  CE
            /* Not-ECT */        NOT_ECT, NOT_ECT, NOT_ECT, DROP,
            /* ECT(1)  */        ECT_1,   ECT_1,   ECT_1,   CE,
            /* ECT(0)  */        ECT_0,   ECT_1,   ECT_0,   CE,
            /* CE      */        CE,      CE,      CE,      CE,
    };
    private static final int[] ANOMALY = {
            //            outer: Not-ECT  ECT(1)             ECT(0)                      CE
            /* Not-ECT */        ANOMALY_NONE, ANOMALY_DANGEROUS, ANOMALY_DANGEROUS,          ANOMALY_DANGEROUS,
            /* ECT(1)  */        ANOMALY_NONE, ANOMALY_NONE,      ANOMALY_POSSIBLY_DANGEROUS, ANOMALY_NONE,
            /* ECT(0)  */        ANOMALY_NONE, ANOMALY_NONE,      ANOMALY_NONE,               ANOMALY_NONE,
            /* CE      */        ANOMALY_NONE, ANOMALY_DANGEROUS, ANOMALY_NONE,               ANOMALY_NONE,
    };

    private EcnDecapsulation() {
    }

    /**
     * The inner ECN codepoint to forward for these arriving codepoints (only their two low bits are read, so a whole
     * TOS byte may be passed), or {@link #DROP}.
     */
    public static int decapsulate(int outerEcn, int innerEcn) {
        return OUTGOING[(innerEcn & ECN_MASK) << 2 | (outerEcn & ECN_MASK)];
    }

    /** How unusual the combination is: {@link #ANOMALY_NONE}, {@link #ANOMALY_POSSIBLY_DANGEROUS} or {@link #ANOMALY_DANGEROUS}. */
    public static int anomaly(int outerEcn, int innerEcn) {
        return ANOMALY[(innerEcn & ECN_MASK) << 2 | (outerEcn & ECN_MASK)];
    }

    /**
     * Applies Figure 4 to the decrypted inner packet at {@code offset} (version from its first nibble; the header is
     * assumed validated): rewrites its ECN field where the table says so, and returns the inner ECN codepoint now in
     * the packet, {@link #DROP} (packet left as it was) or {@link #NOT_IP}.
     */
    public static int apply(byte[] packet, int offset, int outerEcn) {
        int version = (packet[offset] >> 4) & 0xF;
        if (version == IPV4_VERSION) {
            int outgoing = decapsulate(outerEcn, ipv4Ecn(packet, offset));
            if (outgoing != DROP) {
                ipv4Ecn(packet, offset, outgoing);
            }
            return outgoing;
        }
        if (version == IPV6_VERSION) {
            int outgoing = decapsulate(outerEcn, ipv6Ecn(packet, offset));
            if (outgoing != DROP) {
                ipv6Ecn(packet, offset, outgoing);
            }
            return outgoing;
        }
        return NOT_IP;
    }

    /** The ECN codepoint of the IPv4 header at {@code offset}. */
    public static int ipv4Ecn(byte[] packet, int offset) {
        return packet[offset + Ipv4View.TOS_FIELD_OFFSET] & ECN_MASK;
    }

    /**
     * Sets the ECN codepoint of the IPv4 header at {@code offset} and updates its header checksum incrementally
     * (RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), over the 16-bit word holding version, IHL and TOS), so the rest of
     * the header is not summed again. Does nothing when the codepoint is already {@code ecn}.
     */
    public static void ipv4Ecn(byte[] packet, int offset, int ecn) {
        int oldWord = Bytes.u16(packet, offset);
        int newWord = (oldWord & ~ECN_MASK) | (ecn & ECN_MASK);
        if (newWord == oldWord) {
            return;
        }
        int checksumAt = offset + Ipv4View.CHECKSUM_FIELD_OFFSET;
        int sum = (~Bytes.u16(packet, checksumAt) & 0xFFFF) + (~oldWord & 0xFFFF) + newWord;
        sum = (sum & 0xFFFF) + (sum >>> 16);
        sum = (sum & 0xFFFF) + (sum >>> 16);
        Bytes.u16(packet, offset, newWord);
        Bytes.u16(packet, checksumAt, ~sum & 0xFFFF);
    }

    /** The ECN codepoint of the IPv6 header at {@code offset} (the two low bits of its Traffic Class). */
    public static int ipv6Ecn(byte[] packet, int offset) {
        return (packet[offset + IPV6_ECN_BYTE] >> IPV6_ECN_SHIFT) & ECN_MASK;
    }

    /** Sets the ECN codepoint of the IPv6 header at {@code offset}; IPv6 has no header checksum to mend. */
    public static void ipv6Ecn(byte[] packet, int offset, int ecn) {
        int at = offset + IPV6_ECN_BYTE;
        packet[at] = (byte) ((packet[at] & ~(ECN_MASK << IPV6_ECN_SHIFT)) | ((ecn & ECN_MASK) << IPV6_ECN_SHIFT));
    }
}
