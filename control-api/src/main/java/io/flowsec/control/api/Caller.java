package io.flowsec.control.api;

import java.util.Optional;

/**
 * Who sent a request, as its bearer token says: read-only callers read, admins also change.
 *
 * @param name  the token's name, for logs (never the token)
 * @param admin whether the caller may change the appliance
 */
public record Caller(String name, boolean admin) {
    /** Turns a presented bearer token into its caller; empty for an unknown token. */
    @FunctionalInterface
    public interface Authenticator {
        Optional<Caller> authenticate(String bearerToken);
    }
}
