package io.flowsec.control.api;

/** SPIs as the API writes them in paths and bodies: 0x-prefixed hex or decimal, 256 to 0xffffffff (RFC 4303 §2.1). */
final class Spis {
    private Spis() {
    }

    /** The SPI {@code text} names; a 400 naming {@code field} when it is reserved or out of range. */
    static int parse(String text, String field) {
        long value;
        try {
            value = text.startsWith("0x") || text.startsWith("0X") ? Long.parseLong(text.substring(2), 16) : Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw Problem.badRequest("an SPI is 0x-prefixed hex or decimal, got '" + text + "'", field);
        }
        if (value < 256 || value > 0xFFFF_FFFFL) {
            throw Problem.badRequest("an SPI is 256 to 0xffffffff (1-255 are reserved), got " + text, field);
        }
        return (int) value;
    }
}
