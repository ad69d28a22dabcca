package io.flowsec.dataplane.state;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Supplier;

/**
 * What each SA used, exactly, in a file mapped into memory (MAP_SHARED): outbound the last sequence number sent,
 * stored before the packet is encrypted; inbound the highest accepted, stored before the packet is delivered. One
 * plain memory write per packet, no system call. A process
 * that dies (SIGKILL, a JVM crash) leaves those writes in the kernel's page cache, so the restarted appliance reads
 * them back exactly and a running peer loses nothing; only a kernel crash or a power cut loses them, which the boot
 * ID tells: then the fsync'd marks reserved ahead ({@link SaStateStore}) apply instead.
 * <p>
 * Layout: a 4 KiB header ({@link #MAGIC}, the boot ID the values belong to), then {@link #CAPACITY} slots of 32 bytes
 * (the SA's 16-byte state fingerprint, its value, and a used flag). SAs beyond the capacity keep reserved marks only.
 */
public final class ExactMarks implements AutoCloseable {
    public static final int CAPACITY = 131_072;
    static final String FILE_NAME = "exact-marks";
    private static final String MAGIC = "flowsec-exact-1";
    private static final long HEADER = 4096;
    private static final long BOOT_ID_OFFSET = 16;
    private static final int BOOT_ID_LENGTH = 36;
    private static final long SLOT = 32;
    private static final long VALUE = 16;
    private static final long USED = 24;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;

    private final Arena mapping;
    private final MemorySegment file;
    /** Whether the values were written during this boot: the page cache that holds them survived. */
    private final boolean valuesSurvived;
    private final Map<String, Integer> slotByFingerprint = new HashMap<>();
    private final ArrayDeque<Integer> freeSlots = new ArrayDeque<>();

    private ExactMarks(Arena mapping, MemorySegment file, boolean valuesSurvived) {
        this.mapping = mapping;
        this.file = file;
        this.valuesSurvived = valuesSurvived;
    }

    /** Opens (creating, mode 0600) the marks file in {@code directory}. */
    public static ExactMarks open(Path directory) throws IOException {
        return open(directory, ExactMarks::currentBootId);
    }

    /** As {@link #open(Path)}, with the boot ID from {@code bootId} (a test simulates a reboot with it). */
    static ExactMarks open(Path directory, Supplier<String> bootId) throws IOException {
        Path path = directory.resolve(FILE_NAME);
        long size = HEADER + CAPACITY * SLOT;
        if (!Files.exists(path)) {
            Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        ExactMarks marks;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (channel.size() != size) {
                channel.truncate(0);   // new, or of another layout: nothing in it can be trusted
                channel.write(java.nio.ByteBuffer.allocate(1), size - 1);
            }
            Arena arena = Arena.ofShared();
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
            String recordedMagic = text(mapped, 0, MAGIC.length());
            String recordedBoot = text(mapped, BOOT_ID_OFFSET, BOOT_ID_LENGTH);
            String boot = bootId.get();
            boolean survived = recordedMagic.equals(MAGIC) && recordedBoot.equals(boot) && !boot.isEmpty();
            if (!survived) {
                mapped.asSlice(HEADER).fill((byte) 0);   // values of another boot: forget them before trusting the file
            }
            MemorySegment.copy(MAGIC.getBytes(StandardCharsets.US_ASCII), 0, mapped, ValueLayout.JAVA_BYTE, 0, MAGIC.length());
            byte[] bootBytes = Arrays.copyOf(boot.getBytes(StandardCharsets.US_ASCII), BOOT_ID_LENGTH);
            MemorySegment.copy(bootBytes, 0, mapped, ValueLayout.JAVA_BYTE, BOOT_ID_OFFSET, BOOT_ID_LENGTH);
            marks = new ExactMarks(arena, mapped, survived);
        }
        marks.indexSlots();
        return marks;
    }

    private void indexSlots() {
        for (int slot = 0; slot < CAPACITY; slot++) {
            long base = HEADER + slot * SLOT;
            if (file.get(LONG, base + USED) != 0) {
                slotByFingerprint.put(HexFormat.of().formatHex(file.asSlice(base, 16).toArray(ValueLayout.JAVA_BYTE)), slot);
            } else {
                freeSlots.add(slot);
            }
        }
    }

    /** Whether the values come from this boot (a process restart) rather than from before a reboot or power cut. */
    public boolean valuesSurvived() {
        return valuesSurvived;
    }

    /** The exact value recorded for the SA with this fingerprint, when it survived. */
    public synchronized OptionalLong value(String fingerprint) {
        Integer slot = slotByFingerprint.get(fingerprint);
        return slot == null || !valuesSurvived ? OptionalLong.empty()
                : OptionalLong.of(file.get(LONG, HEADER + slot * SLOT + VALUE));
    }

    /**
     * The SA's slot, set to {@code value}, for its lane to keep current; null when every slot is taken (it keeps
     * reserved marks only).
     */
    public synchronized MemorySegment slot(String fingerprint, long value) {
        Integer slot = slotByFingerprint.get(fingerprint);
        if (slot == null) {
            slot = freeSlots.poll();
            if (slot == null) {
                return null;
            }
            slotByFingerprint.put(fingerprint, slot);
            MemorySegment.copy(HexFormat.of().parseHex(fingerprint), 0, file, ValueLayout.JAVA_BYTE, HEADER + slot * SLOT, 16);
        }
        MemorySegment entry = file.asSlice(HEADER + slot * SLOT, SLOT);
        entry.set(LONG, VALUE, value);
        entry.set(LONG, USED, 1);
        return entry.asSlice(VALUE, Long.BYTES);
    }

    private static String text(MemorySegment segment, long offset, int length) {
        byte[] bytes = segment.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII);
    }

    private static String currentBootId() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        } catch (IOException e) {
            return "";   // unknown: values are never trusted across starts
        }
    }

    /** Unmaps the file; the lanes must have stopped writing to it. */
    @Override
    public void close() {
        mapping.close();
    }
}
