package io.flowsec.dataplane.esp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.flowsec.dataplane.packet.Bytes;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Reads the published test vectors kept, unchanged, in {@code src/test/resources/test-vectors/} (copies of
 * {@code shared/test-vectors/}; its README names each document and how every vector was cross-checked).
 */
public final class TestVectors {
    public static final String AES_GCM = "draft-mcgrew-gcm-test-01-section4-aes-gcm.json";
    public static final String AES_CBC = "rfc3602-section4-aes-cbc.json";
    public static final String CHACHA20_POLY1305 = "rfc7634-appendixA-chacha20-poly1305.json";
    public static final String HMAC_SHA256 = "rfc4231-section4-hmac-sha256.json";

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private TestVectors() {
    }

    /** The whole JSON document of one vector file. */
    public static JsonNode load(String fileName) {
        String resource = "/test-vectors/" + fileName;
        try (InputStream in = TestVectors.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("test vector file " + resource + " is not on the test class path");
            }
            return MAPPER.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource, e);
        }
    }

    /** A hex field of a vector as bytes; fails loudly when the field is missing. */
    public static byte[] hex(JsonNode vector, String field) {
        return Bytes.fromHex(text(vector, field));
    }

    /** A text field of a vector; fails loudly when the field is missing. */
    public static String text(JsonNode vector, String field) {
        JsonNode value = vector.get(field);
        if (value == null || value.isNull()) {
            throw new IllegalArgumentException("test vector has no field '" + field + "': " + vector);
        }
        return value.asText();
    }

    /** An integer field of a vector; fails loudly when the field is missing. */
    public static int integer(JsonNode vector, String field) {
        JsonNode value = vector.get(field);
        if (value == null || !value.isIntegralNumber()) {
            throw new IllegalArgumentException("test vector has no integer field '" + field + "': " + vector);
        }
        return value.asInt();
    }

    /** Concatenates byte arrays (test set-up only). */
    public static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] part : parts) {
            length += part.length;
        }
        byte[] out = new byte[length];
        int position = 0;
        for (byte[] part : parts) {
            System.arraycopy(part, 0, out, position, part.length);
            position += part.length;
        }
        return out;
    }
}
