package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * Where a system call leaves errno: one per thread that makes calls (a lane owns one), allocated once, so the
 * packet path reads errno without allocating.
 */
public final class Errno {
    static final StructLayout LAYOUT = Linker.Option.captureStateLayout();
    /**
     * Where errno lies in the captured state: read as a plain int at a fixed offset, because a VarHandle reached
     * through a polluted profile may box its coordinates and allocate on every failed call (-EAGAIN included).
     */
    private static final long ERRNO_OFFSET = LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("errno"));

    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EIO = 5;
    public static final int EINVAL = 22;
    public static final int ENOSYS = 38;
    public static final int ENOPROTOOPT = 92;
    public static final int EOPNOTSUPP = 95;
    public static final int EMSGSIZE = 90;
    public static final int ECANCELED = 125;

    final MemorySegment state;

    public Errno() {
        this.state = Arena.ofAuto().allocate(LAYOUT);
    }

    /** The errno of the last failed call made with this holder. */
    public int value() {
        return state.get(java.lang.foreign.ValueLayout.JAVA_INT, ERRNO_OFFSET);
    }
}
