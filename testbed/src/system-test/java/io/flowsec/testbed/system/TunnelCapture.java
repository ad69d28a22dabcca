package io.flowsec.testbed.system;

import io.flowsec.appliance.pcap.PcapReader;
import io.flowsec.testbed.demo.Topology;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * tcpdump on router B's tunnel link ({@code wan}), writing the ESP-in-UDP datagrams that arrive for router B to a
 * file, and the datagrams read back from it.
 */
final class TunnelCapture implements AutoCloseable {
    /** One captured datagram: its UDP source port and payload (SPI, sequence number, ...). */
    record Datagram(int sourcePort, byte[] payload) {
        int spi() {
            return ByteBuffer.wrap(payload).getInt(0);
        }

        long sequence() {
            return ByteBuffer.wrap(payload).getInt(4) & 0xFFFF_FFFFL;
        }
    }

    private final Process tcpdump;
    private final Path file;

    private TunnelCapture(Process tcpdump, Path file) {
        this.tcpdump = tcpdump;
        this.file = file;
    }

    static TunnelCapture start(Topology topology, Path file) throws Exception {
        return start(topology, file, 0);
    }

    /**
     * {@code snapLength} bytes of each frame (0: whole frames); 64 keeps the ESP header. A wire carries single
     * datagrams, so router A's UDP GSO runs are cut before its link from here on (as a NIC without UDP segmentation
     * cuts them); else the capture would hold each run as one datagram as long as the run.
     */
    static TunnelCapture start(Topology topology, Path file, int snapLength) throws Exception {
        Topology.run("ip", "-n", topology.routerA(), "link", "set", "dev", "wan", "gso_max_segs", "1");
        String routerB = topology.routerB();
        Path err = file.resolveSibling(file.getFileName() + ".err");
        // -Z root: Debian's tcpdump otherwise drops to user tcpdump, who may not write into the test's directory
        Process tcpdump = new ProcessBuilder("ip", "netns", "exec", routerB, "tcpdump", "-i", "wan", "-n",
                "-s", Integer.toString(snapLength), "-U", "-Z", "root", "-w", file.toString(),
                "udp and dst host " + Topology.ROUTER_B_TUNNEL_ADDRESS + " and dst port 4500")
                .redirectErrorStream(true).redirectOutput(err.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.readString(err).contains("listening on")) {
            if (!tcpdump.isAlive() || System.nanoTime() > deadline) {
                tcpdump.destroyForcibly();
                fail("tcpdump did not start: " + Files.readString(err));
            }
            Thread.sleep(20);
        }
        return new TunnelCapture(tcpdump, file);
    }

    Path file() {
        return file;
    }

    /** Stops tcpdump, which flushes the file (SIGTERM; ip netns exec became tcpdump itself). */
    @Override
    public void close() throws Exception {
        if (!tcpdump.isAlive()) {
            return;
        }
        tcpdump.destroy();
        if (!tcpdump.waitFor(10, TimeUnit.SECONDS)) {
            tcpdump.destroyForcibly();
            tcpdump.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** The ESP datagrams of the capture (Ethernet, IPv4, UDP), in order; IKE and keepalives left out. */
    List<Datagram> espDatagrams() throws Exception {
        close();
        List<Datagram> datagrams = new ArrayList<>();
        try (PcapReader reader = PcapReader.open(file)) {
            while (reader.next()) {
                ByteBuffer frame = ByteBuffer.wrap(reader.data(), 0, reader.capturedLength());
                int ip = 14;
                int udp = ip + 4 * (frame.get(ip) & 0x0F);
                int sourcePort = frame.getShort(udp) & 0xFFFF;
                int length = (frame.getShort(udp + 4) & 0xFFFF) - 8;
                int captured = Math.min(length, reader.capturedLength() - udp - 8);   // short with a snap length
                byte[] payload = Arrays.copyOfRange(reader.data(), udp + 8, udp + 8 + captured);
                if (payload.length >= 8 && ByteBuffer.wrap(payload).getInt(0) != 0) {
                    datagrams.add(new Datagram(sourcePort, payload));
                }
            }
        }
        return datagrams;
    }
}
