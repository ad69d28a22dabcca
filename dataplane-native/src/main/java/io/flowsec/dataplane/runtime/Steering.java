package io.flowsec.dataplane.runtime;

import java.util.Locale;

/** How the receiver maps an arriving ESP datagram to a lane, as a NIC would. */
public enum Steering {
    /** Exact, like Flow Director: a program reads the field the peer encodes the flow ID in and picks the lane. */
    DIRECTOR,
    /** The kernel's hash of the outer 4-tuple, collisions included, like RSS. */
    RSS,
    /** Everything to lane 0 (what {@code single} and {@code pcrypt} modes always use). */
    SINGLE;

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Steering fromConfigName(String name) {
        for (Steering steering : values()) {
            if (steering.configName().equals(name)) {
                return steering;
            }
        }
        throw new IllegalArgumentException("unknown steering '" + name + "' (single, director, rss)");
    }
}
