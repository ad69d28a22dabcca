package io.flowsec.control.api;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;

/**
 * Each lane's busy fraction over the last sampling interval: the growth of its {@code busy-nanos} counter over the
 * wall time between two samples. Sampled by the server's timer (the only writer); read by any request.
 */
final class LaneLoad {
    private final DataplaneControl dataplane;
    private long[] lastBusyNanos = new long[0];
    private long lastSampleNanos;
    private volatile double[] busyFractions = new double[0];

    LaneLoad(DataplaneControl dataplane) {
        this.dataplane = dataplane;
    }

    /** Takes a sample; the first one only sets the baseline. */
    void sample() {
        DataplaneSnapshot snapshot = dataplane.snapshot();
        long now = System.nanoTime();
        long[] busy = new long[snapshot.lanes().size()];
        double[] fractions = new double[busy.length];
        for (int i = 0; i < busy.length; i++) {
            busy[i] = snapshot.lanes().get(i).io(IoCounter.BUSY_NANOS);
            if (lastBusyNanos.length == busy.length && now > lastSampleNanos) {
                fractions[i] = Math.min(1.0, Math.max(0.0, (busy[i] - lastBusyNanos[i]) / (double) (now - lastSampleNanos)));
            }
        }
        lastBusyNanos = busy;
        lastSampleNanos = now;
        busyFractions = fractions;
    }

    double busyFraction(int lane) {
        double[] fractions = busyFractions;
        return lane < fractions.length ? Math.round(fractions[lane] * 1000) / 1000.0 : 0.0;
    }
}
