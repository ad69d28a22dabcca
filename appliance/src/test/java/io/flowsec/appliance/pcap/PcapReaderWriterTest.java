package io.flowsec.appliance.pcap;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PcapReaderWriterTest {
    private static final int MAGIC_MICROS = 0xa1b2c3d4;
    private static final int MAGIC_NANOS = 0xa1b23c4d;

    @TempDir
    Path dir;

    // ---------------------------------------------------------------------------------------------------------------
    // Hand-made captures

    /** A classic pcap built byte by byte, in either byte order. */
    private static final class Capture {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final ByteOrder order;

        Capture(ByteOrder order, int magic, int linkType) {
            this.order = order;
            bytes.writeBytes(ByteBuffer.allocate(24).order(order).putInt(magic).putShort((short) 2).putShort((short) 4)
                    .putInt(0).putInt(0).putInt(65535).putInt(linkType).array());
        }

        Capture(int linkType) {
            this(ByteOrder.LITTLE_ENDIAN, MAGIC_MICROS, linkType);
        }

        Capture record(long seconds, int fraction, byte[] data) {
            return record(seconds, fraction, data.length, data.length + 4, data);
        }

        Capture record(long seconds, int fraction, int capturedLength, int originalLength, byte[] data) {
            bytes.writeBytes(ByteBuffer.allocate(16).order(order).putInt((int) seconds).putInt(fraction)
                    .putInt(capturedLength).putInt(originalLength).array());
            bytes.writeBytes(data);
            return this;
        }

        Capture raw(byte[] data) {
            bytes.writeBytes(data);
            return this;
        }

        byte[] bytes() {
            return bytes.toByteArray();
        }
    }

    private Path write(String name, byte[] content) throws IOException {
        Path file = dir.resolve(name);
        Files.write(file, content);
        return file;
    }

    private Path write(String name, Capture capture) throws IOException {
        return write(name, capture.bytes());
    }

    private static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    /** A minimal IPv4 header (20 bytes) plus a few payload bytes; the reader does not check it, only the offset. */
    private static final byte[] IPV4 = bytes(0x45, 0, 0, 24, 0, 1, 0, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1,
            0xde, 0xad, 0xbe, 0xef);
    private static final byte[] IPV6_START = bytes(0x60, 0, 0, 0, 0, 0, 59, 64);
    private static final byte[] MACS = bytes(2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2);

    private static byte[] ethernet(int... etherTypesAndTags) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(MACS);
        for (int value : etherTypesAndTags) {
            out.write(value >>> 8);
            out.write(value);
        }
        return out.toByteArray();
    }

    private static byte[] linuxCooked(int protocol) {
        return concat(bytes(0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0), bytes(protocol >>> 8, protocol));
    }

    private PcapReader openOne(int linkType, byte[] frame) throws Exception {
        PcapReader reader = PcapReader.open(write("one.pcap", new Capture(linkType).record(1, 0, frame)));
        assertTrue(reader.next());
        return reader;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Writer and reader together

    @Test
    void what_the_writer_writes_the_reader_reads_back_with_nanosecond_timestamps() throws Exception {
        byte[] first = IPV4;
        byte[] second = new byte[1500];
        new Random(1).nextBytes(second);
        second[0] = 0x45;
        Path file = dir.resolve("round.pcap");
        try (PcapWriter writer = PcapWriter.create(file)) {
            writer.write(1, 0, first, 0, first.length);
            writer.write(1_700_000_000L, 123_456_789, second, 0, second.length);
            writer.write(3_000_000_000L, 999_999_999, second, 100, 60);
        }

        try (PcapReader reader = PcapReader.open(file)) {
            assertEquals(PcapReader.LINKTYPE_RAW, reader.linkType());

            assertTrue(reader.next());
            assertEquals(1, reader.recordNumber());
            assertEquals(1, reader.timestampSeconds());
            assertEquals(0, reader.timestampNanos());
            assertArrayEquals(first, Arrays.copyOf(reader.data(), reader.capturedLength()));
            assertEquals(first.length, reader.originalLength());
            assertEquals(0, reader.ipOffset());

            assertTrue(reader.next());
            assertEquals(2, reader.recordNumber());
            assertEquals(1_700_000_000L, reader.timestampSeconds());
            assertEquals(123_456_789, reader.timestampNanos());
            assertArrayEquals(second, Arrays.copyOf(reader.data(), reader.capturedLength()));

            assertTrue(reader.next());
            assertEquals(3_000_000_000L, reader.timestampSeconds(), "seconds are unsigned 32-bit");
            assertEquals(999_999_999, reader.timestampNanos());
            assertArrayEquals(Arrays.copyOfRange(second, 100, 160), Arrays.copyOf(reader.data(), reader.capturedLength()));
            assertEquals(60, reader.originalLength());

            assertFalse(reader.next(), "a clean end of file");
            assertFalse(reader.next(), "and it stays at the end");
        }
    }

    @Test
    void the_writer_writes_a_little_endian_nanosecond_raw_IP_header() throws Exception {
        Path file = dir.resolve("empty.pcap");
        try (PcapWriter ignored = PcapWriter.create(file)) {
            // no records
        }
        byte[] content = Files.readAllBytes(file);
        assertEquals(24, content.length);
        ByteBuffer header = ByteBuffer.wrap(content).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(MAGIC_NANOS, header.getInt(0));
        assertEquals(2, header.getShort(4));
        assertEquals(4, header.getShort(6));
        assertEquals(101, header.getInt(20));
        try (PcapReader reader = PcapReader.open(file)) {
            assertFalse(reader.next());
        }
    }

    @ParameterizedTest(name = "a {0} file with {1} timestamps is read")
    @CsvSource({"BIG_ENDIAN, micro", "LITTLE_ENDIAN, micro", "BIG_ENDIAN, nano", "LITTLE_ENDIAN, nano"})
    void hand_written_files_of_either_byte_order_and_either_resolution_are_read(String orderName, String resolution)
            throws Exception {
        ByteOrder order = orderName.equals("BIG_ENDIAN") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        boolean nanos = resolution.equals("nano");
        Capture capture = new Capture(order, nanos ? MAGIC_NANOS : MAGIC_MICROS, PcapReader.LINKTYPE_IPV4)
                .record(1_600_000_000L, nanos ? 250_000_001 : 250_001, 24, 1514, IPV4)
                .record(4_000_000_000L, nanos ? 999_999_999 : 999_999, IPV4);

        try (PcapReader reader = PcapReader.open(write("hand.pcap", capture))) {
            assertEquals(PcapReader.LINKTYPE_IPV4, reader.linkType());
            assertTrue(reader.next());
            assertEquals(1_600_000_000L, reader.timestampSeconds());
            assertEquals(nanos ? 250_000_001 : 250_001_000, reader.timestampNanos());
            assertEquals(24, reader.capturedLength());
            assertEquals(1514, reader.originalLength());
            assertArrayEquals(IPV4, Arrays.copyOf(reader.data(), 24));
            assertEquals(0, reader.ipOffset());
            assertTrue(reader.next());
            assertEquals(4_000_000_000L, reader.timestampSeconds());
            assertEquals(nanos ? 999_999_999 : 999_999_000, reader.timestampNanos());
            assertFalse(reader.next());
        }
    }

    @Test
    void a_record_larger_than_the_usual_buffer_is_read_whole_and_the_next_one_after_it() throws Exception {
        byte[] big = new byte[100_000];
        new Random(2).nextBytes(big);
        Capture capture = new Capture(PcapReader.LINKTYPE_RAW).record(1, 0, big).record(2, 0, IPV4);

        try (PcapReader reader = PcapReader.open(write("big.pcap", capture))) {
            assertTrue(reader.next());
            assertEquals(big.length, reader.capturedLength());
            assertArrayEquals(big, Arrays.copyOf(reader.data(), big.length));
            assertTrue(reader.next());
            assertArrayEquals(IPV4, Arrays.copyOf(reader.data(), reader.capturedLength()));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Where the IP header is

    @Test
    void an_Ethernet_frame_carries_IPv4_after_14_bytes() throws Exception {
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_ETHERNET, concat(ethernet(0x0800), IPV4))) {
            assertEquals(14, reader.ipOffset());
            assertEquals(0x45, reader.data()[reader.ipOffset()]);
        }
    }

    @Test
    void an_Ethernet_frame_carries_IPv6_after_14_bytes() throws Exception {
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_ETHERNET, concat(ethernet(0x86DD), IPV6_START))) {
            assertEquals(14, reader.ipOffset());
        }
    }

    @Test
    void an_Ethernet_frame_with_one_VLAN_tag_carries_IP_after_18_bytes() throws Exception {
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_ETHERNET, concat(ethernet(0x8100, 0x0064, 0x0800), IPV4))) {
            assertEquals(18, reader.ipOffset());
            assertEquals(0x45, reader.data()[reader.ipOffset()]);
        }
    }

    @Test
    void an_Ethernet_frame_with_two_VLAN_tags_carries_IP_after_22_bytes() throws Exception {
        byte[] frame = concat(ethernet(0x88a8, 0x0064, 0x8100, 0x00c8, 0x86DD), IPV6_START);
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_ETHERNET, frame)) {
            assertEquals(22, reader.ipOffset());
            assertEquals(0x60, reader.data()[reader.ipOffset()]);
        }
    }

    @Test
    void an_ARP_frame_has_no_IP_header() throws Exception {
        byte[] arp = concat(ethernet(0x0806), bytes(0, 1, 8, 0, 6, 4, 0, 1), new byte[20]);
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_ETHERNET, arp)) {
            assertEquals(-1, reader.ipOffset());
        }
    }

    @Test
    void an_ARP_frame_inside_a_VLAN_has_no_IP_header() throws Exception {
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_ETHERNET, concat(ethernet(0x8100, 0x0064, 0x0806), new byte[28]))) {
            assertEquals(-1, reader.ipOffset());
        }
    }

    @Test
    void an_Ethernet_frame_too_short_for_its_ethertype_has_no_IP_header() throws Exception {
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_ETHERNET, Arrays.copyOf(MACS, 13))) {
            assertEquals(-1, reader.ipOffset());
        }
    }

    @Test
    void a_Linux_cooked_frame_carries_IP_after_16_bytes() throws Exception {
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_LINUX_SLL, concat(linuxCooked(0x0800), IPV4))) {
            assertEquals(PcapReader.LINKTYPE_LINUX_SLL, reader.linkType());
            assertEquals(16, reader.ipOffset());
            assertEquals(0x45, reader.data()[reader.ipOffset()]);
        }
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_LINUX_SLL, concat(linuxCooked(0x86DD), IPV6_START))) {
            assertEquals(16, reader.ipOffset());
        }
    }

    @Test
    void a_Linux_cooked_ARP_frame_has_no_IP_header() throws Exception {
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_LINUX_SLL, concat(linuxCooked(0x0806), new byte[28]))) {
            assertEquals(-1, reader.ipOffset());
        }
    }

    @ParameterizedTest(name = "link type {0} starts at the IP header")
    @ValueSource(ints = {101, 228, 229})
    void raw_IP_link_types_start_at_the_IP_header(int linkType) throws Exception {
        try (PcapReader reader = openOne(linkType, IPV4)) {
            assertEquals(linkType, reader.linkType());
            assertEquals(0, reader.ipOffset());
        }
    }

    @Test
    void an_empty_raw_IP_record_has_no_IP_header() throws Exception {
        try (PcapReader reader = openOne(PcapReader.LINKTYPE_RAW, new byte[0])) {
            assertEquals(0, reader.capturedLength());
            assertEquals(-1, reader.ipOffset());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Files that are not what they should be

    private PcapFormatException openFails(byte[] content) throws IOException {
        Path file = write("bad.pcap", content);
        PcapFormatException e = assertThrows(PcapFormatException.class, () -> PcapReader.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), () -> "the message names the file: " + e.getMessage());
        return e;
    }

    private PcapFormatException nextFails(Capture capture, int goodRecords) throws Exception {
        try (PcapReader reader = PcapReader.open(write("bad.pcap", capture))) {
            for (int i = 0; i < goodRecords; i++) {
                assertTrue(reader.next(), "record " + (i + 1) + " is fine");
            }
            return assertThrows(PcapFormatException.class, reader::next);
        }
    }

    @Test
    void an_empty_file_is_not_a_pcap() throws Exception {
        assertTrue(openFails(new byte[0]).getMessage().contains("is not a pcap file (too short for a header)"));
    }

    @Test
    void random_bytes_are_not_a_pcap() throws Exception {
        byte[] noise = new byte[4096];
        new Random(3).nextBytes(noise);
        assertTrue(openFails(noise).getMessage().contains("is not a pcap file (unknown magic number)"));
    }

    @Test
    void a_text_file_is_not_a_pcap() throws Exception {
        assertTrue(openFails("{\"policies\": []}\n".getBytes()).getMessage().contains("unknown magic number"));
    }

    @Test
    void a_pcapng_file_is_refused_with_the_editcap_command_that_converts_it() throws Exception {
        // section header block: type 0x0a0d0d0a, length, byte-order magic 0x1a2b3c4d
        byte[] pcapng = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(0x0a0d0d0a).putInt(28).putInt(0x1a2b3c4d).putShort((short) 1).putShort((short) 0)
                .putLong(-1).putInt(28).array();
        String message = openFails(pcapng).getMessage();
        assertTrue(message.contains("is pcapng"), message);
        assertTrue(message.contains("editcap -F pcap"), message);
    }

    @Test
    void a_file_cut_inside_its_header_is_truncated() throws Exception {
        byte[] header = new Capture(PcapReader.LINKTYPE_RAW).bytes();
        assertTrue(openFails(Arrays.copyOf(header, 20)).getMessage().contains("is truncated inside its file header"));
    }

    @Test
    void a_record_header_cut_short_is_reported_with_its_record_number() throws Exception {
        Capture capture = new Capture(PcapReader.LINKTYPE_RAW).record(1, 0, IPV4).raw(new byte[10]);
        PcapFormatException e = nextFails(capture, 1);
        assertEquals("truncated file: record 2 has an incomplete header", e.getMessage());
    }

    @Test
    void a_record_body_cut_short_is_reported_with_its_record_number() throws Exception {
        Capture capture = new Capture(PcapReader.LINKTYPE_RAW).record(1, 0, IPV4)
                .record(2, 0, 100, 100, new byte[60]);
        PcapFormatException e = nextFails(capture, 1);
        assertEquals("truncated file: record 2 is cut short", e.getMessage());
    }

    @Test
    void a_first_record_body_cut_short_is_reported_as_record_1() throws Exception {
        PcapFormatException e = nextFails(new Capture(PcapReader.LINKTYPE_RAW).record(1, 0, 24, 24, new byte[3]), 0);
        assertEquals("truncated file: record 1 is cut short", e.getMessage());
    }

    @ParameterizedTest(name = "a record claiming {0} bytes is corrupt")
    @ValueSource(ints = {262145, 0x7fffffff, -1})
    void a_record_with_an_absurd_length_is_corrupt(int claimed) throws Exception {
        Capture capture = new Capture(PcapReader.LINKTYPE_RAW).record(1, 0, IPV4)
                .record(2, 0, claimed, 64, new byte[64]);
        PcapFormatException e = nextFails(capture, 1);
        assertEquals("record 2 claims " + claimed + " bytes: file is corrupt", e.getMessage());
    }

    @ParameterizedTest(name = "link type {0} is refused")
    @ValueSource(ints = {0, 105, 127, 276})
    void an_unsupported_link_type_is_refused_with_the_supported_ones(int linkType) throws Exception {
        String message = openFails(new Capture(linkType).record(1, 0, IPV4).bytes()).getMessage();
        assertTrue(message.contains("has link type " + linkType + ";"), message);
        assertTrue(message.contains("supported: 1 (Ethernet), 101 (raw IP), 113 (Linux cooked)"), message);
    }
}
