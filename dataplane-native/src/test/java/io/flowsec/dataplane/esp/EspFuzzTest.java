package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TestPackets.Tunnel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Random and mutated packets (seeded, so a failure replays) into both directions of the engine: nothing may
 * escape as an exception, every call names an outcome, and every packet is counted exactly once.
 */
class EspFuzzTest {
    private static final long SEED = 0x4303_3948L;
    private static final int INBOUND_PACKETS = 20_000;
    private static final int OUTBOUND_PACKETS = 6_000;

    /** One tunnel with the engines of both ends and what was fed to each. */
    private static final class Target {
        final Tunnel tunnel;
        final EspProcessor a;
        final EspProcessor b;
        final List<byte[]> genuine = new ArrayList<>();
        long fedToA;
        long fedToB;

        Target(Tunnel tunnel) {
            this.tunnel = tunnel;
            this.a = tunnel.a().processor();
            this.b = tunnel.b().processor();
        }

        /** A new genuine packet from A, under the next sequence number; it also replaces one in the pool. */
        byte[] fresh(Random random) {
            int family = random.nextBoolean() ? 4 : 6;
            byte[] inner = TestPackets.udp(TestPackets.host('A', family), 1000 + random.nextInt(100),
                    TestPackets.host('B', family), 53, random.nextInt(300));
            Packet packet = TestPackets.slot(inner);
            Outcome outcome = a.encapsulate(packet);
            fedToA++;
            assertEquals(Outcome.ACCEPTED, outcome);
            byte[] wire = packet.toByteArray();
            if (!genuine.isEmpty()) {
                genuine.set(random.nextInt(genuine.size()), wire);
            }
            return wire;
        }
    }

    private static List<Target> targets(Random random) {
        List<Target> targets = new ArrayList<>();
        int i = 0;
        for (EspSuite suite : EspSuite.values()) {
            for (int variant = 0; variant < 2; variant++, i++) {
                Tunnel tunnel = TestPackets.tunnel()
                        .suite(suite)
                        .innerFamily(0)                        // selectors match anything, so random inners go through
                        .outerFamily(i % 2 == 0 ? 4 : 6)
                        .udp(i % 3 != 0)
                        .esn(variant == 1)
                        .replayWindowSize(variant == 1 ? 64 : 1024)
                        .saCount(1 + i % 3)
                        .build();
                Target target = new Target(tunnel);
                for (int p = 0; p < 40; p++) {
                    target.genuine.add(target.fresh(random));
                }
                targets.add(target);
            }
        }
        return targets;
    }

    private static byte[] mutate(Random random, byte[] genuine) {
        byte[] bytes = genuine.clone();
        switch (random.nextInt(12)) {
            case 0 -> {
                return bytes;                                              // as it was: accepted once, then replayed
            }
            case 1, 2 -> {                                                 // flip a few bits anywhere
                int flips = 1 + random.nextInt(3);
                for (int i = 0; i < flips && bytes.length > 0; i++) {
                    bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
                }
                return bytes;
            }
            case 3 -> {                                                    // flip bits in the headers
                int reach = Math.min(bytes.length, 80);
                bytes[random.nextInt(reach)] ^= (byte) (1 << random.nextInt(8));
                return bytes;
            }
            case 4 -> {                                                    // overwrite a header byte
                bytes[random.nextInt(Math.min(bytes.length, 60))] = (byte) random.nextInt(256);
                return bytes;
            }
            case 5 -> {                                                    // truncate, to 0 too
                return Arrays.copyOf(bytes, random.nextInt(bytes.length + 1));
            }
            case 6 -> {                                                    // extend with garbage
                byte[] longer = Arrays.copyOf(bytes, bytes.length + 1 + random.nextInt(64));
                for (int i = bytes.length; i < longer.length; i++) {
                    longer[i] = (byte) random.nextInt(256);
                }
                return longer;
            }
            case 7 -> {                                                    // insert bytes
                int at = random.nextInt(bytes.length + 1);
                int count = 1 + random.nextInt(16);
                byte[] longer = new byte[bytes.length + count];
                System.arraycopy(bytes, 0, longer, 0, at);
                for (int i = 0; i < count; i++) {
                    longer[at + i] = (byte) random.nextInt(256);
                }
                System.arraycopy(bytes, at, longer, at + count, bytes.length - at);
                return longer;
            }
            case 8 -> {                                                    // delete bytes
                int at = random.nextInt(bytes.length);
                int count = Math.min(bytes.length - at, 1 + random.nextInt(16));
                byte[] shorter = new byte[bytes.length - count];
                System.arraycopy(bytes, 0, shorter, 0, at);
                System.arraycopy(bytes, at + count, shorter, at, bytes.length - at - count);
                return shorter;
            }
            case 9 -> {                                                    // a length field set at random
                boolean ipv4 = (bytes[0] >> 4) == 4;
                int at = switch (random.nextInt(4)) {
                    case 0 -> ipv4 ? 2 : 4;                                // IP total / payload length
                    case 1 -> ipv4 ? 24 : 44;                              // UDP length (when UDP)
                    case 2 -> 0;                                           // version and IHL / traffic class
                    default -> 6;                                          // fragment field / next header and hop limit
                };
                if (at + 1 < bytes.length) {
                    TestPackets.put16(bytes, at, random.nextInt(65536));
                }
                return bytes;
            }
            case 10 -> {                                                   // random ESP behind genuine headers
                int keep = Math.min(bytes.length, 36 + random.nextInt(16));
                for (int i = keep; i < bytes.length; i++) {
                    bytes[i] = (byte) random.nextInt(256);
                }
                return bytes;
            }
            default -> {                                                   // pure noise, version nibble of 4 or 6 mostly
                byte[] noise = new byte[random.nextInt(200)];
                random.nextBytes(noise);
                if (noise.length > 0 && random.nextBoolean()) {
                    noise[0] = (byte) (random.nextBoolean() ? 0x45 : 0x60);
                }
                return noise;
            }
        }
    }

    private static Outcome feed(String what, byte[] bytes, java.util.function.Function<Packet, Outcome> call) {
        Packet packet = TestPackets.slot(bytes);
        try {
            Outcome outcome = call.apply(packet);
            assertNotNull(outcome, what + " returned null for " + Bytes.toHex(bytes));
            return outcome;
        } catch (RuntimeException | Error e) {
            if (e instanceof AssertionError assertion) {
                throw assertion;
            }
            throw new AssertionError(what + " threw " + e + " for " + Bytes.toHex(bytes), e);
        }
    }

    private static long total(LaneCounters counters) {
        long sum = 0;
        for (Outcome outcome : Outcome.values()) {
            sum += counters.total(outcome);
        }
        return sum;
    }

    @Test
    void shouldSurviveRandomAndMutatedPacketsAndCountEveryOne() {
        Random random = new Random(SEED);
        List<Target> targets = targets(random);
        Map<Outcome, Integer> seen = new EnumMap<>(Outcome.class);

        for (int i = 0; i < INBOUND_PACKETS; i++) {
            Target target = targets.get(random.nextInt(targets.size()));
            byte[] genuine = random.nextInt(3) == 0
                    ? target.fresh(random)                                 // a number B has not seen yet
                    : target.genuine.get(random.nextInt(target.genuine.size()));
            byte[] bytes = mutate(random, genuine);
            Outcome outcome;
            int entry = random.nextInt(8);
            if (entry == 0 && bytes.length > 0) {
                // straight into the UDP-payload or ESP entry points, with a random window of the slot
                int from = random.nextInt(bytes.length);
                int length = random.nextInt(bytes.length - from + 1);
                boolean udpPayload = random.nextBoolean();
                outcome = feed("decapsulate entry " + i, bytes, packet -> udpPayload
                        ? target.b.decapsulateUdpPayload(packet, packet.offset() + from, length)
                        : target.b.decapsulateEsp(packet, packet.offset() + from, length));
            } else {
                outcome = feed("decapsulate " + i, bytes, target.b::decapsulate);
            }
            target.fedToB++;
            seen.merge(outcome, 1, Integer::sum);
        }

        for (Target target : targets) {
            assertEquals(target.fedToB, total(target.b.counters()), "every inbound packet counted once");
        }
        for (Outcome deep : List.of(Outcome.ACCEPTED, Outcome.MALFORMED, Outcome.UNKNOWN_SPI, Outcome.REPLAY,
                Outcome.AUTHENTICATION_FAILED, Outcome.NOT_ESP, Outcome.OUTER_FRAGMENT)) {
            assertTrue(seen.getOrDefault(deep, 0) > 0, "the fuzzer should reach " + deep + ": " + seen);
        }
    }

    @Test
    void shouldSurviveRandomInnerPacketsAndDeliverWhatItAccepts() {
        Random random = new Random(SEED + 1);
        List<Target> targets = targets(random);
        Map<Outcome, Integer> seen = new EnumMap<>(Outcome.class);

        for (int i = 0; i < OUTBOUND_PACKETS; i++) {
            Target target = targets.get(random.nextInt(targets.size()));
            byte[] bytes;
            if (random.nextInt(3) == 0) {
                int family = random.nextBoolean() ? 4 : 6;
                bytes = mutate(random, TestPackets.tcp(TestPackets.host('A', family), random.nextInt(65536),
                        TestPackets.host('B', family), random.nextInt(65536), random.nextInt(200)));
            } else {
                bytes = new byte[random.nextInt(120)];
                random.nextBytes(bytes);
                if (bytes.length > 4 && random.nextInt(4) != 0) {
                    // mostly plausible headers, so the SPD and the SA group are reached
                    boolean v4 = random.nextBoolean();
                    bytes[0] = (byte) (v4 ? 0x45 : 0x60);
                    if (v4 && bytes.length >= 20) {
                        TestPackets.put16(bytes, 2, 20 + random.nextInt(bytes.length - 19));
                        TestPackets.put16(bytes, 6, random.nextInt(4) == 0 ? 0x2000 : 0);
                    } else if (!v4 && bytes.length >= 40) {
                        TestPackets.put16(bytes, 4, random.nextInt(bytes.length - 39));
                    }
                }
            }
            Outcome outcome = feed("encapsulate " + i, bytes, target.a::encapsulate);
            target.fedToA++;
            seen.merge(outcome, 1, Integer::sum);
            if (outcome == Outcome.ACCEPTED) {
                // what A accepted, B must deliver: the inner packet as its IP header delimits it
                Packet packet = TestPackets.slot(bytes);
                Outcome again = target.a.encapsulate(packet);
                target.fedToA++;
                assertEquals(Outcome.ACCEPTED, again);
                byte[] wire = packet.toByteArray();
                Packet received = TestPackets.slot(wire);
                Outcome delivered = target.b.decapsulate(received);
                target.fedToB++;
                if (delivered != Outcome.ACCEPTED) {
                    fail("B said " + delivered + " to what A accepted: " + Bytes.toHex(bytes));
                }
                byte[] inner = received.toByteArray();
                assertArrayEquals(Arrays.copyOf(bytes, inner.length), inner);
            }
        }

        for (Target target : targets) {
            assertEquals(target.fedToA, total(target.a.counters()), "every outbound packet counted once");
            assertEquals(target.fedToB, total(target.b.counters()), "every delivered packet counted once");
        }
        for (Outcome reached : List.of(Outcome.ACCEPTED, Outcome.MALFORMED)) {
            assertTrue(seen.getOrDefault(reached, 0) > 0, "the fuzzer should reach " + reached + ": " + seen);
        }
    }
}
