package io.flowsec.cluster.assignment;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SecurityAssociation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static io.flowsec.dataplane.testing.TestPackets.address;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The first layout: every sender lane's SAs spread over every receiver lane, as evenly as the SAs allow. */
class SaLayoutTest {
    /** {@code perSenderLane[k]} SAs owned by sender lane k, SPIs interleaved so SPI order is not lane order. */
    private static Map<Integer, Integer> owners(int... perSenderLane) {
        Map<Integer, Integer> owners = new LinkedHashMap<>();
        for (int lane = 0; lane < perSenderLane.length; lane++) {
            for (int i = 0; i < perSenderLane[lane]; i++) {
                owners.put(0x1000 + i * 16 + lane, lane);
            }
        }
        return owners;
    }

    /** counts[sender lane][receiver lane]: how many of the sender lane's SAs land on the receiver lane. */
    private static int[][] counts(SaLayout layout, Map<Integer, Integer> owners, int senderLanes, int receiverLanes) {
        int[][] counts = new int[senderLanes][receiverLanes];
        layout.inboundLanes().forEach((spi, lane) -> counts[owners.get(spi)][lane]++);
        return counts;
    }

    @ParameterizedTest(name = "S={0} R={1}")
    @CsvSource({"1,1", "1,2", "2,2", "2,4", "4,2", "3,5"})
    void shouldGiveEverySenderLaneOneSaOnEveryReceiverLaneWithSTimesRSas(int senderLanes, int receiverLanes) {
        int[] perLane = new int[senderLanes];
        java.util.Arrays.fill(perLane, receiverLanes);
        Map<Integer, Integer> owners = owners(perLane);
        SaLayout layout = SaLayout.plan(owners, senderLanes, receiverLanes);
        assertTrue(layout.coversEveryReceiverLane());
        assertTrue(layout.problem().isEmpty());
        assertEquals(owners.keySet(), layout.inboundLanes().keySet());
        for (int[] row : counts(layout, owners, senderLanes, receiverLanes)) {
            for (int count : row) {
                assertEquals(1, count);
            }
        }
        TunnelAssignment assignment = layout.toAssignment("hq-branch", "router-a", 16);
        assertEquals(1, assignment.version());
        assertTrue(assignment.coversEveryReceiverLane());
        assertEquals(layout.inboundLanes(), assignment.inboundLanes().entrySet().stream()
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
    }

    @ParameterizedTest(name = "owned {0}, R={1}")
    @CsvSource({"'3,2',2", "'3,3,3,3',2", "'7,5',3", "'6,6,7',5"})
    void shouldSpreadExtraSasSoNoLaneGetsTwoMoreThanAnother(String owned, int receiverLanes) {
        int[] perLane = java.util.Arrays.stream(owned.split(",")).mapToInt(Integer::parseInt).toArray();
        Map<Integer, Integer> owners = owners(perLane);
        SaLayout layout = SaLayout.plan(owners, perLane.length, receiverLanes);
        assertTrue(layout.coversEveryReceiverLane());
        int[][] counts = counts(layout, owners, perLane.length, receiverLanes);
        int[] totals = new int[receiverLanes];
        for (int[] row : counts) {
            int min = Integer.MAX_VALUE;
            int max = 0;
            for (int lane = 0; lane < receiverLanes; lane++) {
                min = Math.min(min, row[lane]);
                max = Math.max(max, row[lane]);
                totals[lane] += row[lane];
            }
            assertTrue(min >= 1 && max - min <= 1, java.util.Arrays.deepToString(counts));
        }
        int min = java.util.Arrays.stream(totals).min().orElseThrow();
        int max = java.util.Arrays.stream(totals).max().orElseThrow();
        assertTrue(max - min <= 1, java.util.Arrays.toString(totals));
    }

    @Test
    void shouldSayWhenFewerThanSTimesRSasCannotReachEveryReceiverLaneYetStillPlanEvenly() {
        Map<Integer, Integer> owners = owners(3, 3);
        SaLayout layout = SaLayout.plan(owners, 2, 4);
        assertFalse(layout.coversEveryReceiverLane());
        assertEquals("sender lane 0 owns 3 SA(s) and so reaches only 3 of the receiver's 4 lanes: give the tunnel at "
                + "least 2 x 4 = 8 SAs per direction, 4 per sender lane", layout.problem().orElseThrow());
        int[] totals = new int[4];
        layout.inboundLanes().values().forEach(lane -> totals[lane]++);
        assertEquals(List.of(2, 2, 1, 1), java.util.Arrays.stream(totals).boxed().toList());
        assertFalse(layout.toAssignment("hq-branch", "router-a", 16).coversEveryReceiverLane());
    }

    @Test
    void shouldPlanTheSameWhateverTheOrderTheSasCameIn() {
        Map<Integer, Integer> owners = owners(4, 4, 5);
        Map<Integer, Integer> reversed = new TreeMap<>(java.util.Comparator.reverseOrder());
        reversed.putAll(owners);
        assertEquals(SaLayout.plan(owners, 3, 4).inboundLanes(), SaLayout.plan(reversed, 3, 4).inboundLanes());
    }

    @Test
    void shouldRefuseASenderLaneWithoutSasAndAnOwnerOutOfRange() {
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> SaLayout.plan(owners(2, 0), 2, 2));
        assertEquals("sender lane 1 owns no SA (each sender lane sends on SAs of its own)", none.getMessage());
        IllegalArgumentException outside = assertThrows(IllegalArgumentException.class, () -> SaLayout.plan(Map.of(0x1000, 2), 2, 2));
        assertEquals("0x00001000: sender lane 2 is out of range 0-1", outside.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SaLayout.plan(Map.of(0x1000, 0), 1, 0));
    }

    @Test
    void shouldReadTheOwningLanesOfADataplaneGroup() {
        List<SecurityAssociation> members = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            members.add(SecurityAssociation.builder().name("out-" + i).spi(0x2000 + i)
                    .direction(SecurityAssociation.Direction.OUTBOUND).suite(EspSuite.AES_GCM_128)
                    .encryptionKey(new byte[20])
                    .outer(OuterEndpoints.udp(address("192.0.2.1"), address("198.51.100.1"), 40000 + i, 4500))
                    .build());
        }
        SaGroup group = new SaGroup(members, FlowEncoding.UDP_PORT);
        assertThrows(IllegalArgumentException.class, () -> SaLayout.owners(group));
        group.assignOwners(2);
        Map<Integer, Integer> owners = SaLayout.owners(group);
        assertEquals(4, owners.size());
        assertEquals(2, owners.values().stream().filter(lane -> lane == 0).count());
        assertTrue(SaLayout.plan(owners, 2, 2).coversEveryReceiverLane());
    }
}
