package io.flowsec.dataplane.packet;

/** IANA protocol numbers used on the packet path (RFC constants kept in one place). */
public final class IpProtocol {
    public static final int HOP_BY_HOP = 0;
    public static final int ICMP = 1;
    public static final int IPV4 = 4;
    public static final int TCP = 6;
    public static final int UDP = 17;
    public static final int IPV6 = 41;
    public static final int IPV6_ROUTING = 43;
    public static final int IPV6_FRAGMENT = 44;
    public static final int ESP = 50;
    public static final int AH = 51;
    public static final int ICMPV6 = 58;
    /** RFC 4303 §2.6: the next header value of a dummy (traffic flow confidentiality) packet. */
    public static final int NO_NEXT_HEADER = 59;
    public static final int IPV6_DESTINATION_OPTIONS = 60;
    public static final int SCTP = 132;

    /** RFC 3948: the IKE / ESP-in-UDP port. */
    public static final int NAT_T_PORT = 4500;

    private IpProtocol() {
    }

    /** True for protocols whose first four payload bytes are source and destination ports. */
    public static boolean hasPorts(int protocol) {
        return protocol == TCP || protocol == UDP || protocol == SCTP;
    }
}
