package io.flowsec.appliance.runtime;

import io.flowsec.appliance.config.ApiSettings;
import io.flowsec.control.api.ApiServer;
import io.flowsec.control.api.ApplianceInfo;
import io.flowsec.control.api.Caller;
import io.flowsec.control.api.Dashboard;
import io.flowsec.control.api.EventStream;
import io.flowsec.control.config.PersistentConfiguration;
import io.flowsec.control.metrics.MetricsEndpoint;
import io.flowsec.control.security.LoginThrottle;
import io.flowsec.control.security.TlsMaterial;
import io.flowsec.control.security.TokenStore;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.net.KeyCertOptions;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.function.Consumer;

/**
 * The appliance's control API, wired:
 * <ol>
 *   <li>a Vert.x instance of the control plane's own (one event loop, two workers): the API never runs on a lane,
 *       and its event loop runs niced, so under contention the lanes get the CPU first;</li>
 *   <li>the tokens file, the certificate (configured, or self-signed in the state directory at first start);</li>
 *   <li>the server on the management address, over the data plane's command interface and the configuration
 *       file that records each change.</li>
 * </ol>
 */
public final class ControlApi implements AutoCloseable {
    private static final int MAX_BODY_BYTES = 64 * 1024;
    /** The API's event loop runs at this nice value (lanes at 0): the kernel then gives it a few per cent under load. */
    static final int CONTROL_PLANE_NICE = 15;

    private final Vertx vertx;
    private final ApiServer server;
    private final MetricsEndpoint metrics;
    private final EventStream events;

    private ControlApi(Vertx vertx, ApiServer server, MetricsEndpoint metrics, EventStream events) {
        this.vertx = vertx;
        this.server = server;
        this.metrics = metrics;
        this.events = events;
    }

    public static ControlApi start(Appliance appliance, PersistentConfiguration configuration, String version,
                                   io.flowsec.control.api.TunnelControl tunnels, Consumer<String> log) throws IOException {
        return start(appliance, configuration, version, tunnels, null, log);
    }

    /** With {@code logs} (null: none) served at /api/v1/logs. */
    public static ControlApi start(Appliance appliance, PersistentConfiguration configuration, String version,
                                   io.flowsec.control.api.TunnelControl tunnels, io.flowsec.control.api.LogRing logs,
                                   Consumer<String> log) throws IOException {
        ApiSettings settings = appliance.config().api().atInterfaceAddress();
        // 1. the control plane's own event loop, at a lower priority than the lanes: a busy API never slows them
        Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2));
        vertx.getOrCreateContext().runOnContext(ignored -> {
            try {
                io.flowsec.dataplane.linux.Syscalls.niceCurrentThread(CONTROL_PLANE_NICE);
            } catch (io.flowsec.dataplane.linux.NativeException e) {
                log.accept("api: could not lower the API thread's priority: " + e.getMessage());
            }
        });
        try {
            // 2. tokens and certificate
            TokenStore tokens = TokenStore.open(settings.tokens());
            KeyCertOptions tls = null;
            if (settings.tls()) {
                TlsMaterial material = settings.certificate() != null
                        ? TlsMaterial.load(settings.certificate(), settings.privateKey())
                        : TlsMaterial.selfSigned(appliance.config().stateDirectory(), appliance.config().name(),
                                List.of(settings.address(), "localhost"));
                log.accept("api: certificate " + material.certificatePath() + " sha256 " + material.sha256Fingerprint()
                        + (material.generated() ? " (self-signed, made now)" : ""));
                tls = material.keyCertOptions();
            }
            if (tokens.list().isEmpty()) {
                log.accept("api: no tokens yet; make one with: flowsec token add --config FILE --name NAME --role admin");
            }
            Caller.Authenticator authenticator = token -> tokens.authenticate(token)
                    .map(principal -> new Caller(principal.name(), principal.role().mayWrite()));
            // 3. the server
            ApplianceInfo info = new ApplianceInfo(appliance.config().name(), version, appliance.transport(),
                    appliance.config().cpus(), Instant.now());
            MetricsEndpoint metrics = new MetricsEndpoint(appliance.dataplane());
            LoginThrottle logins = LoginThrottle.defaults();
            EventStream events = new EventStream(vertx, appliance.dataplane(), logins, EventStream.Settings.DEFAULTS, log);
            metrics.bind(tunnels);                 // the cluster's tunnels (none without a cluster)
            tunnels.addListener(events::tunnelEvent);
            List<ApiServer.Extension> extensions = logs == null ? List.of(metrics, events, new Dashboard())
                    : List.of(metrics, events, new Dashboard(), logs);
            ApiServer server = ApiServer.start(vertx, new ApiServer.Settings(settings.address(), settings.port(), tls,
                    MAX_BODY_BYTES), info, appliance.dataplane(), configuration, authenticator, logins,
                    extensions, tunnels, log).await();
            log.accept("api: " + settings.url() + " (" + tokens.list().size() + " tokens), metrics at /metrics");
            return new ControlApi(vertx, server, metrics, events);
        } catch (IOException | RuntimeException e) {
            vertx.close().await();
            if (e instanceof java.net.BindException || e.getCause() instanceof java.net.BindException) {
                throw new IOException("api: cannot listen on " + settings.address() + ":" + settings.port() + ": "
                        + e.getMessage() + " (set api.address and api.port, or api.enabled false)", e);
            }
            throw e;
        }
    }

    @Override
    public void close() {
        events.close();
        server.close();
        metrics.close();
        vertx.close().await();
    }
}
