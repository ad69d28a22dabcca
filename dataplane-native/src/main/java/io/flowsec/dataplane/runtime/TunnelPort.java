package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.lane.TunnelSocket;

import java.io.IOException;
import java.net.InetAddress;

/**
 * One local tunnel endpoint (address and UDP port) with one socket per lane, and the means to steer arriving
 * datagrams over those sockets. {@link ReuseportTunnelPort} is the appliance's; tests use an in-memory one.
 */
public interface TunnelPort {
    InetAddress address();

    int port();

    /** Lane {@code lane}'s socket on this endpoint. */
    TunnelSocket socket(int lane);

    /**
     * Steers arrivals from now on as {@code plan} says, or throws and leaves the steering before it in effect.
     * Control plane. Returns what carries the plan out, for status ("eBPF map, 4 entries").
     */
    String steer(SteeringPlan plan) throws IOException;

    /** "address:port", as status shows endpoints. */
    default String label() {
        return (address().getAddress().length == 16 ? "[" + address().getHostAddress() + "]" : address().getHostAddress())
                + ":" + port();
    }
}
