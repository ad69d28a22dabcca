package io.flowsec.dataplane.offload;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class VirtioNetHeaderTest {
    @Test
    void shouldWriteEveryFieldLittleEndianAtItsPlace() {
        byte[] buffer = new byte[14];
        Arrays.fill(buffer, (byte) 0xAA);
        VirtioNetHeader.write(buffer, 2, 0x01, 0x81, 0x0042, 0x05a8, 0x0014, 0x0010);
        assertArrayEquals(new byte[]{(byte) 0xAA, (byte) 0xAA,
                0x01, (byte) 0x81, 0x42, 0x00, (byte) 0xa8, 0x05, 0x14, 0x00, 0x10, 0x00,
                (byte) 0xAA, (byte) 0xAA}, buffer);
    }

    @Test
    void shouldReadBackWhatTheKernelsStructHolds() {
        byte[] buffer = OffloadTestPackets.tunRead(3, 0x03, 0x04, 0xfedc, 0x8001, 0x0028, 0x0006, new byte[0]);
        assertEquals(0x03, VirtioNetHeader.flags(buffer, 3));
        assertEquals(0x04, VirtioNetHeader.gsoType(buffer, 3));
        assertEquals(0xfedc, VirtioNetHeader.hdrLen(buffer, 3));
        assertEquals(0x8001, VirtioNetHeader.gsoSize(buffer, 3));
        assertEquals(0x0028, VirtioNetHeader.csumStart(buffer, 3));
        assertEquals(0x0006, VirtioNetHeader.csumOffset(buffer, 3));
    }

    @Test
    void shouldClearExactlyTenBytes() {
        byte[] buffer = new byte[12];
        Arrays.fill(buffer, (byte) 0x55);
        VirtioNetHeader.clear(buffer, 1);
        byte[] expected = new byte[12];
        expected[0] = 0x55;
        expected[11] = 0x55;
        assertArrayEquals(expected, buffer);
    }

    @Test
    void shouldKeepTheKernelsConstants() {
        assertEquals(10, VirtioNetHeader.LENGTH);
        assertEquals(1, VirtioNetHeader.F_NEEDS_CSUM);
        assertEquals(2, VirtioNetHeader.F_DATA_VALID);
        assertEquals(0, VirtioNetHeader.GSO_NONE);
        assertEquals(1, VirtioNetHeader.GSO_TCPV4);
        assertEquals(3, VirtioNetHeader.GSO_UDP);
        assertEquals(4, VirtioNetHeader.GSO_TCPV6);
        assertEquals(5, VirtioNetHeader.GSO_UDP_L4);
        assertEquals(0x80, VirtioNetHeader.GSO_ECN);
    }
}
