package io.flowsec.testbed.bench.tunnel;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.testbed.bench.NginxServer;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code flowsec bench tunnel}'s options, checked by the command line before anything is built.
 *
 * @param tunnels         in the order they run: {@value #PLAIN}, {@value #WIREGUARD}, or a flowsec mode
 * @param tests           in the order they run through each tunnel
 * @param seconds         measured seconds per test
 * @param warmupSeconds   unmeasured seconds of each tunnel's first test before its measured tests (0: none)
 * @param lanes           lanes of each flowsec router
 * @param suite           the flowsec tunnel's suite
 * @param out             where the CSV, chart and summary go
 * @param applianceConfig properties put into both flowsec routers' configuration files, over the test bed's own
 *                        ({@code --appliance-config}); empty by default. The hook for comparing an appliance
 *                        setting: run the command once per value
 * @param rounds          how often every tunnel runs its tests, the tunnels taking turns in each round; each figure
 *                        is the median of its rounds, so a few seconds of a noisy neighbour move it less
 */
public record TunnelOptions(List<String> tunnels, List<TunnelTest> tests, int seconds, int warmupSeconds, int lanes,
                            EspSuite suite, Path out, JsonObject applianceConfig, int rounds) {
    public static final String PLAIN = "plain";
    public static final String WIREGUARD = "wireguard";
    public static final List<String> FLOWSEC_MODES = List.of("single", "pcrypt", "flow");
    /**
     * A flowsec tunnel with {@code "offloads": false}: one system call per packet, as flowsec ran before its batches
     * and offloads. The baseline, in the same run, that shows what they bring.
     */
    public static final String NO_OFFLOADS_SUFFIX = "-no-offloads";
    public static final String FLOW_NO_OFFLOADS = "flow" + NO_OFFLOADS_SUFFIX;
    /**
     * A flowsec tunnel with every offload but the TUN ring ({@code "tunRing": false}): its TUN reads and writes take a
     * system call each. Run on demand, beside {@code flow}, to show what the ring brings.
     */
    public static final String NO_RING_SUFFIX = "-no-ring";
    public static final String FLOW_NO_RING = "flow" + NO_RING_SUFFIX;
    /** The tunnels a run takes by default, in order. */
    public static final List<String> TUNNELS = List.of(PLAIN, WIREGUARD, FLOW_NO_OFFLOADS, "single", "pcrypt", "flow");
    /** Every tunnel {@code --tunnels} accepts. */
    public static final List<String> KNOWN_TUNNELS = List.of(PLAIN, WIREGUARD, FLOW_NO_OFFLOADS, FLOW_NO_RING, "single",
            "pcrypt", "flow");
    public static final int DEFAULT_SECONDS = 10;
    public static final int DEFAULT_WARMUP_SECONDS = 3;
    public static final EspSuite DEFAULT_SUITE = EspSuite.AES_GCM_128;
    public static final Path DEFAULT_OUT = Path.of("bench-results", "tunnel");

    public TunnelOptions {
        tunnels = List.copyOf(tunnels);
        tests = List.copyOf(tests);
        applianceConfig = applianceConfig.copy();
    }

    /** SAs per direction of a flowsec tunnel: 4, or 2 per lane when more (each lane sends on SAs of its own). */
    public int saCount() {
        return Math.max(4, 2 * lanes);
    }

    /** A flowsec mode, with its offloads or without ({@link #NO_OFFLOADS_SUFFIX}, {@link #NO_RING_SUFFIX}). */
    public static boolean isFlowsec(String tunnel) {
        return FLOWSEC_MODES.contains(flowsecMode(tunnel));
    }

    /** The flowsec mode a tunnel's name says. */
    public static String flowsecMode(String tunnel) {
        for (String suffix : List.of(NO_OFFLOADS_SUFFIX, NO_RING_SUFFIX)) {
            if (tunnel.endsWith(suffix)) {
                return tunnel.substring(0, tunnel.length() - suffix.length());
            }
        }
        return tunnel;
    }

    public boolean runs(String tunnel) {
        return tunnels.contains(tunnel);
    }

    public boolean runsIperf() {
        return tests.stream().anyMatch(TunnelTest::isIperf);
    }

    public boolean runsHttp() {
        return tests.stream().anyMatch(test -> !test.isIperf());
    }

    /** How the run was made, for the summary's heading. */
    public String setup() {
        StringBuilder text = new StringBuilder("Host A to host B, ").append(seconds).append(" s per test");
        if (rounds > 1) {
            text.append(", the median of ").append(rounds).append(" rounds (each round runs every tunnel in turn)");
        }
        text.append(warmupSeconds > 0 ? ", after " + warmupSeconds + " s of warm-up per tunnel" : ", no warm-up");
        if (tunnels.stream().anyMatch(TunnelOptions::isFlowsec)) {
            text.append("; flowsec: ").append(lanes).append(lanes == 1 ? " lane" : " lanes").append(" per router, ")
                    .append(suite.configName()).append(", ").append(saCount()).append(" SAs per direction, director steering");
            if (!applianceConfig.isEmpty()) {
                text.append(", appliance configuration ").append(applianceConfig.encode());
            }
        }
        if (tests.contains(TunnelTest.UDP64)) {
            text.append("; UDP: iperf3 at its full rate, datagrams/s host B received");
        }
        if (runsHttp()) {
            text.append("; HTTP: ab, ").append(TunnelBenchmark.HTTP_CONCURRENCY).append(" concurrent clients, ")
                    .append(NginxServer.KEEPALIVE_REQUESTS).append(" requests per keep-alive connection");
        }
        return text.toString();
    }

    @Override
    public JsonObject applianceConfig() {
        return applianceConfig.copy();
    }
}
