package io.flowsec.dataplane.state;

import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SequenceReservations;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.OptionalLong;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Where SAs keep their sequence state across restarts, crashes and power loss, so a restart never repeats a nonce
 * under a key nor accepts a replay. One small file per SA, named by {@link SecurityAssociation#stateFingerprint()}
 * (not the key), in a directory of mode 0700; each holds one durable mark.
 * <ol>
 *   <li>outbound: the last number that may be sent; a restart resumes after it. Blocks of
 *       {@link #OUTBOUND_BLOCK} numbers are reserved ahead;</li>
 *   <li>inbound: the last number that may be accepted; after a restart everything up to it counts as seen. Blocks
 *       of {@link #INBOUND_BLOCK}: a smaller block bounds what a restarted receiver drops of a running sender's
 *       packets (those up to the mark);</li>
 *   <li>a mark is written, forced to disk, renamed into place and the directory forced, before any number above
 *       the old mark is used;</li>
 *   <li>a lane also records exactly what it used in {@link ExactMarks} (one memory store per packet into a mapped
 *       file): the number about to be sent, the highest number accepted. A process that is killed and restarted on
 *       the same boot resumes there, so neither a running peer nor the restarted end loses anything; after a kernel crash or power cut the reserved mark applies, and a running
 *       peer's packets up to it (at most {@link #INBOUND_BLOCK} per SA) are dropped as replays;</li>
 *   <li>a clean stop records each mark exactly (the last number sent, the highest accepted) and forces it to disk,
 *       so a clean restart loses nothing, even across a reboot;</li>
 *   <li>lanes ask for the next block when they come within half a block of the mark; one writer thread does the
 *       I/O, so the packet path never waits for a disk, unless the disk falls half a block behind (then packets
 *       above the mark are dropped as {@code sequence-not-durable}, never sent or accepted).</li>
 * </ol>
 */
public final class SaStateStore implements SequenceReservations, AutoCloseable {
    public static final long OUTBOUND_BLOCK = 1L << 20;
    public static final long INBOUND_BLOCK = 1L << 15;
    private static final String HEADER = "flowsec-sa-state 1";

    private final Path directory;
    private final Consumer<String> log;
    private final LinkedBlockingQueue<SecurityAssociation> requests = new LinkedBlockingQueue<>();
    private final AtomicLong durableWrites = new AtomicLong();
    private final Thread writer;
    private volatile boolean closed;

    private final ExactMarks exactMarks;

    private SaStateStore(Path directory, ExactMarks exactMarks, Consumer<String> log) {
        this.directory = directory;
        this.exactMarks = exactMarks;
        this.log = log;
        this.writer = Thread.ofPlatform().daemon().name("flowsec-sa-state").start(this::writeRequests);
    }

    /** Opens (creating, mode 0700) the state directory; refuses one that others can reach. */
    public static SaStateStore open(Path directory, Consumer<String> log) throws IOException {
        return open(directory, null, log);
    }

    /** As {@link #open(Path, Consumer)}, with the boot ID from {@code bootId} (null: the kernel's): tests reboot. */
    static SaStateStore open(Path directory, java.util.function.Supplier<String> bootId, Consumer<String> log)
            throws IOException {
        if (!Files.isDirectory(directory)) {
            Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        String permissions = PosixFilePermissions.toString(Files.getPosixFilePermissions(directory));
        if (!permissions.endsWith("------")) {
            throw new IOException("state directory " + directory + " is reachable by group or others (" + permissions
                    + "): chmod 700 it");
        }
        ExactMarks exactMarks = bootId == null ? ExactMarks.open(directory) : ExactMarks.open(directory, bootId);
        return new SaStateStore(directory, exactMarks, log);
    }

    public Path directory() {
        return directory;
    }

    /** How many marks were made durable so far (each a write, two fsyncs and a rename). */
    public long durableWrites() {
        return durableWrites.get();
    }

    private Path fileOf(SecurityAssociation sa) {
        return directory.resolve(sa.stateFingerprint() + ".state");
    }

    /** The SA's durable mark, or empty when it has no state here. */
    public OptionalLong load(SecurityAssociation sa) throws IOException {
        Path file = fileOf(sa);
        if (!Files.exists(file)) {
            return OptionalLong.empty();
        }
        String[] lines = Files.readString(file, StandardCharsets.US_ASCII).split("\n");
        if (lines.length < 2 || !lines[0].equals(HEADER) || !lines[1].startsWith("mark ")) {
            throw new IOException("state file " + file + " of " + sa.name() + " is damaged");
        }
        try {
            return OptionalLong.of(Long.parseUnsignedLong(lines[1].substring("mark ".length()).strip()));
        } catch (NumberFormatException e) {
            throw new IOException("state file " + file + " of " + sa.name() + " is damaged");
        }
    }

    /**
     * Makes {@code mark} the SA's durable mark: write, force, rename, force the directory. Synchronized: the writer
     * thread and a clean stop may write one SA's file at once, and they share its temporary file.
     */
    public synchronized void store(SecurityAssociation sa, long mark) throws IOException {
        Path file = fileOf(sa);
        Path temporary = directory.resolve(file.getFileName() + ".tmp");
        byte[] content = (HEADER + "\nmark " + Long.toUnsignedString(mark) + "\n").getBytes(StandardCharsets.US_ASCII);
        try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            channel.write(ByteBuffer.wrap(content));
            channel.force(true);
        }
        try {
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("state directory " + directory + " cannot rename atomically", e);
        }
        try (FileChannel directoryChannel = FileChannel.open(directory, StandardOpenOption.READ)) {
            directoryChannel.force(true);
        }
        durableWrites.incrementAndGet();
    }

    /**
     * Control plane, before any lane uses the SA: resumes it from its state, makes its first block durable and hands
     * it the store. Refuses a manually keyed SA whose nonce is its sequence number (AES-GCM, ChaCha20-Poly1305) when
     * there is no state for it, unless {@code freshAllowed}: its numbers may have been used under that key before.
     */
    public void attach(SecurityAssociation sa, boolean freshAllowed) throws IOException {
        OptionalLong mark = load(sa);
        if (mark.isEmpty() && !freshAllowed && sa.nonceIsSequence()) {
            throw new IllegalArgumentException(sa.name() + ": no sequence state for this manually keyed "
                    + sa.suite().configName() + " SA in " + directory + "; starting it could repeat nonces already "
                    + "used under its key. Restore the state directory, rekey, or, if this key was never used, "
                    + "start once with --fresh-sa-state");
        }
        if (mark.isEmpty() && !freshAllowed) {
            log.accept("warning: " + sa.name() + " has no sequence state in " + directory
                    + "; a peer may accept replays of its earlier packets");
        }
        long resumeAt = mark.orElse(0);
        // a process restart on the same boot: exactly what was used, rather than the mark reserved ahead
        OptionalLong exact = exactMarks.value(sa.stateFingerprint());
        if (exact.isPresent() && (mark.isEmpty() || Long.compareUnsigned(exact.getAsLong(), resumeAt) < 0)) {
            resumeAt = exact.getAsLong();
        } else if (mark.isPresent() && !exactMarks.valuesSurvived() && resumeAt != 0
                && sa.direction() == SecurityAssociation.Direction.INBOUND) {
            log.accept(sa.name() + ": resumes at its reserved mark " + Long.toUnsignedString(resumeAt)
                    + " (the machine restarted since): a running peer's packets up to it are dropped as replays,"
                    + " at most " + INBOUND_BLOCK + "; rekey the SA to recover at once");
        }
        java.lang.foreign.MemorySegment exactSlot = exactMarks.slot(sa.stateFingerprint(), resumeAt);
        sa.resumeAfter(resumeAt);
        long block = sa.direction() == SecurityAssociation.Direction.OUTBOUND ? OUTBOUND_BLOCK : INBOUND_BLOCK;
        long base = sa.direction() == SecurityAssociation.Direction.OUTBOUND
                ? Math.max(resumeAt, sa.lastSequenceSent()) : resumeAt;
        long limit = base + block;
        store(sa, limit);
        if (exactSlot != null) {
            sa.keepExactMarkIn(exactSlot);
        }
        sa.keepStateIn(this, block, limit);
    }

    @Override
    public void requestAhead(SecurityAssociation sa) {
        requests.offer(sa);
    }

    private void writeRequests() {
        while (!closed) {
            SecurityAssociation sa;
            try {
                sa = requests.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (sa == null) {
                continue;
            }
            long block = sa.direction() == SecurityAssociation.Direction.OUTBOUND ? OUTBOUND_BLOCK : INBOUND_BLOCK;
            // beyond the number that asked: a restarted sender resumes far ahead of its receiver's mark, and one
            // write must catch up with it (the packets that arrive before it is durable are dropped, not accepted)
            long limit = sa.durableLimit();
            long asked = sa.requestedSequence();
            long next = (Long.compareUnsigned(asked, limit) > 0 ? asked : limit) + block;
            try {
                store(sa, next);
                sa.durableLimit(next);
            } catch (IOException | RuntimeException e) {
                log.accept("could not make " + sa.name() + "'s sequence state durable (" + e.getMessage()
                        + "); retrying in a second, packets above its mark are dropped meanwhile");
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException interrupted) {
                    return;
                }
                requests.offer(sa);
            }
        }
    }

    /** Stops the writer and unmaps the exact marks: the lanes must have stopped. */
    @Override
    public void close() {
        closed = true;
        writer.interrupt();
        try {
            writer.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        exactMarks.close();
    }
}
