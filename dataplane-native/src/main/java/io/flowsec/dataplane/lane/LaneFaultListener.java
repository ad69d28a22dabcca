package io.flowsec.dataplane.lane;

/**
 * Told when a lane's batch ends in an unexpected exception (a bug, not bad input: bad packets are counted drops).
 * Called on the lane's thread after the fault was counted; implementations must return quickly and never throw.
 */
@FunctionalInterface
public interface LaneFaultListener {
    LaneFaultListener IGNORE = (lane, fault) -> {
    };

    void onLaneFault(int lane, Throwable fault);
}
