package io.flowsec.dataplane.sa;

/**
 * An SA's lifetime (RFC 4301 §4.4.2.1): soft and hard limits in bytes, packets and seconds; 0 means no limit.
 * Reaching a soft limit raises an event (the control plane, later IKE or the cluster, rekeys on it); reaching a hard
 * limit stops the SA, its further packets dropped as {@code sa-expired}. Bytes are inner (cleartext) bytes, as the
 * RFC counts them.
 */
public record SaLifetime(long softBytes, long hardBytes, long softPackets, long hardPackets,
                         long softSeconds, long hardSeconds) {
    /** No limit at all (the sequence-number limit still applies: {@link SecurityAssociation}). */
    public static final SaLifetime NONE = new SaLifetime(0, 0, 0, 0, 0, 0);

    public SaLifetime {
        check("bytes", softBytes, hardBytes);
        check("packets", softPackets, hardPackets);
        check("seconds", softSeconds, hardSeconds);
    }

    private static void check(String unit, long soft, long hard) {
        if (soft < 0 || hard < 0) {
            throw new IllegalArgumentException("lifetime " + unit + " must not be negative");
        }
        if (soft != 0 && hard != 0 && soft >= hard) {
            throw new IllegalArgumentException("soft lifetime " + unit + " (" + soft + ") must be below the hard one ("
                    + hard + ")");
        }
    }

    public boolean isUnlimited() {
        return equals(NONE);
    }
}
