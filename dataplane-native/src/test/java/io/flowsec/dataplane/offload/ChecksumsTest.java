package io.flowsec.dataplane.offload;

import io.flowsec.dataplane.packet.Bytes;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static io.flowsec.dataplane.offload.OffloadTestPackets.sum16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChecksumsTest {
    /** The IPv4 header of Wikipedia's "IPv4 header checksum" example, checksum b861 in place. */
    private static final byte[] WIKIPEDIA_HEADER = Bytes.fromHex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");

    @Test
    void shouldSumLikeTheTextbookLoopForEveryLengthOffsetAndInitialValue() {
        Random random = new Random(1071);
        byte[] bytes = new byte[300];
        for (int round = 0; round < 2000; round++) {
            random.nextBytes(bytes);
            int offset = random.nextInt(60);
            int length = random.nextInt(bytes.length - offset);
            long initial = random.nextInt(0x3FFFF);
            int expected = sum16(bytes, offset, length, initial);
            assertEquals(expected, Checksums.sum(bytes, offset, length, initial),
                    "offset " + offset + " length " + length + " initial " + initial);
            assertEquals(expected, Bytes.onesComplementSum(bytes, offset, length, initial), "the older sum agrees");
        }
    }

    @Test
    void shouldCarryEveryOverflowOfTheLargestPacketOfOnes() {
        byte[] ones = new byte[65535];
        Arrays.fill(ones, (byte) 0xFF);
        assertEquals(sum16(ones, 0, ones.length, 0x3FFFE), Checksums.sum(ones, 0, ones.length, 0x3FFFE));
        assertEquals(0xFFFF, Checksums.sum(ones, 0, ones.length - 1, 0));
        assertEquals(sum16(ones, 1, 64, (1L << 62) - 1), Checksums.sum(ones, 1, 64, (1L << 62) - 1), "the largest initial value");
    }

    @Test
    void shouldSumNothingToTheFoldedInitialValue() {
        assertEquals(0, Checksums.sum(new byte[4], 2, 0, 0));
        assertEquals(0x0002, Checksums.sum(new byte[4], 2, 0, 0x10001));
    }

    @Test
    void shouldCountAnOddLastByteAsTheHighHalfOfAWord() {
        byte[] bytes = {0x12, 0x34, 0x56};
        assertEquals(0x1234 + 0x5600, Checksums.sum(bytes, 0, 3, 0));
        assertEquals(0x3400, Checksums.sum(bytes, 1, 1, 0));
    }

    @Test
    void shouldComputeTheWikipediaIpv4HeaderChecksumWhateverTheFieldHolds() {
        byte[] header = WIKIPEDIA_HEADER.clone();
        assertEquals(0xb861, Checksums.ipv4HeaderChecksum(header, 0));
        assertTrue(Checksums.isIpv4HeaderChecksumValid(header, 0));

        byte[] shifted = new byte[header.length + 3];
        System.arraycopy(header, 0, shifted, 3, header.length);
        shifted[3 + 10] = 0x12;
        shifted[3 + 11] = 0x34;
        assertFalse(Checksums.isIpv4HeaderChecksumValid(shifted, 3));
        Checksums.updateIpv4HeaderChecksum(shifted, 3);
        assertArrayEquals(header, Arrays.copyOfRange(shifted, 3, shifted.length));
    }

    @Test
    void shouldCoverIpv4OptionsInTheHeaderChecksum() {
        byte[] header = Bytes.fromHex("4600 0077 0000 4000 4011 0000 c0a8 0001 c0a8 00c7 0101 0100");
        Checksums.updateIpv4HeaderChecksum(header, 0);
        assertEquals(0xFFFF, sum16(header, 0, 24, 0));
    }

    @Test
    void shouldSumTheIpv4PseudoHeaderFromTheAddressesProtocolAndLength() {
        byte[] ip = OffloadTestPackets.Ip.v4().build();
        int expected = sum16(ip, 12, 8, 6 + 1234);
        assertEquals(expected, Checksums.pseudoHeaderSum(ip, 0, 4, 6, 1234));
        assertEquals(OffloadTestPackets.sum16(ip, 0, 0, OffloadTestPackets.pseudoHeader(ip, 4, 17, 999)),
                Checksums.pseudoHeaderSum(ip, 0, 4, 17, 999));
    }

    @Test
    void shouldSumTheIpv6PseudoHeaderFromBothFullAddresses() {
        byte[] ip = OffloadTestPackets.Ip.v6().build();
        byte[] shifted = new byte[ip.length + 5];
        System.arraycopy(ip, 0, shifted, 5, ip.length);
        assertEquals(sum16(ip, 8, 32, 6 + 60000), Checksums.pseudoHeaderSum(shifted, 5, 6, 6, 60000));
    }

    @Test
    void shouldRefuseAnIpVersionWithoutAPseudoHeader() {
        assertThrows(IllegalArgumentException.class, () -> Checksums.pseudoHeaderSum(new byte[40], 0, 5, 6, 20));
    }

    @Test
    void shouldComplementToTheSixteenBitsOfTheField() {
        assertEquals(0x479e, Checksums.complement(0xb861));
        assertEquals(0, Checksums.complement(0xFFFF));
        assertEquals(0xFFFF, Checksums.complement(0));
    }
}
