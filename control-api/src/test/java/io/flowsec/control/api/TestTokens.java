package io.flowsec.control.api;

import java.util.Optional;

/** The two tokens the API's tests use, an admin's and a read-only one, and the authenticator that knows them. */
public final class TestTokens {
    public static final String ADMIN = "fsk_admin-token-for-tests";
    public static final String READER = "fsk_read-only-token-for-tests";

    private TestTokens() {
    }

    public static Caller.Authenticator authenticator() {
        return token -> switch (token) {
            case ADMIN -> Optional.of(new Caller("ops", true));
            case READER -> Optional.of(new Caller("monitor", false));
            default -> Optional.empty();
        };
    }
}
