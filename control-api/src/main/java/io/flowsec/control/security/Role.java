package io.flowsec.control.security;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** What a token may do: read-only tokens may watch (dashboards, monitoring); admin tokens may also change things. */
public enum Role {
    READ_ONLY,
    ADMIN;

    /** The name used in the token file and the CLI. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static Role fromConfigName(String name) {
        for (Role role : values()) {
            if (role.configName().equals(name)) {
                return role;
            }
        }
        String allowed = Arrays.stream(values()).map(Role::configName).collect(Collectors.joining(", "));
        throw new IllegalArgumentException("unknown role '" + name + "' (" + allowed + ")");
    }

    /** Whether requests that change state (POST, PUT, DELETE) are allowed. */
    public boolean mayWrite() {
        return this == ADMIN;
    }
}
