package io.flowsec.testbed.bench.tunnel;

import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.util.List;

/**
 * The reference without a tunnel: router A and router B forward IP between the sites over the transit link, each
 * with a route to the other's site. The kernels forward in softirq context: no process's CPU time shows it.
 */
final class PlainRouting implements Tunnel {
    private final Topology topology;

    private PlainRouting(Topology topology) {
        this.topology = topology;
    }

    static PlainRouting start() throws IOException, InterruptedException {
        Topology topology = Topology.create(BenchTestBed.PREFIX);
        try {
            Topology.ip(topology.routerA(), "route", "add", BenchTestBed.SITE_B, "via", Topology.ROUTER_B_TUNNEL_ADDRESS,
                    "dev", "wan");
            Topology.ip(topology.routerB(), "route", "add", BenchTestBed.SITE_A, "via", Topology.ROUTER_A_TUNNEL_ADDRESS,
                    "dev", "wan");
            return new PlainRouting(topology);
        } catch (IOException | InterruptedException | RuntimeException e) {
            topology.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return TunnelOptions.PLAIN;
    }

    @Override
    public Topology topology() {
        return topology;
    }

    @Override
    public List<Long> routerAProcesses() {
        return List.of();
    }

    @Override
    public List<Long> routerBProcesses() {
        return List.of();
    }

    @Override
    public String logs() {
        return "";
    }

    @Override
    public void close() throws IOException, InterruptedException {
        topology.close();
    }
}
