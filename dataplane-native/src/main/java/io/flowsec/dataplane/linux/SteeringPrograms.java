package io.flowsec.dataplane.linux;

import io.flowsec.dataplane.packet.HandOverMarker;

import java.util.Map;

/**
 * The receiver's steering programs for a reuseport group of lane sockets, the software counterpart of a NIC's Flow
 * Director filters: each reads the field the sender's SA group encodes the flow ID in and returns the lane that the
 * receiver assigned to that value. Exact (no hash collisions); values not in the table go to {@code defaultLane}.
 * IKE packets (non-ESP marker, SPI field 0) also go to {@code defaultLane}. Both forms first send the data plane's
 * own {@link HandOverMarker} to the lane it names, whatever the key: a hand-over of an SA between lanes needs it
 * behind the SA's last datagram on the losing lane's socket.
 * <p>
 * Two forms: a classic-BPF compare chain (two instructions per entry, so at most {@link #CLASSIC_MAX_ENTRIES} entries
 * in the 4,096 instructions classic BPF allows; it needs no privilege), and an eBPF program of constant length that
 * looks the field up in a hash map (as many entries as the map holds; it needs CAP_BPF to load).
 */
public final class SteeringPrograms {
    /** Entries a classic compare chain holds: 4,096 instructions less the marker test, the load and the default return. */
    public static final int CLASSIC_MAX_ENTRIES = (CbpfProgram.MAX_INSTRUCTIONS - 6) / 2;

    /** What an exact steering program reads from each datagram. */
    public enum Key {
        /** The 32-bit SPI at the start of the UDP payload. */
        SPI,
        /** The UDP source port, under IPv4 (behind a header of variable length). */
        IPV4_UDP_SOURCE_PORT,
        /** The UDP source port, under IPv6 (behind the fixed 40-byte header). */
        IPV6_UDP_SOURCE_PORT,
        /** The outer IPv4 source address. */
        IPV4_SOURCE_ADDRESS
    }

    private SteeringPrograms() {
    }

    /**
     * The eBPF form: R0 = the key as {@code key} says, then the lane stored under it in the map {@code mapFd} (32-bit
     * keys and values), or {@code defaultLane} when the map has none.
     * <pre>
     *   r6 = ctx; if word[0] == marker SPI: return word[4]
     *   r0 = key; *(u32 *)(fp - 4) = r0
     *   r0 = map_lookup_elem(map, fp - 4)
     *   return r0 ? *(u32 *)r0 : defaultLane
     * </pre>
     */
    public static EbpfProgram lookup(Key key, int mapFd, int defaultLane) {
        EbpfProgram program = new EbpfProgram().move(EbpfProgram.R6, EbpfProgram.R1)
                .loadPacketWord(0)
                .jumpIfNotEqual(EbpfProgram.R0, HandOverMarker.SPI, 2)
                .loadPacketWord(HandOverMarker.LANE_OFFSET)
                .exit();
        switch (key) {
            case SPI -> program.loadPacketWord(0);
            case IPV6_UDP_SOURCE_PORT -> program.loadPacketHalf(CbpfProgram.NET_OFFSET + 40);
            case IPV4_SOURCE_ADDRESS -> program.loadPacketWord(CbpfProgram.NET_OFFSET + 12);
            case IPV4_UDP_SOURCE_PORT -> program.loadPacketByte(CbpfProgram.NET_OFFSET)
                    .move(EbpfProgram.R7, EbpfProgram.R0)
                    .andImmediate(EbpfProgram.R7, 0x0f)
                    .shiftLeftImmediate(EbpfProgram.R7, 2)   // the IPv4 header length in bytes
                    .loadPacketHalfIndirect(EbpfProgram.R7, CbpfProgram.NET_OFFSET);
        }
        return program.storeWord(EbpfProgram.FRAME_POINTER, -4, EbpfProgram.R0)
                .move(EbpfProgram.R2, EbpfProgram.FRAME_POINTER)
                .addImmediate(EbpfProgram.R2, -4)
                .loadMap(EbpfProgram.R1, mapFd)
                .call(EbpfProgram.MAP_LOOKUP_ELEMENT)
                .jumpIfEqual(EbpfProgram.R0, 0, 2)
                .loadWord(EbpfProgram.R0, EbpfProgram.R0, 0)
                .exit()
                .moveImmediate(EbpfProgram.R0, defaultLane)
                .exit();
    }

    /** The classic form of the same program: a compare chain. */
    public static CbpfProgram chain(Key key, Map<Integer, Integer> laneByValue, int defaultLane) {
        return switch (key) {
            case SPI -> bySpi(laneByValue, defaultLane);
            case IPV4_UDP_SOURCE_PORT -> byUdpSourcePort(laneByValue, defaultLane, false);
            case IPV6_UDP_SOURCE_PORT -> byUdpSourcePort(laneByValue, defaultLane, true);
            case IPV4_SOURCE_ADDRESS -> byIpv4SourceAddress(laneByValue, defaultLane);
        };
    }

    /** Every classic steering program's start: a hand-over marker goes to the lane it names. */
    private static CbpfProgram markerToItsLane() {
        return new CbpfProgram().loadWordAbsolute(0)
                .jumpIfEqual(HandOverMarker.SPI, 0, 2)
                .loadWordAbsolute(HandOverMarker.LANE_OFFSET)
                .returnA();
    }

    /** {@code single}: every datagram to lane 0. */
    public static CbpfProgram single() {
        return new CbpfProgram().returnConstant(0);
    }

    /** {@code director} for the {@code spi} encoding: the 32-bit SPI at the start of the UDP payload. */
    public static CbpfProgram bySpi(Map<Integer, Integer> laneBySpi, int defaultLane) {
        CbpfProgram program = markerToItsLane().loadWordAbsolute(0);
        return matchChain(program, laneBySpi, defaultLane);
    }

    /** {@code director} for the {@code udp-port} encoding: the UDP source port of an IPv4 or IPv6 datagram. */
    public static CbpfProgram byUdpSourcePort(Map<Integer, Integer> laneByPort, int defaultLane, boolean ipv6) {
        CbpfProgram program = markerToItsLane();
        if (ipv6) {
            program.loadHalfAbsolute(CbpfProgram.NET_OFFSET + 40);
        } else {
            program.loadIpv4HeaderLengthIntoX(CbpfProgram.NET_OFFSET).loadHalfIndirect(CbpfProgram.NET_OFFSET);
        }
        return matchChain(program, laneByPort, defaultLane);
    }

    /** {@code director} for the {@code address} encoding over IPv4: the outer source address (the sender's choice). */
    public static CbpfProgram byIpv4SourceAddress(Map<Integer, Integer> laneByAddress, int defaultLane) {
        CbpfProgram program = markerToItsLane().loadWordAbsolute(CbpfProgram.NET_OFFSET + 12);
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
