package io.flowsec.dataplane.testing;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.crypto.EspTransform;
import io.flowsec.dataplane.sa.ReplayWindow;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.selector.IpPrefix;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.selector.PortRange;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SaLifetime;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Test material for the ESP engine, written independently of the production code it checks (its own checksum,
 * its own header layout), so a test that compares the two can fail:
 * <ul>
 *   <li><b>inner packets</b>: IPv4/IPv6 with UDP, TCP, ICMP/ICMPv6 or any other protocol, any payload size, valid
 *       header and transport checksums ({@link #inner}, {@link #udp}, {@link #tcp}, {@link #icmpEcho},
 *       {@link #ofTotalLength});</li>
 *   <li><b>tunnels</b>: a matched pair of appliances A and B, keys from {@link SecureRandom}, each with its SPD and
 *       SAD: A's SA group of N outbound SAs matches B's N inbound SAs (same SPIs and keys) and the other way round
 *       ({@link #tunnel()});</li>
 *   <li><b>hand-made ESP</b> for inputs the engine never produces (dummy packets, bad padding, other next headers):
 *       {@link #espPlaintext}, {@link #sealEsp}, {@link #outer};</li>
 *   <li>checksum checks of a finished packet ({@link #isIpv4HeaderChecksumValid}, {@link #isTransportChecksumValid})
 *       and {@link #slot} to put bytes into a {@link Packet}.</li>
 * </ul>
 * Addresses: site A is 10.1.0.0/16 and fd00:a::/48, site B 10.2.0.0/16 and fd00:b::/48; the tunnel ends are
 * 192.0.2.x / 2001:db8:a::x (A) and 198.51.100.x / 2001:db8:b::x (B).
 */
public final class TestPackets {
    public static final String SITE_A_V4 = "10.1.0.0/16";
    public static final String SITE_B_V4 = "10.2.0.0/16";
    public static final String SITE_A_V6 = "fd00:a::/48";
    public static final String SITE_B_V6 = "fd00:b::/48";
    public static final String HOST_A_V4 = "10.1.0.10";
    public static final String HOST_B_V4 = "10.2.0.20";
    public static final String HOST_A_V6 = "fd00:a::10";
    public static final String HOST_B_V6 = "fd00:b::20";
    /** RFC 3692 experimental protocol number: a payload without ports, for packets of any exact length. */
    public static final int EXPERIMENTAL_PROTOCOL = 253;
    /** SPIs of A → B SAs are this plus the member index; B → A SAs use {@link #SPI_B_TO_A}. */
    public static final int SPI_A_TO_B = 0x0A0B_1000;
    public static final int SPI_B_TO_A = 0x0B0A_2000;
    /** Source port of member i of a udp-port group is this plus i; other groups send from 4500. */
    public static final int UDP_PORT_BASE = 49152;

    private static final SecureRandom RANDOM = new SecureRandom();

    private TestPackets() {
    }

    /** A site host: {@link #HOST_A_V4} / {@link #HOST_A_V6} for side A, the B ones otherwise. */
    public static String host(char side, int family) {
        if (side == 'A') {
            return family == 4 ? HOST_A_V4 : HOST_A_V6;
        }
        return family == 4 ? HOST_B_V4 : HOST_B_V6;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Inner packets

    /** A builder for an inner packet from {@code source} to {@code destination} (IPv4 or IPv6 literals). */
    public static Inner inner(String source, String destination) {
        return new Inner(address(source), address(destination));
    }

    /** UDP with {@code payloadLength} pattern bytes. */
    public static byte[] udp(String source, int sourcePort, String destination, int destinationPort, int payloadLength) {
        return inner(source, destination).udp(sourcePort, destinationPort).payload(payloadLength).build();
    }

    /** TCP (ACK|PSH, 20-byte header) with {@code payloadLength} pattern bytes. */
    public static byte[] tcp(String source, int sourcePort, String destination, int destinationPort, int payloadLength) {
        return inner(source, destination).tcp(sourcePort, destinationPort).payload(payloadLength).build();
    }

    /** ICMP echo request (ICMPv6 for IPv6 addresses) with {@code payloadLength} pattern bytes. */
    public static byte[] icmpEcho(String source, String destination, int payloadLength) {
        return inner(source, destination).icmpEcho(0x1234, 1).payload(payloadLength).build();
    }

    /**
     * A packet of exactly {@code totalLength} bytes (at least the IP header: 20 or 40) carrying protocol
     * {@link #EXPERIMENTAL_PROTOCOL}, so every length is reachable, also those below a UDP header.
     */
    public static byte[] ofTotalLength(String source, String destination, int totalLength) {
        Inner inner = inner(source, destination).protocol(EXPERIMENTAL_PROTOCOL);
        int header = inner.family == 4 ? 20 : 40;
        if (totalLength < header) {
            throw new IllegalArgumentException("an IPv" + inner.family + " packet has at least " + header + " bytes");
        }
        return inner.payload(totalLength - header).build();
    }

    /** Builder of one inner IP packet; every checksum is filled in by {@link #build}. */
    public static final class Inner {
        private final InetAddress source;
        private final InetAddress destination;
        private final int family;
        private int protocol = EXPERIMENTAL_PROTOCOL;
        private int sourcePort;
        private int destinationPort;
        private int icmpIdentifier;
        private int icmpSequence;
        private byte[] payload = new byte[0];
        private int trafficClass;
        private int flowLabel;
        private boolean dontFragment;
        private int ttl = 64;
        private int identification = 0x4242;

        private Inner(InetAddress source, InetAddress destination) {
            if ((source instanceof Inet4Address) != (destination instanceof Inet4Address)) {
                throw new IllegalArgumentException("source and destination of different families");
            }
            this.source = source;
            this.destination = destination;
            this.family = source instanceof Inet4Address ? 4 : 6;
        }

        public Inner udp(int sourcePort, int destinationPort) {
            this.protocol = 17;
            this.sourcePort = sourcePort;
            this.destinationPort = destinationPort;
            return this;
        }

        public Inner tcp(int sourcePort, int destinationPort) {
            this.protocol = 6;
            this.sourcePort = sourcePort;
            this.destinationPort = destinationPort;
            return this;
        }

        /** ICMP echo request, or ICMPv6 echo request for IPv6. */
        public Inner icmpEcho(int identifier, int sequence) {
            this.protocol = family == 4 ? 1 : 58;
            this.icmpIdentifier = identifier;
            this.icmpSequence = sequence;
            return this;
        }

        /** Any other protocol: the payload follows the IP header directly. */
        public Inner protocol(int protocol) {
            this.protocol = protocol;
            return this;
        }

        /** {@code length} bytes of a fixed pattern (so two builds are equal). */
        public Inner payload(int length) {
            byte[] bytes = new byte[length];
            for (int i = 0; i < length; i++) {
                bytes[i] = (byte) (i * 31 + 7);
            }
            this.payload = bytes;
            return this;
        }

        public Inner payload(byte[] bytes) {
            this.payload = bytes.clone();
            return this;
        }

        /** IPv4 TOS or IPv6 traffic class (DSCP << 2 | ECN). */
        public Inner trafficClass(int trafficClass) {
            this.trafficClass = trafficClass;
            return this;
        }

        public Inner flowLabel(int flowLabel) {
            this.flowLabel = flowLabel;
            return this;
        }

        public Inner dontFragment(boolean dontFragment) {
            this.dontFragment = dontFragment;
            return this;
        }

        /** IPv4 TTL or IPv6 hop limit. */
        public Inner ttl(int ttl) {
            this.ttl = ttl;
            return this;
        }

        public Inner identification(int identification) {
            this.identification = identification;
            return this;
        }

        public byte[] build() {
            byte[] transport = transport();
            int header = family == 4 ? 20 : 40;
            byte[] packet = new byte[header + transport.length];
            byte[] src = source.getAddress();
            byte[] dst = destination.getAddress();
            if (family == 4) {
                if (packet.length > 65535) {
                    throw new IllegalArgumentException("IPv4 packet too long: " + packet.length);
                }
                packet[0] = 0x45;
                packet[1] = (byte) trafficClass;
                put16(packet, 2, packet.length);
                put16(packet, 4, identification);
                put16(packet, 6, dontFragment ? 0x4000 : 0);
                packet[8] = (byte) ttl;
                packet[9] = (byte) protocol;
                System.arraycopy(src, 0, packet, 12, 4);
                System.arraycopy(dst, 0, packet, 16, 4);
                put16(packet, 10, ~checksum(packet, 0, 20, 0) & 0xFFFF);
            } else {
                if (transport.length > 65535) {
                    throw new IllegalArgumentException("IPv6 payload too long: " + transport.length);
                }
                put32(packet, 0, (6 << 28) | ((trafficClass & 0xFF) << 20) | (flowLabel & 0xFFFFF));
                put16(packet, 4, transport.length);
                packet[6] = (byte) protocol;
                packet[7] = (byte) ttl;
                System.arraycopy(src, 0, packet, 8, 16);
                System.arraycopy(dst, 0, packet, 24, 16);
            }
            System.arraycopy(transport, 0, packet, header, transport.length);
            int checksumAt = checksumOffset(protocol);
            if (checksumAt >= 0) {
                long pseudo = protocol == 1 ? 0 : pseudoHeaderSum(packet, 0, protocol, transport.length);
                int sum = ~checksum(packet, header, transport.length, pseudo) & 0xFFFF;
                put16(packet, header + checksumAt, protocol == 17 && sum == 0 ? 0xFFFF : sum);
            }
            return packet;
        }

        private byte[] transport() {
            switch (protocol) {
                case 17 -> {
                    byte[] udp = new byte[8 + payload.length];
                    put16(udp, 0, sourcePort);
                    put16(udp, 2, destinationPort);
                    put16(udp, 4, udp.length);
                    System.arraycopy(payload, 0, udp, 8, payload.length);
                    return udp;
                }
                case 6 -> {
                    byte[] tcp = new byte[20 + payload.length];
                    put16(tcp, 0, sourcePort);
                    put16(tcp, 2, destinationPort);
                    put32(tcp, 4, 0x1000_0001);
                    put32(tcp, 8, 0x2000_0002);
                    tcp[12] = 0x50;                 // data offset 5 words
                    tcp[13] = 0x18;                 // ACK | PSH
                    put16(tcp, 14, 64240);
                    System.arraycopy(payload, 0, tcp, 20, payload.length);
                    return tcp;
                }
                case 1, 58 -> {
                    byte[] icmp = new byte[8 + payload.length];
                    icmp[0] = (byte) (protocol == 1 ? 8 : 128);  // echo request
                    put16(icmp, 4, icmpIdentifier);
                    put16(icmp, 6, icmpSequence);
                    System.arraycopy(payload, 0, icmp, 8, payload.length);
                    return icmp;
                }
                default -> {
                    return payload.clone();
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Checksums (an implementation of their own, to check the production one)

    /** RFC 1071 sum of 16-bit words, folded, not complemented, starting from {@code initial}. */
    public static int checksum(byte[] bytes, int offset, int length, long initial) {
        long sum = initial;
        for (int i = 0; i + 1 < length; i += 2) {
            sum += ((bytes[offset + i] & 0xFF) << 8) | (bytes[offset + i + 1] & 0xFF);
        }
        if ((length & 1) != 0) {
            sum += (bytes[offset + length - 1] & 0xFF) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) sum;
    }

    /** True when the IPv4 header at {@code offset} sums to 0xFFFF. */
    public static boolean isIpv4HeaderChecksumValid(byte[] packet, int offset) {
        int headerLength = (packet[offset] & 0xF) * 4;
        return checksum(packet, offset, headerLength, 0) == 0xFFFF;
    }

    /**
     * True when the UDP, TCP, ICMP or ICMPv6 checksum of the IP packet at {@code offset} is valid (a zero UDP checksum
     * over IPv4 counts as valid: "not computed"). The IPv6 header must be followed directly by the transport header.
     */
    public static boolean isTransportChecksumValid(byte[] packet, int offset) {
        int version = (packet[offset] >> 4) & 0xF;
        int protocol;
        int header;
        int transportLength;
        if (version == 4) {
            header = (packet[offset] & 0xF) * 4;
            protocol = packet[offset + 9] & 0xFF;
            transportLength = get16(packet, offset + 2) - header;
        } else {
            header = 40;
            protocol = packet[offset + 6] & 0xFF;
            transportLength = get16(packet, offset + 4);
        }
        int checksumAt = checksumOffset(protocol);
        if (checksumAt < 0) {
            throw new IllegalArgumentException("protocol " + protocol + " has no checksum known here");
        }
        if (version == 4 && protocol == 17 && get16(packet, offset + header + 6) == 0) {
            return true;
        }
        long pseudo = protocol == 1 ? 0 : pseudoHeaderSum(packet, offset, protocol, transportLength);
        return checksum(packet, offset + header, transportLength, pseudo) == 0xFFFF;
    }

    private static int checksumOffset(int protocol) {
        return switch (protocol) {
            case 17 -> 6;
            case 6 -> 16;
            case 1, 58 -> 2;
            default -> -1;
        };
    }

    private static long pseudoHeaderSum(byte[] packet, int offset, int protocol, int transportLength) {
        int version = (packet[offset] >> 4) & 0xF;
        long sum = version == 4 ? checksum(packet, offset + 12, 8, 0) : checksum(packet, offset + 8, 32, 0);
        return sum + protocol + transportLength;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Tunnels

    /** A builder of a matched pair of tunnel ends; defaults: AES-GCM-128, no ESN, ESP-in-UDP, IPv4 outer, 1 SA. */
    public static TunnelSpec tunnel() {
        return new TunnelSpec();
    }

    /** What {@link #tunnel()} can vary. */
    public static final class TunnelSpec {
        private EspSuite suite = EspSuite.AES_GCM_128;
        private boolean esn;
        private boolean udp = true;
        private int outerFamily = 4;
        private int innerFamily = 4;
        private int saCount = 1;
        private FlowEncoding encoding = FlowEncoding.SPI;
        private int replayWindowSize = ReplayWindow.DEFAULT_SIZE;
        private long initialSequence;
        private SaLifetime lifetime = SaLifetime.NONE;
        private TrafficSelector selector;
        private TrafficSelector inboundSelectorAtB;

        private TunnelSpec() {
        }

        public TunnelSpec suite(EspSuite suite) {
            this.suite = suite;
            return this;
        }

        public TunnelSpec esn(boolean esn) {
            this.esn = esn;
            return this;
        }

        /** True: ESP-in-UDP (RFC 3948, port 4500); false: raw ESP (IP protocol 50). */
        public TunnelSpec udp(boolean udp) {
            this.udp = udp;
            return this;
        }

        /** Family of the tunnel ends' addresses: 4 or 6. */
        public TunnelSpec outerFamily(int family) {
            this.outerFamily = checkFamily(family);
            return this;
        }

        /** Family of the default selectors (the sites' prefixes): 4, 6, or 0 for selectors that match anything. */
        public TunnelSpec innerFamily(int family) {
            if (family != 0) {
                checkFamily(family);
            }
            this.innerFamily = family;
            return this;
        }

        /** N: SAs per direction, all in one SA group. */
        public TunnelSpec saCount(int saCount) {
            this.saCount = saCount;
            return this;
        }

        public TunnelSpec encoding(FlowEncoding encoding) {
            this.encoding = encoding;
            return this;
        }

        public TunnelSpec replayWindowSize(int size) {
            this.replayWindowSize = size;
            return this;
        }

        /** Every SA's lifetime. */
        public TunnelSpec lifetime(SaLifetime lifetime) {
            this.lifetime = lifetime;
            return this;
        }

        /** The last sequence number each outbound SA already used (to start near the counter's end). */
        public TunnelSpec initialSequence(long lastUsed) {
            this.initialSequence = lastUsed;
            return this;
        }

        /**
         * The selectors from A's point of view (local = site A); B gets them mirrored. Default: the sites'
         * prefixes of {@link #innerFamily}.
         */
        public TunnelSpec selector(TrafficSelector selectorFromA) {
            this.selector = selectorFromA;
            return this;
        }

        /** Selectors of B's inbound SAs (B's point of view), when they must differ from A's policy (narrower). */
        public TunnelSpec inboundSelectorAtB(TrafficSelector selectorFromB) {
            this.inboundSelectorAtB = selectorFromB;
            return this;
        }

        public Tunnel build() {
            TrafficSelector fromA = selector != null ? selector : switch (innerFamily) {
                case 4 -> new TrafficSelector(IpPrefix.parse(SITE_A_V4), IpPrefix.parse(SITE_B_V4), 0,
                        PortRange.ANY, PortRange.ANY);
                case 6 -> new TrafficSelector(IpPrefix.parse(SITE_A_V6), IpPrefix.parse(SITE_B_V6), 0,
                        PortRange.ANY, PortRange.ANY);
                default -> TrafficSelector.ANY;
            };
            TrafficSelector fromB = mirror(fromA);
            List<SecurityAssociation> aOut = new ArrayList<>();
            List<SecurityAssociation> bIn = new ArrayList<>();
            List<SecurityAssociation> bOut = new ArrayList<>();
            List<SecurityAssociation> aIn = new ArrayList<>();
            for (int i = 0; i < saCount; i++) {
                byte[] encryptionAB = randomBytes(suite.encryptionKeyLength());
                byte[] integrityAB = suite.integrityKeyLength() == 0 ? null : randomBytes(suite.integrityKeyLength());
                OuterEndpoints ab = endpoints('A', i);
                aOut.add(sa("a-out-" + i, SPI_A_TO_B + i, SecurityAssociation.Direction.OUTBOUND, encryptionAB, integrityAB, fromA, ab));
                bIn.add(sa("b-in-" + i, SPI_A_TO_B + i, SecurityAssociation.Direction.INBOUND, encryptionAB, integrityAB,
                        inboundSelectorAtB != null ? inboundSelectorAtB : fromB, reverse(ab)));

                byte[] encryptionBA = randomBytes(suite.encryptionKeyLength());
                byte[] integrityBA = suite.integrityKeyLength() == 0 ? null : randomBytes(suite.integrityKeyLength());
                OuterEndpoints ba = endpoints('B', i);
                bOut.add(sa("b-out-" + i, SPI_B_TO_A + i, SecurityAssociation.Direction.OUTBOUND, encryptionBA, integrityBA, fromB, ba));
                aIn.add(sa("a-in-" + i, SPI_B_TO_A + i, SecurityAssociation.Direction.INBOUND, encryptionBA, integrityBA, fromA, reverse(ba)));
            }
            Side a = side("A", fromA, aOut, aIn);
            Side b = side("B", fromB, bOut, bIn);
            return new Tunnel(a, b);
        }

        private Side side(String name, TrafficSelector selector, List<SecurityAssociation> outbound,
                          List<SecurityAssociation> inbound) {
            SaGroup group = new SaGroup(outbound, encoding);
            SecurityPolicy policy = new SecurityPolicy(name + "-protect", selector, PolicyAction.PROTECT, group);
            SecurityPolicyDatabase spd = new SecurityPolicyDatabase(List.of(policy));
            SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
            sad.addAll(outbound);
            sad.addAll(inbound);
            return new Side(name, spd, sad, policy, group, List.copyOf(inbound));
        }

        private SecurityAssociation sa(String name, int spi, SecurityAssociation.Direction direction, byte[] encryptionKey,
                                       byte[] integrityKey, TrafficSelector selector, OuterEndpoints outer) {
            return SecurityAssociation.builder()
                    .name(name)
                    .spi(spi)
                    .direction(direction)
                    .suite(suite)
                    .encryptionKey(encryptionKey)
                    .integrityKey(integrityKey)
                    .extendedSequenceNumbers(esn)
                    .replayWindowSize(replayWindowSize)
                    .selector(selector)
                    .outer(outer)
                    .initialSequence(direction == SecurityAssociation.Direction.OUTBOUND ? initialSequence : 0)
                    .peerEncoding(direction == SecurityAssociation.Direction.INBOUND ? encoding : FlowEncoding.SPI)
                    .lifetime(lifetime)
                    .build();
        }

        /** Outer endpoints of member {@code i} sent by {@code side}: distinct ports or addresses as the encoding needs. */
        private OuterEndpoints endpoints(char side, int i) {
            int host = encoding == FlowEncoding.ADDRESS ? 1 + i : 1;
            String a = outerFamily == 4 ? "192.0.2." + host : "2001:db8:a::" + Integer.toHexString(host);
            String b = outerFamily == 4 ? "198.51.100." + host : "2001:db8:b::" + Integer.toHexString(host);
            InetAddress local = address(side == 'A' ? a : b);
            InetAddress remote = address(side == 'A' ? b : a);
            if (!udp) {
                return OuterEndpoints.esp(local, remote);
            }
            int localPort = encoding == FlowEncoding.UDP_PORT ? UDP_PORT_BASE + i : 4500;
            return OuterEndpoints.udp(local, remote, localPort, 4500);
        }

        private static OuterEndpoints reverse(OuterEndpoints outer) {
            return new OuterEndpoints(outer.remote(), outer.local(), outer.isUdp(), outer.remotePort(), outer.localPort());
        }
    }

    /** Both ends of a tunnel. */
    public record Tunnel(Side a, Side b) {
    }

    /**
     * One tunnel end: its SPD (one protect policy over {@link #outboundGroup}), its SAD (outbound SAs first, then
     * inbound ones), and the inbound SAs that match the other end's outbound group member by member.
     */
    public record Side(String name, SecurityPolicyDatabase spd, SecurityAssociationDatabase sad, SecurityPolicy policy,
                       SaGroup outboundGroup, List<SecurityAssociation> inbound) {
        /** A fresh engine (one lane) over this end's SPD and SAD. */
        public EspProcessor processor(EspProcessor.Framing framing) {
            return new EspProcessor(spd, sad, framing);
        }

        public EspProcessor processor() {
            return processor(EspProcessor.Framing.IP);
        }

        /** Outbound member {@code i} of the group. */
        public SecurityAssociation outbound(int i) {
            return outboundGroup.member(i);
        }
    }

    /** The same selectors from the other end's point of view (local and remote swapped). */
    public static TrafficSelector mirror(TrafficSelector selector) {
        return new TrafficSelector(selector.remote(), selector.local(), selector.protocol(), selector.remotePorts(),
                selector.localPorts());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Hand-made ESP

    /**
     * ESP plaintext: {@code payload}, the default padding 1, 2, 3, ... up to the suite's alignment (RFC 4303 §2.4),
     * pad length and next header.
     */
    public static byte[] espPlaintext(byte[] payload, int nextHeader, EspSuite suite) {
        int alignment = suite.alignment();
        int padded = (payload.length + 2 + alignment - 1) / alignment * alignment;
        byte[] padding = new byte[padded - payload.length - 2];
        for (int i = 0; i < padding.length; i++) {
            padding[i] = (byte) (i + 1);
        }
        return espPlaintext(payload, padding, nextHeader);
    }

    /** ESP plaintext with the given padding bytes (any content), pad length = their count, and next header. */
    public static byte[] espPlaintext(byte[] payload, byte[] padding, int nextHeader) {
        byte[] plaintext = Arrays.copyOf(payload, payload.length + padding.length + 2);
        System.arraycopy(padding, 0, plaintext, payload.length, padding.length);
        plaintext[plaintext.length - 2] = (byte) padding.length;
        plaintext[plaintext.length - 1] = (byte) nextHeader;
        return plaintext;
    }

    /**
     * Seals {@code plaintext} (payload, padding and trailer, a multiple of the suite's alignment) with the keys of
     * {@code sa} (use the outbound SA whose peer should receive it) under {@code sequence}, through a transform of
     * its own: returns SPI | sequence | IV | ciphertext | ICV. Take the sequence from {@code sa.nextSequenceNumber()}
     * so no (key, IV) pair is used twice.
     */
    public static byte[] sealEsp(SecurityAssociation sa, long sequence, byte[] plaintext) {
        EspSuite suite = sa.suite();
        if (plaintext.length % suite.alignment() != 0) {
            throw new IllegalArgumentException("plaintext of " + plaintext.length + " bytes is not a multiple of "
                    + suite.alignment());
        }
        int payloadOffset = 8 + suite.ivLength();
        byte[] esp = new byte[payloadOffset + plaintext.length + suite.icvLength()];
        put32(esp, 0, sa.spi());
        put32(esp, 4, (int) sequence);
        System.arraycopy(plaintext, 0, esp, payloadOffset, plaintext.length);
        EspTransform transform = sa.newTransform();
        transform.writeIv(esp, 8, sequence);
        if (!transform.seal(esp, 0, payloadOffset, plaintext.length, (int) (sequence >>> 32))) {
            throw new IllegalStateException("seal refused");
        }
        return esp;
    }

    /**
     * Wraps an ESP packet in the outer header of {@code outer} (IPv4 or IPv6, with UDP when the SA uses it):
     * IPv4 header checksum valid, UDP checksum zero over IPv4 (RFC 3948) and computed over IPv6.
     */
    public static byte[] outer(OuterEndpoints outer, byte[] esp) {
        int ipHeader = outer.family() == 4 ? 20 : 40;
        int udpHeader = outer.isUdp() ? 8 : 0;
        byte[] packet = new byte[ipHeader + udpHeader + esp.length];
        byte[] src = outer.local().getAddress();
        byte[] dst = outer.remote().getAddress();
        int protocol = outer.isUdp() ? 17 : 50;
        if (outer.family() == 4) {
            packet[0] = 0x45;
            put16(packet, 2, packet.length);
            packet[8] = 64;
            packet[9] = (byte) protocol;
            System.arraycopy(src, 0, packet, 12, 4);
            System.arraycopy(dst, 0, packet, 16, 4);
            put16(packet, 10, ~checksum(packet, 0, 20, 0) & 0xFFFF);
        } else {
            put32(packet, 0, 6 << 28);
            put16(packet, 4, udpHeader + esp.length);
            packet[6] = (byte) protocol;
            packet[7] = 64;
            System.arraycopy(src, 0, packet, 8, 16);
            System.arraycopy(dst, 0, packet, 24, 16);
        }
        System.arraycopy(esp, 0, packet, ipHeader + udpHeader, esp.length);
        if (outer.isUdp()) {
            put16(packet, ipHeader, outer.localPort());
            put16(packet, ipHeader + 2, outer.remotePort());
            put16(packet, ipHeader + 4, udpHeader + esp.length);
            if (outer.family() == 6) {
                int sum = ~checksum(packet, ipHeader, udpHeader + esp.length,
                        pseudoHeaderSum(packet, 0, 17, udpHeader + esp.length)) & 0xFFFF;
                put16(packet, ipHeader + 6, sum == 0 ? 0xFFFF : sum);
            }
        }
        return packet;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Slots and small helpers

    /** A packet slot holding {@code bytes} at the default headroom, with room to add ESP around up to 64 KiB. */
    public static Packet slot(byte[] bytes) {
        Packet packet = Packet.withRoomFor(Math.max(bytes.length, 2048));
        if (!packet.load(bytes, 0, bytes.length)) {
            throw new IllegalStateException("does not fit");
        }
        return packet;
    }

    public static byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    /** A literal IPv4 or IPv6 address (never a DNS lookup). */
    public static InetAddress address(String literal) {
        try {
            return InetAddress.ofLiteral(literal);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not an address literal: " + literal, e);
        }
    }

    /** Parses hex with optional whitespace, for packet literals. */
    public static byte[] hex(String text) {
        String clean = text.replaceAll("\\s", "");
        byte[] bytes = new byte[clean.length() / 2];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) Integer.parseInt(clean.substring(2 * i, 2 * i + 2), 16);
        }
        return bytes;
    }

    public static int get16(byte[] bytes, int offset) {
        return ((bytes[offset] & 0xFF) << 8) | (bytes[offset + 1] & 0xFF);
    }

    public static int get32(byte[] bytes, int offset) {
        return (get16(bytes, offset) << 16) | get16(bytes, offset + 2);
    }

    public static void put16(byte[] bytes, int offset, int value) {
        bytes[offset] = (byte) (value >>> 8);
        bytes[offset + 1] = (byte) value;
    }

    public static void put32(byte[] bytes, int offset, int value) {
        bytes[offset] = (byte) (value >>> 24);
        bytes[offset + 1] = (byte) (value >>> 16);
        bytes[offset + 2] = (byte) (value >>> 8);
        bytes[offset + 3] = (byte) value;
    }

    private static int checkFamily(int family) {
        if (family != 4 && family != 6) {
            throw new IllegalArgumentException("family must be 4 or 6, got " + family);
        }
        return family;
    }
}
