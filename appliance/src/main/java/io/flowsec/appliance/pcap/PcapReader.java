package io.flowsec.appliance.pcap;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads classic libpcap files (microsecond or nanosecond, either byte order). pcapng is recognised and refused with
 * a hint ({@code editcap -F pcap}). Records are read into one reusable buffer.
 */
public final class PcapReader implements Closeable {
    public static final int LINKTYPE_ETHERNET = 1;
    public static final int LINKTYPE_RAW = 101;
    public static final int LINKTYPE_LINUX_SLL = 113;
    public static final int LINKTYPE_IPV4 = 228;
    public static final int LINKTYPE_IPV6 = 229;

    private static final int MAGIC_MICROS = 0xa1b2c3d4;
    private static final int MAGIC_NANOS = 0xa1b23c4d;
    private static final int PCAPNG_MAGIC = 0x0a0d0d0a;
    private static final int MAX_RECORD = 262144;

    private final InputStream in;
    private final ByteOrder order;
    private final boolean nanos;
    private final int linkType;
    private final byte[] recordHeader = new byte[16];
    private byte[] data = new byte[65536 + 64];
    private long recordNumber;
    private long timestampSeconds;
    private int timestampNanos;
    private int capturedLength;
    private int originalLength;

    private PcapReader(InputStream in, ByteOrder order, boolean nanos, int linkType) {
        this.in = in;
        this.order = order;
        this.nanos = nanos;
        this.linkType = linkType;
    }

    public static PcapReader open(Path path) throws IOException, PcapFormatException {
        InputStream in = new BufferedInputStream(Files.newInputStream(path), 1 << 16);
        try {
            byte[] header = new byte[24];
            int read = in.readNBytes(header, 0, 24);
            if (read < 4) {
                throw new PcapFormatException(path + " is not a pcap file (too short for a header)");
            }
            int big = ByteBuffer.wrap(header).order(ByteOrder.BIG_ENDIAN).getInt(0);
            int little = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
            if (big == PCAPNG_MAGIC) {
                throw new PcapFormatException(path + " is pcapng; convert it with: editcap -F pcap " + path + " out.pcap");
            }
            ByteOrder order;
            boolean nanos;
            if (big == MAGIC_MICROS || big == MAGIC_NANOS) {
                order = ByteOrder.BIG_ENDIAN;
                nanos = big == MAGIC_NANOS;
            } else if (little == MAGIC_MICROS || little == MAGIC_NANOS) {
                order = ByteOrder.LITTLE_ENDIAN;
                nanos = little == MAGIC_NANOS;
            } else {
                throw new PcapFormatException(path + " is not a pcap file (unknown magic number)");
            }
            if (read < 24) {
                throw new PcapFormatException(path + " is truncated inside its file header");
            }
            int linkType = ByteBuffer.wrap(header).order(order).getInt(20) & 0x0FFFFFFF;
            if (linkType != LINKTYPE_ETHERNET && linkType != LINKTYPE_RAW && linkType != LINKTYPE_LINUX_SLL
                    && linkType != LINKTYPE_IPV4 && linkType != LINKTYPE_IPV6) {
                throw new PcapFormatException(path + " has link type " + linkType
                        + "; supported: 1 (Ethernet), 101 (raw IP), 113 (Linux cooked), 228/229 (raw IPv4/IPv6)");
            }
            return new PcapReader(in, order, nanos, linkType);
        } catch (IOException | PcapFormatException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    public int linkType() {
        return linkType;
    }

    /**
     * Reads the next record into {@link #data()}. Returns false at a clean end of file; a record cut short is an
     * error naming the record.
     */
    public boolean next() throws IOException, PcapFormatException {
        int read = in.readNBytes(recordHeader, 0, 16);
        if (read == 0) {
            return false;
        }
        recordNumber++;
        if (read < 16) {
            throw new PcapFormatException("truncated file: record " + recordNumber + " has an incomplete header");
        }
        ByteBuffer header = ByteBuffer.wrap(recordHeader).order(order);
        timestampSeconds = header.getInt(0) & 0xFFFF_FFFFL;
        int fraction = header.getInt(4);
        timestampNanos = nanos ? fraction : fraction * 1000;
        capturedLength = header.getInt(8);
        originalLength = header.getInt(12);
        if (capturedLength < 0 || capturedLength > MAX_RECORD) {
            throw new PcapFormatException("record " + recordNumber + " claims " + capturedLength + " bytes: file is corrupt");
        }
        if (capturedLength > data.length) {
            data = new byte[capturedLength];
        }
        try {
            int got = in.readNBytes(data, 0, capturedLength);
            if (got < capturedLength) {
                throw new EOFException();
            }
        } catch (EOFException e) {
            throw new PcapFormatException("truncated file: record " + recordNumber + " is cut short");
        }
        return true;
    }

    public byte[] data() {
        return data;
    }

    public int capturedLength() {
        return capturedLength;
    }

    public int originalLength() {
        return originalLength;
    }

    public long recordNumber() {
        return recordNumber;
    }

    public long timestampSeconds() {
        return timestampSeconds;
    }

    public int timestampNanos() {
        return timestampNanos;
    }

    /**
     * Offset of the IP header inside the current record for this link type, or -1 when the frame carries no IPv4 or
     * IPv6 (ARP, LLDP, ...). Ethernet frames may carry up to two VLAN tags.
     */
    public int ipOffset() {
        switch (linkType) {
            case LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6 -> {
                return capturedLength > 0 ? 0 : -1;
            }
            case LINKTYPE_LINUX_SLL -> {
                if (capturedLength < 16) {
                    return -1;
                }
                int protocol = ((data[14] & 0xFF) << 8) | (data[15] & 0xFF);
                return isIp(protocol) ? 16 : -1;
            }
            default -> {
                int offset = 12;
                for (int tags = 0; tags < 3; tags++) {
                    if (capturedLength < offset + 2) {
                        return -1;
                    }
                    int etherType = ((data[offset] & 0xFF) << 8) | (data[offset + 1] & 0xFF);
                    if (etherType == 0x8100 || etherType == 0x88a8) {
                        offset += 4;
                        continue;
                    }
                    return isIp(etherType) ? offset + 2 : -1;
                }
                return -1;
            }
        }
    }

    private static boolean isIp(int etherType) {
        return etherType == 0x0800 || etherType == 0x86DD;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
