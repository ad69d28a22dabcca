package io.flowsec.appliance.pcap;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes a classic pcap with nanosecond timestamps and link type 101 (raw IP: every record starts at its IP header). */
public final class PcapWriter implements Closeable {
    private static final int MAGIC_NANOS = 0xa1b23c4d;

    private final OutputStream out;
    private final ByteBuffer recordHeader = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);

    private PcapWriter(OutputStream out) {
        this.out = out;
    }

    public static PcapWriter create(Path path) throws IOException {
        OutputStream out = new BufferedOutputStream(Files.newOutputStream(path), 1 << 16);
        ByteBuffer header = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(MAGIC_NANOS).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0)
                .putInt(262144).putInt(PcapReader.LINKTYPE_RAW);
        out.write(header.array());
        return new PcapWriter(out);
    }

    public void write(long seconds, int nanos, byte[] data, int offset, int length) throws IOException {
        recordHeader.clear();
        recordHeader.putInt((int) seconds).putInt(nanos).putInt(length).putInt(length);
        out.write(recordHeader.array());
        out.write(data, offset, length);
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
