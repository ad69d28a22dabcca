package io.flowsec.appliance.runtime;

import io.flowsec.appliance.config.ClusterConfig;
import io.flowsec.cluster.ClusterService;
import io.flowsec.cluster.TunnelSpec;
import io.flowsec.cluster.balancing.BalancingPolicy;
import io.flowsec.cluster.membership.ClusterSettings;
import io.flowsec.cluster.security.ClusterSecret;
import io.flowsec.control.api.TunnelControl;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * The appliance's control-cluster member, from the configuration's {@code cluster} section: the secret read (a file
 * only its owner may read), the member started in the background over the data plane's command interface, its tunnels
 * handed to the API.
 */
public final class ClusterRuntime implements AutoCloseable {
    private final ClusterService service;

    private ClusterRuntime(ClusterService service) {
        this.service = service;
    }

    /** Refuses at once, with one line, a secret that is missing or readable by others; never waits for peers. */
    public static ClusterRuntime start(Appliance appliance, Consumer<String> log) throws IOException {
        ClusterConfig config = appliance.config().cluster();
        ClusterSecret secret;
        try {
            secret = ClusterSecret.load(config.secretFile());
        } catch (IOException e) {
            throw new IOException("cluster: " + e.getMessage() + " (make one with: flowsec cluster secret "
                    + config.secretFile() + ", and give the peers the same file)", e);
        }
        ClusterSettings settings = new ClusterSettings(config.clusterName(), appliance.config().name(), config.address(),
                config.port(), config.members(), ClusterSettings.DEFAULT_JOIN_TIMEOUT,
                Duration.ofMillis(Math.max(2000, config.peerLoss())).truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
        List<TunnelSpec> tunnels = config.tunnels().stream().map(tunnel -> new TunnelSpec(tunnel.id(), tunnel.policy(),
                tunnel.peer(), BalancingPolicy.parse(tunnel.balancing()))).toList();
        return new ClusterRuntime(ClusterService.start(appliance.dataplane(), settings, secret, tunnels,
                config.loadInterval(), config.peerLoss(), log));
    }

    public TunnelControl tunnels() {
        return service;
    }

    @Override
    public void close() {
        service.close();
    }
}
