package io.flowsec.dataplane.crypto;

import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.esp.TestVectors;
import com.fasterxml.jackson.databind.JsonNode;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.EspView;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.selector.IpPrefix;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static io.flowsec.dataplane.esp.TestVectors.hex;
import static io.flowsec.dataplane.esp.TestVectors.integer;
import static io.flowsec.dataplane.esp.TestVectors.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RFC 7634 Appendix A: a tunnel-mode ChaCha20-Poly1305 ESP packet, complete with its outer IPv4 header, decapsulated
 * by the whole inbound path of {@link EspProcessor}, and the ESP part sealed again at transform level to the exact
 * published bytes.
 */
class ChaCha20Poly1305VectorTest {
    private static final int OUTER_HEADER = Ipv4View.MIN_HEADER_LENGTH;
    private static final int HEADER_AND_IV = EspView.HEADER_LENGTH + 8;
    private static final int ICV = 16;

    private final JsonNode vector = TestVectors.load(TestVectors.CHACHA20_POLY1305);
    private final byte[] outerPacket = hex(vector, "esp_packet");
    private final byte[] innerPacket = hex(vector, "inner_packet");

    private SecurityAssociation sa;
    private EspProcessor processor;

    @BeforeEach
    void inboundSaOfTheVector() {
        sa = SecurityAssociation.builder()
                .name("rfc7634")
                .spi(integer(vector, "spi"))
                .direction(SecurityAssociation.Direction.INBOUND)
                .suite(EspSuite.CHACHA20_POLY1305)
                .encryptionKey(hex(vector, "enc_key_with_salt"))
                .selector(TrafficSelector.ANY)
                .outer(OuterEndpoints.esp(IpPrefix.parseAddress(text(vector, "outer_dst")),
                        IpPrefix.parseAddress(text(vector, "outer_src"))))
                .build();
        SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
        sad.add(sa);
        processor = new EspProcessor(new SecurityPolicyDatabase(), sad, EspProcessor.Framing.IP);
    }

    @Test
    void shouldDescribeAnOuterIpv4EspPacketWithTheVectorsSpiAndSequenceNumber() {
        Ipv4View outer = new Ipv4View().wrap(outerPacket, 0);
        assertTrue(outer.isValid(outerPacket.length));
        assertTrue(outer.isChecksumValid(), "outer header checksum");
        assertEquals(outerPacket.length, outer.totalLength());
        assertEquals(IpProtocol.ESP, outer.protocol());
        assertEquals(Bytes.i32(IpPrefix.parseAddress(text(vector, "outer_src")).getAddress(), 0), outer.sourceAddress());
        assertEquals(Bytes.i32(IpPrefix.parseAddress(text(vector, "outer_dst")).getAddress(), 0), outer.destinationAddress());
        EspView esp = new EspView().wrap(outerPacket, OUTER_HEADER);
        assertEquals(0x01020304, esp.spi());
        assertEquals(integer(vector, "seq"), esp.sequenceNumber());
        assertEquals(text(vector, "iv"), Bytes.toHex(outerPacket, OUTER_HEADER + EspView.HEADER_LENGTH, 8));
    }

    @Test
    void shouldDecapsulateThePublishedPacketToTheExactInnerPacket() {
        Packet packet = Packet.withRoomFor(outerPacket.length);
        assertTrue(packet.load(outerPacket, 0, outerPacket.length));

        assertEquals(Outcome.ACCEPTED, processor.decapsulate(packet));

        assertEquals(Bytes.toHex(innerPacket), Bytes.toHex(packet.toByteArray()), "inner packet");
        assertEquals(sa.index(), packet.saIndex());
        assertEquals(integer(vector, "seq"), packet.sequenceNumber());
        assertEquals(1, processor.counters().packets(sa.index(), Outcome.ACCEPTED));
        assertEquals(innerPacket.length, processor.counters().acceptedBytes(sa.index()));
        assertEquals(integer(vector, "seq"), sa.replayWindow().highest(), "sequence number committed");
    }

    @Test
    void shouldDropTheSamePacketAsAReplayTheSecondTime() {
        Packet packet = Packet.withRoomFor(outerPacket.length);
        packet.load(outerPacket, 0, outerPacket.length);
        assertEquals(Outcome.ACCEPTED, processor.decapsulate(packet));

        packet.load(outerPacket, 0, outerPacket.length);
        assertEquals(Outcome.REPLAY, processor.decapsulate(packet));
        assertEquals(1, processor.counters().packets(sa.index(), Outcome.REPLAY));
    }

    @Test
    void shouldDropThePacketWithOneIcvBitFlippedAndCommitNothing() {
        byte[] forged = outerPacket.clone();
        forged[forged.length - 1] ^= 0x01;
        Packet packet = Packet.withRoomFor(forged.length);
        packet.load(forged, 0, forged.length);

        assertEquals(Outcome.AUTHENTICATION_FAILED, processor.decapsulate(packet));
        assertEquals(0, sa.replayWindow().highest(), "a forged packet must not move the replay window");
        assertEquals(1, processor.counters().packets(sa.index(), Outcome.AUTHENTICATION_FAILED));

        packet.load(outerPacket, 0, outerPacket.length);
        assertEquals(Outcome.ACCEPTED, processor.decapsulate(packet), "the genuine packet still passes afterwards");
        assertEquals(Bytes.toHex(innerPacket), Bytes.toHex(packet.toByteArray()));
    }

    @Test
    void shouldSealTheInnerPacketWithTheVectorsIvToTheExactPublishedEspBytes() {
        byte[] esp = Arrays.copyOfRange(outerPacket, OUTER_HEADER, outerPacket.length);
        byte[] plaintext = plaintextWithTrailer(esp.length);
        int espOffset = 40;
        byte[] buffer = new byte[espOffset + esp.length + 8];
        System.arraycopy(esp, 0, buffer, espOffset, HEADER_AND_IV);                  // SPI, seq, the vector's IV
        System.arraycopy(plaintext, 0, buffer, espOffset + HEADER_AND_IV, plaintext.length);

        EspTransform transform = EspTransform.create(EspSuite.CHACHA20_POLY1305, hex(vector, "enc_key_with_salt"), null, false);
        assertTrue(transform.seal(buffer, espOffset, espOffset + HEADER_AND_IV, plaintext.length, 0));

        assertEquals(Bytes.toHex(esp), Bytes.toHex(buffer, espOffset, esp.length), "ESP header + IV + ciphertext + ICV");
        assertEquals("0000000000000000", Bytes.toHex(buffer, espOffset + esp.length, 8), "nothing written behind the ICV");
    }

    @Test
    void shouldOpenThePublishedEspBytesToTheInnerPacketPaddingAndTrailer() {
        byte[] buffer = outerPacket.clone();
        int ciphertextLength = buffer.length - OUTER_HEADER - HEADER_AND_IV - ICV;
        EspTransform transform = EspTransform.create(EspSuite.CHACHA20_POLY1305, hex(vector, "enc_key_with_salt"), null, false);

        assertTrue(transform.open(buffer, OUTER_HEADER, OUTER_HEADER + HEADER_AND_IV, ciphertextLength, 0));

        byte[] expected = plaintextWithTrailer(outerPacket.length - OUTER_HEADER);
        assertEquals(Bytes.toHex(expected), Bytes.toHex(buffer, OUTER_HEADER + HEADER_AND_IV, ciphertextLength));
    }

    @Test
    void shouldRefuseAndNotLeaveDecryptedTheEspBytesWithOneIcvBitFlipped() {
        byte[] buffer = outerPacket.clone();
        buffer[buffer.length - 1] ^= 0x01;
        int ciphertextLength = buffer.length - OUTER_HEADER - HEADER_AND_IV - ICV;
        EspTransform transform = EspTransform.create(EspSuite.CHACHA20_POLY1305, hex(vector, "enc_key_with_salt"), null, false);

        assertFalse(transform.open(buffer, OUTER_HEADER, OUTER_HEADER + HEADER_AND_IV, ciphertextLength, 0));

        byte[] plaintext = plaintextWithTrailer(outerPacket.length - OUTER_HEADER);
        assertNotEquals(Bytes.toHex(plaintext), Bytes.toHex(buffer, OUTER_HEADER + HEADER_AND_IV, ciphertextLength),
                "a refused packet must not be left decrypted in place (EspTransform: open decrypts only an authentic packet)");
    }

    /** Inner packet, padding 1, 2, ... to the suite's 4-octet alignment, pad length, next header 4 (IPv4). */
    private byte[] plaintextWithTrailer(int espLength) {
        int encryptedLength = espLength - HEADER_AND_IV - ICV;
        int padLength = encryptedLength - innerPacket.length - EspView.TRAILER_LENGTH;
        assertTrue(padLength >= 0 && padLength < EspSuite.CHACHA20_POLY1305.alignment(), "minimal padding, got " + padLength);
        byte[] plaintext = Arrays.copyOf(innerPacket, encryptedLength);
        for (int i = 1; i <= padLength; i++) {
            plaintext[innerPacket.length + i - 1] = (byte) i;
        }
        plaintext[encryptedLength - 2] = (byte) padLength;
        plaintext[encryptedLength - 1] = (byte) IpProtocol.IPV4;
        return plaintext;
    }
}
