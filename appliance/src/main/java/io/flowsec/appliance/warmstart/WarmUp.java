package io.flowsec.appliance.warmstart;

import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.appliance.config.PolicyDefinition;
import io.flowsec.appliance.config.SaDefinition;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.policy.PolicyAction;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The appliance's own warm-up at start ({@code warmUpSeconds}): before its lanes open, the packet path of this
 * configuration runs in this process for a moment, over the loopback ({@link LoopbackTunnel}: two appliances with
 * the configuration's lanes, mode and steering, a policy for each suite its outbound SAs use, IPv6 sites where its
 * policies have them), so the JIT has compiled it when the first real packet comes. The AOT cache loads the classes
 * and brings the profiles; this gives the compiled code, which a JDK 25 cache does not hold.
 * <p>
 * It runs the very classes the lanes run (socket-pair site queues are TUN site queues over other descriptors; tunnel
 * sockets are UDP sockets on 127.0.0.1 and 127.0.0.2), so the compiled code fits. Where it cannot run (no loopback,
 * no free port), the appliance starts without it, saying why.
 */
public final class WarmUp {
    public static final int MAX_SECONDS = 60;
    private static final int FLOWS = 64;
    private static final int MAX_SUITES = 3;

    private WarmUp() {
    }

    /** What the warm-up carried. */
    public record Result(long packets, long millis) {
    }

    /** Runs the packet path of {@code config} over the loopback for {@code seconds}. */
    public static Result run(ApplianceConfig config, int seconds, Consumer<String> log) throws Exception {
        long startNs = System.nanoTime();
        Path directory = Files.createTempDirectory("flowsec-warm-up");   // 0700: the warm-up's keys and state
        try (LoopbackTunnel tunnel = LoopbackTunnel.start(directory, setupFor(config), log)) {
            tunnel.drive(System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds), FLOWS);
            LoopbackTunnel.Traffic traffic = tunnel.traffic();
            return new Result(traffic.receivedAtB() + traffic.receivedAtA(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
        } finally {
            Training.deleteTree(directory);
        }
    }

    /** The loopback tunnel that resembles {@code config}'s packet path. */
    static LoopbackTunnel.Setup setupFor(ApplianceConfig config) {
        Set<EspSuite> suites = new LinkedHashSet<>();
        boolean ipv6 = false;
        for (PolicyDefinition policy : config.policies().policies()) {
            if (policy.action() != PolicyAction.PROTECT) {
                continue;
            }
            for (SaDefinition sa : policy.outbound()) {
                suites.add(sa.suite());
            }
            for (SaDefinition sa : policy.inbound()) {
                suites.add(sa.suite());
            }
            ipv6 |= policy.selector().local().family() == 6 || policy.selector().remote().family() == 6;
        }
        if (suites.isEmpty()) {
            suites.add(EspSuite.AES_GCM_128);
        }
        List<LoopbackTunnel.PolicySpec> policies = new ArrayList<>();
        int index = 0;
        for (EspSuite suite : suites) {
            if (index == MAX_SUITES) {
                break;
            }
            policies.add(new LoopbackTunnel.PolicySpec(suite.configName(), suite, "10." + (2 * index + 1) + ".0.0/16",
                    "10." + (2 * index + 2) + ".0.0/16"));
            index++;
        }
        if (ipv6) {
            EspSuite first = policies.getFirst().suite();
            policies.add(new LoopbackTunnel.PolicySpec(first.configName() + "-ipv6", first, "fd01::/64", "fd02::/64"));
        }
        return new LoopbackTunnel.Setup(config.lanes(), List.copyOf(policies), false, config.mode().configName(),
                config.steering().configName());
    }
}
