package io.flowsec.dataplane.bench;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.FlowletTable;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.esp.LaneCounters;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.sa.ReplayWindow;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.EspView;
import io.flowsec.dataplane.packet.IpProtocol;
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
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Encapsulation and decapsulation per core, against the bare JDK doing the same cipher work (the ceiling).
 * <p>
 * Throughput mode: one op is one packet, so the score is packets per second on one core; {@code summarise.py} turns it
 * into Gbit/s of inner bytes. {@code size} is the INNER IP packet's total length (an IPv4/UDP packet).
 * <ol>
 *   <li>{@link #encapsulate}: copy the inner packet into the lane's slot ({@link Packet#load}) and run the whole
 *       outbound path of {@link EspProcessor} (selectors, SPD, flow ID, SA group, sequence number, padding, header,
 *       IV, encryption, ICV, counters) with {@link EspProcessor.Framing#ESP}, as a lane that sends over a UDP socket.</li>
 *   <li>{@link #encapsulateInLane}: the same, as a data plane's lane runs it: the SA from the lane's own table of the
 *       group ({@link io.flowsec.dataplane.esp.FlowletTable}, nothing pending) and a batch start (one clock read)
 *       every {@value #LANE_BATCH} packets.</li>
 *   <li>{@link #decapsulate}: copy the next ESP packet of a ring of {@value #RING} pre-encrypted packets (consecutive
 *       sequence numbers) into the slot and run {@link EspProcessor#decapsulateEsp} (SA by SPI, replay check, ICV,
 *       decryption, commit, padding, inner header, selectors, counters). When the ring wraps, the inbound SA's replay
 *       window is reset (once per {@value #RING} ops).</li>
 *   <li>{@link #jdkCeilingSeal} / {@link #jdkCeilingOpen}: the same copy and the same cipher work done the natural
 *       JDK way, and nothing else. GCM: {@code Cipher.init} with a fresh {@link GCMParameterSpec}, {@code updateAAD}
 *       of SPI || sequence (8 bytes), {@code doFinal} in place over payload + padding + trailer (+ tag when opening).
 *       CBC+HMAC: {@code AES/CBC/NoPadding} init + doFinal, {@code Mac("HmacSHA1")} over header, IV and ciphertext,
 *       {@code doFinal()} truncated to 12 bytes. The ceiling writes the ESP header and trailer too (a few stores) but
 *       skips the engine's unpredictable-IV generation for CBC (its IV is the counter). The engine's CBC keeps its
 *       ciphers initialised and its HMAC allocation-free, so it can beat this ceiling; GCM cannot avoid the JDK's
 *       per-packet init.
 *       The ceiling opens the very packets the engine sealed, so it also checks the engine's output independently.</li>
 * </ol>
 * Correctness is asserted before measuring: the engine's packet opens with the bare JDK and decapsulates to the same
 * inner bytes, and the ceiling's packet decapsulates with the engine; a failure throws. After every iteration the
 * lanes' counters must show no outcome but {@link Outcome#ACCEPTED}, so a dropping engine cannot post a fast score.
 * ESN is off (the ceiling's AAD is the 8-byte SPI || sequence), so the outbound SA's counter stops at 2^32 - 1, about
 * 20 minutes at a few million packets per second: before an iteration starts, an SA that has used half of it is
 * replaced by a fresh one (never, with the default one-second iterations).
 * <p>
 * Run with {@code ./flowsec jmh EspBenchmark -prof gc -rf json -rff esp.json}, then
 * {@code python3 dataplane-native/src/jmh/summarise.py esp.json}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Thread)
public class EspBenchmark {
    /** Pre-encrypted packets for the inbound benchmarks: 64 × 9 kB stays in L2, as the one inner packet does outbound. */
    static final int RING = 64;

    private static final long REBUILD_AFTER_SEQUENCE = 1L << 31;
    /** Packets per batch of {@link #encapsulateInLane}: a lane's batch. */
    static final int LANE_BATCH = 64;
    private static final Outcome[] OUTCOMES = Outcome.values();
    private static final int OUTBOUND_SPI = 0x0000_1001;
    private static final byte[] SITE_A = {10, 1, 0, 1};
    private static final byte[] SITE_B = {10, 2, 0, 1};
    /** Where the ESP packet starts in the slot when decapsulating, and the inner packet when encapsulating. */
    private static final int SLOT_OFFSET = Packet.DEFAULT_HEADROOM;

    @Param({"64", "128", "256", "512", "1024", "1400", "9000"})
    public int size;

    @Param({"aes-gcm-128", "aes-cbc-128-hmac-sha1-96"})
    public String suite;

    private EspSuite espSuite;
    private byte[] encryptionKey;
    private byte[] integrityKey;
    private byte[] inner;
    private Packet slot;

    // engine, outbound (rebuilt when its SA has used half of its counter) and inbound
    private EspProcessor encapsulator;
    private EspProcessor laneEncapsulator;
    private int laneBatchPackets;
    private SecurityAssociation outboundSa;
    private EspProcessor decapsulator;
    private ReplayWindow inboundWindow;
    private byte[][] ring;
    private int decapsulateNext;

    // an independent inbound lane that checks packets without touching the measured one
    private EspProcessor checker;
    private ReplayWindow checkerWindow;

    // the bare JDK ceiling
    private boolean gcm;
    private SecretKeySpec cipherKey;
    private Cipher cipher;
    private Mac mac;
    private final byte[] nonce = new byte[12];
    private int ivLength;
    private int icvLength;
    private int paddedLength;
    private int padLength;
    private long ceilingSequence;
    private int ceilingOpenNext;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        espSuite = EspSuite.fromConfigName(suite);
        gcm = espSuite.kind() == EspSuite.Kind.AEAD_GCM;
        if (!gcm && espSuite.kind() != EspSuite.Kind.CBC_HMAC_SHA1) {
            throw new IllegalArgumentException("the ceiling is written for AES-GCM and AES-CBC+HMAC-SHA1 only: " + suite);
        }
        Random random = new Random(4303);
        encryptionKey = new byte[espSuite.encryptionKeyLength()];
        random.nextBytes(encryptionKey);
        integrityKey = espSuite.integrityKeyLength() == 0 ? null : new byte[espSuite.integrityKeyLength()];
        if (integrityKey != null) {
            random.nextBytes(integrityKey);
        }
        ivLength = espSuite.ivLength();
        icvLength = espSuite.icvLength();
        int alignment = espSuite.alignment();
        paddedLength = (size + EspView.TRAILER_LENGTH + alignment - 1) / alignment * alignment;
        padLength = paddedLength - size - EspView.TRAILER_LENGTH;

        inner = innerPacket(size, random);
        slot = Packet.withRoomFor(size + espSuite.maxOverhead());

        SecurityAssociation inbound = buildInboundSa();
        SecurityAssociationDatabase inboundSad = new SecurityAssociationDatabase();
        inboundSad.add(inbound);
        decapsulator = new EspProcessor(new SecurityPolicyDatabase(), inboundSad, EspProcessor.Framing.ESP);
        inboundWindow = inbound.replayWindow();

        SecurityAssociation checkSa = buildInboundSa();
        SecurityAssociationDatabase checkSad = new SecurityAssociationDatabase();
        checkSad.add(checkSa);
        checker = new EspProcessor(new SecurityPolicyDatabase(), checkSad, EspProcessor.Framing.ESP);
        checkerWindow = checkSa.replayWindow();

        // the ring: RING packets sealed by an engine lane, sequence numbers 1..RING
        EspProcessor producer = buildEncapsulator(buildOutboundSa());
        ring = new byte[RING][];
        for (int i = 0; i < RING; i++) {
            slot.load(inner, 0, size);
            require(producer.encapsulate(slot) == Outcome.ACCEPTED, "the ring's packet " + i + " was not encapsulated");
            ring[i] = slot.toByteArray();
        }

        cipherKey = new SecretKeySpec(encryptionKey, 0, espSuite.cipherKeyLength(), "AES");
        if (gcm) {
            cipher = Cipher.getInstance("AES/GCM/NoPadding");
            System.arraycopy(encryptionKey, espSuite.cipherKeyLength(), nonce, 0, 4);
        } else {
            cipher = Cipher.getInstance("AES/CBC/NoPadding");
            mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(integrityKey, "HmacSHA1"));
        }

        verify();
    }

    /** Throws unless engine and ceiling agree, both ways, and the measured inbound lane decapsulates the ring. */
    private void verify() throws GeneralSecurityException {
        // the measured inbound lane opens the ring's first packet to the inner bytes
        slot.load(ring[0], 0, ring[0].length);
        require(decapsulator.decapsulateEsp(slot, slot.offset(), slot.length()) == Outcome.ACCEPTED,
                "the engine refused its own packet");
        requireInner(slot.buffer(), slot.offset(), slot.length(), "engine decapsulation");
        inboundWindow.reset();

        // the bare JDK opens the engine's packet: the engine writes real RFC 4106 / RFC 3602+2404 ESP
        int opened = jdkCeilingOpen();
        require(opened == paddedLength, "the ceiling opened " + opened + " bytes, expected " + paddedLength);
        requireInner(slot.buffer(), SLOT_OFFSET + EspView.HEADER_LENGTH + ivLength, size, "JDK decryption of the engine's packet");
        ceilingOpenNext = 0;

        // the engine opens the ceiling's packet: the ceiling does the full ESP work
        jdkCeilingSeal();
        byte[] sealed = Arrays.copyOfRange(slot.buffer(), SLOT_OFFSET - EspView.HEADER_LENGTH - ivLength,
                SLOT_OFFSET + paddedLength + icvLength);
        require(decapsulateWithChecker(sealed), "the engine refused the ceiling's packet");
    }

    /**
     * A fresh outbound lane and SA (counter at 0) once the SA has used half of its 32-bit sequence space, so the next
     * iteration cannot exhaust it (2^31 packets is ten minutes at 3.5 M/s). With the default one-second iterations
     * this happens only in the trial's first iteration, so nothing is allocated between iterations (-prof gc).
     */
    @Setup(Level.Iteration)
    public void freshOutboundSaWhenHalfUsed() {
        if (outboundSa == null || outboundSa.lastSequenceSent() > REBUILD_AFTER_SEQUENCE) {
            newOutboundSa();
        }
    }

    /** A fresh outbound lane and SA, checked with one packet. */
    private void newOutboundSa() {
        outboundSa = buildOutboundSa();
        encapsulator = buildEncapsulator(outboundSa);
        laneEncapsulator = buildLaneEncapsulator(outboundSa);
        slot.load(inner, 0, size);
        require(encapsulator.encapsulate(slot) == Outcome.ACCEPTED, "the engine refused to encapsulate");
        require(slot.length() == EspView.HEADER_LENGTH + ivLength + paddedLength + icvLength, "unexpected ESP length");
        require(decapsulateWithChecker(slot.toByteArray()), "the engine's packet did not decapsulate to the inner packet");
    }

    /** No drop of any kind, in either lane, during the iteration. */
    @TearDown(Level.Iteration)
    public void requireOnlyAccepted() {
        for (Outcome outcome : OUTCOMES) {
            if (outcome == Outcome.ACCEPTED) {
                continue;
            }
            long outbound = encapsulator.counters().total(outcome) + laneEncapsulator.counters().total(outcome);
            long inbound = decapsulator.counters().total(outcome);
            require(outbound == 0 && inbound == 0, "the engine dropped packets in this iteration (" + outcome.label()
                    + ": outbound " + outbound + ", inbound " + inbound + "): its score would be void");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    @Benchmark
    public Outcome encapsulate() {
        slot.load(inner, 0, size);
        return encapsulator.encapsulate(slot);
    }

    @Benchmark
    public Outcome encapsulateInLane() {
        if (laneBatchPackets-- == 0) {
            laneBatchPackets = LANE_BATCH - 1;
            laneEncapsulator.startBatch(System.nanoTime());
        }
        slot.load(inner, 0, size);
        return laneEncapsulator.encapsulate(slot);
    }

    @Benchmark
    public Outcome decapsulate() {
        byte[] esp = ring[decapsulateNext];
        slot.load(esp, 0, esp.length);
        Outcome outcome = decapsulator.decapsulateEsp(slot, slot.offset(), slot.length());
        if (++decapsulateNext == RING) {
            decapsulateNext = 0;
            inboundWindow.reset();
        }
        return outcome;
    }

    /** The inner packet sealed into ESP by the bare JDK: the same copy, header, trailer and cipher work. */
    @Benchmark
    public int jdkCeilingSeal() throws GeneralSecurityException {
        byte[] buffer = slot.buffer();
        int payloadOffset = SLOT_OFFSET;
        int espOffset = payloadOffset - EspView.HEADER_LENGTH - ivLength;
        int ivOffset = espOffset + EspView.HEADER_LENGTH;
        System.arraycopy(inner, 0, buffer, payloadOffset, size);
        int trailerOffset = payloadOffset + size;
        for (int i = 1; i <= padLength; i++) {
            buffer[trailerOffset + i - 1] = (byte) i;
        }
        buffer[trailerOffset + padLength] = (byte) padLength;
        buffer[trailerOffset + padLength + 1] = (byte) IpProtocol.IPV4;
        long sequence = ++ceilingSequence;
        Bytes.i32(buffer, espOffset, OUTBOUND_SPI);
        Bytes.i32(buffer, espOffset + 4, (int) sequence);
        Bytes.i64(buffer, ivOffset, sequence);
        if (gcm) {
            System.arraycopy(buffer, ivOffset, nonce, 4, 8);
            cipher.init(Cipher.ENCRYPT_MODE, cipherKey, new GCMParameterSpec(icvLength * 8, nonce));
            cipher.updateAAD(buffer, espOffset, EspView.HEADER_LENGTH);
            return cipher.doFinal(buffer, payloadOffset, paddedLength, buffer, payloadOffset);
        }
        Bytes.i64(buffer, ivOffset + 8, sequence);
        cipher.init(Cipher.ENCRYPT_MODE, cipherKey, new IvParameterSpec(buffer, ivOffset, ivLength));
        int written = cipher.doFinal(buffer, payloadOffset, paddedLength, buffer, payloadOffset);
        mac.update(buffer, espOffset, EspView.HEADER_LENGTH + ivLength + paddedLength);
        byte[] full = mac.doFinal();
        System.arraycopy(full, 0, buffer, payloadOffset + paddedLength, icvLength);
        return written;
    }

    /** The next ring packet opened by the bare JDK: the same copy, ICV check and decryption. */
    @Benchmark
    public int jdkCeilingOpen() throws GeneralSecurityException {
        byte[] esp = ring[ceilingOpenNext];
        if (++ceilingOpenNext == RING) {
            ceilingOpenNext = 0;
        }
        byte[] buffer = slot.buffer();
        int espOffset = SLOT_OFFSET;
        int ivOffset = espOffset + EspView.HEADER_LENGTH;
        int payloadOffset = ivOffset + ivLength;
        System.arraycopy(esp, 0, buffer, espOffset, esp.length);
        int ciphertextLength = esp.length - EspView.HEADER_LENGTH - ivLength - icvLength;
        if (gcm) {
            System.arraycopy(buffer, ivOffset, nonce, 4, 8);
            cipher.init(Cipher.DECRYPT_MODE, cipherKey, new GCMParameterSpec(icvLength * 8, nonce));
            cipher.updateAAD(buffer, espOffset, EspView.HEADER_LENGTH);
            return cipher.doFinal(buffer, payloadOffset, ciphertextLength + icvLength, buffer, payloadOffset);
        }
        mac.update(buffer, espOffset, EspView.HEADER_LENGTH + ivLength + ciphertextLength);
        byte[] full = mac.doFinal();
        if (!Bytes.constantTimeEquals(full, 0, buffer, payloadOffset + ciphertextLength, icvLength)) {
            throw new IllegalStateException("HMAC-SHA1-96 of the engine's packet does not verify");
        }
        cipher.init(Cipher.DECRYPT_MODE, cipherKey, new IvParameterSpec(buffer, ivOffset, ivLength));
        return cipher.doFinal(buffer, payloadOffset, ciphertextLength, buffer, payloadOffset);
    }

    // ---------------------------------------------------------------------------------------------------------------

    private boolean decapsulateWithChecker(byte[] esp) {
        Packet packet = Packet.withRoomFor(esp.length);
        packet.load(esp, 0, esp.length);
        checkerWindow.reset();
        if (checker.decapsulateEsp(packet, packet.offset(), packet.length()) != Outcome.ACCEPTED) {
            return false;
        }
        return packet.length() == size
                && Arrays.equals(packet.buffer(), packet.offset(), packet.offset() + size, inner, 0, size);
    }

    /** This side's outbound SA, counter at 0. */
    private SecurityAssociation buildOutboundSa() {
        return SecurityAssociation.builder()
                .name("bench-out")
                .spi(OUTBOUND_SPI)
                .direction(SecurityAssociation.Direction.OUTBOUND)
                .suite(espSuite)
                .encryptionKey(encryptionKey)
                .integrityKey(integrityKey)
                .selector(siteASelector())
                .outer(OuterEndpoints.udp(address("192.0.2.1"), address("198.51.100.1"), IpProtocol.NAT_T_PORT,
                        IpProtocol.NAT_T_PORT))
                .build();
    }

    /** An outbound lane: the SA in an SAD, and an SPD whose one policy protects site A → site B with a group of one. */
    private EspProcessor buildEncapsulator(SecurityAssociation outbound) {
        SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
        sad.add(outbound);
        SaGroup group = new SaGroup(List.of(outbound), FlowEncoding.UDP_PORT);
        SecurityPolicyDatabase spd = new SecurityPolicyDatabase(
                List.of(new SecurityPolicy("site-a-to-b", siteASelector(), PolicyAction.PROTECT, group)));
        return new EspProcessor(spd, sad, EspProcessor.Framing.ESP);
    }

    /** {@link #buildEncapsulator} as a data plane's lane 0 of 1: the group's SA is the lane's own, in its lane table. */
    private EspProcessor buildLaneEncapsulator(SecurityAssociation outbound) {
        SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
        sad.add(outbound);
        SaGroup group = new SaGroup(List.of(outbound), FlowEncoding.UDP_PORT);
        group.id(0);
        group.assignOwners(1);
        SecurityPolicyDatabase spd = new SecurityPolicyDatabase(
                List.of(new SecurityPolicy("site-a-to-b", siteASelector(), PolicyAction.PROTECT, group)));
        EspProcessor processor = new EspProcessor(spd, sad, EspProcessor.Framing.ESP);
        processor.flowletGap(DataplaneControl.DEFAULT_FLOWLET_GAP.toNanos(), System.nanoTime());
        processor.useOutbound(spd, new SaGroup.LaneTable[] {group.laneTable(0)}, FlowletTable.Moves.AT_ONCE,
                System.nanoTime());
        return processor;
    }

    /** The peer's inbound SA: same SPI and keys, selectors seen from site B. */
    private SecurityAssociation buildInboundSa() {
        return SecurityAssociation.builder()
                .name("bench-in")
                .spi(OUTBOUND_SPI)
                .direction(SecurityAssociation.Direction.INBOUND)
                .suite(espSuite)
                .encryptionKey(encryptionKey)
                .integrityKey(integrityKey)
                .selector(new TrafficSelector(prefix(SITE_B), prefix(SITE_A), 0, PortRange.ANY, PortRange.ANY))
                .outer(OuterEndpoints.udp(address("198.51.100.1"), address("192.0.2.1"), IpProtocol.NAT_T_PORT,
                        IpProtocol.NAT_T_PORT))
                .build();
    }

    private static TrafficSelector siteASelector() {
        return new TrafficSelector(prefix(SITE_A), prefix(SITE_B), 0, PortRange.ANY, PortRange.ANY);
    }

    private static IpPrefix prefix(byte[] host) {
        return IpPrefix.of(host, 16);
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An IPv4/UDP packet of {@code totalLength} bytes from site A to site B, header checksum set, random payload. */
    static byte[] innerPacket(int totalLength, Random random) {
        if (totalLength < 28) {
            throw new IllegalArgumentException("an IPv4/UDP packet has at least 28 bytes");
        }
        byte[] packet = new byte[totalLength];
        random.nextBytes(packet);
        packet[0] = 0x45;
        packet[1] = 0;
        Bytes.u16(packet, 2, totalLength);
        Bytes.u16(packet, 4, 0x1234);
        Bytes.u16(packet, 6, 0x4000);                         // DF
        packet[8] = 64;
        packet[9] = (byte) IpProtocol.UDP;
        Bytes.u16(packet, 10, 0);
        System.arraycopy(SITE_A, 0, packet, 12, 4);
        System.arraycopy(SITE_B, 0, packet, 16, 4);
        Bytes.u16(packet, 10, ~Bytes.onesComplementSum(packet, 0, 20, 0) & 0xFFFF);
        Bytes.u16(packet, 20, 40_000);
        Bytes.u16(packet, 22, 5201);
        Bytes.u16(packet, 24, totalLength - 20);
        Bytes.u16(packet, 26, 0);
        return packet;
    }

    private void requireInner(byte[] buffer, int offset, int length, String what) {
        require(length == size && Arrays.equals(buffer, offset, offset + size, inner, 0, size),
                what + " did not give back the inner packet");
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalStateException("EspBenchmark: " + message);
        }
    }
}
