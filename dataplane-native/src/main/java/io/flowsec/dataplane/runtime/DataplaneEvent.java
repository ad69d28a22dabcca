package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.sa.SecurityAssociation;

/** Something the data plane tells its control side about, delivered in order to each {@link DataplaneListener}. */
public sealed interface DataplaneEvent {
    /** An SA reached a soft lifetime limit: time to rekey. {@code limit}: bytes, packets, seconds or sequence. */
    record SoftLifetime(String sa, int spi, SecurityAssociation.Direction direction, String limit) implements DataplaneEvent {
    }

    /** An SA reached a hard lifetime limit and stopped: its packets are dropped as {@code sa-expired}. */
    record HardLifetime(String sa, int spi, SecurityAssociation.Direction direction, String limit) implements DataplaneEvent {
    }

    /** A lane's batch ended in an unexpected exception; the lane went on. {@code faults}: the lane's count so far. */
    record LaneFault(int lane, String fault, long faults) implements DataplaneEvent {
    }

    /** An inbound SA's grace period ended and it was removed (the second half of a rekey). */
    record SaRemoved(String sa, int spi, SecurityAssociation.Direction direction) implements DataplaneEvent {
    }
}
