package io.flowsec.cluster.balancing;

import io.flowsec.cluster.assignment.TunnelAssignment;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.runtime.DataplaneSnapshot.LaneSnapshot;
import io.flowsec.dataplane.runtime.DataplaneSnapshot.SaSnapshot;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Rates from two counter snapshots of the data plane ({@code DataplaneControl.snapshot()}) taken {@code elapsedNanos}
 * apart, as the control API's lane load reads them: busy from {@code busy-nanos}, packets from site packets read plus
 * tunnel datagrams received, drops from every drop outcome; and from the lane's tunnel sockets, the backlog (bytes
 * queued / buffer, at the later snapshot) and the kernel's drops at a full socket. A counter that went backwards (the
 * data plane restarted) counts as 0. The caller times the snapshots; nothing here reads a clock.
 */
public final class LoadSampling {
    private LoadSampling() {
    }

    /** The receiver's report for {@code assignment}'s tunnel: every lane, and the rate of each of its inbound SAs. */
    public static LoadReport report(String member, TunnelAssignment assignment, DataplaneSnapshot earlier,
                                    DataplaneSnapshot later, long elapsedNanos, long timestampMs) {
        return report(member, assignment.tunnel(), assignment, earlier, later, elapsedNanos, timestampMs);
    }

    /**
     * The same before the tunnel has an assignment ({@code assignment} null): its lanes only, version 0, so the sender
     * learns how many lanes to lay the tunnel out over.
     */
    public static LoadReport report(String member, String tunnel, TunnelAssignment assignment, DataplaneSnapshot earlier,
                                    DataplaneSnapshot later, long elapsedNanos, long timestampMs) {
        checkElapsed(elapsedNanos);
        List<LaneLoad> lanes = new ArrayList<>();
        for (LaneSnapshot lane : later.lanes()) {
            LaneSnapshot before = lane(earlier, lane.lane());
            long busy = growth(lane.io(IoCounter.BUSY_NANOS), before == null ? 0 : before.io(IoCounter.BUSY_NANOS));
            long packets = growth(packets(lane), before == null ? 0 : packets(before));
            long drops = growth(drops(lane), before == null ? 0 : drops(before));
            long socketDrops = growth(lane.socketDrops(), before == null ? 0 : before.socketDrops());
            lanes.add(new LaneLoad(lane.lane(), Math.min(1.0, (double) busy / elapsedNanos),
                    perSecond(packets, elapsedNanos), perSecond(drops, elapsedNanos), backlog(lane),
                    perSecond(socketDrops, elapsedNanos),
                    Math.min(LaneLoad.MAX_QUEUE_DELAY_MS, lane.queueDelayNanos() / 1e6)));
        }
        lanes.sort((a, b) -> Integer.compare(a.lane(), b.lane()));
        return new LoadReport(member, tunnel, assignment == null ? 0 : assignment.version(), timestampMs, lanes,
                assignment == null ? Map.of() : rates(assignment, earlier, later, elapsedNanos, Direction.INBOUND));
    }

    /** The sender's own packets/s per outbound SA of {@code assignment}: what {@link SenderBalancer} weighs by. */
    public static Map<Integer, Double> outboundRates(TunnelAssignment assignment, DataplaneSnapshot earlier,
                                                     DataplaneSnapshot later, long elapsedNanos) {
        checkElapsed(elapsedNanos);
        return rates(assignment, earlier, later, elapsedNanos, Direction.OUTBOUND);
    }

    private static Map<Integer, Double> rates(TunnelAssignment assignment, DataplaneSnapshot earlier,
                                              DataplaneSnapshot later, long elapsedNanos, Direction direction) {
        Map<Integer, Double> rates = new LinkedHashMap<>();
        for (TunnelAssignment.SaPlacement sa : assignment.sas()) {
            SaSnapshot now = later.sa(sa.spi(), direction);
            if (now != null) {
                SaSnapshot before = earlier.sa(sa.spi(), direction);
                rates.put(sa.spi(), perSecond(growth(now.packets(), before == null ? 0 : before.packets()), elapsedNanos));
            }
        }
        return rates;
    }

    private static void checkElapsed(long elapsedNanos) {
        if (elapsedNanos <= 0) {
            throw new IllegalArgumentException("elapsedNanos: " + elapsedNanos + " is not positive");
        }
    }

    private static LaneSnapshot lane(DataplaneSnapshot snapshot, int lane) {
        for (LaneSnapshot candidate : snapshot.lanes()) {
            if (candidate.lane() == lane) {
                return candidate;
            }
        }
        return null;
    }

    private static long packets(LaneSnapshot lane) {
        return lane.io(IoCounter.SITE_PACKETS_READ) + lane.io(IoCounter.TUNNEL_DATAGRAMS_RECEIVED);
    }

    private static long drops(LaneSnapshot lane) {
        long drops = 0;
        for (Map.Entry<Outcome, Long> entry : lane.outcomes().entrySet()) {
            if (entry.getKey().isDrop()) {
                drops += entry.getValue();
            }
        }
        return drops;
    }

    /** How full the lane's sockets are at the later snapshot (a level, not a rate); 0 when no buffer is known. */
    private static double backlog(LaneSnapshot lane) {
        long buffer = lane.receiveQueue().bufferBytes();
        return buffer <= 0 ? 0 : Math.min(1.0, (double) lane.receiveQueue().queuedBytes() / buffer);
    }

    private static long growth(long now, long before) {
        return Math.max(0, now - before);
    }

    private static double perSecond(long count, long elapsedNanos) {
        return count * 1e9 / elapsedNanos;
    }
}
