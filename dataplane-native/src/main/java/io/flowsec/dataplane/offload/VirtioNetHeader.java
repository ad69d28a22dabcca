package io.flowsec.dataplane.offload;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The {@code struct virtio_net_hdr} that a TUN device opened with {@code IFF_VNET_HDR} puts before every packet it
 * reads and expects before every packet written to it (include/uapi/linux/virtio_net.h), read and written in place.
 *
 * <pre>
 *  0               1               2               3
 * +---------------+---------------+---------------+---------------+
 * |     flags     |   gso_type    |            hdr_len            |
 * +---------------+---------------+---------------+---------------+
 * |           gso_size            |          csum_start           |
 * +---------------+---------------+---------------+---------------+
 * |          csum_offset          |
 * +---------------+---------------+
 * </pre>
 * The 16-bit fields are in host byte order, little endian on x86 and arm64: TUN uses that unless told otherwise
 * with {@code TUNSETVNETBE}, which this project never does. {@code csum_start} counts from the IP header.
 */
public final class VirtioNetHeader {
    public static final int LENGTH = 10;

    public static final int FLAGS_FIELD_OFFSET = 0;
    public static final int GSO_TYPE_FIELD_OFFSET = 1;
    public static final int HDR_LEN_FIELD_OFFSET = 2;
    public static final int GSO_SIZE_FIELD_OFFSET = 4;
    public static final int CSUM_START_FIELD_OFFSET = 6;
    public static final int CSUM_OFFSET_FIELD_OFFSET = 8;

    /** The checksum from csum_start to the end still has to be completed (the field holds the pseudo-header sum). */
    public static final int F_NEEDS_CSUM = 1;
    /** The checksum was already verified. */
    public static final int F_DATA_VALID = 2;

    public static final int GSO_NONE = 0;
    public static final int GSO_TCPV4 = 1;
    /** UDP fragmentation offload (UFO): one datagram cut into IP fragments. */
    public static final int GSO_UDP = 3;
    public static final int GSO_TCPV6 = 4;
    /** UDP segmentation offload (USO): a run of datagrams of gso_size each. */
    public static final int GSO_UDP_L4 = 5;
    /** Or-ed into gso_type: the TCP superpacket carries CWR (ECN), which only its first segment keeps. */
    public static final int GSO_ECN = 0x80;

    private static final VarHandle SHORT_LE = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

    private VirtioNetHeader() {
    }

    public static int flags(byte[] buffer, int offset) {
        return buffer[offset + FLAGS_FIELD_OFFSET] & 0xFF;
    }

    public static int gsoType(byte[] buffer, int offset) {
        return buffer[offset + GSO_TYPE_FIELD_OFFSET] & 0xFF;
    }

    /** Length of the headers; TUN fills in the length of the packet's linear part, so it is a hint only. */
    public static int hdrLen(byte[] buffer, int offset) {
        return u16(buffer, offset + HDR_LEN_FIELD_OFFSET);
    }

    public static int gsoSize(byte[] buffer, int offset) {
        return u16(buffer, offset + GSO_SIZE_FIELD_OFFSET);
    }

    public static int csumStart(byte[] buffer, int offset) {
        return u16(buffer, offset + CSUM_START_FIELD_OFFSET);
    }

    public static int csumOffset(byte[] buffer, int offset) {
        return u16(buffer, offset + CSUM_OFFSET_FIELD_OFFSET);
    }

    public static void write(byte[] buffer, int offset, int flags, int gsoType, int hdrLen, int gsoSize,
                             int csumStart, int csumOffset) {
        buffer[offset + FLAGS_FIELD_OFFSET] = (byte) flags;
        buffer[offset + GSO_TYPE_FIELD_OFFSET] = (byte) gsoType;
        SHORT_LE.set(buffer, offset + HDR_LEN_FIELD_OFFSET, (short) hdrLen);
        SHORT_LE.set(buffer, offset + GSO_SIZE_FIELD_OFFSET, (short) gsoSize);
        SHORT_LE.set(buffer, offset + CSUM_START_FIELD_OFFSET, (short) csumStart);
        SHORT_LE.set(buffer, offset + CSUM_OFFSET_FIELD_OFFSET, (short) csumOffset);
    }

    /** A header that asks for nothing: GSO_NONE, no flags (the packet's own checksums stand). */
    public static void clear(byte[] buffer, int offset) {
        Arrays.fill(buffer, offset, offset + LENGTH, (byte) 0);
    }

    private static int u16(byte[] buffer, int index) {
        return (short) SHORT_LE.get(buffer, index) & 0xFFFF;
    }
}
