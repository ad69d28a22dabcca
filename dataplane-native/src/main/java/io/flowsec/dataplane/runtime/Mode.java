package io.flowsec.dataplane.runtime;

import java.util.Locale;

/** How the receiver uses its lanes (the paper's three receivers). */
public enum Mode {
    /** Everything on lane 0: the paper's default, one core. */
    SINGLE,
    /** Lane 0 receives; the cryptography goes round the lanes and is re-serialised in order (Linux pcrypt). */
    PCRYPT,
    /** The paper's proposal: steering spreads the SAs over the lanes, each does everything for its own. */
    FLOW;

    /** The lower-case name used in configuration, the CLI and the API. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Mode fromConfigName(String name) {
        for (Mode mode : values()) {
            if (mode.configName().equals(name)) {
                return mode;
            }
        }
        throw new IllegalArgumentException("unknown mode '" + name + "' (single, pcrypt, flow)");
    }
}
