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

    /**
     * Sends a {@link io.flowsec.dataplane.packet.HandOverMarker marker} for {@code lane} to this endpoint, where the
     * steering program puts it on that lane's socket, behind what was queued there (a hand-over's end, or a probe of
     * the lane's queue delay). Control plane. Returns false when it could not be sent now; it may also be lost on the
     * way (a full socket), so callers send another when the lane has not read it in time.
     */
    boolean sendMarker(int lane, long token);

    /**
     * Whether a socket bound to {@code listening} takes what arrives at {@code local} when none is bound to that
     * address: {@code listening} is the any address (0.0.0.0 or ::) of {@code local}'s family.
     */
    static boolean listensOnEveryAddressOf(InetAddress listening, InetAddress local) {
        return listening.isAnyLocalAddress() && listening.getAddress().length == local.getAddress().length;
    }

    /** "address:port", as status shows endpoints. */
    default String label() {
        return (address().getAddress().length == 16 ? "[" + address().getHostAddress() + "]" : address().getHostAddress())
                + ":" + port();
    }
}
