package io.flowsec.cluster.assignment;

import com.fasterxml.jackson.core.JsonParser;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.json.jackson.JacksonCodec;

import java.math.BigInteger;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Strict reading of the cluster's JSON messages: a message is an object with exactly the expected fields, each of
 * the expected type and range, and a duplicate key is refused (Vert.x alone would keep the last one, so two ends could
 * read one message differently). Every refusal is an {@link IllegalArgumentException} whose one-line message starts
 * with the field's path ({@code sas[2].weight: ...}).
 */
public final class StrictJson {
    /** Names of members and tunnels: they go into log lines and messages, so a narrow alphabet. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** How an SPI is written: {@code 0x} and exactly 8 lower-case hex digits, so one SPI has one spelling. */
    private static final Pattern SPI = Pattern.compile("0x[0-9a-f]{8}");
    private static final int MAX_SHOWN = 40;

    private StrictJson() {
    }

    /** Parses {@code text} as one JSON object, refusing duplicate keys, trailing data and more than {@code maxChars}. */
    public static JsonObject parseObject(String text, String what, int maxChars) {
        if (text == null) {
            throw new IllegalArgumentException(what + ": no text");
        }
        if (text.length() > maxChars) {
            throw new IllegalArgumentException(what + ": " + text.length() + " characters, more than the " + maxChars + " allowed");
        }
        Object value;
        try (JsonParser parser = JacksonCodec.createParser(text)) {
            parser.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            value = JacksonCodec.fromParser(parser, Object.class);
        } catch (java.io.IOException | RuntimeException e) {
            throw new IllegalArgumentException(what + ": not valid JSON (" + oneLine(e.getMessage()) + ")");
        }
        if (!(value instanceof JsonObject object)) {
            throw new IllegalArgumentException(what + ": must be a JSON object");
        }
        return object;
    }

    /** Refuses a field outside {@code fields} and a missing one, naming it under {@code prefix}. */
    public static void requireExactly(JsonObject json, String prefix, Set<String> fields) {
        for (String key : json.fieldNames()) {
            if (!fields.contains(key)) {
                throw new IllegalArgumentException(prefix + printable(key) + ": unknown field (allowed: "
                        + String.join(", ", new TreeSet<>(fields)) + ")");
            }
        }
        for (String field : new TreeSet<>(fields)) {
            if (!json.containsKey(field)) {
                throw new IllegalArgumentException(prefix + field + ": missing");
            }
        }
    }

    /** A JSON integer (not 1.0, not "1") in {@code min..max}. */
    public static long integer(JsonObject json, String prefix, String field, long min, long max) {
        return integer(json.getValue(field), prefix + field, min, max);
    }

    public static long integer(Object value, String path, long min, long max) {
        long number;
        if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
            number = ((Number) value).longValue();
        } else if (value instanceof BigInteger) {
            throw new IllegalArgumentException(path + ": " + printable(value.toString()) + " is out of range " + min + "-" + max);
        } else {
            throw new IllegalArgumentException(path + ": must be an integer, got " + describe(value));
        }
        if (number < min || number > max) {
            throw new IllegalArgumentException(path + ": " + number + " is out of range " + min + "-" + max);
        }
        return number;
    }

    /** A finite JSON number in {@code min..max}. */
    public static double number(JsonObject json, String prefix, String field, double min, double max) {
        return number(json.getValue(field), prefix + field, min, max);
    }

    public static double number(Object value, String path, double min, double max) {
        if (!(value instanceof Number number)) {
            throw new IllegalArgumentException(path + ": must be a number, got " + describe(value));
        }
        double result = number.doubleValue();
        if (!Double.isFinite(result) || result < min || result > max) {
            throw new IllegalArgumentException(path + ": " + printable(number.toString()) + " is out of range " + min + "-" + max);
        }
        return result;
    }

    /** A name matching {@link #NAME}. */
    public static String name(JsonObject json, String prefix, String field) {
        Object value = json.getValue(field);
        if (!(value instanceof String text)) {
            throw new IllegalArgumentException(prefix + field + ": must be a string, got " + describe(value));
        }
        checkName(text, prefix + field);
        return text;
    }

    public static void checkName(String name, String path) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(path + ": " + (name == null ? "null" : "'" + printable(name) + "'")
                    + " is not 1-64 letters, digits, '.', '_' or '-' starting with a letter or digit");
        }
    }

    public static JsonArray array(JsonObject json, String prefix, String field) {
        Object value = json.getValue(field);
        if (!(value instanceof JsonArray array)) {
            throw new IllegalArgumentException(prefix + field + ": must be a list, got " + describe(value));
        }
        return array;
    }

    public static JsonObject object(Object value, String path) {
        if (!(value instanceof JsonObject object)) {
            throw new IllegalArgumentException(path + ": must be an object, got " + describe(value));
        }
        return object;
    }

    /** An SPI written as {@link #spi(int)} writes it, 256 and up (1-255 are reserved, RFC 4303 §2.1). */
    public static int spi(Object value, String path) {
        if (!(value instanceof String text) || !SPI.matcher(text).matches()) {
            throw new IllegalArgumentException(path + ": an SPI is written 0x and 8 lower-case hex digits, got "
                    + (value instanceof String s ? "'" + printable(s) + "'" : describe(value)));
        }
        int spi = Integer.parseUnsignedInt(text.substring(2), 16);
        checkSpi(spi, path);
        return spi;
    }

    public static void checkSpi(int spi, String path) {
        if (Integer.compareUnsigned(spi, 256) < 0) {
            throw new IllegalArgumentException(path + ": " + spi(spi) + " is reserved (an SPI is 0x00000100-0xffffffff)");
        }
    }

    /** The one spelling of an SPI in messages, logs and JSON: {@code 0x%08x}. */
    public static String spi(int spi) {
        return String.format("0x%08x", spi);
    }

    private static String describe(Object value) {
        return switch (value) {
            case null -> "null";
            case String s -> "a string";
            case Boolean b -> "a boolean";
            case JsonObject o -> "an object";
            case JsonArray a -> "a list";
            case Number n -> printable(n.toString());
            default -> value.getClass().getSimpleName();
        };
    }

    /** {@code text} made safe for a one-line message: control characters escaped, long text cut. */
    public static String printable(String text) {
        return printable(text, MAX_SHOWN);
    }

    private static String printable(String text, int max) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length() && out.length() < max; i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c == 0x7f || Character.isISOControl(c) || c == 0x2028 || c == 0x2029) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        if (out.length() >= max && text.length() > max) {
            out.append("...");
        }
        return text.isEmpty() ? "\"\"" : out.toString();
    }

    private static String oneLine(String message) {
        if (message == null) {
            return "unreadable";
        }
        int end = message.indexOf('\n');
        return printable(end < 0 ? message : message.substring(0, end), 160);
    }
}
