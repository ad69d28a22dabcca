package io.flowsec.cluster.security;

/** What {@link Opener#open} made of an envelope: the authentic message, or why it was refused. */
public sealed interface OpenResult {

    /**
     * An authentic, fresh, not replayed message. {@code payload} is a new array that belongs to the caller.
     * {@code sender} is what the sealer called itself: any holder of the cluster secret can claim any name, so it
     * identifies a member among trusted ones, it does not authenticate one against another.
     */
    record Opened(MessageType type, String sender, Epoch epoch, long counter, long timestampMs, String subject,
                  byte[] payload) implements OpenResult {
        @Override
        public String toString() {
            return "Opened[" + type + " from " + sender + " epoch " + epoch + " #" + counter + " at " + timestampMs
                    + (subject.isEmpty() ? "" : " for " + subject) + ", " + payload.length + " bytes]";
        }
    }

    record Rejected(Rejection reason) implements OpenResult {
    }
}
