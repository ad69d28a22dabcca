package io.flowsec.dataplane.runtime;

import java.util.Map;

/**
 * What one local tunnel endpoint's steering must do, decided by the runtime and carried out by its
 * {@link TunnelPort}: a classic-BPF program on a reuseport group, or the in-memory port of a test.
 *
 * @param field      what is read to pick the lane
 * @param laneByKey  for the exact fields: value (SPI, UDP source port, IPv4 source address) → lane; others go to
 *                   lane 0
 */
public record SteeringPlan(Field field, Map<Integer, Integer> laneByKey) {
    public enum Field {
        /** Everything to lane 0. */
        NONE("lane-0"),
        /** The kernel's 4-tuple hash. */
        HASH("outer-4-tuple-hash"),
        SPI("spi"),
        UDP_SOURCE_PORT("udp-source-port"),
        OUTER_SOURCE_ADDRESS("outer-source-address");

        private final String label;

        Field(String label) {
            this.label = label;
        }

        /** Shown in status: what the steering reads at this endpoint. */
        public String label() {
            return label;
        }

        /**
         * Whether the steering reads a value the receiver assigned to a lane (SPI, port, address): only then do a
         * moved SA's datagrams change sockets, and only then does the program send a marker to the lane it names.
         */
        public boolean isExact() {
            return this != NONE && this != HASH;
        }

        /** The field with {@code label} (as {@link #label()} and status show it), or null. */
        public static Field ofLabel(String label) {
            for (Field field : values()) {
                if (field.label.equals(label)) {
                    return field;
                }
            }
            return null;
        }
    }

    public SteeringPlan {
        laneByKey = Map.copyOf(laneByKey);
    }

    public static final SteeringPlan LANE_ZERO = new SteeringPlan(Field.NONE, Map.of());
    public static final SteeringPlan KERNEL_HASH = new SteeringPlan(Field.HASH, Map.of());

    /** The lane a datagram with this key goes to. */
    public int laneFor(int key) {
        Integer lane = laneByKey.get(key);
        return lane == null ? 0 : lane;
    }
}
