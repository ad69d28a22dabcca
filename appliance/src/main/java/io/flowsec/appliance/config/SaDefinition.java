package io.flowsec.appliance.config;

import io.flowsec.dataplane.esp.EspSuite;
import io.flowsec.dataplane.policy.TrafficSelector;

import java.net.InetAddress;

/**
 * One SA as configured (manual keying). {@link #toString} leaves the keys out.
 *
 * @param localAddress  outer address on this appliance's side
 * @param remoteAddress outer address on the peer's side
 * @param localPort     this side's UDP port (the source port of outbound SAs; the udp-port encoding varies it)
 * @param remotePort    the peer's UDP port
 */
public record SaDefinition(String name, int spi, boolean inbound, EspSuite suite, byte[] encryptionKey,
                           byte[] integrityKey, boolean extendedSequenceNumbers, int replayWindow,
                           TrafficSelector selector, boolean udpEncapsulation, InetAddress localAddress,
                           InetAddress remoteAddress, int localPort, int remotePort) {

    @Override
    public String toString() {
        return "SaDefinition[" + name + " spi=0x" + Integer.toHexString(spi) + (inbound ? " inbound " : " outbound ")
                + suite.configName() + "]";
    }
}
