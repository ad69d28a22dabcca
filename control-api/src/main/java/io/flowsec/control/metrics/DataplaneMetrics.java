package io.flowsec.control.metrics;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;

import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The data plane's counters as meters of a Micrometer registry, refreshed from one {@link DataplaneSnapshot} at a
 * time so that every series of a scrape tells of the same moment:
 * <ol>
 *   <li>take a snapshot, at most once per refresh interval (scrapers and dashboards may ask often; a snapshot reads
 *       every lane's counters);</li>
 *   <li>work out every series and its value: per lane (its sockets' receive queues too), per SA, drop totals (the
 *       kernel's drops at full sockets as reason {@code socket-overflow}), mode and steering;</li>
 *   <li>remove the meters of series that are gone, an SA's when the SA is (rekeys replace SAs all the time: the
 *       endpoint must not grow without bound);</li>
 *   <li>publish the values, then register a meter for each new series; the meters read the values when the
 *       registry is scraped.</li>
 * </ol>
 * Series of an SA are labelled by SPI, direction and policy name, never by a key or anything derived from one.
 * A drop reason's series appears, per lane and per SA, with its first drop (a series per lane, SA and reason from
 * the start would be mostly zeros); the totals show every reason from the start, so alerts see zero, not nothing.
 * {@link MetricsEndpoint} refreshes and scrapes under one lock, so that a scrape shows one refresh whole.
 */
public final class DataplaneMetrics {
    /** How stale a scrape may be: scrapes within this interval of the last snapshot reuse it. */
    public static final Duration DEFAULT_REFRESH_INTERVAL = Duration.ofMillis(500);

    private static final String LANE_PACKETS = "flowsec.lane.packets";
    private static final String LANE_FLOWLET_PENDING = "flowsec.lane.flowlet.pending";
    private static final String LANE_SOCKET_DROPS = "flowsec.lane.socket.drops";
    private static final String LANE_SOCKET_QUEUED = "flowsec.lane.socket.queued";
    private static final String LANE_SOCKET_BUFFER = "flowsec.lane.socket.buffer";
    private static final String LANE_QUEUE_DELAY = "flowsec.lane.queue.delay";
    private static final String SA_PACKETS = "flowsec.sa.packets";
    private static final String SA_BYTES = "flowsec.sa.bytes";
    private static final String SA_DROPS = "flowsec.sa.drops";
    private static final String DROPS = "flowsec.drops";
    private static final String MODE = "flowsec.mode";
    private static final String STEERING = "flowsec.steering";
    private static final String STEERING_IN_EFFECT = "flowsec.steering.in.effect";

    /** One time series: its meter's name, kind and tags, and what the endpoint says it means. */
    private record Series(String name, boolean counter, String baseUnit, String description, Tags tags) {
    }

    /** An SA's identity in the data plane: SPIs are unique per direction. */
    private record SaId(int spi, Direction direction) {
    }

    private final DataplaneControl dataplane;
    private final MeterRegistry registry;
    private final long refreshIntervalNs;
    private final Map<Series, Meter> meters = new HashMap<>();
    private Map<SaId, String> policyBySa = Map.of();
    private volatile Map<Series, Double> values = Map.of();
    private long refreshedAtNs;
    private boolean everRefreshed;

    /**
     * Binds the data plane's series to {@code registry}; they are registered by the first {@link #refresh()}.
     *
     * @param refreshInterval {@link #DEFAULT_REFRESH_INTERVAL}, or zero for a snapshot on every refresh (tests)
     */
    public DataplaneMetrics(DataplaneControl dataplane, MeterRegistry registry, Duration refreshInterval) {
        if (refreshInterval.isNegative()) {
            throw new IllegalArgumentException("refresh interval must not be negative: " + refreshInterval);
        }
        this.dataplane = dataplane;
        this.registry = registry;
        this.refreshIntervalNs = refreshInterval.toNanos();
    }

    /** Brings the meters up to date with a new snapshot, unless the last one is younger than the refresh interval. */
    public synchronized void refresh() {
        long nowNs = System.nanoTime();
        if (everRefreshed && nowNs - refreshedAtNs < refreshIntervalNs) {
            return;
        }
        // 1. one snapshot; the SAs and policies right after it, only to name each SA's policy
        DataplaneSnapshot snapshot = dataplane.snapshot();
        policyBySa = policies(snapshot, dataplane.sas(), dataplane.policies(), policyBySa);
        // 2. every series and its value
        Map<Series, Double> next = new LinkedHashMap<>();
        lanes(snapshot, next);
        sas(snapshot, next);
        dropTotals(snapshot, next);
        modeAndSteering(snapshot, next);
        // 3. no meters for series that are gone
        for (Iterator<Map.Entry<Series, Meter>> it = meters.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Series, Meter> registered = it.next();
            if (!next.containsKey(registered.getKey())) {
                registry.remove(registered.getValue());
                it.remove();
            }
        }
        // 4. the values, then meters for the new series, which read them
        values = next;
        for (Series series : next.keySet()) {
            meters.computeIfAbsent(series, this::register);
        }
        refreshedAtNs = nowNs;
        everRefreshed = true;
    }

    /** Removes every meter this registered (the registry and its other meters stay). */
    public synchronized void unbind() {
        for (Meter meter : meters.values()) {
            registry.remove(meter);
        }
        meters.clear();
        values = Map.of();
    }

    /** A meter that reads its series' published value; the registry holds {@code this} weakly, its owner strongly. */
    private Meter register(Series series) {
        if (series.counter()) {
            return FunctionCounter.builder(series.name(), this, metrics -> metrics.value(series))
                    .description(series.description()).baseUnit(series.baseUnit()).tags(series.tags()).register(registry);
        }
        return Gauge.builder(series.name(), this, metrics -> metrics.value(series))
                .description(series.description()).baseUnit(series.baseUnit()).tags(series.tags()).register(registry);
    }

    private double value(Series series) {
        return values.getOrDefault(series, Double.NaN);
    }

    // ---- the series -----------------------------------------------------------------------------------------------

    private static void lanes(DataplaneSnapshot snapshot, Map<Series, Double> next) {
        for (DataplaneSnapshot.LaneSnapshot lane : snapshot.lanes()) {
            Tags tags = Tags.of("lane", Integer.toString(lane.lane()));
            for (IoCounter counter : IoCounter.values()) {
                if (counter == IoCounter.BUSY_NANOS) {
                    put(next, counter("flowsec.lane.busy", "seconds",
                            "Time the lane spent inside batches (its own and work handed over by another lane)", tags),
                            lane.io(counter) / 1e9);
                } else {
                    put(next, counter(laneCounterName(counter), null, laneCounterDescription(counter), tags), lane.io(counter));
                }
            }
            put(next, gauge(LANE_FLOWLET_PENDING, "Flow buckets whose move to another SA waits for a flowlet boundary",
                    tags), lane.flowletPending());
            put(next, counter(LANE_SOCKET_DROPS, null,
                    "Datagrams the kernel dropped at the lane's tunnel sockets, their receive buffers full", tags),
                    lane.socketDrops());
            put(next, gauge(LANE_SOCKET_QUEUED, "bytes", "Buffer space the datagrams waiting in the lane's tunnel sockets hold",
                    tags), lane.receiveQueue().queuedBytes());
            put(next, gauge(LANE_SOCKET_BUFFER, "bytes", "The receive buffers of the lane's tunnel sockets, added up", tags),
                    lane.receiveQueue().bufferBytes());
            put(next, gauge(LANE_QUEUE_DELAY, "seconds",
                    "How long the lane's arrivals waited in its tunnel sockets, measured by the data plane's marker probes",
                    tags), lane.queueDelayNanos() / 1e9);
            for (Map.Entry<Outcome, Long> outcome : lane.outcomes().entrySet()) {
                put(next, counter(LANE_PACKETS, null, "Packets the lane processed, by what became of them",
                        tags.and("outcome", outcome.getKey().label())), outcome.getValue());
            }
        }
    }

    private void sas(DataplaneSnapshot snapshot, Map<Series, Double> next) {
        for (DataplaneSnapshot.SaSnapshot sa : snapshot.sas()) {
            Tags tags = Tags.of("spi", String.format("0x%08x", sa.spi()),
                    "direction", sa.direction().name().toLowerCase(Locale.ROOT),
                    "policy", policyBySa.getOrDefault(new SaId(sa.spi(), sa.direction()), ""));
            put(next, counter(SA_PACKETS, null, "Packets the SA sealed (outbound) or accepted (inbound)", tags), sa.packets());
            put(next, counter(SA_BYTES, null, "Inner bytes the SA sealed (outbound) or accepted (inbound)", tags), sa.bytes());
            for (Map.Entry<Outcome, Long> drop : sa.drops().entrySet()) {
                put(next, counter(SA_DROPS, null, "Packets of the SA dropped, by reason",
                        tags.and("reason", drop.getKey().label())), drop.getValue());
            }
        }
    }

    private static void dropTotals(DataplaneSnapshot snapshot, Map<Series, Double> next) {
        for (Outcome outcome : Outcome.values()) {
            if (outcome.isDrop()) {
                put(next, counter(DROPS, null, "Packets dropped by every lane, by reason",
                        Tags.of("reason", outcome.label())), snapshot.total(outcome));
            }
        }
        // no lane read these, so no outcome counts them; they are drops all the same
        put(next, counter(DROPS, null, "Packets dropped by every lane, by reason",
                Tags.of("reason", DataplaneSnapshot.SOCKET_OVERFLOW)), snapshot.socketDrops());
    }

    private static void modeAndSteering(DataplaneSnapshot snapshot, Map<Series, Double> next) {
        for (Mode mode : Mode.values()) {
            put(next, gauge(MODE, "The data plane's mode: 1 for the one in effect", Tags.of("mode", mode.configName())),
                    mode == snapshot.mode() ? 1 : 0);
        }
        for (Steering steering : Steering.values()) {
            put(next, gauge(STEERING, "The configured steering (flow mode's): 1 for the one configured",
                    Tags.of("steering", steering.configName())), steering == snapshot.steering() ? 1 : 0);
            put(next, gauge(STEERING_IN_EFFECT, "What arrivals are steered by now: 1 for the one in effect",
                    Tags.of("steering", steering.configName())), steering == snapshot.steeringInEffect() ? 1 : 0);
        }
    }

    /**
     * Each SA's policy name. An outbound SA belongs to the SA group of exactly one protect policy. An inbound SA is
     * in no group, but it carries its policy's selectors (an SA file gives each SA the selectors of the policy it is
     * listed under; both are written from this appliance's point of view): it is named after the first protect
     * policy, in SPD order, whose selectors equal its own, else "". An SA that vanished between the snapshot and
     * the SA list keeps the name found before, so its series do not change identity for one scrape.
     */
    private static Map<SaId, String> policies(DataplaneSnapshot snapshot, List<SecurityAssociation> sas,
                                              List<SecurityPolicy> policies, Map<SaId, String> before) {
        Map<SaId, String> found = new HashMap<>();
        for (SecurityPolicy policy : policies) {
            if (policy.outboundGroup() != null) {
                for (SecurityAssociation member : policy.outboundGroup().members()) {
                    found.putIfAbsent(new SaId(member.spi(), Direction.OUTBOUND), policy.name());
                }
            }
        }
        for (SecurityAssociation sa : sas) {
            if (sa.direction() == Direction.INBOUND) {
                for (SecurityPolicy policy : policies) {
                    if (policy.action() == PolicyAction.PROTECT && policy.selector().equals(sa.selector())) {
                        found.putIfAbsent(new SaId(sa.spi(), Direction.INBOUND), policy.name());
                        break;
                    }
                }
            }
        }
        Map<SaId, String> named = new HashMap<>();
        for (DataplaneSnapshot.SaSnapshot sa : snapshot.sas()) {
            SaId id = new SaId(sa.spi(), sa.direction());
            String policy = found.get(id);
            named.put(id, policy != null ? policy : before.getOrDefault(id, ""));
        }
        return named;
    }

    // ---- naming ---------------------------------------------------------------------------------------------------

    /**
     * {@code TUNNEL_DATAGRAMS_RECEIVED} → {@code flowsec.lane.tunnel.datagrams.received}, which Prometheus shows as
     * {@code flowsec_lane_tunnel_datagrams_received_total}; {@code LANE_FAULTS} → {@code flowsec.lane.faults}.
     */
    static String laneCounterName(IoCounter counter) {
        return "flowsec.lane." + counter.name().toLowerCase(Locale.ROOT).replaceFirst("^lane_", "").replace('_', '.');
    }

    private static String laneCounterDescription(IoCounter counter) {
        return switch (counter) {
            case SITE_PACKETS_READ -> "Packets the lane read from its site queue";
            case TUNNEL_DATAGRAMS_RECEIVED -> "Datagrams the lane received on its tunnel sockets";
            case TUNNEL_DATAGRAMS_SENT -> "Datagrams the lane sent on its tunnel sockets";
            case SITE_PACKETS_WRITTEN -> "Packets the lane wrote to its site queue";
            case SITE_BYTES_WRITTEN -> "Bytes the lane wrote to its site queue";
            case SEND_ERRORS -> "Tunnel datagrams the lane could not send";
            case TUN_WRITE_ERRORS -> "Packets the lane could not write to its site queue";
            case BUSY_NANOS -> "Time the lane spent inside batches";
            case BATCHES -> "Batches the lane ran";
            case LANE_FAULTS -> "Batches that ended in an unexpected exception (the lane went on)";
            case CLEAR_PACKETS_SENT -> "Packets of bypass policies the lane forwarded in clear";
            case CLEAR_SEND_ERRORS -> "Packets of bypass policies the lane could not forward";
            case FLOWLET_MOVES -> "Flow buckets the lane moved to another SA after a reweighting, each at a flowlet boundary";
            case SITE_SUPERPACKETS_READ -> "TCP/UDP superpackets the lane read from its TUN queue and cut into segments (TSO/USO)";
            case SITE_OFFLOAD_DROPS -> "Superpackets from the TUN queue the lane refused and dropped (malformed or unsupported)";
            case SITE_SUPERPACKETS_WRITTEN -> "Packets the lane wrote to its TUN queue carrying several coalesced TCP segments";
            case TUNNEL_RUNS_SENT -> "Sends of a run of tunnel datagrams cut by the kernel (UDP GSO)";
            case TUNNEL_RUNS_RECEIVED -> "Receives of a run of tunnel datagrams kept together by the kernel (UDP GRO)";
        };
    }

    private static Series counter(String name, String baseUnit, String description, Tags tags) {
        return new Series(name, true, baseUnit, description, tags);
    }

    private static Series gauge(String name, String description, Tags tags) {
        return gauge(name, null, description, tags);
    }

    private static Series gauge(String name, String baseUnit, String description, Tags tags) {
        return new Series(name, false, baseUnit, description, tags);
    }

    /** Adds a series; two SAs with one SPI and direction (an inbound rekey that kept its SPI) count together. */
    private static void put(Map<Series, Double> next, Series series, double value) {
        next.merge(series, value, Double::sum);
    }
}
