package io.flowsec.dataplane.esp;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * Every counter of one lane, the one counters model of the data plane: packet outcomes per SA (by the SAD's dense
 * index, plus a row for packets dropped before an SA was known) and the lane's I/O counters ({@link IoCounter}).
 * Single writer (the lane thread) with opaque stores, so any thread can read a coherent value without a lock;
 * growing the table happens on the lane when an SA index is first seen, never per packet afterwards.
 */
public final class LaneCounters {
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle PENDING;
    /** Columns: one per outcome, then bytes (of accepted packets, inner length). */
    private static final int BYTES_COLUMN = Outcome.count();
    private static final int COLUMNS = Outcome.count() + 1;
    /** Row of packets that never reached an SA (malformed outer header, unknown SPI, no policy...). */
    public static final int NO_SA = 0;

    static {
        try {
            PENDING = MethodHandles.lookup().findVarHandle(LaneCounters.class, "flowletPending", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private volatile long[] cells;
    private final long[] io = new long[IoCounter.values().length];
    /** A gauge, not a counter: the lane's flow buckets whose move waits for a flowlet boundary. */
    @SuppressWarnings("unused")   // through PENDING
    private int flowletPending;

    public LaneCounters() {
        this.cells = new long[COLUMNS * 16];
    }

    /** Counts one packet with its outcome against {@code saIndex} (or {@link #NO_SA}). */
    public void count(int saIndex, Outcome outcome, int bytes) {
        long[] table = cells;
        int row = rowOf(saIndex);
        if ((row + 1) * COLUMNS > table.length) {
            table = grow(row);
        }
        int base = row * COLUMNS;
        LONGS.setOpaque(table, base + outcome.ordinal(), (long) LONGS.getOpaque(table, base + outcome.ordinal()) + 1);
        if (outcome == Outcome.ACCEPTED) {
            LONGS.setOpaque(table, base + BYTES_COLUMN, (long) LONGS.getOpaque(table, base + BYTES_COLUMN) + bytes);
        }
    }

    private static int rowOf(int saIndex) {
        return saIndex; // SA indices start at 1; row 0 is NO_SA
    }

    private long[] grow(int row) {
        long[] bigger = Arrays.copyOf(cells, Math.max(cells.length * 2, (row + 1) * COLUMNS));
        cells = bigger;
        return bigger;
    }

    public long packets(int saIndex, Outcome outcome) {
        long[] table = cells;
        int index = rowOf(saIndex) * COLUMNS + outcome.ordinal();
        return index < table.length ? (long) LONGS.getOpaque(table, index) : 0;
    }

    public long acceptedBytes(int saIndex) {
        long[] table = cells;
        int index = rowOf(saIndex) * COLUMNS + BYTES_COLUMN;
        return index < table.length ? (long) LONGS.getOpaque(table, index) : 0;
    }

    /** Sum over every row (all SAs and the no-SA row). */
    public long total(Outcome outcome) {
        long[] table = cells;
        long sum = 0;
        for (int base = 0; base < table.length; base += COLUMNS) {
            sum += (long) LONGS.getOpaque(table, base + outcome.ordinal());
        }
        return sum;
    }

    /** Adds {@code delta} to one of the lane's I/O counters. Lane thread only. */
    public void add(IoCounter counter, long delta) {
        int i = counter.ordinal();
        LONGS.setOpaque(io, i, (long) LONGS.getOpaque(io, i) + delta);
    }

    /** Readable from any thread. */
    public long io(IoCounter counter) {
        return (long) LONGS.getOpaque(io, counter.ordinal());
    }

    /** Sets the number of the lane's flow buckets whose move waits for a flowlet boundary. Lane thread only. */
    public void flowletPending(int buckets) {
        PENDING.setOpaque(this, buckets);
    }

    /** The lane's flow buckets whose move to another SA waits for a flowlet boundary. Readable from any thread. */
    public int flowletPending() {
        return (int) PENDING.getOpaque(this);
    }

    /** Highest row that may hold counts, for iteration by readers. */
    public int rows() {
        return cells.length / COLUMNS;
    }
}
