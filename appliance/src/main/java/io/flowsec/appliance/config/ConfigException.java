package io.flowsec.appliance.config;

/**
 * A configuration problem, with the path of the offending key ({@code policies[0].outbound[1].key}) and what is wrong.
 * Messages never contain key material, and are one line: a value or key quoted in them keeps its line breaks and other
 * control characters only as Java escapes (a line feed as a backslash and n), so a document cannot break or forge a
 * log line.
 */
public final class ConfigException extends Exception {
    private final String path;

    public ConfigException(String path, String problem) {
        super(oneLine(path.isEmpty() ? problem : path + ": " + problem));
        this.path = oneLine(path);
    }

    public String path() {
        return path;
    }

    /** The text with line breaks and control characters (ISO controls, U+2028, U+2029) as Java escapes. */
    static String oneLine(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean escape = Character.isISOControl(c) || c == '\u2028' || c == '\u2029';
            if (escape && out == null) {
                out = new StringBuilder(text.length() + 16).append(text, 0, i);
            }
            if (out != null) {
                if (!escape) {
                    out.append(c);
                } else if (c == '\n') {
                    out.append("\\n");
                } else if (c == '\r') {
                    out.append("\\r");
                } else if (c == '\t') {
                    out.append("\\t");
                } else {
                    out.append(String.format("\\u%04x", (int) c));
                }
            }
        }
        return out == null ? text : out.toString();
    }
}
