package io.flowsec.dataplane.selector;

/** An inclusive port range; {@link #ANY} also matches packets without ports. */
public record PortRange(int first, int last) {
    public static final PortRange ANY = new PortRange(0, 65535);

    public PortRange {
        if (first < 0 || last > 65535 || first > last) {
            throw new IllegalArgumentException("bad port range " + first + "-" + last);
        }
    }

    /** Parses {@code any}, {@code 443} or {@code 1024-65535}. */
    public static PortRange parse(String text) {
        String value = text.strip();
        if (value.equalsIgnoreCase("any") || value.isEmpty()) {
            return ANY;
        }
        try {
            int dash = value.indexOf('-');
            if (dash < 0) {
                int port = Integer.parseInt(value);
                return new PortRange(port, port);
            }
            return new PortRange(Integer.parseInt(value.substring(0, dash).strip()),
                    Integer.parseInt(value.substring(dash + 1).strip()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port range '" + text + "' (use any, N or N-M)");
        }
    }

    public boolean isAny() {
        return first == 0 && last == 65535;
    }

    public boolean contains(int port) {
        return port >= first && port <= last;
    }

    public boolean intersects(PortRange other) {
        return first <= other.last && other.first <= last;
    }

    @Override
    public String toString() {
        return isAny() ? "any" : first == last ? Integer.toString(first) : first + "-" + last;
    }
}
