package io.flowsec.dataplane.linux;

import java.io.IOException;

/** A failed system call on a control path (opening a device, binding a socket), with errno and its meaning. */
public final class NativeException extends IOException {
    private final int errno;

    public NativeException(String call, int errno) {
        super(call + " failed: " + Syscalls.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
