package io.flowsec.dataplane.sa;

/**
 * Told when an SA reaches a lifetime limit. Called at most once per SA and limit kind, from the lane that serves the
 * SA (byte and packet limits) or from the runtime's clock (seconds): implementations hand the event on and return.
 */
public interface SaLifetimeListener {
    SaLifetimeListener IGNORE = new SaLifetimeListener() {
        @Override
        public void onSoftLifetime(SecurityAssociation sa, String limit) {
        }

        @Override
        public void onHardLifetime(SecurityAssociation sa, String limit) {
        }
    };

    /** {@code limit} names what was reached: bytes, packets, seconds or sequence. */
    void onSoftLifetime(SecurityAssociation sa, String limit);

    void onHardLifetime(SecurityAssociation sa, String limit);
}
