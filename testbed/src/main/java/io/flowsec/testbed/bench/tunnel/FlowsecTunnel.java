package io.flowsec.testbed.bench.tunnel;

import io.flowsec.testbed.bench.BenchTestBed;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A flowsec appliance on each router in one mode, as {@code flowsec bench app} runs them ({@link BenchTestBed}: both
 * directions tunnelled, ESP in UDP, {@code saCount} SAs per direction with fresh keys, {@code director} steering), with
 * {@link TunnelOptions#applianceConfig()} put into both configuration files.
 */
final class FlowsecTunnel implements Tunnel {
    private final String name;
    private final BenchTestBed bed;

    private FlowsecTunnel(String name, BenchTestBed bed) {
        this.name = name;
        this.bed = bed;
    }

    /**
     * Starts both routers in the mode {@code name} says, without offloads for a {@code -no-offloads} name, without the
     * TUN ring for a {@code -no-ring} name; their files
     * lie in a directory of {@code work} of this tunnel's own.
     */
    static FlowsecTunnel start(String name, TunnelOptions options, Path work) throws IOException, InterruptedException {
        String mode = TunnelOptions.flowsecMode(name);
        boolean offloads = !name.endsWith(TunnelOptions.NO_OFFLOADS_SUFFIX);
        // each start has its own SA state directories: a new pair of routers starts its SAs' sequence numbers afresh
        Path directory = Files.createDirectories(work.resolve("flowsec-" + name));
        BenchTestBed bed = BenchTestBed.start(new BenchTestBed.Settings(options.suite(), options.saCount(),
                options.lanes(), options.lanes(), "director", BenchTestBed.ReturnPath.TUNNELLED, true), directory,
                (router, config) -> {
                    options.applianceConfig().forEach(property -> config.put(property.getKey(), property.getValue()));
                    config.put("mode", mode);   // the tunnel's name says the mode and the offloads; nothing overrides them
                    if (!offloads) {
                        config.put("offloads", false);
                    } else if (name.endsWith(TunnelOptions.NO_RING_SUFFIX)) {
                        config.put("offloads", new io.vertx.core.json.JsonObject().put("tunRing", false));
                    }
                });
        return new FlowsecTunnel(name, bed);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Topology topology() {
        return bed.topology();
    }

    @Override
    public List<Long> routerAProcesses() {
        return List.of(bed.routerAPid());
    }

    @Override
    public List<Long> routerBProcesses() {
        return List.of(bed.routerBPid());
    }

    @Override
    public String logs() throws IOException {
        return bed.logs();
    }

    @Override
    public void close() throws IOException {
        bed.close();
    }
}
