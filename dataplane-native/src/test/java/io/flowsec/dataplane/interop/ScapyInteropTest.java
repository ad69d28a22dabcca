package io.flowsec.dataplane.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;
import static org.junit.jupiter.api.DynamicContainer.dynamicContainer;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * Cross-implementation tests against scapy's IPsec layer ({@code scapy.layers.ipsec.SecurityAssociation}), an ESP
 * implementation nobody here wrote, driven through {@code src/test/python/scapy_esp_peer.py}.
 * <p>
 * For every suite, plain ESP and ESP-in-UDP, IPv4 and IPv6 outer headers, ESN off and on (where scapy implements
 * it, probed at start): scapy encrypts and flowsec decrypts, flowsec encrypts and scapy decrypts, inner packets
 * compared byte for byte; inner lengths from one byte of UDP payload to a full 1500-byte packet, with 16 consecutive
 * lengths at each end so every padding length of every suite occurs. Then broken packets made by scapy (tampered,
 * truncated, replayed, unknown SPI) must each be dropped by flowsec for the right {@link Outcome}.
 * <p>
 * Random keys, SPIs, addresses and packets; the seed is in every failure message and can be fixed with
 * {@code -Dflowsec.interop.seed=N}. Without scapy the tests are skipped, unless FLOWSEC_REQUIRE_INTEROP=1
 * (the project's test command) makes that a failure.
 */
@DisplayName("flowsec interoperates with scapy's IPsec layer")
class ScapyInteropTest {
    private static final long SEED = Long.getLong("flowsec.interop.seed", new SecureRandom().nextLong());
    private static final HexFormat HEX = HexFormat.of();
    /** Room for any outer packet built here (1500-byte inner + outer IPv6/UDP + ESP overhead). */
    private static final int SLOT = 1700;

    private static ScapyPeer scapy;
    /** Why scapy cannot be used here; null when it can. */
    private static String unavailable;

    @BeforeAll
    static void startScapy() {
        try {
            scapy = ScapyPeer.locate();
        } catch (ScapyPeer.Unavailable e) {
            String problem = "scapy's IPsec layer cannot be used through " + ScapyPeer.PYTHON + " (" + e.getMessage() + ")";
            if ("1".equals(System.getenv("FLOWSEC_REQUIRE_INTEROP"))) {
                fail(problem + ". FLOWSEC_REQUIRE_INTEROP=1 requires the interop tests: install python3-scapy "
                        + "(and python3-cryptography), e.g. apt-get install python3-scapy python3-cryptography");
            }
            unavailable = problem + ": interop tests skipped; install python3-scapy and python3-cryptography to run them "
                    + "(FLOWSEC_REQUIRE_INTEROP=1 turns this skip into a failure)";
            System.err.println("ScapyInteropTest: " + unavailable);
        }
    }

    @Test
    @DisplayName("scapy's IPsec layer is available as a peer (else every interop test is skipped)")
    void scapyIsAvailableAsAPeer() {
        if (unavailable != null) {
            abort(unavailable);
        }
    }

    /**
     * The test that stands for a setup scapy cannot do: skipped where scapy lacks the feature, failed where the peer
     * script simply does not know a flowsec suite (every suite must be covered; add it to the script's SUITES).
     */
    private static DynamicNode cannotDo(Setup setup, String why) {
        if (!scapy.maps(setup.suite())) {
            return dynamicTest("fails because the scapy peer does not know this suite",
                    () -> fail(why + ": add it to SUITES and KEY_LENGTHS in src/test/python/scapy_esp_peer.py"));
        }
        return dynamicTest("is skipped because scapy cannot do it", () -> abort(why));
    }

    /** The tests of a factory, or, without scapy, a single skipped one that says why. */
    private static Stream<DynamicNode> withScapy(Supplier<Stream<DynamicNode>> tests) {
        if (unavailable != null) {
            return Stream.of(dynamicTest("is skipped because scapy is unavailable", () -> abort(unavailable)));
        }
        return tests.get();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Configurations

    /** One column of the matrix. */
    record Setup(EspSuite suite, boolean udp, int family, boolean esn) {
        String describe() {
            return (udp ? "ESP-in-UDP (RFC 3948)" : "plain ESP (IP protocol 50)") + " over IPv" + family
                    + (esn ? " with ESN" : " without ESN");
        }

        String id() {
            return suite.configName() + (udp ? "/udp" : "/esp") + "/ipv" + family + (esn ? "/esn" : "/no-esn");
        }
    }

    private static List<Setup> setups(EspSuite suite) {
        List<Setup> setups = new ArrayList<>();
        for (boolean udp : new boolean[] {false, true}) {
            for (int family : new int[] {4, 6}) {
                for (boolean esn : new boolean[] {false, true}) {
                    setups.add(new Setup(suite, udp, family, esn));
                }
            }
        }
        return setups;
    }

    /** Null when scapy can do the setup; otherwise why not (the test is then skipped with that message). */
    private static String unsupported(Setup setup) {
        if (!scapy.maps(setup.suite())) {
            return "scapy_esp_peer.py does not map flowsec suite " + setup.suite().configName()
                    + " to scapy algorithm names";
        }
        if (!scapy.supports(setup.suite())) {
            return "scapy " + scapy.version() + " lacks " + scapy.lacking(setup.suite()) + " for "
                    + setup.suite().configName();
        }
        if (setup.esn() && !scapy.supportsEsn(setup.suite())) {
            return "scapy " + scapy.version() + " does not implement ESN for " + setup.suite().configName()
                    + ": its ESP path authenticates SPI || seq without the high 32 bits (RFC 4303 §2.2.1); "
                    + "SecurityAssociation._encrypt_esp/_decrypt_esp call AuthAlgo.sign/verify without esn_en, "
                    + "so only its AEAD suites carry the ESN (in the AAD); probed at start";
        }
        return null;
    }

    private static String seedNote() {
        return " [seed " + SEED + ": rerun with -Dflowsec.interop.seed=" + SEED + "]";
    }

    record Keys(byte[] encryption, byte[] integrity) {
        static Keys random(EspSuite suite, Random random) {
            byte[] encryption = new byte[suite.encryptionKeyLength()];
            byte[] integrity = new byte[suite.integrityKeyLength()];
            random.nextBytes(encryption);
            random.nextBytes(integrity);
            return new Keys(encryption, integrity);
        }
    }

    /** Outer addresses and NAT-T ports of one tunnel: documentation prefixes, random host parts. */
    record Tunnel(InetAddress flowsec, InetAddress scapy, int flowsecPort, int scapyPort) {
        static Tunnel random(int family, Random random, boolean flowsecBehindNat) {
            byte[] a = new byte[family == 4 ? 4 : 16];
            byte[] b = new byte[a.length];
            random.nextBytes(a);
            random.nextBytes(b);
            if (family == 4) {
                a[0] = (byte) 192; a[1] = 0; a[2] = 2;             // 192.0.2.0/24
                b[0] = (byte) 198; b[1] = 51; b[2] = 100;          // 198.51.100.0/24
            } else {
                a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = (byte) 0xb8; a[4] = 0; a[5] = 1;   // 2001:db8:1::/48
                b[0] = 0x20; b[1] = 0x01; b[2] = 0x0d; b[3] = (byte) 0xb8; b[4] = 0; b[5] = 2;   // 2001:db8:2::/48
            }
            int natPort = 1024 + random.nextInt(60000);
            if (natPort == 4500) {
                natPort++;
            }
            try {
                return new Tunnel(InetAddress.getByAddress(a), InetAddress.getByAddress(b),
                        flowsecBehindNat ? natPort : 4500, flowsecBehindNat ? 4500 : natPort);
            } catch (UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }

        OuterEndpoints flowsecEndpoints(boolean udp) {
            return udp ? OuterEndpoints.udp(flowsec, scapy, flowsecPort, scapyPort) : OuterEndpoints.esp(flowsec, scapy);
        }

        ObjectNode json(boolean scapySends) {
            ObjectNode outer = ScapyPeer.JSON.createObjectNode();
            outer.put("src", (scapySends ? scapy : flowsec).getHostAddress());
            outer.put("dst", (scapySends ? flowsec : scapy).getHostAddress());
            outer.put("sport", scapySends ? scapyPort : flowsecPort);
            outer.put("dport", scapySends ? flowsecPort : scapyPort);
            return outer;
        }
    }

    /** One SA's worth of state shared by the flowsec end and the scapy job. */
    record Association(Setup setup, Keys keys, int spi, Tunnel tunnel) {
        static Association random(Setup setup, Random random, boolean flowsecBehindNat) {
            int spi;
            do {
                spi = random.nextInt();
            } while (Integer.compareUnsigned(spi, 256) < 0);
            return new Association(setup, Keys.random(setup.suite(), random), spi,
                    Tunnel.random(setup.family(), random, flowsecBehindNat));
        }

        ObjectNode job(String id, String op, boolean scapySends) {
            ObjectNode job = ScapyPeer.JSON.createObjectNode();
            job.put("id", id);
            job.put("op", op);
            job.put("suite", setup.suite().configName());
            job.put("spi", Integer.toUnsignedLong(spi));
            job.put("encryptionKey", HEX.formatHex(keys.encryption()));
            job.put("integrityKey", HEX.formatHex(keys.integrity()));
            job.put("esn", setup.esn());
            job.put("udp", setup.udp());
            job.set("outer", tunnel.json(scapySends));
            return job;
        }

        SecurityAssociation sa(SecurityAssociation.Direction direction, long initialSequence) {
            return SecurityAssociation.builder()
                    .name("scapy-" + direction.name().toLowerCase())
                    .spi(spi)
                    .direction(direction)
                    .suite(setup.suite())
                    .encryptionKey(keys.encryption())
                    .integrityKey(keys.integrity())
                    .extendedSequenceNumbers(setup.esn())
                    .outer(tunnel.flowsecEndpoints(setup.udp()))
                    .initialSequence(initialSequence)
                    .build();
        }

        /** flowsec receiving from scapy: the inbound SA alone (the SPD plays no part inbound). */
        EspProcessor receiver() {
            SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
            sad.add(sa(SecurityAssociation.Direction.INBOUND, 0));
            return new EspProcessor(new SecurityPolicyDatabase(), sad, EspProcessor.Framing.IP);
        }

        /** flowsec sending to scapy: one protect policy for everything, an SA group of one. */
        EspProcessor sender(long initialSequence) {
            SecurityAssociation sa = sa(SecurityAssociation.Direction.OUTBOUND, initialSequence);
            SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
            sad.add(sa);
            SaGroup group = new SaGroup(List.of(sa), FlowEncoding.SPI);
            SecurityPolicy policy = new SecurityPolicy("to-scapy", TrafficSelector.ANY, PolicyAction.PROTECT, group);
            return new EspProcessor(new SecurityPolicyDatabase(List.of(policy)), sad, EspProcessor.Framing.IP);
        }
    }

    private static final int RANDOM_LENGTHS = 8;
    private static final int PACKETS_PER_DIRECTION = 16 + 16 + 2 + RANDOM_LENGTHS;
    private static final String INNER_LENGTHS = InnerPackets.MIN_IPV4 + " to " + InnerPackets.MAX
            + " bytes, IPv4 and IPv6, every padding length";

    /**
     * The inner packets of one direction: 16 consecutive IPv4 lengths from the smallest (one payload byte), 16
     * consecutive IPv6 lengths up to 1500, the smallest IPv6 and the largest IPv4 packet, and 8 random ones. Sixteen
     * consecutive lengths give every padding length of a 16-byte block and of the 4-byte alignment.
     */
    private static List<byte[]> innerPackets(Random random) {
        List<byte[]> packets = new ArrayList<>();
        for (int length = InnerPackets.MIN_IPV4; length < InnerPackets.MIN_IPV4 + 16; length++) {
            packets.add(InnerPackets.udp(random, 4, length));
        }
        for (int length = InnerPackets.MAX - 15; length <= InnerPackets.MAX; length++) {
            packets.add(InnerPackets.udp(random, 6, length));
        }
        packets.add(InnerPackets.udp(random, 6, InnerPackets.MIN_IPV6));
        packets.add(InnerPackets.udp(random, 4, InnerPackets.MAX));
        for (int i = 0; i < RANDOM_LENGTHS; i++) {
            int family = random.nextBoolean() ? 4 : 6;
            int min = InnerPackets.minimum(family);
            packets.add(InnerPackets.udp(random, family, min + random.nextInt(InnerPackets.MAX - min + 1)));
        }
        return packets;
    }

    /**
     * Sequence numbers scapy sends: a run from 1, then jumps that walk the receiver's window to the top of the
     * 32-bit space; with ESN on across it into the next 2^32 subspace (2^32 itself travels as low half 0).
     */
    private static long[] scapySequences(int count, boolean esn) {
        long[] tail = esn
                ? new long[] {0x8000_0000L, 0xFFFF_FFFBL, 0xFFFF_FFFCL, 0xFFFF_FFFDL, 0xFFFF_FFFEL, 0xFFFF_FFFFL,
                        0x1_0000_0000L, 0x1_0000_0001L, 0x1_0000_0002L, 0x1_0000_0010L}
                : new long[] {0x8000_0000L, 0xFFFF_FFFEL, 0xFFFF_FFFFL};
        long[] sequences = new long[count];
        int run = count - tail.length;
        for (int i = 0; i < run; i++) {
            sequences[i] = i + 1;
        }
        System.arraycopy(tail, 0, sequences, run, tail.length);
        return sequences;
    }

    /** flowsec's outbound counter starts so the batch ends at 2^32 - 1 (no ESN) or crosses 2^32 (ESN). */
    private static long flowsecInitialSequence(int count, boolean esn) {
        return esn ? 0xFFFF_FFFFL - count / 2 : 0xFFFF_FFFFL - count;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Both directions

    @TestFactory
    @DisplayName("for every suite, encapsulation, outer family and ESN setting, each side decrypts what the other encrypted")
    Stream<DynamicNode> eachSideDecryptsWhatTheOtherEncrypted() {
        return withScapy(() -> Arrays.stream(EspSuite.values()).map(suite -> {
            Supplier<InteropBatch> batch = once(() -> InteropBatch.run(suite));
            return dynamicContainer(suite.configName(), setups(suite).stream().map(setup -> {
                String why = unsupported(setup);
                if (why != null) {
                    return dynamicContainer(setup.describe(), Stream.of(cannotDo(setup, why)));
                }
                return dynamicContainer(setup.describe(), Stream.of(
                        dynamicTest("scapy encrypts " + PACKETS_PER_DIRECTION + " inner packets (" + INNER_LENGTHS
                                        + ") and flowsec decrypts each one byte for byte",
                                () -> batch.get().checkScapyToFlowsec(setup)),
                        dynamicTest("flowsec encrypts " + PACKETS_PER_DIRECTION + " inner packets (" + INNER_LENGTHS
                                        + ") and scapy decrypts each one byte for byte",
                                () -> batch.get().checkFlowsecToScapy(setup))));
            }));
        }));
    }

    /** All jobs of one suite, sent to scapy in one process. */
    private static final class InteropBatch {
        private final Map<Setup, Association> inboundAssociations = new java.util.HashMap<>();
        private final Map<Setup, List<byte[]>> inboundInner = new java.util.HashMap<>();
        private final Map<Setup, long[]> inboundSequences = new java.util.HashMap<>();
        private final Map<Setup, Association> outboundAssociations = new java.util.HashMap<>();
        private final Map<Setup, List<byte[]>> outboundInner = new java.util.HashMap<>();
        private final Map<Setup, List<Packet>> outboundSent = new java.util.HashMap<>();
        private final Map<Setup, List<String>> outboundProblems = new java.util.HashMap<>();
        private Map<String, JsonNode> answers;

        static InteropBatch run(EspSuite suite) {
            InteropBatch batch = new InteropBatch();
            Random random = new Random(SEED * 31 + suite.ordinal());
            List<ObjectNode> jobs = new ArrayList<>();
            for (Setup setup : setups(suite)) {
                if (unsupported(setup) != null) {
                    continue;
                }
                // scapy -> flowsec
                Association in = Association.random(setup, random, false);
                List<byte[]> inner = innerPackets(random);
                long[] sequences = scapySequences(inner.size(), setup.esn());
                ObjectNode job = in.job(setup.id() + "/scapy-encrypts", "encrypt", true);
                ArrayNode packets = job.putArray("packets");
                for (int i = 0; i < inner.size(); i++) {
                    packets.addObject()
                            .put("inner", HEX.formatHex(inner.get(i)))
                            .put("seq", sequences[i] & 0xFFFF_FFFFL)
                            .put("esnHigh", sequences[i] >>> 32);
                }
                jobs.add(job);
                batch.inboundAssociations.put(setup, in);
                batch.inboundInner.put(setup, inner);
                batch.inboundSequences.put(setup, sequences);

                // flowsec -> scapy
                Association out = Association.random(setup, random, true);
                List<byte[]> outInner = innerPackets(random);
                EspProcessor sender = out.sender(flowsecInitialSequence(outInner.size(), setup.esn()));
                List<Packet> sent = new ArrayList<>();
                List<String> problems = new ArrayList<>();
                ObjectNode decryptJob = out.job(setup.id() + "/scapy-decrypts", "decrypt", false);
                ArrayNode toDecrypt = decryptJob.putArray("packets");
                for (int i = 0; i < outInner.size(); i++) {
                    Packet packet = Packet.withRoomFor(SLOT);
                    packet.load(outInner.get(i), 0, outInner.get(i).length);
                    Outcome outcome = sender.encapsulate(packet);
                    if (outcome != Outcome.ACCEPTED) {
                        problems.add("packet " + i + " (" + outInner.get(i).length + " bytes): flowsec did not encrypt it: " + outcome);
                    }
                    sent.add(packet);
                    toDecrypt.addObject()
                            .put("outer", HEX.formatHex(packet.toByteArray()))
                            .put("esnHigh", packet.sequenceNumber() >>> 32);
                }
                // the control: the first packet again with one ICV bit flipped, which scapy must refuse
                toDecrypt.addObject()
                        .put("outer", HEX.formatHex(sent.getFirst().toByteArray()))
                        .put("esnHigh", sent.getFirst().sequenceNumber() >>> 32)
                        .put("mutate", "flip-icv");
                jobs.add(decryptJob);
                batch.outboundAssociations.put(setup, out);
                batch.outboundInner.put(setup, outInner);
                batch.outboundSent.put(setup, sent);
                batch.outboundProblems.put(setup, problems);
            }
            batch.answers = scapy.batch(jobs);
            return batch;
        }

        void checkScapyToFlowsec(Setup setup) {
            Association association = inboundAssociations.get(setup);
            List<byte[]> inner = inboundInner.get(setup);
            long[] sequences = inboundSequences.get(setup);
            JsonNode results = answers.get(setup.id() + "/scapy-encrypts");
            Problems problems = new Problems(setup.suite().configName() + ", " + setup.describe()
                    + ": scapy -> flowsec, SPI 0x" + Integer.toHexString(association.spi()));
            if (results == null || results.size() != inner.size()) {
                fail("scapy answered " + (results == null ? "nothing" : results.size() + " packets") + " for "
                        + inner.size() + seedNote());
            }
            EspProcessor receiver = association.receiver();
            for (int i = 0; i < inner.size(); i++) {
                String what = "packet " + i + " (IPv" + (inner.get(i)[0] >> 4 & 0xF) + ", " + inner.get(i).length
                        + " bytes, seq 0x" + Long.toHexString(sequences[i]) + ")";
                JsonNode result = results.get(i);
                if (!result.path("ok").asBoolean()) {
                    problems.add(what + ": scapy could not encrypt it: " + result.path("error").asText());
                    continue;
                }
                Packet packet = Packet.withRoomFor(SLOT);
                byte[] outer = HEX.parseHex(result.path("outer").asText());
                packet.load(outer, 0, outer.length);
                Outcome outcome = receiver.decapsulate(packet);
                if (outcome != Outcome.ACCEPTED) {
                    problems.add(what + ": flowsec dropped it as " + outcome);
                    continue;
                }
                problems.compare(what, inner.get(i), packet.toByteArray());
                if (packet.sequenceNumber() != sequences[i]) {
                    problems.add(what + ": flowsec inferred sequence number 0x" + Long.toHexString(packet.sequenceNumber()));
                }
            }
            problems.assertNone();
        }

        void checkFlowsecToScapy(Setup setup) {
            Association association = outboundAssociations.get(setup);
            List<byte[]> inner = outboundInner.get(setup);
            List<Packet> sent = outboundSent.get(setup);
            JsonNode results = answers.get(setup.id() + "/scapy-decrypts");
            Problems problems = new Problems(setup.suite().configName() + ", " + setup.describe()
                    + ": flowsec -> scapy, SPI 0x" + Integer.toHexString(association.spi()));
            outboundProblems.get(setup).forEach(problems::add);
            if (results == null || results.size() != inner.size() + 1) {
                fail("scapy answered " + (results == null ? "nothing" : results.size() + " packets") + " for "
                        + (inner.size() + 1) + seedNote());
            }
            int alignment = setup.suite().alignment();
            for (int i = 0; i < inner.size(); i++) {
                Packet packet = sent.get(i);
                int family = inner.get(i)[0] >> 4 & 0xF;
                String what = "packet " + i + " (IPv" + family + ", " + inner.get(i).length + " bytes, seq 0x"
                        + Long.toHexString(packet.sequenceNumber()) + ")";
                JsonNode result = results.get(i);
                if (!result.path("ok").asBoolean()) {
                    problems.add(what + ": scapy refused it: " + result.path("error").asText());
                    continue;
                }
                problems.compare(what, inner.get(i), HEX.parseHex(result.path("inner").asText()));
                if (result.path("spi").asLong() != Integer.toUnsignedLong(association.spi())) {
                    problems.add(what + ": scapy read SPI 0x" + Long.toHexString(result.path("spi").asLong()));
                }
                if (result.path("seq").asLong() != (packet.sequenceNumber() & 0xFFFF_FFFFL)) {
                    problems.add(what + ": scapy read sequence number " + result.path("seq").asLong());
                }
                int expectedPad = Math.floorMod(-(inner.get(i).length + 2), alignment);
                if (result.path("padLength").asInt() != expectedPad) {
                    problems.add(what + ": scapy read pad length " + result.path("padLength").asInt() + ", expected "
                            + expectedPad + " (RFC 4303 §2.4, " + alignment + "-byte alignment)");
                }
                byte[] padding = HEX.parseHex(result.path("padding").asText());
                for (int p = 0; p < padding.length; p++) {
                    if (padding[p] != (byte) (p + 1)) {
                        problems.add(what + ": padding " + HEX.formatHex(padding) + " is not 1, 2, 3, ... (RFC 4303 §2.4)");
                        break;
                    }
                }
                int expectedNext = family == 4 ? 4 : 41;
                if (result.path("nextHeader").asInt() != expectedNext) {
                    problems.add(what + ": scapy read next header " + result.path("nextHeader").asInt()
                            + ", expected " + expectedNext);
                }
                for (JsonNode outerProblem : result.path("outerProblems")) {
                    problems.add(what + ": outer header: " + outerProblem.asText());
                }
            }
            JsonNode control = results.get(inner.size());
            if (control.path("ok").asBoolean() || !control.path("integrity").asBoolean()) {
                problems.add("control: scapy did not report an integrity failure for a flowsec packet with a "
                        + "flipped ICV bit (" + control + "), so its acceptance of the others proves nothing");
            }
            problems.assertNone();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Broken packets

    /** What a broken-packet step is about, for grouping the steps into tests. */
    enum Kind { GENUINE, TAMPERED, TRUNCATED, REPLAYED, UNKNOWN_SPI }

    /**
     * One packet of the broken-packet sequence. A step with {@code replayOf >= 0} sends the bytes of that earlier
     * step again; every other step is a packet scapy encrypts with sequence number {@code seq}, then optionally breaks.
     */
    record Step(Kind kind, String description, long seq, String mutation, boolean otherSpi, boolean unrepaired,
                int replayOf, Outcome expected) {
        static Step genuine(String description, long seq) {
            return new Step(Kind.GENUINE, description, seq, null, false, false, -1, Outcome.ACCEPTED);
        }

        static Step broken(Kind kind, String description, long seq, String mutation, Outcome expected) {
            return new Step(kind, description, seq, mutation, false, false, -1, expected);
        }

        static Step replay(String description, int of, Outcome expected) {
            return new Step(Kind.REPLAYED, description, 0, null, false, false, of, expected);
        }
    }

    private static List<Step> brokenSequence(Setup setup) {
        boolean hasIv = setup.suite().ivLength() > 0;
        int blockCut = Math.max(setup.suite().alignment(), 4);
        List<Step> steps = new ArrayList<>();
        steps.add(Step.genuine("a genuine packet, sequence number 1", 1));                                        // 0
        steps.add(Step.broken(Kind.TAMPERED, "one bit of the ciphertext flipped", 2, "flip-ciphertext", Outcome.AUTHENTICATION_FAILED));
        steps.add(Step.genuine("the genuine packet 2 after its forgery (a forgery must not use up the number)", 2)); // 2
        steps.add(Step.broken(Kind.TAMPERED, "one bit of the ICV flipped", 3, "flip-icv", Outcome.AUTHENTICATION_FAILED));
        if (hasIv) {
            steps.add(Step.broken(Kind.TAMPERED, "one bit of the IV flipped", 3, "flip-iv", Outcome.AUTHENTICATION_FAILED));
        }
        steps.add(Step.broken(Kind.TAMPERED, "sequence number field changed after the ICV was computed", 3, "sequence+1",
                Outcome.AUTHENTICATION_FAILED));
        int genuineThree = steps.size();
        steps.add(Step.genuine("the genuine packet 3", 3));
        steps.add(Step.replay("packet 3 sent again", genuineThree, Outcome.REPLAY));
        steps.add(Step.replay("packet 1 sent again", 0, Outcome.REPLAY));
        steps.add(Step.broken(Kind.TRUNCATED, "ESP one byte short (outer lengths fixed): off the " + setup.suite().alignment()
                + "-byte alignment", 4, "cut-esp-1", Outcome.MALFORMED));
        steps.add(Step.broken(Kind.TRUNCATED, "ESP " + blockCut + " bytes short (outer lengths fixed): aligned, so only the ICV can tell",
                4, "cut-esp-block", Outcome.AUTHENTICATION_FAILED));
        steps.add(Step.broken(Kind.TRUNCATED, "ESP header, IV and ICV without payload or trailer", 4, "esp-headers-only", Outcome.MALFORMED));
        steps.add(Step.broken(Kind.TRUNCATED, "ESP cut to 6 bytes, shorter than its header", 4, "esp-6-bytes", Outcome.MALFORMED));
        steps.add(Step.broken(Kind.TRUNCATED, "outer packet one byte short, its length fields unchanged", 4, "cut-raw-1", Outcome.MALFORMED));
        if (setup.udp() && setup.family() == 4 && !scapy.natTIpv4UdpLengthRight()) {
            steps.add(new Step(Kind.TRUNCATED, "scapy's own ESP-in-UDP/IPv4 output unrepaired: its UDP length 8 leaves no ESP",
                    4, null, false, true, -1, Outcome.MALFORMED));
        }
        steps.add(new Step(Kind.UNKNOWN_SPI, "encrypted by scapy under an SPI flowsec does not know", 4, null, true, false,
                -1, Outcome.UNKNOWN_SPI));
        steps.add(Step.genuine("the genuine packet 4 after all the broken ones", 4));
        int far = steps.size();
        steps.add(Step.genuine("a genuine packet far ahead, 5000", 5000));
        steps.add(Step.genuine("a genuine late packet inside the window, 4990", 4990));
        steps.add(Step.replay("packet 5000 sent again", far, Outcome.REPLAY));
        if (setup.esn()) {
            // RFC 4303 A2: with ESN a low half left of the window is taken for the next 2^32 subspace; the ICV decides
            steps.add(new Step(Kind.REPLAYED, "a never-seen packet 10, left of the window: with ESN taken for 2^32 + 10",
                    10, null, false, false, -1, Outcome.AUTHENTICATION_FAILED));
        } else {
            steps.add(new Step(Kind.REPLAYED, "a never-seen packet 10, left of the 1024-packet window", 10, null, false, false,
                    -1, Outcome.REPLAY_TOO_OLD));
        }
        steps.add(Step.genuine("a genuine packet 5001 after everything", 5001));
        return steps;
    }

    @TestFactory
    @DisplayName("flowsec drops broken packets made by scapy, each for the right reason")
    Stream<DynamicNode> flowsecDropsBrokenScapyPacketsForTheRightReason() {
        return withScapy(() -> Arrays.stream(EspSuite.values()).map(suite -> {
            Supplier<BrokenBatch> batch = once(() -> BrokenBatch.run(suite));
            return dynamicContainer(suite.configName(), setups(suite).stream().map(setup -> {
                String why = unsupported(setup);
                if (why != null) {
                    return dynamicContainer(setup.describe(), Stream.of(cannotDo(setup, why)));
                }
                Executable tampered = () -> batch.get().check(setup, Kind.TAMPERED);
                return dynamicContainer(setup.describe(), Stream.of(
                        dynamicTest("tampered packets (ciphertext, ICV, " + (setup.suite().ivLength() > 0 ? "IV, " : "")
                                + "sequence number) are dropped as AUTHENTICATION_FAILED", tampered),
                        dynamicTest("truncated packets are dropped as MALFORMED, or as AUTHENTICATION_FAILED when the cut keeps the alignment",
                                () -> batch.get().check(setup, Kind.TRUNCATED)),
                        dynamicTest("replayed packets are dropped as REPLAY, and a packet left of the window "
                                        + (setup.esn() ? "fails authentication (ESN reads it as the next subspace)" : "as REPLAY_TOO_OLD"),
                                () -> batch.get().check(setup, Kind.REPLAYED)),
                        dynamicTest("a packet under an unknown SPI is dropped as UNKNOWN_SPI",
                                () -> batch.get().check(setup, Kind.UNKNOWN_SPI)),
                        dynamicTest("genuine packets between the broken ones are accepted byte for byte",
                                () -> batch.get().check(setup, Kind.GENUINE))));
            }));
        }));
    }

    private static final class BrokenBatch {
        private final Map<Setup, List<Step>> steps = new java.util.HashMap<>();
        private final Map<Setup, List<Outcome>> outcomes = new java.util.HashMap<>();
        private final Map<Setup, List<String>> notes = new java.util.HashMap<>();
        private final Map<Setup, Association> associations = new java.util.HashMap<>();

        static BrokenBatch run(EspSuite suite) {
            BrokenBatch batch = new BrokenBatch();
            Random random = new Random(SEED * 37 + suite.ordinal() + 1000);
            List<ObjectNode> jobs = new ArrayList<>();
            Map<Setup, List<byte[]>> inners = new java.util.HashMap<>();
            for (Setup setup : setups(suite)) {
                if (unsupported(setup) != null) {
                    continue;
                }
                Association association = Association.random(setup, random, false);
                int otherSpi;
                do {
                    otherSpi = random.nextInt();
                } while (otherSpi == association.spi() || Integer.compareUnsigned(otherSpi, 256) < 0);
                List<Step> sequence = brokenSequence(setup);
                List<byte[]> inner = new ArrayList<>();
                ObjectNode job = association.job(setup.id() + "/broken", "encrypt", true);
                ArrayNode packets = job.putArray("packets");
                for (Step step : sequence) {
                    int family = random.nextBoolean() ? 4 : 6;
                    byte[] packet = InnerPackets.udp(random, family, 100 + random.nextInt(500));
                    inner.add(packet);
                    if (step.replayOf() >= 0) {
                        continue;
                    }
                    ObjectNode spec = packets.addObject()
                            .put("inner", HEX.formatHex(packet))
                            .put("seq", step.seq() & 0xFFFF_FFFFL)
                            .put("esnHigh", step.seq() >>> 32);
                    if (step.mutation() != null) {
                        spec.put("mutate", step.mutation());
                    }
                    if (step.otherSpi()) {
                        spec.put("spi", Integer.toUnsignedLong(otherSpi));
                    }
                    if (step.unrepaired()) {
                        spec.put("repairUdpLength", false);
                    }
                }
                jobs.add(job);
                batch.steps.put(setup, sequence);
                batch.associations.put(setup, association);
                inners.put(setup, inner);
            }
            Map<String, JsonNode> answers = scapy.batch(jobs);
            for (Map.Entry<Setup, List<Step>> entry : batch.steps.entrySet()) {
                Setup setup = entry.getKey();
                List<Step> sequence = entry.getValue();
                JsonNode results = answers.get(setup.id() + "/broken");
                EspProcessor receiver = batch.associations.get(setup).receiver();
                List<byte[]> sentBytes = new ArrayList<>();
                List<Outcome> outcomes = new ArrayList<>();
                List<String> notes = new ArrayList<>();
                int next = 0;
                for (int i = 0; i < sequence.size(); i++) {
                    Step step = sequence.get(i);
                    byte[] outer;
                    if (step.replayOf() >= 0) {
                        outer = sentBytes.get(step.replayOf());
                    } else {
                        JsonNode result = results.get(next++);
                        if (result == null || !result.path("ok").asBoolean()) {
                            sentBytes.add(null);
                            outcomes.add(null);
                            notes.add("scapy could not make it: " + (result == null ? "no answer" : result.path("error").asText()));
                            continue;
                        }
                        outer = HEX.parseHex(result.path("outer").asText());
                    }
                    sentBytes.add(outer);
                    Packet packet = Packet.withRoomFor(SLOT);
                    packet.load(outer, 0, outer.length);
                    Outcome outcome = receiver.decapsulate(packet);
                    outcomes.add(outcome);
                    String note = "";
                    if (outcome == Outcome.ACCEPTED && step.kind() == Kind.GENUINE) {
                        byte[] expected = inners.get(setup).get(i);
                        byte[] actual = packet.toByteArray();
                        if (!Arrays.equals(expected, actual)) {
                            note = "inner packet differs: " + firstDifference(expected, actual);
                        }
                    }
                    notes.add(note);
                }
                batch.outcomes.put(setup, outcomes);
                batch.notes.put(setup, notes);
            }
            return batch;
        }

        void check(Setup setup, Kind kind) {
            List<Step> sequence = steps.get(setup);
            Problems problems = new Problems(setup.suite().configName() + ", " + setup.describe()
                    + ": broken packets from scapy, SPI 0x" + Integer.toHexString(associations.get(setup).spi()));
            int checked = 0;
            for (int i = 0; i < sequence.size(); i++) {
                Step step = sequence.get(i);
                if (step.kind() != kind) {
                    continue;
                }
                checked++;
                Outcome actual = outcomes.get(setup).get(i);
                String note = notes.get(setup).get(i);
                if (actual != step.expected()) {
                    problems.add("step " + i + ", " + step.description() + ": expected " + step.expected() + ", got "
                            + (actual == null ? "nothing" : actual) + (note.isEmpty() ? "" : " (" + note + ")"));
                } else if (!note.isEmpty()) {
                    problems.add("step " + i + ", " + step.description() + ": " + note);
                }
            }
            if (checked == 0) {
                problems.add("no step of kind " + kind + " (the test itself is broken)");
            }
            problems.assertNone();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** Collects every problem of one test, so a failure shows all of them at once. */
    private static final class Problems {
        private final String context;
        private final List<String> lines = new ArrayList<>();

        Problems(String context) {
            this.context = context;
        }

        void add(String line) {
            lines.add(line);
        }

        void compare(String what, byte[] expected, byte[] actual) {
            if (!Arrays.equals(expected, actual)) {
                lines.add(what + ": inner packet differs: " + firstDifference(expected, actual));
            }
        }

        void assertNone() {
            if (!lines.isEmpty()) {
                StringBuilder message = new StringBuilder(context).append(": ").append(lines.size()).append(" problem(s)")
                        .append(seedNote());
                lines.stream().limit(20).forEach(line -> message.append("\n  ").append(line));
                if (lines.size() > 20) {
                    message.append("\n  ...");
                }
                fail(message.toString());
            }
        }
    }

    private static String firstDifference(byte[] expected, byte[] actual) {
        int common = Math.min(expected.length, actual.length);
        for (int i = 0; i < common; i++) {
            if (expected[i] != actual[i]) {
                return "byte " + i + " is 0x" + HEX.toHexDigits(actual[i]) + ", expected 0x" + HEX.toHexDigits(expected[i])
                        + " (lengths " + actual.length + " and " + expected.length + ")";
            }
        }
        return "length " + actual.length + ", expected " + expected.length;
    }

    /** A value computed on first use (the first test of a suite runs scapy), its failure remembered for the rest. */
    private static <T> Supplier<T> once(Supplier<T> supplier) {
        return new Supplier<>() {
            private T value;
            private Throwable failure;

            @Override
            public synchronized T get() {
                if (value == null && failure == null) {
                    try {
                        value = supplier.get();
                    } catch (RuntimeException | Error e) {
                        failure = e;
                    }
                }
                if (failure instanceof RuntimeException e) {
                    throw e;
                }
                if (failure instanceof Error e) {
                    throw e;
                }
                return value;
            }
        };
    }
}
