package io.flowsec.dataplane.packet;

/**
 * The selector fields of an inner packet: addresses, protocol and ports, read once per packet into this reusable
 * holder (one per lane) and used for the SPD lookup, the flow ID and the post-decryption policy check.
 */
public final class FlowKey {
    /** 4 or 6. */
    public int family;
    public long sourceHigh;
    /** IPv4 addresses sit in the low 32 bits. */
    public long sourceLow;
    public long destinationHigh;
    public long destinationLow;
    public int protocol;
    /** -1 when the protocol carries no ports or the packet is a non-first fragment. */
    public int sourcePort;
    public int destinationPort;
    /** The IP header's total length: the inner packet's real length, TFC padding excluded. */
    public int totalLength;
    /** IPv4 TOS or IPv6 traffic class (DSCP and ECN), copied to the outer header (RFC 4301 §5.1.2.1). */
    public int trafficClass;
    /** IPv4 DF bit, copied to an IPv4 outer header; false for IPv6. */
    public boolean dontFragment;

    private final Ipv4View ipv4 = new Ipv4View();
    private final Ipv6View ipv6 = new Ipv6View();

    /**
     * Reads an IP packet of at most {@code available} bytes. Returns false when its header is inconsistent
     * (wrong version, lengths beyond what is there).
     */
    public boolean read(byte[] buffer, int offset, int available) {
        if (available < 1) {
            return false;
        }
        int version = (buffer[offset] >> 4) & 0xF;
        int transportOffset;
        if (version == 4) {
            if (!ipv4.wrap(buffer, offset).isValid(available)) {
                return false;
            }
            family = 4;
            sourceHigh = 0;
            destinationHigh = 0;
            sourceLow = ipv4.sourceAddress() & 0xFFFF_FFFFL;
            destinationLow = ipv4.destinationAddress() & 0xFFFF_FFFFL;
            protocol = ipv4.protocol();
            totalLength = ipv4.totalLength();
            trafficClass = ipv4.tos();
            dontFragment = ipv4.dontFragment();
            // every fragment, the first included, is keyed by addresses only, so all take the same SA
            transportOffset = ipv4.isFragment() ? -1 : ipv4.headerLength();
        } else if (version == 6) {
            if (!ipv6.wrap(buffer, offset).isValid(available)) {
                return false;
            }
            family = 6;
            sourceHigh = ipv6.sourceHigh();
            sourceLow = ipv6.sourceLow();
            destinationHigh = ipv6.destinationHigh();
            destinationLow = ipv6.destinationLow();
            totalLength = ipv6.totalLength();
            trafficClass = ipv6.trafficClass();
            dontFragment = false;
            long upper = ipv6.upperLayer(totalLength);
            if (upper == Ipv6View.MALFORMED_CHAIN) {
                return false;
            }
            if (upper == Ipv6View.FRAGMENT) {
                protocol = IpProtocol.IPV6_FRAGMENT;
                transportOffset = -1;
            } else {
                protocol = (int) (upper >>> 32);
                transportOffset = (int) upper;
            }
        } else {
            return false;
        }
        if (transportOffset >= 0 && IpProtocol.hasPorts(protocol) && transportOffset + 4 <= totalLength) {
            sourcePort = Bytes.u16(buffer, offset + transportOffset);
            destinationPort = Bytes.u16(buffer, offset + transportOffset + 2);
        } else {
            sourcePort = -1;
            destinationPort = -1;
        }
        return true;
    }

    public boolean hasPorts() {
        return sourcePort >= 0;
    }
}
