package io.flowsec.dataplane.selector;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An address prefix held as two longs (IPv4 in the low 32 bits of {@code low}), so the packet path matches without
 * allocating. {@link #ANY} matches both families.
 */
public final class IpPrefix {
    public static final IpPrefix ANY = new IpPrefix(0, 0, 0, 0);

    /** 0 = any family, 4 or 6. */
    private final int family;
    private final long high;
    private final long low;
    private final int length;
    private final long maskHigh;
    private final long maskLow;

    private IpPrefix(int family, long high, long low, int length) {
        this.family = family;
        this.length = length;
        if (family == 4) {
            this.maskHigh = 0;
            this.maskLow = length == 0 ? 0 : (0xFFFF_FFFFL << (32 - length)) & 0xFFFF_FFFFL;
        } else if (family == 6) {
            this.maskHigh = length == 0 ? 0 : length >= 64 ? -1L : -1L << (64 - length);
            this.maskLow = length <= 64 ? 0 : length == 128 ? -1L : -1L << (128 - length);
        } else {
            this.maskHigh = 0;
            this.maskLow = 0;
        }
        this.high = high & maskHigh;
        this.low = low & maskLow;
    }

    /** Parses {@code 10.0.0.0/8}, {@code 2001:db8::/32}, a bare address (host prefix) or {@code any}. */
    public static IpPrefix parse(String text) {
        String value = text.strip();
        if (value.equalsIgnoreCase("any") || value.isEmpty()) {
            return ANY;
        }
        int slash = value.indexOf('/');
        String addressText = slash < 0 ? value : value.substring(0, slash);
        InetAddress address = parseAddress(addressText);
        byte[] bytes = address.getAddress();
        int family = address instanceof Inet4Address ? 4 : 6;
        int maxLength = family == 4 ? 32 : 128;
        int length = maxLength;
        if (slash >= 0) {
            try {
                length = Integer.parseInt(value.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad prefix length in '" + text + "'");
            }
            if (length < 0 || length > maxLength) {
                throw new IllegalArgumentException("prefix length " + length + " out of range in '" + text + "'");
            }
        }
        return of(bytes, length);
    }

    public static IpPrefix of(byte[] address, int length) {
        if (address.length == 4) {
            long v4 = ((address[0] & 0xFFL) << 24) | ((address[1] & 0xFFL) << 16) | ((address[2] & 0xFFL) << 8)
                    | (address[3] & 0xFFL);
            return new IpPrefix(4, 0, v4, length);
        }
        if (address.length == 16) {
            long high = 0;
            long low = 0;
            for (int i = 0; i < 8; i++) {
                high = (high << 8) | (address[i] & 0xFF);
                low = (low << 8) | (address[i + 8] & 0xFF);
            }
            return new IpPrefix(6, high, low, length);
        }
        throw new IllegalArgumentException("address must have 4 or 16 bytes");
    }

    /**
     * Parses a literal IPv4 or IPv6 address, never a host name (no DNS lookup on a configuration path).
     */
    public static InetAddress parseAddress(String text) {
        String value = text.strip();
        boolean literal = !value.isEmpty() && (value.indexOf(':') >= 0 || value.chars().allMatch(c -> c == '.' || Character.isDigit(c)));
        if (!literal) {
            throw new IllegalArgumentException("'" + text + "' is not an IP address");
        }
        InetAddress address;
        try {
            address = InetAddress.ofLiteral(value); // never a DNS lookup, also for 300.1.1.1 or 1.2.3.4.5
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "' is not an IP address");
        }
        if (value.indexOf(':') < 0 && value.chars().filter(c -> c == '.').count() != 3) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 address (need a.b.c.d)");
        }
        return address;
    }

    public int family() {
        return family;
    }

    public int length() {
        return length;
    }

    public boolean isAny() {
        return family == 0;
    }

    /** Whether some address lies in both prefixes: one contains the other ({@link #ANY} meets every prefix). */
    public boolean intersects(IpPrefix other) {
        if (family == 0 || other.family == 0) {
            return true;
        }
        if (family != other.family) {
            return false;
        }
        IpPrefix shorter = length <= other.length ? this : other;
        IpPrefix longer = shorter == this ? other : this;
        return (longer.high & shorter.maskHigh) == shorter.high && (longer.low & shorter.maskLow) == shorter.low;
    }

    public boolean matchesIpv4(int address) {
        return family == 0 || (family == 4 && ((address & 0xFFFF_FFFFL) & maskLow) == low);
    }

    public boolean matchesIpv6(long addressHigh, long addressLow) {
        return family == 0 || (family == 6 && (addressHigh & maskHigh) == high && (addressLow & maskLow) == low);
    }

    /** Same family, length and network: selectors compare by value (a policy replaced with the same selectors). */
    @Override
    public boolean equals(Object other) {
        return other instanceof IpPrefix prefix && prefix.family == family && prefix.length == length
                && prefix.high == high && prefix.low == low;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(family, length, high, low);
    }

    @Override
    public String toString() {
        if (family == 0) {
            return "any";
        }
        byte[] bytes;
        if (family == 4) {
            bytes = new byte[] {(byte) (low >>> 24), (byte) (low >>> 16), (byte) (low >>> 8), (byte) low};
        } else {
            bytes = new byte[16];
            for (int i = 0; i < 8; i++) {
                bytes[i] = (byte) (high >>> (56 - 8 * i));
                bytes[i + 8] = (byte) (low >>> (56 - 8 * i));
            }
        }
        try {
            return InetAddress.getByAddress(bytes).getHostAddress() + "/" + length;
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
