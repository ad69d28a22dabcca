package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * Where a system call leaves errno: one per thread that makes calls (a lane owns one), allocated once, so the
 * packet path reads errno without allocating.
 */
public final class Errno {
    static final StructLayout LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EINVAL = 22;
    public static final int EMSGSIZE = 90;

    final MemorySegment state;

    public Errno() {
        this.state = Arena.ofAuto().allocate(LAYOUT);
    }

    /** The errno of the last failed call made with this holder. */
    public int value() {
        return (int) ERRNO.get(state, 0L);
    }
}
