package io.flowsec.dataplane.sa;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.flow.ToeplitzHash;
import io.flowsec.dataplane.packet.FlowKey;
import io.flowsec.dataplane.testing.TestPackets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static io.flowsec.dataplane.testing.TestPackets.address;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The paper's SA group: flow ID → indirection table (128 buckets) → SA, with weights that move few buckets. */
class SaGroupTest {
    private static final int BUCKETS = SaGroup.INDIRECTION_TABLE_SIZE;

    private static SecurityAssociation sa(int spi, OuterEndpoints outer) {
        return SecurityAssociation.builder()
                .name("sa-" + Integer.toHexString(spi))
                .spi(spi)
                .direction(SecurityAssociation.Direction.OUTBOUND)
                .suite(EspSuite.AES_GCM_128)
                .encryptionKey(new byte[20])
                .outer(outer)
                .build();
    }

    private static OuterEndpoints udp(String local, int localPort) {
        return OuterEndpoints.udp(address(local), address("198.51.100.1"), localPort, 4500);
    }

    private static SaGroup group(int n) {
        List<SecurityAssociation> members = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            members.add(sa(0x1000 + i, udp("192.0.2.1", 40000 + i)));
        }
        return new SaGroup(members, FlowEncoding.UDP_PORT);
    }

    private static int[] bucketCounts(SaGroup group) {
        int[] counts = new int[group.size()];
        for (int member : group.indirectionTable()) {
            counts[member]++;
        }
        return counts;
    }

    private static int moved(int[] before, int[] after) {
        int moved = 0;
        for (int bucket = 0; bucket < before.length; bucket++) {
            if (before[bucket] != after[bucket]) {
                moved++;
            }
        }
        return moved;
    }

    /** Fewest buckets any table with the new counts could move: each member's surplus must go. */
    private static int minimalMoves(int[] countsBefore, int[] countsAfter) {
        int surplus = 0;
        for (int i = 0; i < countsBefore.length; i++) {
            surplus += Math.max(0, countsBefore[i] - countsAfter[i]);
        }
        return surplus;
    }

    @ParameterizedTest(name = "{0} SAs")
    @ValueSource(ints = {1, 2, 3, 4, 5, 7, 8, 16, 100, 128})
    void shouldSplitTheTableEquallyAtTheStart(int n) {
        SaGroup group = group(n);
        assertEquals(BUCKETS, group.indirectionTable().length);
        int[] counts = bucketCounts(group);
        for (int count : counts) {
            assertTrue(count == BUCKETS / n || count == BUCKETS / n + 1, "counts " + java.util.Arrays.toString(counts));
        }
        int[] equal = new int[n];
        java.util.Arrays.fill(equal, 1);
        assertArrayEquals(equal, group.weights());
    }

    @Test
    void shouldSelectTheSaThatTheBucketOfTheFlowIdNames() {
        SaGroup group = group(4);
        int[] table = group.indirectionTable();
        Random random = new Random(9611);
        for (int i = 0; i < 1000; i++) {
            int flowId = random.nextInt();
            assertSame(group.member(table[flowId & (BUCKETS - 1)]), group.select(flowId), "flow ID " + flowId);
        }
    }

    @Test
    void shouldGiveBucketsToWeightsInProportion() {
        SaGroup group = group(4);
        group.weights(1, 1, 1, 5);
        assertArrayEquals(new int[] {16, 16, 16, 80}, bucketCounts(group));
        assertArrayEquals(new int[] {1, 1, 1, 5}, group.weights());

        group.weights(0, 0, 0, 7);
        assertArrayEquals(new int[] {0, 0, 0, 128}, bucketCounts(group));

        group.weights(1, 2, 0, 0);
        int[] counts = bucketCounts(group);
        assertEquals(0, counts[2] + counts[3]);
        assertTrue(Math.abs(counts[1] - 2 * counts[0]) <= 2, java.util.Arrays.toString(counts));
    }

    @Test
    void shouldMoveOnlyTheBucketsThatMustMoveWhenWeightsChange() {
        SaGroup group = group(4);
        Random random = new Random(42);
        for (int round = 0; round < 200; round++) {
            int[] weights = new int[4];
            for (int i = 0; i < 4; i++) {
                weights[i] = random.nextInt(4) == 0 ? 0 : random.nextInt(100);
            }
            if (java.util.Arrays.stream(weights).sum() == 0) {
                weights[random.nextInt(4)] = 1;
            }
            int[] before = group.indirectionTable();
            int[] countsBefore = bucketCounts(group);

            group.weights(weights);

            int[] after = group.indirectionTable();
            int[] countsAfter = bucketCounts(group);
            assertEquals(minimalMoves(countsBefore, countsAfter), moved(before, after),
                    "round " + round + ": weights " + java.util.Arrays.toString(weights));
            for (int i = 0; i < 4; i++) {
                double share = (double) weights[i] / java.util.Arrays.stream(weights).sum() * BUCKETS;
                assertTrue(Math.abs(countsAfter[i] - share) < 1.0, "member " + i + " has " + countsAfter[i]
                        + " buckets for a share of " + share);
            }
        }
    }

    @Test
    void shouldMoveNothingWhenTheWeightsStayTheSame() {
        SaGroup group = group(3);
        group.weights(3, 2, 1);
        int[] before = group.indirectionTable();
        group.weights(3, 2, 1);
        assertArrayEquals(before, group.indirectionTable());
        group.weights(6, 4, 2);
        assertArrayEquals(before, group.indirectionTable(), "only the ratio counts");
    }

    @Test
    void shouldRejectWeightsOfTheWrongLengthNegativeOrAllZero() {
        SaGroup group = group(3);
        int[] before = group.indirectionTable();

        IllegalArgumentException tooFew = assertThrows(IllegalArgumentException.class, () -> group.weights(1, 1));
        assertTrue(tooFew.getMessage().contains("3") && tooFew.getMessage().contains("2"), tooFew.getMessage());
        assertThrows(IllegalArgumentException.class, () -> group.weights(1, 1, 1, 1));
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> group.weights(1, -1, 1));
        assertTrue(negative.getMessage().contains("negative"), negative.getMessage());
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> group.weights(0, 0, 0));
        assertTrue(zero.getMessage().contains("positive"), zero.getMessage());

        assertArrayEquals(before, group.indirectionTable(), "a rejected change leaves the table alone");
        assertArrayEquals(new int[] {1, 1, 1}, group.weights());
    }

    @Test
    void shouldRejectAnEmptyGroupAndAnInboundMember() {
        assertThrows(IllegalArgumentException.class, () -> new SaGroup(List.of(), FlowEncoding.SPI));
        SecurityAssociation inbound = SecurityAssociation.builder()
                .name("in").spi(0x2000).suite(EspSuite.AES_GCM_128).encryptionKey(new byte[20])
                .outer(udp("192.0.2.1", 4500)).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SaGroup(List.of(inbound), FlowEncoding.SPI));
        assertTrue(e.getMessage().contains("outbound"), e.getMessage());
    }

    @Test
    void shouldRejectTheSameSpiTwiceInOneGroup() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SaGroup(
                List.of(sa(0x1000, udp("192.0.2.1", 4500)), sa(0x1000, udp("192.0.2.1", 4501))), FlowEncoding.SPI));
        assertTrue(e.getMessage().contains("1000"), e.getMessage());
    }

    @Test
    void shouldNeedDistinctSourcePortsForTheUdpPortEncoding() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SaGroup(
                List.of(sa(0x1000, udp("192.0.2.1", 40000)), sa(0x1001, udp("192.0.2.1", 40000))), FlowEncoding.UDP_PORT));
        assertTrue(e.getMessage().contains("40000"), e.getMessage());

        SecurityAssociation rawEsp = sa(0x1002, OuterEndpoints.esp(address("192.0.2.1"), address("198.51.100.1")));
        assertThrows(IllegalArgumentException.class, () -> new SaGroup(List.of(rawEsp), FlowEncoding.UDP_PORT));

        SaGroup fine = new SaGroup(List.of(sa(0x1000, udp("192.0.2.1", 40000)), sa(0x1001, udp("192.0.2.1", 40001))),
                FlowEncoding.UDP_PORT);
        assertEquals(2, fine.size());
        // the same ports are fine for other encodings
        new SaGroup(List.of(sa(0x1000, udp("192.0.2.1", 4500)), sa(0x1001, udp("192.0.2.1", 4500))), FlowEncoding.SPI);
    }

    @Test
    void shouldNeedDistinctAddressPairsForTheAddressEncoding() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SaGroup(
                List.of(sa(0x1000, udp("192.0.2.1", 4500)), sa(0x1001, udp("192.0.2.1", 4500))), FlowEncoding.ADDRESS));
        assertTrue(e.getMessage().contains("192.0.2.1"), e.getMessage());

        SaGroup fine = new SaGroup(List.of(sa(0x1000, udp("192.0.2.1", 4500)), sa(0x1001, udp("192.0.2.2", 4500))),
                FlowEncoding.ADDRESS);
        assertEquals(FlowEncoding.ADDRESS, fine.encoding());
    }

    @Test
    void shouldActAsPlainIpsecWithOneSa() {
        SaGroup group = new SaGroup(List.of(sa(0x1000, udp("192.0.2.1", 4500))), FlowEncoding.UDP_PORT);
        SecurityAssociation only = group.member(0);
        Random random = new Random(1);
        for (int i = 0; i < 10_000; i++) {
            assertSame(only, group.select(random.nextInt()));
        }
        assertSame(only, group.select(Integer.MIN_VALUE));
        assertSame(only, group.select(-1));
        group.weights(5);
        assertSame(only, group.select(12345));
    }

    @Test
    void shouldSpreadDistinctFlowsOverEverySaAndKeepEachFlowOnOne() {
        SaGroup group = group(4);
        ToeplitzHash hash = ToeplitzHash.microsoft();
        FlowKey key = new FlowKey();
        Map<SecurityAssociation, Integer> perSa = new HashMap<>();
        Set<Integer> flowIds = new HashSet<>();
        for (int flow = 0; flow < 64; flow++) {
            byte[] packet = TestPackets.udp(TestPackets.HOST_A_V4, 10_000 + flow, TestPackets.HOST_B_V4, 443, 20);
            assertTrue(key.read(packet, 0, packet.length));
            int flowId = hash.flowId(key);
            flowIds.add(flowId);
            SecurityAssociation chosen = group.select(flowId);
            perSa.merge(chosen, 1, Integer::sum);
            for (int again = 0; again < 3; again++) {
                assertSame(chosen, group.select(hash.flowId(key)), "one flow, one SA");
            }
        }
        assertEquals(64, flowIds.size(), "64 flows, 64 flow IDs");
        assertEquals(4, perSa.size(), "every SA gets flows: " + perSa.values());
        for (int count : perSa.values()) {
            assertTrue(count >= 4, "no SA starves: " + perSa.values());
        }
    }
}
