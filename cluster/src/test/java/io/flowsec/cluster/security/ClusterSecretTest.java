package io.flowsec.cluster.security;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cluster secret file: its format, the refusals (one line, the file named, never its content) and a fingerprint
 * that compares secrets without showing them. The tests run as root, who reads any file: the mode bits are what is
 * checked, so each file is given its mode explicitly.
 */
class ClusterSecretTest {
    /** 32 bytes whose every 8 hex digits hold a letter, so no path or number in a message matches by chance. */
    private static final String SECRET_HEX = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1";

    @TempDir
    Path directory;

    @Test
    void hexTextWithWhitespaceAroundItAndEitherCaseLoads() throws IOException {
        Path file = writeFile("cluster.secret", "  \n" + SECRET_HEX.toUpperCase(Locale.ROOT) + "\r\n\n", "rw-------");

        ClusterSecret secret = ClusterSecret.load(file);

        assertEquals(ClusterSecret.ofBytes(HexFormat.of().parseHex(SECRET_HEX)).fingerprint(), secret.fingerprint());
    }

    @Test
    void aLongerSecretLoads() throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX + SECRET_HEX, "r--------");

        assertEquals(8, ClusterSecret.load(file).fingerprint().length());
    }

    @Test
    void generateWritesAnOwnerOnlyLineOfHexThatLoadsToTheSameSecret() throws IOException {
        Path file = directory.resolve("generated.secret");

        ClusterSecret generated = ClusterSecret.generate(file);

        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertTrue(Files.readString(file).matches("[0-9a-f]{64}\n"), "a line of 64 hex digits");
        assertEquals(generated.fingerprint(), ClusterSecret.load(file).fingerprint());
    }

    @Test
    void generateNeverReplacesAnExistingSecret() throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX, "rw-------");

        IOException refusal = assertThrows(IOException.class, () -> ClusterSecret.generate(file));

        assertEquals("cluster secret " + file + " already exists; a new secret does not replace it",
                refusal.getMessage());
        assertEquals(SECRET_HEX, Files.readString(file));
    }

    @Test
    void twoGeneratedSecretsDiffer() throws IOException {
        assertNotEquals(ClusterSecret.generate(directory.resolve("one")).fingerprint(),
                ClusterSecret.generate(directory.resolve("two")).fingerprint());
    }

    @ParameterizedTest
    @ValueSource(strings = {"rw-r-----", "rw--w----", "rw----r--", "rw-----w-", "rw-rw-rw-"})
    void aFileGroupOrOthersCanReadOrWriteIsRefused(String mode) throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX, mode);

        assertRefused(file, "cluster secret " + file + " is readable or writable by group or others (" + mode
                + "); chmod 600 " + file);
    }

    @Test
    void aSymbolicLinkToNowhereIsRefused() throws IOException {
        Path file = Files.createSymbolicLink(directory.resolve("cluster.secret"), directory.resolve("gone"));

        assertRefused(file, "cluster secret " + file + " is a symbolic link to nowhere (" + directory.resolve("gone")
                + ")");
    }

    @Test
    void aSymbolicLinkToAPrivateFileIsFollowed() throws IOException {
        Path target = writeFile("target.secret", SECRET_HEX, "rw-------");
        Path link = Files.createSymbolicLink(directory.resolve("cluster.secret"), target);

        assertEquals(ClusterSecret.load(target).fingerprint(), ClusterSecret.load(link).fingerprint());
    }

    @Test
    void aMissingFileIsRefusedWithHowToCreateIt() {
        Path file = directory.resolve("missing.secret");

        assertRefused(file, "cluster secret " + file + " does not exist; create one with 64 hex digits, "
                + "e.g. openssl rand -hex 32 > " + file + " && chmod 600 " + file);
    }

    @Test
    void aDirectoryIsRefused() {
        assertRefused(directory, "cluster secret " + directory + " is not a regular file");
    }

    @Test
    void anEmptyFileIsRefused() throws IOException {
        Path file = writeFile("cluster.secret", "", "rw-------");

        assertRefused(file, "cluster secret " + file + " is empty; it needs at least 64 hex digits");
    }

    @Test
    void aFileOfWhitespaceOnlyIsRefused() throws IOException {
        Path file = writeFile("cluster.secret", " \n\t\n", "rw-------");

        assertRefused(file, "cluster secret " + file + " holds only whitespace; it needs at least 64 hex digits");
    }

    @Test
    void fewerThan32BytesAreRefused() throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX.substring(2) + "\n", "rw-------");

        assertRefused(file, "cluster secret " + file + " holds 31 bytes; at least 32 are needed (64 hex digits)");
    }

    @Test
    void textThatIsNotHexIsRefusedWithoutQuotingIt() throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX + "zz", "rw-------");

        assertRefused(file, "cluster secret " + file + " is not hex text (character 65 of 66 is not a hex digit)");
    }

    @Test
    void hexInsideASecretMayNotBeBrokenByWhitespace() throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX.substring(0, 32) + " " + SECRET_HEX.substring(32),
                "rw-------");

        assertRefused(file, "cluster secret " + file + " is not hex text (character 33 of 65 is not a hex digit)");
    }

    @Test
    void anOddNumberOfHexDigitsIsRefused() throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX + "a", "rw-------");

        assertRefused(file, "cluster secret " + file + " has an odd number of hex digits (65)");
    }

    @Test
    void aFileFarTooLargeForASecretIsRefused() throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX.repeat(100), "rw-------");

        assertRefused(file, "cluster secret " + file + " is 6400 bytes, more than the 4096 a secret file may hold; "
                + "is it the right file?");
    }

    @Test
    void theFingerprintIsEqualForEqualSecretsAndShowsNothingOfThem() {
        byte[] secret = HexFormat.of().parseHex(SECRET_HEX);
        byte[] other = secret.clone();
        other[31] ^= 1;

        ClusterSecret one = ClusterSecret.ofBytes(secret);
        assertEquals(one.fingerprint(), ClusterSecret.ofBytes(secret).fingerprint());
        assertNotEquals(one.fingerprint(), ClusterSecret.ofBytes(other).fingerprint());
        assertTrue(one.fingerprint().matches("[0-9a-f]{8}"), one.fingerprint());
        assertFalse(SECRET_HEX.contains(one.fingerprint()));
    }

    @Test
    void toStringNamesTheFileAndTheFingerprintOnly() throws IOException {
        Path file = writeFile("cluster.secret", SECRET_HEX, "rw-------");

        ClusterSecret secret = ClusterSecret.load(file);

        assertEquals("ClusterSecret[file=" + file + ", fingerprint=" + secret.fingerprint() + "]", secret.toString());
        assertNoSecretIn(secret.toString());
        assertNoSecretIn(new Sealer(secret, "router-a").toString());
        assertNoSecretIn(new Opener(secret).toString());
    }

    @Test
    void noRefusalOfAFileHoldingTheSecretQuotesAnyOfIt() throws IOException {
        Random random = new Random(5869);
        for (String mode : new String[] {"rw-r--r--", "rw-------"}) {
            for (String content : new String[] {SECRET_HEX + "!", SECRET_HEX + "f", "g" + SECRET_HEX,
                    SECRET_HEX.substring(0, 62)}) {
                Path file = writeFile("cluster.secret." + random.nextInt(1_000_000), content, mode);
                IOException refusal = assertThrows(IOException.class, () -> ClusterSecret.load(file));
                assertNoSecretIn(refusal.getMessage());
                assertFalse(refusal.getMessage().contains("\n"), refusal.getMessage());
            }
        }
    }

    private void assertRefused(Path file, String expectedMessage) {
        IOException refusal = assertThrows(IOException.class, () -> ClusterSecret.load(file));
        assertEquals(expectedMessage, refusal.getMessage());
        assertNoSecretIn(refusal.getMessage());
    }

    /** No 8 consecutive hex digits of the secret, in either case. */
    private static void assertNoSecretIn(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        for (int i = 0; i + 8 <= SECRET_HEX.length(); i++) {
            String piece = SECRET_HEX.substring(i, i + 8);
            assertFalse(lower.contains(piece), () -> "'" + text + "' quotes the secret (" + piece + ")");
        }
    }

    private Path writeFile(String name, String content, String mode) throws IOException {
        Path file = directory.resolve(name);
        Files.write(file, content.getBytes(StandardCharsets.US_ASCII));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
        return file;
    }
}
