package io.flowsec.dataplane.crypto;

import io.flowsec.dataplane.esp.TestVectors;
import com.fasterxml.jackson.databind.JsonNode;
import io.flowsec.dataplane.packet.Bytes;
import io.flowsec.dataplane.packet.EspView;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static io.flowsec.dataplane.esp.TestVectors.hex;
import static io.flowsec.dataplane.esp.TestVectors.integer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * draft-mcgrew-gcm-test-01 §4, AES-GCM ESP cases 1-14, through {@link AeadTransform} with exact bytes: seal must give
 * the published ESP packet (ciphertext and ICV), open must give the published plaintext with its ESP trailer, and
 * one flipped ICV bit must be refused. Cases with a 64-bit sequence number use ESN: only the low half is on the wire,
 * the high half enters the AAD (SPI || seq-high || seq-low).
 */
class AesGcmVectorTest {
    /** ESP header + IV of RFC 4106. */
    private static final int HEADER_AND_IV = EspView.HEADER_LENGTH + 8;
    private static final int ICV = 16;
    /** The ESP packet does not start at 0, so offsets are exercised as on the packet path. */
    private static final int ESP_OFFSET = 24;
    /** Bytes behind the ICV that seal must leave alone. */
    private static final int GUARD = 16;
    private static final byte GUARD_BYTE = (byte) 0xA5;

    static Stream<Named<JsonNode>> gcmVectors() {
        List<Named<JsonNode>> named = new ArrayList<>();
        for (JsonNode vector : TestVectors.load(TestVectors.AES_GCM).get("cases")) {
            named.add(Named.of(nameOf(vector), vector));
        }
        return named.stream();
    }

    static Stream<Named<JsonNode>> esnGcmVectors() {
        return gcmVectors().filter(named -> named.getPayload().get("esn").asBoolean());
    }

    private static String nameOf(JsonNode vector) {
        return "case " + integer(vector, "case") + " (AES-" + integer(vector, "key_bits")
                + (vector.get("esn").asBoolean() ? ", ESN" : "") + ")";
    }

    @Test
    void shouldHoldAllFourteenGcmCasesOfTheDraft() {
        int[] numbers = gcmVectors().mapToInt(named -> integer(named.getPayload(), "case")).toArray();
        assertEquals(Arrays.toString(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}), Arrays.toString(numbers));
    }

    @Test
    void shouldHaveASuiteForTheKeySizeOfEveryCase() {
        for (Named<JsonNode> named : gcmVectors().toList()) {
            assertTrue(gcmSuite(integer(named.getPayload(), "key_bits")).isPresent(), named.getName() + " has no suite");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("gcmVectors")
    void shouldSealEveryGcmVectorToTheExactPublishedBytes(JsonNode vector) {
        EspSuite suite = suiteOrSkip(vector);
        byte[] plaintext = hex(vector, "plaintext_with_esp_trailer");
        byte[] expected = hex(vector, "esp_packet");
        assertEquals(HEADER_AND_IV + plaintext.length + ICV, expected.length, "vector lengths disagree");

        byte[] buffer = new byte[ESP_OFFSET + expected.length + GUARD];
        Arrays.fill(buffer, GUARD_BYTE);
        System.arraycopy(expected, 0, buffer, ESP_OFFSET, HEADER_AND_IV);            // SPI, seq (low 32 bits), IV
        System.arraycopy(plaintext, 0, buffer, ESP_OFFSET + HEADER_AND_IV, plaintext.length);

        EspTransform transform = transformFor(suite, vector);
        assertTrue(transform.seal(buffer, ESP_OFFSET, ESP_OFFSET + HEADER_AND_IV, plaintext.length, sequenceHigh(vector)),
                "seal refused");

        assertEquals(Bytes.toHex(expected), Bytes.toHex(buffer, ESP_OFFSET, expected.length),
                "ESP header + IV + ciphertext + ICV");
        assertUntouched(buffer, 0, ESP_OFFSET, "headroom");
        assertUntouched(buffer, ESP_OFFSET + expected.length, GUARD, "bytes behind the ICV");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("gcmVectors")
    void shouldOpenEveryGcmVectorToThePublishedPlaintext(JsonNode vector) {
        EspSuite suite = suiteOrSkip(vector);
        byte[] plaintext = hex(vector, "plaintext_with_esp_trailer");
        byte[] esp = hex(vector, "esp_packet");
        byte[] buffer = bufferHolding(esp);

        EspTransform transform = transformFor(suite, vector);
        assertTrue(transform.open(buffer, ESP_OFFSET, ESP_OFFSET + HEADER_AND_IV, plaintext.length, sequenceHigh(vector)),
                "the published ICV was refused");

        assertEquals(Bytes.toHex(plaintext), Bytes.toHex(buffer, ESP_OFFSET + HEADER_AND_IV, plaintext.length),
                "plaintext with ESP trailer");
        assertEquals(Bytes.toHex(esp, 0, HEADER_AND_IV), Bytes.toHex(buffer, ESP_OFFSET, HEADER_AND_IV),
                "ESP header and IV must stay as received");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("gcmVectors")
    void shouldRejectEveryGcmVectorWhoseIcvHasOneBitFlipped(JsonNode vector) {
        EspSuite suite = suiteOrSkip(vector);
        byte[] esp = hex(vector, "esp_packet");
        int ciphertextLength = esp.length - HEADER_AND_IV - ICV;
        byte[] tampered = esp.clone();
        tampered[esp.length - 1] ^= 0x01;
        byte[] buffer = bufferHolding(tampered);

        EspTransform transform = transformFor(suite, vector);
        assertFalse(transform.open(buffer, ESP_OFFSET, ESP_OFFSET + HEADER_AND_IV, ciphertextLength, sequenceHigh(vector)),
                "a packet with a flipped ICV bit was accepted");
        byte[] plaintext = hex(vector, "plaintext_with_esp_trailer");
        assertNotEquals(Bytes.toHex(plaintext), Bytes.toHex(buffer, ESP_OFFSET + HEADER_AND_IV, ciphertextLength),
                "a refused packet must not be left decrypted in place (EspTransform: open decrypts only an authentic packet)");

        // the same transform still opens the genuine packet afterwards: a refusal leaves no state behind
        byte[] genuine = bufferHolding(esp);
        assertTrue(transform.open(genuine, ESP_OFFSET, ESP_OFFSET + HEADER_AND_IV, ciphertextLength, sequenceHigh(vector)),
                "the genuine packet was refused after a forged one");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("esnGcmVectors")
    void shouldRejectAnEsnVectorOpenedWithTheWrongHighSequenceHalf(JsonNode vector) {
        EspSuite suite = suiteOrSkip(vector);
        byte[] esp = hex(vector, "esp_packet");
        int ciphertextLength = esp.length - HEADER_AND_IV - ICV;
        byte[] buffer = bufferHolding(esp);

        EspTransform transform = transformFor(suite, vector);
        assertFalse(transform.open(buffer, ESP_OFFSET, ESP_OFFSET + HEADER_AND_IV, ciphertextLength, sequenceHigh(vector) + 1),
                "the ESN high half is not sent but must be authenticated (RFC 4106 §5)");
    }

    // -----------------------------------------------------------------------------------------------------------

    private static Optional<EspSuite> gcmSuite(int keyBits) {
        for (EspSuite suite : EspSuite.values()) {
            if (suite.kind() == EspSuite.Kind.AEAD_GCM && suite.cipherKeyLength() * 8 == keyBits) {
                return Optional.of(suite);
            }
        }
        return Optional.empty();
    }

    private static EspSuite suiteOrSkip(JsonNode vector) {
        int keyBits = integer(vector, "key_bits");
        Optional<EspSuite> suite = gcmSuite(keyBits);
        assumeTrue(suite.isPresent(), "case " + integer(vector, "case") + " uses AES-" + keyBits
                + "-GCM; flowsec has no such suite");
        return suite.get();
    }

    private static EspTransform transformFor(EspSuite suite, JsonNode vector) {
        byte[] keyWithSalt = hex(vector, "enc_key_with_salt");
        assertEquals(suite.encryptionKeyLength(), keyWithSalt.length, "key + salt length of " + suite);
        assertEquals(Bytes.toHex(TestVectors.concat(hex(vector, "key"), hex(vector, "salt"))), Bytes.toHex(keyWithSalt),
                "enc_key_with_salt must be key || salt");
        return EspTransform.create(suite, keyWithSalt, null, vector.get("esn").asBoolean());
    }

    /** The ESN high half (only with ESN), after checking that the low half is what the packet carries. */
    private static int sequenceHigh(JsonNode vector) {
        byte[] sequence = hex(vector, "seq");
        byte[] esp = hex(vector, "esp_packet");
        boolean esn = vector.get("esn").asBoolean();
        assertEquals(esn ? 8 : 4, sequence.length, "seq length for esn=" + esn);
        assertEquals(Bytes.toHex(sequence, sequence.length - 4, 4),
                Bytes.toHex(esp, EspView.SEQUENCE_FIELD_OFFSET, 4), "low 32 bits of seq on the wire");
        return esn ? Bytes.i32(sequence, 0) : 0;
    }

    private static byte[] bufferHolding(byte[] esp) {
        byte[] buffer = new byte[ESP_OFFSET + esp.length + GUARD];
        Arrays.fill(buffer, GUARD_BYTE);
        System.arraycopy(esp, 0, buffer, ESP_OFFSET, esp.length);
        return buffer;
    }

    private static void assertUntouched(byte[] buffer, int offset, int length, String what) {
        byte[] expected = new byte[length];
        Arrays.fill(expected, GUARD_BYTE);
        assertEquals(Bytes.toHex(expected), Bytes.toHex(buffer, offset, length), what + " must stay untouched");
    }
}
