package io.flowsec.control.metrics;

import io.flowsec.control.api.ApiServer;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.config.MeterFilterReply;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.lang.management.ManagementFactory;
import java.time.Duration;

/**
 * {@code GET /metrics} in the Prometheus text format: the data plane's counters ({@link DataplaneMetrics}), the
 * control API's latency ({@link ApiLatency}) and the JVM's memory, collections, threads, CPU and uptime.
 * <p>
 * Mounted as an {@link ApiServer.Extension}, behind the server's authentication like every path but health and the
 * contract: a scraper sends a bearer token ({@code authorization: {credentials_file: ...}} in Prometheus), a
 * read-only one is enough. Nothing it exposes is a key or derived from one.
 */
public final class MetricsEndpoint implements ApiServer.Extension, AutoCloseable {
    public static final String PATH = "/metrics";
    /** Prometheus text exposition format 0.0.4, what {@link PrometheusMeterRegistry#scrape()} writes. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final DataplaneMetrics dataplane;
    private final ApiLatency latency = new ApiLatency(registry);
    private final JvmGcMetrics gc = new JvmGcMetrics();

    public MetricsEndpoint(DataplaneControl dataplane) {
        this(dataplane, DataplaneMetrics.DEFAULT_REFRESH_INTERVAL);
    }

    /** @param refreshInterval how stale a scrape may be; zero takes a snapshot for every scrape (tests) */
    public MetricsEndpoint(DataplaneControl dataplane, Duration refreshInterval) {
        this.dataplane = new DataplaneMetrics(dataplane, registry, refreshInterval);
        registry.config().meterFilter(new PrometheusLint());
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            FunctionCounter.builder("process.cpu", os, bean -> bean.getProcessCpuTime() / 1e9).baseUnit("seconds")
                    .description("CPU time the appliance's process used").register(registry);
        }
    }

    /**
     * Two of Micrometer's processor meters under names Prometheus' lint ({@code promtool check metrics}) refuses:
     * {@code system_cpu_count} (a gauge named like a summary's count) becomes {@code system_cpu_cores}, and
     * {@code process_cpu_time_ns_total} (an abbreviated unit, in nanoseconds) gives way to Prometheus' own
     * {@code process_cpu_seconds_total}.
     */
    private static final class PrometheusLint implements MeterFilter {
        @Override
        public MeterFilterReply accept(Meter.Id id) {
            return id.getName().equals("process.cpu.time") ? MeterFilterReply.DENY : MeterFilterReply.NEUTRAL;
        }

        @Override
        public Meter.Id map(Meter.Id id) {
            return id.getName().equals("system.cpu.count") ? id.withName("system.cpu.cores") : id;
        }
    }

    /** Times every request that passes authentication, then serves {@value #PATH}. */
    @Override
    public void mount(Router root) {
        root.route().handler(latency);
        root.get(PATH).handler(this::serve);
    }

    private void serve(RoutingContext context) {
        context.response().putHeader(HttpHeaders.CONTENT_TYPE, CONTENT_TYPE).end(scrape());
    }

    /** The registry's text after a refresh from the data plane; one scrape at a time, so each sees one snapshot. */
    public synchronized String scrape() {
        dataplane.refresh();
        return registry.scrape();
    }

    /**
     * The cluster's meters: per tunnel whether the peer is heard and each direction's assignment version, and the
     * messages refused by reason. Read from {@code tunnels} at each scrape.
     */
    public void bind(io.flowsec.control.api.TunnelControl tunnels) {
        for (Object entry : tunnels.tunnels()) {
            String id = ((io.vertx.core.json.JsonObject) entry).getString("id");
            io.micrometer.core.instrument.Gauge.builder("flowsec.tunnel.peer.up", tunnels,
                            t -> t.tunnel(id) != null && "up".equals(t.tunnel(id).getString("peerState")) ? 1 : 0)
                    .description("1 while the tunnel's peer is heard in the cluster; 0: forwarding with the last assignment")
                    .tag("tunnel", id).register(registry);
            for (String direction : java.util.List.of("sending", "receiving")) {
                io.micrometer.core.instrument.Gauge.builder("flowsec.tunnel.assignment.version", tunnels,
                                t -> t.tunnel(id) == null ? 0 : t.tunnel(id).getLong(direction + "Version", 0L))
                        .description("the version of the direction's assignment in force")
                        .tag("tunnel", id).tag("direction", direction).register(registry);
            }
        }
        for (String reason : java.util.List.of("malformed", "bad_tag", "stale", "replayed", "misdirected", "unreadable")) {
            FunctionCounter.builder("flowsec.cluster.messages.rejected", tunnels,
                            t -> t.rejectedMessages().getOrDefault(reason, 0L))
                    .description("cluster messages refused: not sealed with the cluster secret, replayed, stale, "
                            + "misdirected, or authentic but unreadable to this version")
                    .tag("reason", reason).register(registry);
        }
    }

    /** The registry behind the endpoint, for meters of the appliance's own. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        gc.close();
        dataplane.unbind();
        registry.close();
    }
}
