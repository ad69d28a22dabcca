package io.flowsec.testbed.bench.tunnel;

import io.flowsec.testbed.demo.Topology;

import java.io.IOException;
import java.util.List;

/**
 * One way of carrying host A's traffic to host B through router A and router B on a fresh test bed
 * ({@link Topology}'s four namespaces): plain routing, wireguard-go, or a pair of flowsec appliances.
 * {@link #close} stops what it started and deletes the namespaces.
 */
public interface Tunnel extends AutoCloseable {
    /** As on the command line and in the CSV: {@code plain}, {@code wireguard}, {@code single} … */
    String name();

    Topology topology();

    /**
     * The processes doing router A's tunnel work, whose CPU time is the router's; empty where the kernel does it
     * all (plain routing forwards in softirq context, which no process's time shows).
     */
    List<Long> routerAProcesses();

    /** As {@link #routerAProcesses()}, for router B. */
    List<Long> routerBProcesses();

    /** The routers' logs, for a failure message; empty where there are none. */
    String logs() throws IOException;

    @Override
    void close() throws IOException, InterruptedException;
}
