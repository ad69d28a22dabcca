package io.flowsec.dataplane.esp;

import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.Ipv4View;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static io.flowsec.dataplane.esp.EcnDecapsulation.ANOMALY_DANGEROUS;
import static io.flowsec.dataplane.esp.EcnDecapsulation.ANOMALY_NONE;
import static io.flowsec.dataplane.esp.EcnDecapsulation.ANOMALY_POSSIBLY_DANGEROUS;
import static io.flowsec.dataplane.esp.EcnDecapsulation.CE;
import static io.flowsec.dataplane.esp.EcnDecapsulation.DROP;
import static io.flowsec.dataplane.esp.EcnDecapsulation.ECT_0;
import static io.flowsec.dataplane.esp.EcnDecapsulation.ECT_1;
import static io.flowsec.dataplane.esp.EcnDecapsulation.NOT_ECT;
import static io.flowsec.dataplane.esp.EcnDecapsulation.NOT_IP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * RFC 6040 §4.2 Figure 4, cell by cell, as the RFC prints it; and the inner header rewrite, IPv4 checksums checked
 * byte for byte against a full recomputation.
 */
class EcnDecapsulationTest {
    /** Figure 4 transcribed: rows are the arriving inner header, columns the arriving outer one, in the RFC's order. */
    private static final String[] FIGURE_4 = {
            "          | Not-ECT | ECT(0)       | ECT(1)       | CE           ",
            "Not-ECT   | Not-ECT | Not-ECT(!!!) | Not-ECT(!!!) | <drop>(!!!)  ",
            "ECT(0)    | ECT(0)  | ECT(0)       | ECT(1)       | CE           ",
            "ECT(1)    | ECT(1)  | ECT(1)(!)    | ECT(1)       | CE           ",
            "CE        | CE      | CE           | CE(!!!)      | CE           ",
    };
    private static final Map<String, Integer> CODEPOINT = Map.of(
            "Not-ECT", NOT_ECT, "ECT(0)", ECT_0, "ECT(1)", ECT_1, "CE", CE, "<drop>", DROP);


    @Test
    void shouldFollowEveryCellOfFigure4() {
        String[] outerColumns = cells(FIGURE_4[0]);
        for (int row = 1; row < FIGURE_4.length; row++) {
            String[] cells = cells(FIGURE_4[row]);
            int inner = CODEPOINT.get(cells[0]);
            for (int column = 1; column < cells.length; column++) {
                int outer = CODEPOINT.get(outerColumns[column]);
                String cell = cells[column];
                int expectedAnomaly = cell.endsWith("(!!!)") ? ANOMALY_DANGEROUS
                        : cell.endsWith("(!)") ? ANOMALY_POSSIBLY_DANGEROUS : ANOMALY_NONE;
                int expected = CODEPOINT.get(cell.replace("(!!!)", "").replace("(!)", ""));
                String what = "inner " + cells[0] + ", outer " + outerColumns[column];
                assertEquals(expected, EcnDecapsulation.decapsulate(outer, inner), what);
                assertEquals(expectedAnomaly, EcnDecapsulation.anomaly(outer, inner), what);
            }
        }
    }

    private static String[] cells(String line) {
        String[] cells = line.split("\\|");
        for (int i = 0; i < cells.length; i++) {
            cells[i] = cells[i].trim();
        }
        return cells;
    }

    @Test
    void shouldPassEct1OverEct0IntoTheInnerHeader() {
        assertEquals(ECT_1, EcnDecapsulation.decapsulate(ECT_1, ECT_0));
        assertEquals(ECT_1, EcnDecapsulation.decapsulate(ECT_0, ECT_1), "an inner ECT(1) is never downgraded");
    }

    @Test
    void shouldReadOnlyTheEcnBitsOfAWholeTosByte() {
        assertEquals(CE, EcnDecapsulation.decapsulate(0xBB, 0xBA));
        assertEquals(DROP, EcnDecapsulation.decapsulate(0xBB, 0xB8));
    }

    @Test
    void shouldMarkCeOnAnIpv4InnerPacketWithAnIncrementallyUpdatedChecksum() {
        // 192.168.0.1 to 192.168.0.199, UDP, TOS 0x02 (ECT(0)): header sum without the checksum 0x47A0, checksum 0xB85F
        byte[] packet = Bytes.fromHex("ffff" + "45020073" + "00004000" + "4011b85f" + "c0a80001" + "c0a800c7");

        assertEquals(CE, EcnDecapsulation.apply(packet, 2, CE));

        // TOS 0x03 adds one to the sum, 0x47A1: checksum 0xB85E
        assertEquals("ffff" + "45030073" + "00004000" + "4011b85e" + "c0a80001" + "c0a800c7", Bytes.toHex(packet));
    }

    @Test
    void shouldMatchAFullChecksumRecomputationForEveryCellAndManyHeaders() {
        SplittableRandom random = new SplittableRandom(6040);
        for (int trial = 0; trial < 2000; trial++) {
            int headerLength = Ipv4View.MIN_HEADER_LENGTH + 4 * random.nextInt(11);
            byte[] header = new byte[headerLength];
            random.nextBytes(header);
            header[0] = (byte) (0x40 | headerLength / 4);
            fixChecksum(header, 0);
            int inner = header[1] & 0x3;
            for (int outer = 0; outer < 4; outer++) {
                byte[] packet = header.clone();
                int result = EcnDecapsulation.apply(packet, 0, outer);
                if (result == DROP) {
                    assertArrayEquals(header, packet, "a dropped packet is left alone");
                    continue;
                }
                byte[] recomputed = packet.clone();
                fixChecksum(recomputed, 0);
                assertArrayEquals(recomputed, packet, "checksum after " + inner + " under " + outer);
                assertEquals(EcnDecapsulation.decapsulate(outer, inner), packet[1] & 0x3);
                assertEquals(header[1] & 0xFC, packet[1] & 0xFC, "DSCP unchanged");
                assertEquals(result, EcnDecapsulation.ipv4Ecn(packet, 0));
            }
        }
    }

    @Test
    void shouldRewriteOnlyTheEcnBitsOfAnIpv6TrafficClass() {
        // version 6, traffic class 0xBA (EF, ECT(0)), flow label 0x12345
        byte[] packet = Bytes.fromHex("6ba12345" + "0000" + "1140" + "00".repeat(32));
        assertEquals(ECT_0, EcnDecapsulation.ipv6Ecn(packet, 0));

        assertEquals(CE, EcnDecapsulation.apply(packet, 0, CE));
        assertEquals("6bb12345", Bytes.toHex(packet, 0, 4));

        EcnDecapsulation.ipv6Ecn(packet, 0, ECT_1);
        assertEquals("6b912345", Bytes.toHex(packet, 0, 4));
        EcnDecapsulation.ipv6Ecn(packet, 0, NOT_ECT);
        assertEquals("6b812345", Bytes.toHex(packet, 0, 4));
    }

    @Test
    void shouldDropAnIpv6NotEctPacketUnderCeWithoutTouchingIt() {
        byte[] packet = Bytes.fromHex("6b812345" + "0000" + "1140" + "00".repeat(32));
        byte[] before = packet.clone();
        assertEquals(DROP, EcnDecapsulation.apply(packet, 0, CE));
        assertArrayEquals(before, packet);
    }

    @Test
    void shouldRefuseAPacketThatIsNeitherIpv4NorIpv6() {
        byte[] packet = {0x55, 0x00, 0x00, 0x00};
        assertEquals(NOT_IP, EcnDecapsulation.apply(packet, 0, CE));
        assertArrayEquals(new byte[]{0x55, 0x00, 0x00, 0x00}, packet);
    }

    /** Recomputes the IPv4 header checksum from scratch (RFC 791, RFC 1071). */
    private static void fixChecksum(byte[] packet, int offset) {
        int headerLength = (packet[offset] & 0xF) * 4;
        Bytes.u16(packet, offset + Ipv4View.CHECKSUM_FIELD_OFFSET, 0);
        int sum = Bytes.onesComplementSum(packet, offset, headerLength, 0);
        Bytes.u16(packet, offset + Ipv4View.CHECKSUM_FIELD_OFFSET, ~sum & 0xFFFF);
    }
}
