package io.flowsec.control.api;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;

/**
 * Each lane's busy fraction and packet rate over the last sampling interval: the growth of its {@code busy-nanos}
 * counter, and of the packets it took in (site packets read and tunnel datagrams received), over the wall time between
 * two samples. Each instance has one sampler (the server's timer, the event stream's tick), the only writer; any
 * thread reads.
 */
final class LaneLoad {
    private final DataplaneControl dataplane;
    private long[] lastBusyNanos = new long[0];
    private long[] lastPackets = new long[0];
    private long lastSampleNanos;
    private volatile double[] busyFractions = new double[0];
    private volatile double[] packetsPerSecond = new double[0];

    LaneLoad(DataplaneControl dataplane) {
        this.dataplane = dataplane;
    }

    /** Takes a sample; the first one only sets the baseline. */
    void sample() {
        sample(dataplane.snapshot());
    }

    /** Takes a sample from a snapshot the caller took anyway (the event stream builds its message from the same one). */
    void sample(DataplaneSnapshot snapshot) {
        long now = System.nanoTime();
        int lanes = snapshot.lanes().size();
        long[] busy = new long[lanes];
        long[] packets = new long[lanes];
        double[] fractions = new double[lanes];
        double[] rates = new double[lanes];
        boolean hasBaseline = lastBusyNanos.length == lanes && now > lastSampleNanos;
        for (int i = 0; i < lanes; i++) {
            DataplaneSnapshot.LaneSnapshot lane = snapshot.lanes().get(i);
            busy[i] = lane.io(IoCounter.BUSY_NANOS);
            packets[i] = lane.io(IoCounter.SITE_PACKETS_READ) + lane.io(IoCounter.TUNNEL_DATAGRAMS_RECEIVED);
            if (hasBaseline) {
                double elapsedNanos = now - lastSampleNanos;
                fractions[i] = Math.min(1.0, Math.max(0.0, (busy[i] - lastBusyNanos[i]) / elapsedNanos));
                rates[i] = Math.max(0.0, (packets[i] - lastPackets[i]) * 1e9 / elapsedNanos);
            }
        }
        lastBusyNanos = busy;
        lastPackets = packets;
        lastSampleNanos = now;
        busyFractions = fractions;
        packetsPerSecond = rates;
    }

    double busyFraction(int lane) {
        double[] fractions = busyFractions;
        return lane < fractions.length ? Math.round(fractions[lane] * 1000) / 1000.0 : 0.0;
    }

    long packetsPerSecond(int lane) {
        double[] rates = packetsPerSecond;
        return lane < rates.length ? Math.round(rates[lane]) : 0;
    }
}
