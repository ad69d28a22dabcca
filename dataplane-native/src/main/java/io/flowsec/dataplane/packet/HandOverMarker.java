package io.flowsec.dataplane.packet;

/**
 * The data plane's own datagram that closes a hand-over of an inbound SA between lanes. The appliance sends it to its
 * own tunnel endpoint after steering changed; the steering program sends it to the losing lane's socket, behind every
 * datagram steered there before the change (a socket's queue is first in, first out). When the losing lane reads it,
 * the SA's earlier packets are done, and the gaining lane may start on the later ones.
 * <pre>
 *   0      SPI field: {@link #SPI}, one of the values RFC 4303 §2.1 reserves, so never an SA's
 *   4      the lane whose socket it must reach (what the steering programs return for it)
 *   8      token: 64 random bits of the hand-over, so a datagram from outside cannot end one early
 * </pre>
 */
public final class HandOverMarker {
    /** RFC 4303 §2.1: SPIs 1-255 are reserved by IANA; no SA has this one. */
    public static final int SPI = 255;
    public static final int LANE_OFFSET = 4;
    public static final int TOKEN_OFFSET = 8;
    public static final int LENGTH = 16;

    private HandOverMarker() {
    }

    /** The marker for {@code lane} with {@code token}. Control plane: allocates. */
    public static byte[] encode(int lane, long token) {
        byte[] marker = new byte[LENGTH];
        Bytes.i32(marker, 0, SPI);
        Bytes.i32(marker, LANE_OFFSET, lane);
        Bytes.i64(marker, TOKEN_OFFSET, token);
        return marker;
    }

    /** The token of the marker at {@code [offset, offset + length)}, or 0 when it is too short to be one. */
    public static long token(byte[] buffer, int offset, int length) {
        return length == LENGTH ? Bytes.i64(buffer, offset + TOKEN_OFFSET) : 0;
    }
}
