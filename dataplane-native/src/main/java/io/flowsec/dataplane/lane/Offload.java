package io.flowsec.dataplane.lane;

/**
 * One batching or offload path of a lane's queue as it stands: asked for or not, in use or not, and why not when the
 * kernel refused it (said once in the log, shown in the status). Control side only.
 *
 * @param name    {@code tun-vnet-header}, {@code tun-tso}, {@code tun-uso}, {@code tun-gro}, {@code udp-batching},
 *                {@code udp-gso}, {@code udp-gro}
 * @param active  in use now
 * @param detail  what is in use, or why it is not ({@code off}: not asked for; otherwise the kernel's refusal)
 */
public record Offload(String name, boolean active, String detail) {
    public static Offload on(String name, String detail) {
        return new Offload(name, true, detail);
    }

    public static Offload notRequested(String name) {
        return new Offload(name, false, "off");
    }

    public static Offload refused(String name, String reason) {
        return new Offload(name, false, reason);
    }

    /** Two lanes' states of one path: in use only where both are; the first refusal explains. */
    public Offload and(Offload other) {
        if (active && !other.active) {
            return other;
        }
        return this;
    }
}
