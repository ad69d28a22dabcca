package io.flowsec.cluster.security;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The wire layout of a sealed message. All numbers are big-endian.
 * <pre>
 * offset    size  field
 * 0         2     magic 0x46 0x43 ("FC", flowsec cluster)
 * 2         1     format version, 1
 * 3         1     message type ({@link MessageType#code()})
 * 4         1     sender name length S, 1..64
 * 5         1     subject length J, 0..128
 * 6         16    sender epoch ({@link Epoch}), random per Sealer
 * 22        8     counter, 1..2^63-1, strictly increasing per Sealer
 * 30        8     timestamp, milliseconds since 1970-01-01 UTC
 * 38        S     sender name, UTF-8
 * 38+S      J     subject, UTF-8: the tunnel id of an assignment, empty for a load report
 * 38+S+J    P     AES-256-GCM ciphertext of the payload, P = 0..65536
 * 38+S+J+P  16    GCM tag
 * </pre>
 * Bytes 0 to 38+S+J (the header) are the AAD, so nothing in them can change without the tag failing. The key is
 * HKDF-SHA256(secret, salt = epoch, info = "flowsec cluster seal v1") and the 96-bit nonce is four zero bytes and
 * the counter: see {@link Sealer} for why. The subject is in the header, not only in the caller's map key, so a
 * message found under another tunnel's key is recognised as moved ({@link Rejection#MISDIRECTED}).
 */
public final class Envelope {
    public static final byte MAGIC_0 = 0x46;
    public static final byte MAGIC_1 = 0x43;
    public static final int VERSION = 1;

    public static final int MAGIC_OFFSET = 0;
    public static final int VERSION_OFFSET = 2;
    public static final int TYPE_OFFSET = 3;
    public static final int SENDER_LENGTH_OFFSET = 4;
    public static final int SUBJECT_LENGTH_OFFSET = 5;
    public static final int EPOCH_OFFSET = 6;
    public static final int COUNTER_OFFSET = 22;
    public static final int TIMESTAMP_OFFSET = 30;
    public static final int SENDER_OFFSET = 38;
    public static final int FIXED_HEADER_LENGTH = SENDER_OFFSET;

    public static final int MAX_SENDER_BYTES = 64;
    public static final int MAX_SUBJECT_BYTES = 128;
    public static final int MAX_PAYLOAD_BYTES = 64 * 1024;
    public static final int TAG_LENGTH = 16;
    public static final int NONCE_LENGTH = 12;
    public static final int MIN_LENGTH = FIXED_HEADER_LENGTH + 1 + TAG_LENGTH;
    public static final int MAX_LENGTH = FIXED_HEADER_LENGTH + MAX_SENDER_BYTES + MAX_SUBJECT_BYTES
            + MAX_PAYLOAD_BYTES + TAG_LENGTH;

    private Envelope() {
    }

    /** The parsed header; {@code length} is where the ciphertext starts. */
    record Header(MessageType type, String sender, String subject, Epoch epoch, long counter, long timestampMs,
                  int length) {
    }

    /** Writes the header for a payload of {@code payloadLength} bytes; the caller appends ciphertext and tag. */
    static ByteBuffer writeHeader(MessageType type, byte[] sender, byte[] subject, Epoch epoch, long counter,
                                  long timestampMs, int payloadLength) {
        int headerLength = FIXED_HEADER_LENGTH + sender.length + subject.length;
        ByteBuffer buffer = ByteBuffer.allocate(headerLength + payloadLength + TAG_LENGTH);
        buffer.put(MAGIC_0).put(MAGIC_1).put((byte) VERSION).put((byte) type.code())
                .put((byte) sender.length).put((byte) subject.length)
                .putLong(epoch.high()).putLong(epoch.low())
                .putLong(counter).putLong(timestampMs)
                .put(sender).put(subject);
        return buffer;
    }

    /** The header of {@code envelope}, or null when it is not an envelope of this format: nothing here throws. */
    static Header parse(byte[] envelope) {
        if (envelope == null || envelope.length < MIN_LENGTH || envelope.length > MAX_LENGTH) {
            return null;
        }
        ByteBuffer buffer = ByteBuffer.wrap(envelope);
        if (buffer.get(MAGIC_OFFSET) != MAGIC_0 || buffer.get(MAGIC_OFFSET + 1) != MAGIC_1
                || buffer.get(VERSION_OFFSET) != VERSION) {
            return null;
        }
        MessageType type = MessageType.ofCode(Byte.toUnsignedInt(buffer.get(TYPE_OFFSET)));
        int senderLength = Byte.toUnsignedInt(buffer.get(SENDER_LENGTH_OFFSET));
        int subjectLength = Byte.toUnsignedInt(buffer.get(SUBJECT_LENGTH_OFFSET));
        if (type == null || senderLength < 1 || senderLength > MAX_SENDER_BYTES || subjectLength > MAX_SUBJECT_BYTES) {
            return null;
        }
        int headerLength = FIXED_HEADER_LENGTH + senderLength + subjectLength;
        int payloadLength = envelope.length - headerLength - TAG_LENGTH;
        if (payloadLength < 0 || payloadLength > MAX_PAYLOAD_BYTES) {
            return null;
        }
        long counter = buffer.getLong(COUNTER_OFFSET);
        if (counter < 1) {
            return null;
        }
        String sender = strictUtf8(buffer, SENDER_OFFSET, senderLength);
        String subject = strictUtf8(buffer, SENDER_OFFSET + senderLength, subjectLength);
        if (sender == null || subject == null) {
            return null;
        }
        Epoch epoch = new Epoch(buffer.getLong(EPOCH_OFFSET), buffer.getLong(EPOCH_OFFSET + 8));
        return new Header(type, sender, subject, epoch, counter, buffer.getLong(TIMESTAMP_OFFSET), headerLength);
    }

    /** The GCM nonce for a counter: unique under one epoch's key because the counter is. */
    static byte[] nonce(long counter) {
        return ByteBuffer.allocate(NONCE_LENGTH).putInt(0).putLong(counter).array();
    }

    /** Names are checked, not repaired: a sealer never writes invalid UTF-8, so such bytes are not ours. */
    private static String strictUtf8(ByteBuffer buffer, int offset, int length) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            CharBuffer chars = decoder.decode(buffer.slice(offset, length));
            return chars.toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
