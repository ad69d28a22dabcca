package io.flowsec.cluster.security;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Set;

/**
 * The secret every flowsec member of one cluster shares; what it seals into Hazelcast is keyed from it, since
 * open-source Hazelcast admits any member that can reach the port.
 * <p>
 * <b>File format:</b> hex text, at least 64 hex digits (32 bytes, the size of an AES-256 key), upper or lower case,
 * with nothing else but whitespace or newlines before and after, e.g. {@code openssl rand -hex 32 > cluster.secret}
 * or {@link #generate}. The file must be a regular file (a symbolic link to one is followed) that neither group nor
 * others can read or write, as ssh refuses a private key others can read; it is at most 4096 bytes.
 * <p>
 * The secret never leaves this class: keys are derived from it with HKDF-SHA256 for one purpose each, and neither
 * the secret nor a key appears in {@link #toString} or in any exception message. The {@link #fingerprint()} lets two
 * operators see that their members hold the same secret without showing it.
 */
public final class ClusterSecret {
    public static final int MIN_SECRET_BYTES = 32;
    /** A secret file is a line of hex: anything bigger is a wrong path, not a secret. */
    public static final int MAX_FILE_BYTES = 4096;

    private static final int GENERATED_SECRET_BYTES = 32;
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> GROUP_OR_OTHERS_ACCESS = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);
    private static final byte[] FINGERPRINT_INFO = "flowsec cluster fingerprint v1".getBytes(StandardCharsets.US_ASCII);
    private static final String IN_MEMORY = "<memory>";

    private final byte[] secret;
    private final String origin;
    private final String fingerprint;

    private ClusterSecret(byte[] secret, String origin) {
        this.secret = secret;
        this.origin = origin;
        this.fingerprint = fingerprintOf(secret);
    }

    /** Reads the secret from {@code file}; refusals are one-line {@link IOException}s that name the file only. */
    public static ClusterSecret load(Path file) throws IOException {
        byte[] content = readOwnerOnlyFile(file);
        try {
            return new ClusterSecret(parseHex(file, content), file.toString());
        } finally {
            Arrays.fill(content, (byte) 0);
        }
    }

    /**
     * Writes a fresh 32-byte secret as hex to {@code file} and returns it. The file is created with mode 0600 in the
     * same system call that creates it (never readable by others, not even for a moment) and never replaces an
     * existing secret, which would cut this member off from its cluster.
     */
    public static ClusterSecret generate(Path file) throws IOException {
        byte[] secret = new byte[GENERATED_SECRET_BYTES];
        new SecureRandom().nextBytes(secret);
        byte[] content = (HexFormat.of().formatHex(secret) + "\n").getBytes(StandardCharsets.US_ASCII);
        SeekableByteChannel channel;
        try {
            channel = Files.newByteChannel(file,
                    EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.SYNC),
                    PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        } catch (FileAlreadyExistsException e) {
            throw new IOException("cluster secret " + file + " already exists; a new secret does not replace it");
        }
        try (channel) {
            ByteBuffer buffer = ByteBuffer.wrap(content);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } catch (IOException e) {
            Files.deleteIfExists(file);   // a torn secret would only be refused at the next start
            throw new IOException("cluster secret " + file + " could not be written: " + e.getMessage());
        } finally {
            Arrays.fill(content, (byte) 0);
        }
        return new ClusterSecret(secret, file.toString());
    }

    /** For tests: a secret held in memory only. */
    static ClusterSecret ofBytes(byte[] secret) {
        if (secret.length < MIN_SECRET_BYTES) {
            throw new IllegalArgumentException("a cluster secret needs at least " + MIN_SECRET_BYTES + " bytes");
        }
        return new ClusterSecret(secret.clone(), IN_MEMORY);
    }

    /**
     * The first 8 hex digits of SHA-256 over a key derived for this purpose only: equal on members that share the
     * secret, and 32 bits tell an attacker nothing useful about the secret (the HKDF step keeps it one-way even for
     * a weak secret).
     */
    public String fingerprint() {
        return fingerprint;
    }

    /** HKDF-SHA256 output for one purpose ({@code info}); the caller owns and wipes the result. */
    byte[] deriveKey(byte[] salt, byte[] info, int length) {
        return Hkdf.derive(salt, secret, info, length);
    }

    @Override
    public String toString() {
        return "ClusterSecret[file=" + origin + ", fingerprint=" + fingerprint + "]";
    }

    private static String fingerprintOf(byte[] secret) {
        byte[] key = Hkdf.derive(new byte[0], secret, FINGERPRINT_INFO, Hkdf.HASH_LENGTH);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key);
            return HexFormat.of().formatHex(digest, 0, 4);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        } finally {
            Arrays.fill(key, (byte) 0);
        }
    }

    /**
     * The checks in the order a person fixing the file needs them: is it there, is it a file, is it private, does it
     * hold something. Only the mode bits are checked: root reads everything anyway.
     */
    private static byte[] readOwnerOnlyFile(Path file) throws IOException {
        if (Files.isSymbolicLink(file) && !Files.exists(file)) {
            throw new IOException("cluster secret " + file + " is a symbolic link to nowhere ("
                    + Files.readSymbolicLink(file) + ")");
        }
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, PosixFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new IOException("cluster secret " + file + " does not exist; create one with 64 hex digits, "
                    + "e.g. openssl rand -hex 32 > " + file + " && chmod 600 " + file);
        }
        if (!attributes.isRegularFile()) {
            throw new IOException("cluster secret " + file + " is not a regular file");
        }
        Set<PosixFilePermission> permissions = attributes.permissions();
        if (permissions.stream().anyMatch(GROUP_OR_OTHERS_ACCESS::contains)) {
            throw new IOException("cluster secret " + file + " is readable or writable by group or others ("
                    + PosixFilePermissions.toString(permissions) + "); chmod 600 " + file);
        }
        if (attributes.size() == 0) {
            throw new IOException("cluster secret " + file + " is empty; it needs at least "
                    + 2 * MIN_SECRET_BYTES + " hex digits");
        }
        if (attributes.size() > MAX_FILE_BYTES) {
            throw new IOException("cluster secret " + file + " is " + attributes.size() + " bytes, more than the "
                    + MAX_FILE_BYTES + " a secret file may hold; is it the right file?");
        }
        try (SeekableByteChannel channel = Files.newByteChannel(file, StandardOpenOption.READ)) {
            // read at most one byte past the limit: the file may have grown since its size was read
            ByteBuffer buffer = ByteBuffer.allocate(MAX_FILE_BYTES + 1);
            while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
                // keep reading
            }
            if (!buffer.hasRemaining()) {
                Arrays.fill(buffer.array(), (byte) 0);
                throw new IOException("cluster secret " + file + " is more than the " + MAX_FILE_BYTES
                        + " bytes a secret file may hold; is it the right file?");
            }
            byte[] content = Arrays.copyOf(buffer.array(), buffer.position());
            Arrays.fill(buffer.array(), (byte) 0);
            return content;
        }
    }

    /** Decodes by hand: the JDK's hex parser puts the offending text, i.e. the secret, in its exception message. */
    private static byte[] parseHex(Path file, byte[] content) throws IOException {
        int start = 0;
        int end = content.length;
        while (start < end && isWhitespace(content[start])) {
            start++;
        }
        while (end > start && isWhitespace(content[end - 1])) {
            end--;
        }
        int digits = end - start;
        if (digits == 0) {
            throw new IOException("cluster secret " + file + " holds only whitespace; it needs at least "
                    + 2 * MIN_SECRET_BYTES + " hex digits");
        }
        for (int i = start; i < end; i++) {
            if (Character.digit(content[i], 16) < 0) {
                throw new IOException("cluster secret " + file + " is not hex text (character " + (i - start + 1)
                        + " of " + digits + " is not a hex digit)");
            }
        }
        if (digits % 2 != 0) {
            throw new IOException("cluster secret " + file + " has an odd number of hex digits (" + digits + ")");
        }
        if (digits / 2 < MIN_SECRET_BYTES) {
            throw new IOException("cluster secret " + file + " holds " + digits / 2 + " bytes; at least "
                    + MIN_SECRET_BYTES + " are needed (" + 2 * MIN_SECRET_BYTES + " hex digits)");
        }
        byte[] secret = new byte[digits / 2];
        for (int i = 0; i < secret.length; i++) {
            int high = Character.digit(content[start + 2 * i], 16);
            int low = Character.digit(content[start + 2 * i + 1], 16);
            secret[i] = (byte) (high << 4 | low);
        }
        return secret;
    }

    private static boolean isWhitespace(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == 0x0B;
    }
}
