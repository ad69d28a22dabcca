package io.flowsec.appliance.warmstart;

import io.flowsec.appliance.config.ConfigException;
import io.flowsec.appliance.config.SaFile;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Packet;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;

/**
 * The ESP engine alone, with every suite: an SA file per suite (parsed as the appliance parses one) whose three
 * policies cover IPv4 and IPv6 inside and outside, ESP-in-UDP and raw ESP, the three encodings and ESN; each inner
 * packet is encapsulated by the sender's processor and decapsulated by the receiver's (the pcap tool's pair of
 * tables), and some are replayed or forged, so the drop paths run too. Every outcome is checked: training that did
 * not do what it meant to fails.
 */
final class EngineWorkout {
    private static final int[] SIZES = {64, 200, 576, 1400};
    private static final byte[] SITE_A = {10, 1, 0, 0};
    private static final byte[] SITE_B = {10, 2, 0, 0};
    private static final byte[] SITE_C = {10, 3, 0, 0};
    private static final byte[] SITE_D = {10, 4, 0, 0};
    private static final byte[] SITE_A6 = ipv6("fd01::");
    private static final byte[] SITE_B6 = ipv6("fd02::");

    /** What one workout did. */
    record Result(long packets, long accepted, long dropsAsMeant) {
    }

    private EngineWorkout() {
    }

    /** Runs {@code rounds} rounds over every suite; each round sends each size once per policy, per flow. */
    static Result run(int rounds, int flows) throws ConfigException {
        SecureRandom random = new SecureRandom();
        long packets = 0;
        long accepted = 0;
        long dropsAsMeant = 0;
        Packet slot = Packet.withRoomFor(Packet.MAX_IP_PACKET);
        Packet copy = Packet.withRoomFor(Packet.MAX_IP_PACKET);
        for (EspSuite suite : EspSuite.values()) {
            SaFile file = SaFile.parse(saFile(suite, random));
            SaFile.Tables sending = file.buildTables();
            SaFile.Tables receiving = file.buildDecryptTables();
            EspProcessor sender = new EspProcessor(sending.spd(), sending.sad(), EspProcessor.Framing.IP);
            EspProcessor receiver = new EspProcessor(receiving.spd(), receiving.sad(), EspProcessor.Framing.IP);
            for (int round = 0; round < rounds; round++) {
                for (int flow = 0; flow < flows; flow++) {
                    for (int size : SIZES) {
                        int port = 10_000 + flow;
                        int protocol = (flow & 1) == 0 ? InnerPackets.UDP : InnerPackets.TCP;
                        List<byte[]> inner = List.of(
                                InnerPackets.ipv4(protocol, InnerPackets.host(SITE_A, flow + 1), port, InnerPackets.host(SITE_B, 7), size),
                                InnerPackets.ipv6(protocol, InnerPackets.host(SITE_A6, flow + 1), port, InnerPackets.host(SITE_B6, 7), size),
                                InnerPackets.ipv4(protocol, InnerPackets.host(SITE_C, flow + 1), port, InnerPackets.host(SITE_D, 7), size));
                        for (byte[] packet : inner) {
                            packets++;
                            slot.load(packet, 0, packet.length);
                            expect(sender.encapsulate(slot), Outcome.ACCEPTED, suite, "encapsulation");
                            boolean dropsToo = size == SIZES[0] && flow == 0;
                            if (dropsToo) {
                                // a flipped bit in the ICV is a forgery; the packet itself, once accepted, a replay
                                copy.load(slot.buffer(), slot.offset(), slot.length());
                                copy.buffer()[copy.offset() + copy.length() - 1] ^= 1;
                                expect(receiver.decapsulate(copy), Outcome.AUTHENTICATION_FAILED, suite, "a forged packet");
                                copy.load(slot.buffer(), slot.offset(), slot.length());
                                dropsAsMeant++;
                            }
                            expect(receiver.decapsulate(slot), Outcome.ACCEPTED, suite, "decapsulation");
                            accepted++;
                            if (dropsToo) {
                                expect(receiver.decapsulate(copy), Outcome.REPLAY, suite, "a replayed packet");
                                dropsAsMeant++;
                            }
                        }
                    }
                }
            }
        }
        return new Result(packets, accepted, dropsAsMeant);
    }

    private static void expect(Outcome outcome, Outcome expected, EspSuite suite, String what) {
        if (outcome != expected) {
            throw new IllegalStateException("training: " + suite.configName() + " " + what + " gave " + outcome.label()
                    + ", not " + expected.label());
        }
    }

    /**
     * Three policies with a fresh key per SA: IPv4 in ESP-in-UDP over IPv4 (udp-port), IPv6 in raw ESP over IPv6 (spi,
     * ESN), IPv4 over per-SA IPv4 address pairs (address, the paper's method).
     */
    private static JsonObject saFile(EspSuite suite, SecureRandom random) {
        JsonArray policies = new JsonArray()
                .add(policy("udp-v4", suite, "10.1.0.0/16", "10.2.0.0/16", "udp", "udp-port", false,
                        group(suite, random, 0x1000, 2, index -> new JsonObject().put("sourcePort", 4501 + index))
                                .put("addresses", "192.0.2.1,192.0.2.2"), random))
                .add(policy("esp-v6", suite, "fd01::/64", "fd02::/64", "esp", "spi", true,
                        group(suite, random, 0x2000, 2, index -> new JsonObject())
                                .put("addresses", "2001:db8::1,2001:db8::2"), random))
                .add(policy("address-v4", suite, "10.3.0.0/16", "10.4.0.0/16", "udp", "address", false,
                        group(suite, random, 0x3000, 2, index -> new JsonObject()
                                .put("localAddress", "192.0.2." + (11 + index)).put("remoteAddress", "192.0.2." + (21 + index)))
                                .put("addresses", "192.0.2.11,192.0.2.21"), random));
        return new JsonObject().put("policies", policies);
    }

    private interface SaExtras {
        JsonObject of(int index);
    }

    /** {"outbound": [...], "addresses": "local,remote"}: SPIs spiBase+1.., each with {@code extras}. */
    private static JsonObject group(EspSuite suite, SecureRandom random, int spiBase, int count, SaExtras extras) {
        JsonArray outbound = new JsonArray();
        for (int i = 0; i < count; i++) {
            outbound.add(sa(suite, random, spiBase + i + 1).mergeIn(extras.of(i)));
        }
        return new JsonObject().put("outbound", outbound);
    }

    private static JsonObject policy(String name, EspSuite suite, String local, String remote, String encapsulation,
                                     String encoding, boolean esn, JsonObject group, SecureRandom random) {
        String[] addresses = group.getString("addresses").split(",");
        int spiBase = Integer.parseInt(group.getJsonArray("outbound").getJsonObject(0).getString("spi").substring(2), 16);
        return new JsonObject().put("name", name).put("local", local).put("remote", remote)
                .put("suite", suite.configName()).put("esn", esn).put("encapsulation", encapsulation)
                .put("localAddress", addresses[0]).put("remoteAddress", addresses[1]).put("encoding", encoding)
                .put("outbound", group.getJsonArray("outbound"))
                .put("inbound", new JsonArray().add(sa(suite, random, spiBase + 0x800)));
    }

    private static JsonObject sa(EspSuite suite, SecureRandom random, int spi) {
        JsonObject sa = new JsonObject().put("spi", String.format("0x%08x", spi));
        if (suite.encryptionKeyLength() > 0) {
            sa.put("key", randomHex(random, suite.encryptionKeyLength()));
        }
        if (suite.integrityKeyLength() > 0) {
            sa.put("integrityKey", randomHex(random, suite.integrityKeyLength()));
        }
        return sa;
    }

    static String randomHex(SecureRandom random, int length) {
        byte[] key = new byte[length];
        random.nextBytes(key);
        return HexFormat.of().formatHex(key);
    }

    private static byte[] ipv6(String address) {
        try {
            return java.net.InetAddress.getByName(address).getAddress();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
