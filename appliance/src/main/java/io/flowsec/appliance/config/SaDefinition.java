package io.flowsec.appliance.config;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.sa.SaLifetime;
import io.flowsec.dataplane.selector.TrafficSelector;

import java.net.InetAddress;
import java.util.OptionalInt;

/**
 * One SA as configured (manual keying). {@link #toString} leaves the keys out.
 *
 * @param localAddress  outer address on this appliance's side
 * @param remoteAddress outer address on the peer's side
 * @param localPort     this side's UDP port: the source port of an outbound SA (the udp-port encoding varies it), the
 *                      port an inbound SA arrives on
 * @param remotePort    the peer's UDP port: where an outbound SA sends to, the source port the peer sends an inbound
 *                      SA from (what {@code director} steering reads under the udp-port encoding)
 * @param lifetime      soft and hard limits (RFC 4301 §4.4.2.1); {@link SaLifetime#NONE} when not configured
 * @param lane          an inbound SA's lane, kept across restarts where the API moved it; empty: the data plane
 *                      spreads inbound SAs over the lanes itself (always empty for outbound SAs, which their group
 *                      assigns to lanes)
 */
public record SaDefinition(String name, int spi, boolean inbound, EspSuite suite, byte[] encryptionKey,
                           byte[] integrityKey, boolean extendedSequenceNumbers, int replayWindow,
                           TrafficSelector selector, boolean udpEncapsulation, InetAddress localAddress,
                           InetAddress remoteAddress, int localPort, int remotePort, SaLifetime lifetime,
                           OptionalInt lane) {

    @Override
    public String toString() {
        return "SaDefinition[" + name + " spi=0x" + Integer.toHexString(spi) + (inbound ? " inbound " : " outbound ")
                + suite.configName() + "]";
    }
}
