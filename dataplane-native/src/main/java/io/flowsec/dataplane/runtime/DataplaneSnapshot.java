package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.lane.TunnelSocket.ReceiveQueue;
import io.flowsec.dataplane.sa.SecurityAssociation;

import java.util.List;
import java.util.Map;

/**
 * The data plane's counters at one moment, immutable. Each lane's counters are read without stopping it (single
 * writer, opaque loads), so the figures of different lanes are a few packets apart at most. Never holds key material.
 *
 * @param steeringInEffect what arrivals are steered by now: {@code single} in the single and pcrypt modes
 * @param steeringFields   per local endpoint, the field steering reads there
 * @param steeringPrograms per local endpoint, what carries the steering out ("eBPF map, 4 entries")
 * @param totals           every lane's outcomes added up
 */
public record DataplaneSnapshot(Mode mode, Steering steering, Steering steeringInEffect, Map<String, String> steeringFields,
                                Map<String, String> steeringPrograms, List<LaneSnapshot> lanes, List<SaSnapshot> sas, Map<Outcome, Long> totals) {
    /**
     * The drop reason the API and metrics give {@link LaneSnapshot#socketDrops}, beside the {@link Outcome} labels:
     * no outcome counts those, the lane never read them.
     */
    public static final String SOCKET_OVERFLOW = "socket-overflow";

    public DataplaneSnapshot {
        steeringFields = Map.copyOf(steeringFields);
        steeringPrograms = Map.copyOf(steeringPrograms);
        lanes = List.copyOf(lanes);
        sas = List.copyOf(sas);
        totals = Map.copyOf(totals);
    }

    /**
     * One lane: its I/O counters and the outcomes of the packets it processed (non-zero ones).
     *
     * @param flowletPending the lane's flow buckets whose move to another SA after a reweighting waits for a
     *                       flowlet boundary (a gauge; the moves done are the counter {@link IoCounter#FLOWLET_MOVES})
     * @param receiveQueue   the lane's tunnel sockets' receive queues added up: bytes waiting, buffer, and the
     *                       datagrams the kernel dropped there (cumulative), which no outcome counts
     * @param queueDelayNanos how long the lane's arrivals wait in its sockets, measured by a marker every 100 ms
     *                       (0 without exact steering, which alone can send a marker to a lane)
     */
    public record LaneSnapshot(int lane, Map<IoCounter, Long> io, Map<Outcome, Long> outcomes, int flowletPending,
                               ReceiveQueue receiveQueue, long queueDelayNanos) {
        public LaneSnapshot {
            io = Map.copyOf(io);
            outcomes = Map.copyOf(outcomes);
            if (receiveQueue == null) {
                receiveQueue = ReceiveQueue.UNKNOWN;
            }
            if (queueDelayNanos < 0) {
                throw new IllegalArgumentException("queueDelayNanos: " + queueDelayNanos + " is negative");
            }
        }

        /** A lane whose queue delay was not measured. */
        public LaneSnapshot(int lane, Map<IoCounter, Long> io, Map<Outcome, Long> outcomes, int flowletPending,
                            ReceiveQueue receiveQueue) {
            this(lane, io, outcomes, flowletPending, receiveQueue, 0);
        }

        /** A lane whose sockets' queues were not read. */
        public LaneSnapshot(int lane, Map<IoCounter, Long> io, Map<Outcome, Long> outcomes, int flowletPending) {
            this(lane, io, outcomes, flowletPending, ReceiveQueue.UNKNOWN);
        }

        /** A lane with no move waiting. */
        public LaneSnapshot(int lane, Map<IoCounter, Long> io, Map<Outcome, Long> outcomes) {
            this(lane, io, outcomes, 0);
        }

        /** Datagrams the kernel dropped at the lane's sockets, their buffers full (cumulative). */
        public long socketDrops() {
            return receiveQueue.drops();
        }

        public long io(IoCounter counter) {
            return io.getOrDefault(counter, 0L);
        }
    }

    /**
     * One installed SA.
     *
     * @param lane         the lane that serves it (inbound: steering's choice; outbound: its owner)
     * @param lastSequence outbound: the last sequence number sent
     * @param drops        non-zero drop reasons
     * @param state        {@code active}, {@code soft-expired} (rekey due), {@code expired} (hard limit) or
     *                     {@code retiring} (an inbound SA in its grace period after a rekey)
     */
    public record SaSnapshot(String name, int spi, SecurityAssociation.Direction direction, int lane, long packets,
                             long bytes, long lastSequence, Map<Outcome, Long> drops, String state) {
        public SaSnapshot {
            drops = Map.copyOf(drops);
        }
    }

    public SaSnapshot sa(int spi, SecurityAssociation.Direction direction) {
        for (SaSnapshot sa : sas) {
            if (sa.spi() == spi && sa.direction() == direction) {
                return sa;
            }
        }
        return null;
    }

    public long total(Outcome outcome) {
        return totals.getOrDefault(outcome, 0L);
    }

    /** Datagrams the kernel dropped at every lane's sockets, their buffers full (cumulative). */
    public long socketDrops() {
        long drops = 0;
        for (LaneSnapshot lane : lanes) {
            drops += lane.socketDrops();
        }
        return drops;
    }
}
