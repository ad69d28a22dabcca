package io.flowsec.dataplane.crypto;

import io.flowsec.dataplane.esp.TestVectors;
import com.fasterxml.jackson.databind.JsonNode;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.EspView;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.packet.Ipv4View;
import io.flowsec.dataplane.selector.IpPrefix;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static io.flowsec.dataplane.esp.TestVectors.hex;
import static io.flowsec.dataplane.esp.TestVectors.integer;
import static io.flowsec.dataplane.esp.TestVectors.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RFC 3602 §4 through {@link CbcHmacTransform#encryptInPlace} and {@link CbcHmacTransform#decryptInPlace}, exact bytes.
 * <p>
 * The transform never re-initialises its CBC ciphers: the JDK's chaining register carries the previous packet's last
 * ciphertext block, and the first block is pre-whitened (encrypting) or corrected (decrypting) so each packet still
 * uses its own IV. The tests therefore also push several vectors, and the same vector again, through ONE transform:
 * only a correct correction gives the published bytes a second time. Cases 1-4 each have their own key, so "one
 * transform" there means one per key, used repeatedly; ESP cases 5/6 and 7/8 share a key and run back to back.
 */
class AesCbcVectorTest {
    private static final int BLOCK = 16;
    private static final int OUTER_HEADER = Ipv4View.MIN_HEADER_LENGTH;
    private static final int IV_OFFSET = OUTER_HEADER + EspView.HEADER_LENGTH;
    private static final int CIPHERTEXT_OFFSET = IV_OFFSET + BLOCK;

    static Stream<Named<JsonNode>> rawCases() {
        return named(TestVectors.load(TestVectors.AES_CBC).get("raw_cbc_cases"), "");
    }

    static Stream<Named<JsonNode>> espCases() {
        return named(TestVectors.load(TestVectors.AES_CBC).get("esp_cases"), "ESP ");
    }

    static Stream<Named<JsonNode>> tunnelCases() {
        return espCases().filter(named -> text(named.getPayload(), "mode").equals("tunnel"));
    }

    static Stream<Named<JsonNode>> transportCases() {
        return espCases().filter(named -> text(named.getPayload(), "mode").equals("transport"));
    }

    private static Stream<Named<JsonNode>> named(JsonNode cases, String prefix) {
        List<Named<JsonNode>> list = new ArrayList<>();
        for (JsonNode vector : cases) {
            String mode = vector.has("mode") ? ", " + text(vector, "mode") + " mode" : "";
            list.add(Named.of(prefix + "case " + integer(vector, "case") + " (AES-128-CBC" + mode + ")", vector));
        }
        return list.stream();
    }

    @Test
    void shouldHoldRawCasesOneToFourAndEspCasesFiveToEight() {
        assertEquals(List.of(1, 2, 3, 4), rawCases().map(named -> integer(named.getPayload(), "case")).toList());
        assertEquals(List.of(5, 6, 7, 8), espCases().map(named -> integer(named.getPayload(), "case")).toList());
        assertEquals(List.of(7, 8), tunnelCases().map(named -> integer(named.getPayload(), "case")).toList());
        assertEquals(List.of(5, 6), transportCases().map(named -> integer(named.getPayload(), "case")).toList());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Raw AES-CBC, cases 1-4

    @ParameterizedTest(name = "{0}")
    @MethodSource("rawCases")
    void shouldEncryptEveryRawCbcVectorToThePublishedCiphertext(JsonNode vector) {
        CbcHmacTransform transform = transform(hex(vector, "key"));
        assertEquals(text(vector, "ciphertext"), encryptRaw(transform, vector));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rawCases")
    void shouldDecryptEveryRawCbcVectorToThePublishedPlaintext(JsonNode vector) {
        CbcHmacTransform transform = transform(hex(vector, "key"));
        assertEquals(text(vector, "plaintext"), decryptRaw(transform, vector));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rawCases")
    void shouldGiveThePublishedBytesEveryTimeOneTransformChainsTheSameRawVector(JsonNode vector) {
        CbcHmacTransform transform = transform(hex(vector, "key"));
        String ciphertext = text(vector, "ciphertext");
        String plaintext = text(vector, "plaintext");
        // encrypt and decrypt chains each carry the last block of the previous call into the next one
        assertEquals(ciphertext, encryptRaw(transform, vector), "1st encryption");
        assertEquals(ciphertext, encryptRaw(transform, vector), "2nd encryption (chained)");
        assertEquals(plaintext, decryptRaw(transform, vector), "1st decryption (after two encryptions)");
        assertEquals(ciphertext, encryptRaw(transform, vector), "3rd encryption (between decryptions)");
        assertEquals(plaintext, decryptRaw(transform, vector), "2nd decryption (chained)");
        assertEquals(plaintext, decryptRaw(transform, vector), "3rd decryption (chained)");
    }

    @Test
    void shouldGiveThePublishedBytesWhenAllRawVectorsRunInSequenceThroughOneTransformPerKey() {
        List<JsonNode> vectors = rawCases().map(Named::getPayload).toList();
        List<CbcHmacTransform> transforms = vectors.stream().map(vector -> transform(hex(vector, "key"))).toList();
        // three rounds over cases 1, 2, 3, 4: every transform's chain holds the previous round's last block
        for (int round = 1; round <= 3; round++) {
            for (int i = 0; i < vectors.size(); i++) {
                JsonNode vector = vectors.get(i);
                String label = "round " + round + ", case " + integer(vector, "case");
                assertEquals(text(vector, "ciphertext"), encryptRaw(transforms.get(i), vector), label + ", encrypt");
                assertEquals(text(vector, "plaintext"), decryptRaw(transforms.get(i), vector), label + ", decrypt");
            }
        }
    }

    @Test
    void shouldUseTheIvWhereverItLiesNotOnlyRightBeforeTheData() {
        JsonNode vector = rawCases().toList().get(2).getPayload();   // case 3: three blocks
        byte[] iv = hex(vector, "iv");
        byte[] plaintext = hex(vector, "plaintext");
        byte[] buffer = new byte[8 + plaintext.length + 5 + BLOCK];
        System.arraycopy(plaintext, 0, buffer, 8, plaintext.length);
        int ivOffset = 8 + plaintext.length + 5;                      // IV kept behind the data
        System.arraycopy(iv, 0, buffer, ivOffset, BLOCK);
        CbcHmacTransform transform = transform(hex(vector, "key"));

        assertTrue(transform.encryptInPlace(buffer, ivOffset, 8, plaintext.length));
        assertEquals(text(vector, "ciphertext"), Bytes.toHex(buffer, 8, plaintext.length));
        assertTrue(transform.decryptInPlace(buffer, ivOffset, 8, plaintext.length));
        assertEquals(text(vector, "plaintext"), Bytes.toHex(buffer, 8, plaintext.length));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // ESP cases 5-8 (AES-CBC without ICV; outer IPv4 header included)

    @ParameterizedTest(name = "{0}")
    @MethodSource("espCases")
    void shouldCarryTheVectorsSpiSequenceAndAddressesInTheOuterHeaders(JsonNode vector) {
        byte[] esp = hex(vector, "esp_packet");
        Ipv4View outer = new Ipv4View().wrap(esp, 0);
        assertTrue(outer.isValid(esp.length), "outer IPv4 header");
        assertEquals(esp.length, outer.totalLength());
        assertEquals(IpProtocol.ESP, outer.protocol());
        assertEquals(OUTER_HEADER, outer.headerLength());
        assertEquals(address(text(vector, "outer_src")), outer.sourceAddress());
        assertEquals(address(text(vector, "outer_dst")), outer.destinationAddress());
        EspView header = new EspView().wrap(esp, OUTER_HEADER);
        assertEquals(integer(vector, "spi"), header.spi());
        assertEquals(integer(vector, "seq"), header.sequenceNumber());
        assertEquals(text(vector, "iv"), Bytes.toHex(esp, IV_OFFSET, BLOCK));
        assertEquals(0, (esp.length - CIPHERTEXT_OFFSET) % BLOCK, "whole blocks, no ICV");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tunnelCases")
    void shouldDecryptEveryTunnelModeVectorToTheInnerPacketPaddingAndTrailer(JsonNode vector) {
        byte[] esp = hex(vector, "esp_packet");
        byte[] expected = tunnelPlaintext(vector);
        CbcHmacTransform transform = transform(hex(vector, "key"));

        assertEquals(Bytes.toHex(expected), decryptEsp(transform, esp));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tunnelCases")
    void shouldEncryptEveryTunnelModeVectorToTheExactEspBytes(JsonNode vector) {
        byte[] esp = hex(vector, "esp_packet");
        CbcHmacTransform transform = transform(hex(vector, "key"));

        assertEquals(Bytes.toHex(esp), encryptEsp(transform, esp, tunnelPlaintext(vector)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transportCases")
    void shouldDecryptEveryTransportModeVectorToItsIcmpPayloadWithNextHeaderOne(JsonNode vector) {
        byte[] esp = hex(vector, "esp_packet");
        CbcHmacTransform transform = transform(hex(vector, "key"));

        byte[] plaintext = Bytes.fromHex(decryptEsp(transform, esp));
        int nextHeader = plaintext[plaintext.length - 1] & 0xFF;
        int padLength = plaintext[plaintext.length - 2] & 0xFF;
        assertEquals(IpProtocol.ICMP, nextHeader, "next header");
        byte[] original = hex(vector, "original_packet");
        byte[] payload = Arrays.copyOfRange(original, Ipv4View.MIN_HEADER_LENGTH, original.length);
        assertEquals(payload.length, plaintext.length - 2 - padLength, "payload length from the pad length");
        assertEquals(Bytes.toHex(payload), Bytes.toHex(plaintext, 0, payload.length), "ICMP message");
        assertEquals(Bytes.toHex(transportPlaintext(vector)), Bytes.toHex(plaintext), "payload, padding 1..n, trailer");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transportCases")
    void shouldEncryptEveryTransportModeVectorToTheExactEspBytes(JsonNode vector) {
        byte[] esp = hex(vector, "esp_packet");
        CbcHmacTransform transform = transform(hex(vector, "key"));

        assertEquals(Bytes.toHex(esp), encryptEsp(transform, esp, transportPlaintext(vector)));
    }

    @Test
    void shouldGiveTheExactEspBytesWhenVectorsSharingAKeyRunBackToBackThroughOneTransform() {
        List<JsonNode> vectors = espCases().map(Named::getPayload).toList();
        assertEquals(text(vectors.get(0), "key"), text(vectors.get(1), "key"), "cases 5 and 6 share a key");
        assertEquals(text(vectors.get(2), "key"), text(vectors.get(3), "key"), "cases 7 and 8 share a key");
        for (List<JsonNode> pair : List.of(vectors.subList(0, 2), vectors.subList(2, 4))) {
            CbcHmacTransform transform = transform(hex(pair.get(0), "key"));
            for (int round = 1; round <= 2; round++) {
                for (JsonNode vector : pair) {
                    String label = "round " + round + ", case " + integer(vector, "case");
                    byte[] esp = hex(vector, "esp_packet");
                    byte[] plaintext = text(vector, "mode").equals("tunnel") ? tunnelPlaintext(vector) : transportPlaintext(vector);
                    assertEquals(Bytes.toHex(esp), encryptEsp(transform, esp, plaintext), label + ", encrypt");
                    assertEquals(Bytes.toHex(plaintext), decryptEsp(transform, esp), label + ", decrypt");
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static CbcHmacTransform transform(byte[] key) {
        return (CbcHmacTransform) EspTransform.create(EspSuite.AES_CBC_128_HMAC_SHA1_96, key, new byte[20], false);
    }

    /** IV || plaintext in one buffer, encrypted in place; returns the ciphertext as hex. */
    private static String encryptRaw(CbcHmacTransform transform, JsonNode vector) {
        byte[] plaintext = hex(vector, "plaintext");
        byte[] buffer = TestVectors.concat(hex(vector, "iv"), plaintext);
        assertTrue(transform.encryptInPlace(buffer, 0, BLOCK, plaintext.length), "encryptInPlace refused");
        return Bytes.toHex(buffer, BLOCK, plaintext.length);
    }

    /** IV || ciphertext in one buffer, decrypted in place; returns the plaintext as hex. */
    private static String decryptRaw(CbcHmacTransform transform, JsonNode vector) {
        byte[] ciphertext = hex(vector, "ciphertext");
        byte[] buffer = TestVectors.concat(hex(vector, "iv"), ciphertext);
        assertTrue(transform.decryptInPlace(buffer, 0, BLOCK, ciphertext.length), "decryptInPlace refused");
        return Bytes.toHex(buffer, BLOCK, ciphertext.length);
    }

    /** Decrypts the part of a complete outer packet behind outer IPv4 header, ESP header and IV. */
    private static String decryptEsp(CbcHmacTransform transform, byte[] esp) {
        byte[] buffer = esp.clone();
        int length = buffer.length - CIPHERTEXT_OFFSET;
        assertTrue(transform.decryptInPlace(buffer, IV_OFFSET, CIPHERTEXT_OFFSET, length), "decryptInPlace refused");
        assertEquals(Bytes.toHex(esp, 0, CIPHERTEXT_OFFSET), Bytes.toHex(buffer, 0, CIPHERTEXT_OFFSET),
                "headers and IV must stay as they are");
        return Bytes.toHex(buffer, CIPHERTEXT_OFFSET, length);
    }

    /** The vector's outer IPv4 header, ESP header and IV, then {@code plaintext} encrypted in place; the whole packet. */
    private static String encryptEsp(CbcHmacTransform transform, byte[] esp, byte[] plaintext) {
        assertEquals(esp.length - CIPHERTEXT_OFFSET, plaintext.length, "plaintext length");
        byte[] buffer = TestVectors.concat(Arrays.copyOf(esp, CIPHERTEXT_OFFSET), plaintext);
        assertTrue(transform.encryptInPlace(buffer, IV_OFFSET, CIPHERTEXT_OFFSET, plaintext.length), "encryptInPlace refused");
        return Bytes.toHex(buffer);
    }

    /** Tunnel mode: inner packet, padding 1, 2, ..., pad length, next header 4 (IPv4). */
    private static byte[] tunnelPlaintext(JsonNode vector) {
        return withTrailer(hex(vector, "original_packet"), IpProtocol.IPV4, hex(vector, "esp_packet").length);
    }

    /** Transport mode: the original packet's payload (its ICMP message), padding, pad length, next header 1. */
    private static byte[] transportPlaintext(JsonNode vector) {
        byte[] original = hex(vector, "original_packet");
        assertEquals(IpProtocol.ICMP, original[Ipv4View.PROTOCOL_FIELD_OFFSET], "original packet is ICMP");
        byte[] payload = Arrays.copyOfRange(original, Ipv4View.MIN_HEADER_LENGTH, original.length);
        return withTrailer(payload, IpProtocol.ICMP, hex(vector, "esp_packet").length);
    }

    private static byte[] withTrailer(byte[] payload, int nextHeader, int espPacketLength) {
        int encryptedLength = espPacketLength - CIPHERTEXT_OFFSET;
        int padLength = encryptedLength - payload.length - EspView.TRAILER_LENGTH;
        assertTrue(padLength >= 0 && padLength < BLOCK, "pad length " + padLength + " must be the minimum (0-15)");
        byte[] plaintext = Arrays.copyOf(payload, encryptedLength);
        for (int i = 1; i <= padLength; i++) {
            plaintext[payload.length + i - 1] = (byte) i;              // RFC 4303 §2.4 default padding
        }
        plaintext[encryptedLength - 2] = (byte) padLength;
        plaintext[encryptedLength - 1] = (byte) nextHeader;
        return plaintext;
    }

    private static int address(String dotted) {
        byte[] bytes = IpPrefix.parseAddress(dotted).getAddress();
        return Bytes.i32(bytes, 0);
    }
}
