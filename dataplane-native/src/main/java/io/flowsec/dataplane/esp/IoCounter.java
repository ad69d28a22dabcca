package io.flowsec.dataplane.esp;

/** A lane's I/O counters, kept with its packet outcomes in its {@link LaneCounters}. */
public enum IoCounter {
    SITE_PACKETS_READ,
    TUNNEL_DATAGRAMS_RECEIVED,
    TUNNEL_DATAGRAMS_SENT,
    SITE_PACKETS_WRITTEN,
    SITE_BYTES_WRITTEN,
    SEND_ERRORS,
    TUN_WRITE_ERRORS,
    /** Time inside batches (and work handed over by another lane: pcrypt's cryptography), System.nanoTime. */
    BUSY_NANOS,
    BATCHES,
    /** Batches that ended in an unexpected exception; the lane went on. */
    LANE_FAULTS,
    /** Packets of bypass policies forwarded in clear, and those that could not be. */
    CLEAR_PACKETS_SENT,
    CLEAR_SEND_ERRORS,
    /**
     * Flow buckets of an SA group that moved to another of the lane's SAs after a reweighting, each at a flowlet
     * boundary (idle for the flowlet gap; at once with a gap of 0). How many still wait: {@link LaneCounters#flowletPending}.
     */
    FLOWLET_MOVES,
    /** TCP/UDP superpackets the TUN handed over (TSO/USO), each cut into the segments counted as packets read. */
    SITE_SUPERPACKETS_READ,
    /** Superpackets refused as malformed, of a kind not cut here, or too large for a segment: dropped whole. */
    SITE_OFFLOAD_DROPS,
    /** Packets written to the TUN that carry several coalesced TCP segments (user-space GRO). */
    SITE_SUPERPACKETS_WRITTEN,
    /** Sends that carried a run of datagrams cut by the kernel (UDP GSO), each datagram also counted as sent. */
    TUNNEL_RUNS_SENT,
    /** Receives that brought a run of datagrams kept together by the kernel (UDP GRO). */
    TUNNEL_RUNS_RECEIVED;

    /** Stable lower-case name used in JSON output, metrics and the API. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
