package io.flowsec.testbed.bench;

import io.flowsec.testbed.demo.CleanupOnExit;
import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code flowsec bench micro}: the paper's micro-benchmark (§6, Fig. 4 and 5).
 * <ol>
 *   <li>test bed: only host A → host B is tunnelled; host B's answers (TCP ACKs) go back in the clear;</li>
 *   <li>a server in host B: several threads sharing one port through SO_REUSEPORT, epoll;</li>
 *   <li>for each message size, a client in host A (threads × connections, each connection sending a message
 *       repeatedly and reconnecting every few messages: every reconnection is a new flow);</li>
 *   <li>for each mode, router B switches, warms up and is measured: its transmit rate towards host B from its own
 *       counters, and what the server received.</li>
 * </ol>
 */
public final class MicroBenchmark {
    public static final int SERVER_PORT = 5001;

    private MicroBenchmark() {
    }

    /** Runs the sweep, adding each point to {@code points} as soon as it is measured. */
    public static void run(BenchOptions options, Path work, CleanupOnExit cleanup, PrintStream progress,
                           List<BenchPoint> points) throws IOException, InterruptedException {
        // 1. test bed
        int lanes = options.lanes().getFirst();
        BenchTestBed bed = cleanup.add(BenchTestBed.start(new BenchTestBed.Settings(options.suite(), options.saCount(),
                lanes, lanes, options.steering(), BenchTestBed.ReturnPath.PLAIN, true), work));
        Topology topology = bed.topology();
        // a connection every 10 messages from 256 connections churns through ephemeral ports faster than TIME_WAIT
        // (60 s) frees them: let host A reuse them (RFC 6191-style, with TCP timestamps) from a wider range
        Topology.run("ip", "netns", "exec", topology.hostA(), "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1",
                "net.ipv4.ip_local_port_range=1024 65000");

        // 2. server
        InetAddress serverAddress = InetAddress.getByName(Topology.HOST_B_ADDRESS);
        MessageServer server = cleanup.add(MessageServer.start(topology.hostB(), serverAddress, SERVER_PORT,
                options.serverThreads()));

        for (int size : options.sizes()) {
            // 3. client for this size
            // no bind before connect: connect() picks the port and may reuse one in TIME_WAIT, bind() never does
            MessageClient client = cleanup.add(MessageClient.start(topology.hostA(), null,
                    new InetSocketAddress(serverAddress, SERVER_PORT),
                    options.clientThreads(), options.connections(), size, options.messagesPerConnection()));
            for (String mode : options.modes()) {
                // 4. one point
                bed.mode(mode, false);
                Thread.sleep(options.warmupSeconds() * 1000L);
                BenchTestBed.Snapshot before = bed.snapshotB();
                long receivedBefore = server.receivedBytes();
                Thread.sleep(options.seconds() * 1000L);
                BenchTestBed.Snapshot after = bed.snapshotB();
                long received = server.receivedBytes() - receivedBefore;
                double seconds = before.secondsUntil(after);
                BenchPoint point = before.pointUntil(after, mode, options.steering(), size,
                        Double.NaN, received * 8 / seconds / 1e9, Double.NaN, "");
                points.add(point);
                progress.printf("micro %6d B  %-6s  router B -> host B %7.3f Gbit/s %,9.0f pkt/s | server %7.3f Gbit/s"
                                + " | %,6.0f ns CPU/pkt, %4.1f datagrams/batch | lanes busy %s | %s%n", size, mode,
                        point.throughputGbps(), point.packetsPerSecond(), point.applicationGbps(),
                        point.cpuNanosPerPacket(), before.datagramsPerBatchUntil(after), Percent.of(point.cpuPerLane()),
                        point.drops() == 0 ? "no drops" : point.drops() + " drops " + point.dropReasons());
            }
            cleanup.closeNow(client);
            if (client.errors() > 0) {
                progress.printf("micro %6d B  client connection errors: %d%n", size, client.errors());
            }
        }
        cleanup.closeNow(server);
        cleanup.closeNow(bed);
    }
}
