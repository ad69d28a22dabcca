package io.flowsec.dataplane.linux;

/** Runs code with the calling thread inside a named network namespace ({@code /var/run/netns/NAME}, as iproute2 makes). */
public final class NetworkNamespace {
    private NetworkNamespace() {
    }

    /**
     * Moves the calling thread into namespace {@code name} for good. Use on a thread of its own (a lane, or a
     * short-lived helper thread): the rest of the process stays where it was.
     */
    public static void enter(String name) throws NativeException {
        int fd = Syscalls.open("/var/run/netns/" + name, Syscalls.O_CLOEXEC);
        try {
            Syscalls.enterNetworkNamespace(fd, name);
        } finally {
            Syscalls.close(fd);
        }
    }
}
