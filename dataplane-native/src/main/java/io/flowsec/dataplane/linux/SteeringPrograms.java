package io.flowsec.dataplane.linux;

import java.util.Map;

/**
 * The receiver's steering programs for a reuseport group of lane sockets, the software counterpart of a NIC's Flow
 * Director filters: each reads the field the sender's SA group encodes the flow ID in and returns the lane that the
 * receiver assigned to that value. Exact (no hash collisions); values not in the table go to {@code defaultLane}.
 * IKE packets (non-ESP marker, SPI field 0) also go to {@code defaultLane}.
 */
public final class SteeringPrograms {
    private SteeringPrograms() {
    }

    /** {@code single}: every datagram to lane 0. */
    public static CbpfProgram single() {
        return new CbpfProgram().returnConstant(0);
    }

    /** {@code director} for the {@code spi} encoding: the 32-bit SPI at the start of the UDP payload. */
    public static CbpfProgram bySpi(Map<Integer, Integer> laneBySpi, int defaultLane) {
        CbpfProgram program = new CbpfProgram().loadWordAbsolute(0);
        return matchChain(program, laneBySpi, defaultLane);
    }

    /** {@code director} for the {@code udp-port} encoding: the UDP source port of an IPv4 or IPv6 datagram. */
    public static CbpfProgram byUdpSourcePort(Map<Integer, Integer> laneByPort, int defaultLane, boolean ipv6) {
        CbpfProgram program = new CbpfProgram();
        if (ipv6) {
            program.loadHalfAbsolute(CbpfProgram.NET_OFFSET + 40);
        } else {
            program.loadIpv4HeaderLengthIntoX(CbpfProgram.NET_OFFSET).loadHalfIndirect(CbpfProgram.NET_OFFSET);
        }
        return matchChain(program, laneByPort, defaultLane);
    }

    /** {@code director} for the {@code address} encoding over IPv4: the outer source address (the sender's choice). */
    public static CbpfProgram byIpv4SourceAddress(Map<Integer, Integer> laneByAddress, int defaultLane) {
        CbpfProgram program = new CbpfProgram().loadWordAbsolute(CbpfProgram.NET_OFFSET + 12);
        return matchChain(program, laneByAddress, defaultLane);
    }

    /** A in the table: return its lane; one compare and one return per entry. */
    private static CbpfProgram matchChain(CbpfProgram program, Map<Integer, Integer> laneByValue, int defaultLane) {
        for (Map.Entry<Integer, Integer> entry : laneByValue.entrySet()) {
            program.jumpIfEqual(entry.getKey(), 0, 1).returnConstant(entry.getValue());
        }
        return program.returnConstant(defaultLane);
    }
}
