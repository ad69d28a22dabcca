package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The bpf(2) system call, for the steering maps and programs: create a hash map, fill it in one batch, read one
 * entry back, load a socket-filter program. Control path only; every failure throws {@link NativeException}, a
 * refused program with the verifier's last words. Loading needs CAP_BPF (or CAP_SYS_ADMIN) where unprivileged BPF is
 * disabled, as Debian does by default; {@link #EPERM} tells the caller to fall back to classic BPF.
 */
public final class Bpf {
    public static final int EPERM = 1;
    public static final int ENOSYS = 38;

    private static final int MAP_CREATE = 0;
    private static final int MAP_LOOKUP_ELEM = 1;
    private static final int PROG_LOAD = 5;
    private static final int MAP_UPDATE_BATCH = 26;
    private static final int MAP_TYPE_HASH = 1;
    private static final int PROG_TYPE_SOCKET_FILTER = 1;
    /** union bpf_attr is larger, but the kernel accepts any prefix whose unused bytes are zero. */
    private static final int ATTRIBUTES_SIZE = 128;
    private static final int VERIFIER_LOG_SIZE = 1 << 16;
    private static final String LICENSE = "Dual MIT/GPL";

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final MethodHandle SYSCALL = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(LONG, LONG, INT, ValueLayout.ADDRESS, INT),
            Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    private static final long SYS_BPF = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 321;
        case "aarch64" -> 280;
        default -> -1;
    };

    private Bpf() {
    }

    /** A hash map from 32-bit keys to 32-bit values holding up to {@code capacity} entries; returns its descriptor. */
    public static int createIntHashMap(String name, int capacity) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attributes = arena.allocate(ATTRIBUTES_SIZE, 8);
            attributes.set(INT, 0, MAP_TYPE_HASH);
            attributes.set(INT, 4, Integer.BYTES);
            attributes.set(INT, 8, Integer.BYTES);
            attributes.set(INT, 12, Math.max(1, capacity));
            setName(attributes, 28, name);
            return (int) bpf(MAP_CREATE, attributes, "bpf(BPF_MAP_CREATE, " + capacity + " entries)");
        }
    }

    /** Writes every entry of {@code entries} into the map in one call. */
    public static void putAll(int mapFd, Map<Integer, Integer> entries) throws NativeException {
        if (entries.isEmpty()) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment keys = arena.allocate(INT, entries.size());
            MemorySegment values = arena.allocate(INT, entries.size());
            int i = 0;
            for (Map.Entry<Integer, Integer> entry : entries.entrySet()) {
                keys.setAtIndex(INT, i, entry.getKey());
                values.setAtIndex(INT, i, entry.getValue());
                i++;
            }
            MemorySegment attributes = arena.allocate(ATTRIBUTES_SIZE, 8);
            attributes.set(LONG, 16, keys.address());
            attributes.set(LONG, 24, values.address());
            attributes.set(INT, 32, entries.size());
            attributes.set(INT, 36, mapFd);
            bpf(MAP_UPDATE_BATCH, attributes, "bpf(BPF_MAP_UPDATE_BATCH, " + entries.size() + " entries)");
            int written = attributes.get(INT, 32);
            if (written != entries.size()) {
                throw new IllegalStateException("BPF_MAP_UPDATE_BATCH wrote " + written + " of " + entries.size() + " entries");
            }
        }
    }

    /** The value stored under {@code key}, or null when the map has none. */
    public static Integer get(int mapFd, int key) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment keySegment = arena.allocateFrom(INT, key);
            MemorySegment value = arena.allocate(INT);
            MemorySegment attributes = arena.allocate(ATTRIBUTES_SIZE, 8);
            attributes.set(INT, 0, mapFd);
            attributes.set(LONG, 8, keySegment.address());
            attributes.set(LONG, 16, value.address());
            try {
                bpf(MAP_LOOKUP_ELEM, attributes, "bpf(BPF_MAP_LOOKUP_ELEM)");
            } catch (NativeException e) {
                if (e.errno() == 2) {   // ENOENT
                    return null;
                }
                throw e;
            }
            return value.get(INT, 0);
        }
    }

    /**
     * Loads {@code program} as a socket filter, the type SO_ATTACH_REUSEPORT_EBPF runs with the datagram's payload at
     * offset 0; returns its descriptor. A program the verifier refuses is loaded again with the log on, and the log's
     * reason goes into the exception.
     */
    public static int loadSocketFilter(String name, EbpfProgram program) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attributes = programAttributes(arena, name, program);
            try {
                return (int) bpf(PROG_LOAD, attributes, "bpf(BPF_PROG_LOAD)");
            } catch (NativeException e) {
                if (e.errno() == EPERM || e.errno() == ENOSYS) {
                    throw e;
                }
                MemorySegment log = arena.allocate(VERIFIER_LOG_SIZE);
                attributes.set(INT, 24, 1);
                attributes.set(INT, 28, VERIFIER_LOG_SIZE);
                attributes.set(LONG, 32, log.address());
                try {
                    return (int) bpf(PROG_LOAD, attributes, "bpf(BPF_PROG_LOAD)");
                } catch (NativeException refused) {
                    throw new NativeException("bpf(BPF_PROG_LOAD) [verifier: " + reason(log.getString(0)) + "]",
                            refused.errno());
                }
            }
        }
    }

    private static MemorySegment programAttributes(Arena arena, String name, EbpfProgram program) {
        MemorySegment attributes = arena.allocate(ATTRIBUTES_SIZE, 8);
        attributes.set(INT, 0, PROG_TYPE_SOCKET_FILTER);
        attributes.set(INT, 4, program.length());
        attributes.set(LONG, 8, program.toInstructions(arena).address());
        attributes.set(LONG, 16, arena.allocateFrom(LICENSE).address());
        setName(attributes, 48, name);
        return attributes;
    }

    /** Object names are at most 15 characters of [A-Za-z0-9_.]. */
    private static void setName(MemorySegment attributes, long offset, String name) {
        byte[] bytes = name.replaceAll("[^A-Za-z0-9_.]", "_").getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(bytes, 0, attributes, ValueLayout.JAVA_BYTE, offset, Math.min(15, bytes.length));
    }

    /** The verifier's reason: the last line of its log before its statistics ("processed N insns ..."). */
    private static String reason(String log) {
        String[] lines = log.strip().split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            String line = lines[i].strip();
            if (!line.isEmpty() && !line.startsWith("processed ") && !line.startsWith("verification time")) {
                return line;
            }
        }
        return "no reason given";
    }

    private static long bpf(int command, MemorySegment attributes, String what) throws NativeException {
        if (SYS_BPF < 0) {
            throw new NativeException(what + " on " + System.getProperty("os.arch"), ENOSYS);
        }
        Errno errno = new Errno();
        try {
            long result = (long) SYSCALL.invokeExact(errno.state, SYS_BPF, command, attributes, (int) attributes.byteSize());
            if (result < 0) {
                throw new NativeException(what, errno.value());
            }
            return result;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
