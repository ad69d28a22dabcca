package io.flowsec.testbed.bench;

import io.flowsec.appliance.config.ConfigException;
import io.flowsec.dataplane.linux.NetworkNamespace;
import io.flowsec.dataplane.linux.UdpSocket;
import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code flowsec bench receiver}: router B alone, so its decryption and forwarding cost is seen apart from router A's
 * and the hosts'.
 * <ol>
 *   <li>for each lane count, a test bed without router A; router B's inbound SAs have anti-replay off;</li>
 *   <li>host B holds a UDP socket on the sink port that it never reads: the packets are delivered (and counted by
 *       host B's interface) without an ICMP error going back;</li>
 *   <li>tunnel datagrams of many flows are built once per size with router A's SA group;</li>
 *   <li>for each size and mode: router B switches, the generator replays the datagrams from router A's namespace,
 *       and after the warm-up host B's received packets, router B's counters and its CPU time are measured.</li>
 * </ol>
 */
public final class ReceiverBenchmark {
    /** Packets per flow in the pre-built set: enough that a round spreads evenly over the SAs. */
    public static final int PACKETS_PER_FLOW = 16;

    private ReceiverBenchmark() {
    }

    /** Runs the sweep, adding each point to {@code points} as soon as it is measured. */
    public static void run(BenchOptions options, Path work, CleanupOnExit cleanup, PrintStream progress,
                           List<BenchPoint> points) throws IOException, InterruptedException {
        InetAddress hostA = InetAddress.getByName(Topology.HOST_A_ADDRESS);
        InetAddress hostB = InetAddress.getByName(Topology.HOST_B_ADDRESS);
        InetAddress routerA = InetAddress.getByName(Topology.ROUTER_A_TUNNEL_ADDRESS);
        InetSocketAddress routerB = new InetSocketAddress(Topology.ROUTER_B_TUNNEL_ADDRESS, BenchTestBed.TUNNEL_PORT);
        for (int lanes : options.lanes()) {
            // 1. test bed
            BenchTestBed bed = cleanup.add(BenchTestBed.start(new BenchTestBed.Settings(options.suite(),
                    options.saCount(), lanes, lanes, options.steering(), BenchTestBed.ReturnPath.PLAIN, false), work));

            // 2. sink
            UdpSocket sink = cleanup.add(NetworkNamespace.callInside(bed.topology().hostB(),
                    () -> UdpSocket.bind(hostB, EspReplayGenerator.SINK_PORT, false)));

            for (int size : options.sizes()) {
                // 3. datagrams
                EspReplayGenerator.Datagrams datagrams;
                try {
                    datagrams = EspReplayGenerator.build(bed.routerAPolicies(), hostA, hostB, options.flows(),
                            PACKETS_PER_FLOW, size);
                } catch (ConfigException e) {
                    throw new IOException("the generator's SA file: " + e.getMessage(), e);
                }
                for (String mode : options.modes()) {
                    // 4. one point: rates over the measured seconds; losses over the whole point, drained
                    bed.mode(mode, false);
                    BenchTestBed.Snapshot atStart = bed.snapshotB();
                    long deliveredAtStart = bed.hostBReceivedPackets();
                    EspReplayGenerator generator = cleanup.add(EspReplayGenerator.start(bed.topology().routerA(),
                            datagrams, routerA, routerB, options.generators()));
                    Thread.sleep(options.warmupSeconds() * 1000L);
                    BenchTestBed.Snapshot before = bed.snapshotB();
                    long deliveredBefore = bed.hostBReceivedPackets();
                    long sentBefore = generator.sent();
                    Thread.sleep(options.seconds() * 1000L);
                    BenchTestBed.Snapshot after = bed.snapshotB();
                    long delivered = bed.hostBReceivedPackets() - deliveredBefore;
                    long sent = generator.sent() - sentBefore;
                    cleanup.closeNow(generator);
                    if (generator.failure() != null) {
                        throw new IOException("the generator stopped: " + generator.failure().getMessage());
                    }
                    Thread.sleep(300); // router B drains what its socket still holds
                    BenchTestBed.Snapshot drained = bed.snapshotB();
                    long deliveredInPoint = bed.hostBReceivedPackets() - deliveredAtStart;

                    BenchPoint measured = before.pointUntil(after, mode, options.steering(), size, Double.NaN,
                            Double.NaN, Double.NaN, "");
                    double seconds = measured.seconds();
                    // what the generator sent but host B never received and router B did not count as a drop was
                    // lost where router B cannot count it: its socket's receive queue was full
                    BenchPoint wholePoint = atStart.pointUntil(drained, mode, options.steering(), size, Double.NaN,
                            Double.NaN, Double.NaN, "");
                    long lost = Math.max(0, generator.sent() - deliveredInPoint - wholePoint.drops());
                    String reasons = wholePoint.dropReasons();
                    if (lost > 0) {
                        reasons = (reasons.isEmpty() ? "" : reasons + " ") + "sent-not-delivered=" + lost;
                    }
                    // the headline is what host B received (inner IPv4/UDP bytes); CPU per delivered packet
                    double deliveredGbps = delivered * (28.0 + size) * 8 / seconds / 1e9;
                    BenchPoint point = new BenchPoint(mode, options.steering(), size, lanes, seconds, deliveredGbps,
                            Double.NaN, delivered / seconds, Double.NaN, measured.cpuPerLane(), delivered == 0
                            ? Double.NaN : (double) before.cpuNanosUntil(after) / delivered,
                            wholePoint.drops() + lost, reasons);
                    points.add(point);
                    progress.printf("receiver %d lanes %5d B  %-6s  host B receives %,9.0f pkt/s (%.3f Gbit/s) of %,9.0f"
                                    + " sent/s | router B %,6.0f ns CPU/pkt, %4.1f datagrams/batch | lanes busy %s | %s%n",
                            lanes, size, mode, point.packetsPerSecond(), point.throughputGbps(), sent / seconds,
                            point.cpuNanosPerPacket(), before.datagramsPerBatchUntil(after), Percent.of(point.cpuPerLane()),
                            point.drops() == 0 ? "no drops" : point.drops() + " drops " + point.dropReasons());
                }
            }
            cleanup.closeNow(sink);
            cleanup.closeNow(bed);
        }
    }
}
