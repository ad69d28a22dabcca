package io.flowsec.testbed.bench;

import io.flowsec.dataplane.crypto.EspSuite;

import java.nio.file.Path;
import java.util.List;

/**
 * What one {@code flowsec bench} run measures and how. Validated by the command line before a benchmark sees it.
 *
 * @param sizes          message (micro), file (app) or inner UDP payload (receiver) sizes, bytes
 * @param modes          router B's modes, in order
 * @param lanes          router B's lane counts (micro and app use the first)
 * @param seconds        measured time per point
 * @param warmupSeconds  unmeasured time before each point (mode hand-over, TCP ramp-up, nginx caches)
 * @param steering       router B's steering
 * @param suite          the tunnel's suite (the paper: AES-128-CBC with HMAC-SHA1-96)
 * @param saCount        SAs per SA group (per direction)
 * @param clientThreads  micro: client threads in host A; app: unused
 * @param connections    micro: connections per client thread; app: ab's concurrency
 * @param messagesPerConnection micro: messages before a connection closes and reconnects
 * @param serverThreads  micro: server threads; app: nginx workers
 * @param flows          receiver: flows in the pre-built packets
 * @param generators     receiver: sending threads
 * @param out            directory for the CSV, chart and summary
 */
public record BenchOptions(List<Integer> sizes, List<String> modes, List<Integer> lanes, int seconds, int warmupSeconds,
                           String steering, EspSuite suite, int saCount, int clientThreads, int connections,
                           int messagesPerConnection, int serverThreads, int flows, int generators, Path out) {
    public BenchOptions {
        sizes = List.copyOf(sizes);
        modes = List.copyOf(modes);
        lanes = List.copyOf(lanes);
    }
}
