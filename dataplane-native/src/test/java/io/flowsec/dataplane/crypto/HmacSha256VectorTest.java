package io.flowsec.dataplane.crypto;

import io.flowsec.dataplane.esp.TestVectors;
import com.fasterxml.jackson.databind.JsonNode;
import io.flowsec.dataplane.packet.Bytes;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static io.flowsec.dataplane.esp.TestVectors.hex;
import static io.flowsec.dataplane.esp.TestVectors.integer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RFC 4231 §4.2-4.8, HMAC-SHA-256 cases 1-7, through the allocation-free {@link Hmac} that computes ESP ICVs
 * (RFC 4868: HMAC-SHA-256-128 is the first 16 octets). Case 5 is published truncated to those 16 octets; cases 6 and
 * 7 have keys longer than the 64-octet block, which are hashed first.
 */
class HmacSha256VectorTest {
    private static final int BLOCK = 64;

    static Stream<Named<JsonNode>> hmacVectors() {
        List<Named<JsonNode>> list = new ArrayList<>();
        for (JsonNode vector : TestVectors.load(TestVectors.HMAC_SHA256).get("cases")) {
            int keyLength = hex(vector, "key").length;
            String name = "case " + integer(vector, "case") + " (RFC 4231 §" + vector.get("section").asText() + ", "
                    + keyLength + "-octet key" + (vector.has("hmac_sha256_truncated_128") ? ", truncated to 128 bits" : "")
                    + ")";
            list.add(Named.of(name, vector));
        }
        return list.stream();
    }

    @Test
    void shouldHoldCasesOneToSeven() {
        assertEquals(List.of(1, 2, 3, 4, 5, 6, 7), hmacVectors().map(named -> integer(named.getPayload(), "case")).toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hmacVectors")
    void shouldComputeEveryPublishedHmacSha256(JsonNode vector) {
        Hmac hmac = new Hmac("SHA-256", BLOCK, hex(vector, "key"));
        assertEquals(expectedHex(vector), mac(hmac, hex(vector, "data"), expectedLength(vector)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hmacVectors")
    void shouldRestartCorrectlyWhenTheSameInstanceRunsTwiceInARow(JsonNode vector) {
        Hmac hmac = new Hmac("SHA-256", BLOCK, hex(vector, "key"));
        byte[] data = hex(vector, "data");
        int length = expectedLength(vector);
        assertEquals(expectedHex(vector), mac(hmac, data, length), "first MAC");
        assertEquals(expectedHex(vector), mac(hmac, data, length), "second MAC on the same instance");
        // a MAC cut short by finishAndVerify restarts the same way
        hmac.update(data, 0, data.length);
        assertTrue(hmac.finishAndVerify(hex(vector, expectedField(vector)), 0, length), "finishAndVerify");
        assertEquals(expectedHex(vector), mac(hmac, data, length), "MAC after finishAndVerify");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hmacVectors")
    void shouldGiveTheSameMacWhenTheDataArrivesInPiecesAtAnOffset(JsonNode vector) {
        Hmac hmac = new Hmac("SHA-256", BLOCK, hex(vector, "key"));
        byte[] data = hex(vector, "data");
        byte[] framed = TestVectors.concat(new byte[7], data, new byte[5]);
        int first = data.length / 3;
        hmac.update(framed, 7, first);
        hmac.update(framed, 7 + first, 0);
        hmac.update(framed, 7 + first, data.length - first);
        byte[] out = new byte[3 + expectedLength(vector) + 3];
        hmac.finish(out, 3, expectedLength(vector));
        assertEquals(expectedHex(vector), Bytes.toHex(out, 3, expectedLength(vector)));
        assertEquals("000000", Bytes.toHex(out, 0, 3), "nothing written before the output offset");
        assertEquals("000000", Bytes.toHex(out, 3 + expectedLength(vector), 3), "nothing written past the length");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hmacVectors")
    void shouldRefuseThePublishedMacWithOneBitFlipped(JsonNode vector) {
        Hmac hmac = new Hmac("SHA-256", BLOCK, hex(vector, "key"));
        byte[] data = hex(vector, "data");
        byte[] forged = hex(vector, expectedField(vector));
        forged[forged.length - 1] ^= 0x01;
        hmac.update(data, 0, data.length);
        assertFalse(hmac.finishAndVerify(forged, 0, expectedLength(vector)));
    }

    @Test
    void shouldTruncateCaseFiveToTheFirstSixteenOctetsOfTheFullMac() {
        JsonNode vector = hmacVectors().map(Named::getPayload).filter(v -> integer(v, "case") == 5).findFirst().orElseThrow();
        Hmac hmac = new Hmac("SHA-256", BLOCK, hex(vector, "key"));
        byte[] data = hex(vector, "data");
        String full = mac(hmac, data, 32);
        assertEquals(vector.get("hmac_sha256_truncated_128").asText(), full.substring(0, 32));
        assertEquals(vector.get("hmac_sha256_truncated_128").asText(), mac(hmac, data, 16));
    }

    private static String mac(Hmac hmac, byte[] data, int length) {
        hmac.update(data, 0, data.length);
        byte[] out = new byte[length];
        hmac.finish(out, 0, length);
        return Bytes.toHex(out);
    }

    private static String expectedField(JsonNode vector) {
        return vector.has("hmac_sha256") ? "hmac_sha256" : "hmac_sha256_truncated_128";
    }

    private static String expectedHex(JsonNode vector) {
        return vector.get(expectedField(vector)).asText();
    }

    private static int expectedLength(JsonNode vector) {
        return expectedHex(vector).length() / 2;
    }
}
