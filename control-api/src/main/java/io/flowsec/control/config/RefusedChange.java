package io.flowsec.control.config;

/**
 * A change the configuration refuses, naming the field at fault as the request gave it ({@code outbound[1].key}), so
 * the API's 400 can point at it. Its message never holds key material.
 */
public final class RefusedChange extends IllegalArgumentException {
    private final String field;

    public RefusedChange(String message, String field, Throwable cause) {
        super(message, cause);
        this.field = field;
    }

    /** The field at fault; empty when the change as a whole is refused. */
    public String field() {
        return field;
    }
}
