package io.flowsec.dataplane.selector;

import io.flowsec.dataplane.packet.FlowKey;

/**
 * RFC 4301 §4.4.1.1 selectors from this appliance's point of view: local (site behind us) and remote (behind the
 * peer) prefixes, protocol (0 = any) and port ranges. Outbound packets go local → remote; decrypted inbound
 * packets must go remote → local (§5.2).
 */
public record TrafficSelector(IpPrefix local, IpPrefix remote, int protocol, PortRange localPorts, PortRange remotePorts) {
    public static final TrafficSelector ANY = new TrafficSelector(IpPrefix.ANY, IpPrefix.ANY, 0, PortRange.ANY, PortRange.ANY);

    public TrafficSelector {
        if (protocol < 0 || protocol > 255) {
            throw new IllegalArgumentException("protocol must be 0 (any) to 255, got " + protocol);
        }
        if (!local.isAny() && !remote.isAny() && local.family() != remote.family()) {
            throw new IllegalArgumentException("local " + local + " and remote " + remote + " are of different families");
        }
    }

    /**
     * Whether some packet matches both selectors. The SPD takes the first match, so of two overlapping policies the
     * later one never sees the packets they share: the API refuses a new policy that overlaps another.
     */
    public boolean overlaps(TrafficSelector other) {
        return local.intersects(other.local) && remote.intersects(other.remote)
                && (protocol == 0 || other.protocol == 0 || protocol == other.protocol)
                && localPorts.intersects(other.localPorts) && remotePorts.intersects(other.remotePorts);
    }

    public boolean matchesOutbound(FlowKey key) {
        return matches(key, key.sourceHigh, key.sourceLow, key.destinationHigh, key.destinationLow,
                key.sourcePort, key.destinationPort);
    }

    public boolean matchesInbound(FlowKey key) {
        return matches(key, key.destinationHigh, key.destinationLow, key.sourceHigh, key.sourceLow,
                key.destinationPort, key.sourcePort);
    }

    private boolean matches(FlowKey key, long localHigh, long localLow, long remoteHigh, long remoteLow,
                            int localPort, int remotePort) {
        if (key.family == 4) {
            if (!local.matchesIpv4((int) localLow) || !remote.matchesIpv4((int) remoteLow)) {
                return false;
            }
        } else if (!local.matchesIpv6(localHigh, localLow) || !remote.matchesIpv6(remoteHigh, remoteLow)) {
            return false;
        }
        if (protocol != 0 && protocol != key.protocol) {
            return false;
        }
        if (localPorts.isAny() && remotePorts.isAny()) {
            return true;
        }
        // a selector that names ports cannot match a packet whose ports are not visible (RFC 4301 §4.4.1.1 OPAQUE)
        return localPort >= 0 && localPorts.contains(localPort) && remotePorts.contains(remotePort);
    }

    @Override
    public String toString() {
        return local + "[" + localPorts + "] <-> " + remote + "[" + remotePorts + "] proto " + (protocol == 0 ? "any" : protocol);
    }
}
