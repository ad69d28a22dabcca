package io.flowsec.control.api;

import java.time.Instant;
import java.util.List;

/**
 * What the API reports about the appliance beside its data plane.
 *
 * @param cpus the CPU each lane is pinned to, in lane order; empty when lanes are not pinned
 */
public record ApplianceInfo(String name, String version, String transport, List<Integer> cpus, Instant startedAt) {
    public ApplianceInfo {
        cpus = List.copyOf(cpus);
    }
}
