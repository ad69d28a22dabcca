package io.flowsec.testbed.bench.tunnel;

import java.util.List;
import java.util.Locale;

/**
 * The tests {@code flowsec bench tunnel} runs through each tunnel, host A to host B: iperf3's TCP with 1 and 8
 * streams (Gbit/s received), iperf3's UDP with 64-byte datagrams at an unlimited rate (datagrams/s delivered), and
 * ApacheBench against nginx for a 1 KB and a 16 KB file (requests/s).
 */
public enum TunnelTest {
    TCP1("tcp1", "TCP, 1 stream", "Gbit/s", List.of("-P", "1"), 0),
    TCP8("tcp8", "TCP, 8 streams", "Gbit/s", List.of("-P", "8"), 0),
    /** {@code -b 0}: as fast as iperf3's one thread sends; what counts is what host B receives. */
    UDP64("udp64", "UDP 64 B", "packets/s", List.of("-u", "-l", "64", "-b", "0"), 0),
    HTTP1K("http1k", "HTTP 1 KB", "requests/s", List.of(), 1024),
    HTTP16K("http16k", "HTTP 16 KB", "requests/s", List.of(), 16384);

    private final String id;
    private final String label;
    private final String unit;
    private final List<String> iperfArguments;
    private final int fileBytes;

    TunnelTest(String id, String label, String unit, List<String> iperfArguments, int fileBytes) {
        this.id = id;
        this.label = label;
        this.unit = unit;
        this.iperfArguments = iperfArguments;
        this.fileBytes = fileBytes;
    }

    /** The name on the command line and in the CSV, e.g. {@code tcp8}. */
    public String id() {
        return id;
    }

    /** The name in the summary and the chart, e.g. {@code TCP, 8 streams}. */
    public String label() {
        return label;
    }

    public String unit() {
        return unit;
    }

    /** Measured with iperf3 (otherwise with nginx and ab). */
    public boolean isIperf() {
        return fileBytes == 0;
    }

    /** iperf3's client options that make this test (streams, protocol, datagram size, rate). */
    public List<String> iperfArguments() {
        return iperfArguments;
    }

    /** The size of the file an HTTP test fetches; 0 for the iperf3 tests. */
    public int fileBytes() {
        return fileBytes;
    }

    /** {@code tcp1}, {@code TCP1} … */
    public static TunnelTest of(String id) {
        for (TunnelTest test : values()) {
            if (test.id.equals(id.strip().toLowerCase(Locale.ROOT))) {
                return test;
            }
        }
        throw new IllegalArgumentException("unknown test '" + id + "' (" + ids() + ")");
    }

    /** {@code tcp1, tcp8, udp64, http1k, http16k}. */
    public static String ids() {
        return String.join(", ", List.of(values()).stream().map(TunnelTest::id).toList());
    }
}
