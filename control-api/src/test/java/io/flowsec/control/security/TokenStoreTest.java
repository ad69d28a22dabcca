package io.flowsec.control.security;

import io.flowsec.control.security.TokenStore.Issued;
import io.flowsec.control.security.TokenStore.Principal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenStoreTest {
    @TempDir
    Path directory;

    private Path tokenFile() {
        return directory.resolve("api").resolve("tokens.json");
    }

    @Test
    void anIssuedTokenAuthenticatesAsItsNameAndRoleForBothRoles() throws IOException {
        TokenStore store = TokenStore.open(tokenFile());
        Issued admin = store.add("ops", Role.ADMIN);
        Issued reader = store.add("grafana", Role.READ_ONLY);

        assertEquals(Optional.of(new Principal("ops", Role.ADMIN)), store.authenticate(admin.token()));
        assertEquals(Optional.of(new Principal("grafana", Role.READ_ONLY)), store.authenticate(reader.token()));
    }

    @Test
    void tokensAreFskPrefixedUrlSafeBase64OfThirtyTwoBytesAndDiffer() throws IOException {
        TokenStore store = TokenStore.open(tokenFile());
        String first = store.add("a", Role.ADMIN).token();
        String second = store.add("b", Role.ADMIN).token();

        assertTrue(first.startsWith("fsk_"), first);
        assertTrue(first.substring(4).matches("[A-Za-z0-9_-]{43}"), first);
        assertEquals(32, Base64.getUrlDecoder().decode(first.substring(4)).length);
        assertFalse(first.equals(second));
    }

    @Test
    void wrongMissingAndGarbageTokensAuthenticateNobody() throws IOException {
        TokenStore store = TokenStore.open(tokenFile());
        String token = store.add("ops", Role.ADMIN).token();
        List<String> garbage = new ArrayList<>();
        garbage.add(null);
        garbage.add("");
        garbage.add(token.substring(0, token.length() - 1));
        garbage.add(token + "x");
        garbage.add(token.toUpperCase());
        garbage.add("fsk_" + "A".repeat(43));
        garbage.add("x".repeat(10 * 1024));
        garbage.add(token + "z".repeat(10 * 1024));
        garbage.add("fsk_žluťoučký kůň \uD83D\uDE00 \uD800");
        garbage.add("\0\r\n");

        for (String presented : garbage) {
            assertEquals(Optional.empty(), store.authenticate(presented),
                    () -> "accepted " + (presented == null ? null : presented.length() + " chars"));
        }
        assertTrue(store.authenticate(token).isPresent());
    }

    @Test
    void theFileHoldsHashesButNeverATokenAndIsOwnerOnly() throws IOException {
        TokenStore store = TokenStore.open(tokenFile());
        String admin = store.add("ops", Role.ADMIN).token();
        String reader = store.add("grafana", Role.READ_ONLY).token();

        String content = new String(Files.readAllBytes(tokenFile()), StandardCharsets.ISO_8859_1);
        assertFalse(content.contains(admin));
        assertFalse(content.contains(admin.substring(4)));
        assertFalse(content.contains(reader.substring(4)));
        assertTrue(content.contains("\"sha256\""), content);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile())));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile().getParent())));
    }

    @Test
    void aTokenFileReadableByGroupOrOthersIsRefused() throws IOException {
        TokenStore.open(tokenFile()).add("ops", Role.ADMIN);
        for (String mode : List.of("rw-r-----", "rw----r--", "rw--w----")) {
            Files.setPosixFilePermissions(tokenFile(), PosixFilePermissions.fromString(mode));

            IOException refusal = assertThrows(IOException.class, () -> TokenStore.open(tokenFile()));
            assertTrue(refusal.getMessage().contains("chmod 600"), refusal.getMessage());
        }
    }

    @Test
    void malformedAndDuplicateNamesAreRefused() throws IOException {
        TokenStore store = TokenStore.open(tokenFile());
        store.add("ops", Role.ADMIN);

        assertThrows(IllegalArgumentException.class, () -> store.add("ops", Role.READ_ONLY));
        for (String name : List.of("", "-ops", ".hidden", "a b", "ops/../x", "ops:1", "é", "fsk_" + "Q".repeat(43), "x".repeat(65))) {
            assertThrows(IllegalArgumentException.class, () -> store.add(name, Role.ADMIN), name);
        }
        assertThrows(IllegalArgumentException.class, () -> store.add(null, Role.ADMIN));
        store.add("A.b_-9" + "x".repeat(58), Role.ADMIN);
        assertEquals(2, store.list().size());
    }

    @Test
    void aRemovedTokenNoLongerAuthenticatesHereOrAfterReopening() throws IOException {
        TokenStore store = TokenStore.open(tokenFile());
        String removed = store.add("old", Role.ADMIN).token();
        String kept = store.add("new", Role.ADMIN).token();

        assertTrue(store.remove("old"));
        assertFalse(store.remove("old"));
        assertFalse(store.remove("never"));

        assertEquals(Optional.empty(), store.authenticate(removed));
        assertTrue(store.authenticate(kept).isPresent());
        TokenStore reopened = TokenStore.open(tokenFile());
        assertEquals(Optional.empty(), reopened.authenticate(removed));
        assertEquals(List.of(new Principal("new", Role.ADMIN)), reopened.list());
    }

    @Test
    void reopeningTheFileFindsTheSameTokensInIssueOrder() throws IOException {
        TokenStore store = TokenStore.open(tokenFile());
        Issued admin = store.add("ops", Role.ADMIN);
        Issued reader = store.add("grafana", Role.READ_ONLY);

        TokenStore reopened = TokenStore.open(tokenFile());

        assertEquals(List.of(new Principal("ops", Role.ADMIN), new Principal("grafana", Role.READ_ONLY)),
                reopened.list());
        assertEquals(Optional.of(new Principal("ops", Role.ADMIN)), reopened.authenticate(admin.token()));
        assertEquals(Optional.of(new Principal("grafana", Role.READ_ONLY)), reopened.authenticate(reader.token()));
    }

    @Test
    void aMissingFileIsAnEmptyStoreAndIsNotCreatedUntilTheFirstToken() throws IOException {
        TokenStore store = TokenStore.open(tokenFile());

        assertEquals(List.of(), store.list());
        assertFalse(Files.exists(tokenFile().getParent()));
        store.add("ops", Role.ADMIN);
        assertTrue(Files.isRegularFile(tokenFile()));
        try (var leftovers = Files.list(tokenFile().getParent())) {
            assertEquals(List.of(tokenFile()), leftovers.toList(), "no temporary file is left behind");
        }
    }

    @Test
    void malformedFilesAreRefusedWithOneLineNamingTheProblem() throws IOException {
        String hash = "a".repeat(64);
        String token = "fsk_" + "Q".repeat(43);
        List<List<String>> cases = List.of(
                List.of("", "empty"),
                List.of("{\"tokens\":[", "not a JSON object"),
                List.of("[]", "not a JSON object"),
                List.of("{}", "\"tokens\" must be an array"),
                List.of("{\"tokens\":{}}", "\"tokens\" must be an array"),
                List.of("{\"tokens\":[], \"extra\":1}", "unknown key \"extra\""),
                List.of("{\"tokens\":[1]}", "token 1 is not an object"),
                List.of(entry("ops", "admin", hash, "2025-01-31T12:00:00Z").replace("\"name\":\"ops\",", ""),
                        "\"name\" is missing"),
                List.of(entry(token, "admin", hash, "2025-01-31T12:00:00Z"), "starts with fsk_"),
                List.of(entry("ops", token, hash, "2025-01-31T12:00:00Z"), "\"role\" is missing or unknown"),
                List.of(entry("ops", "admin", token, "2025-01-31T12:00:00Z"), "\"sha256\" is missing or not"),
                List.of(entry("ops", "admin", hash, token), "\"created\" is missing or not"),
                List.of(entry("ops", "admin", hash, "2025-01-31T12:00:00Z").replace("\"role\"", "\"" + token + "\""),
                        "unknown key (too long"),
                List.of("{\"tokens\":[" + token + "]}", "not a JSON object"),
                List.of("{\"tokens\":[" + entryObject("ops") + "," + entryObject("ops") + "]}", "used twice"));

        Files.createDirectories(tokenFile().getParent());
        for (List<String> testCase : cases) {
            Files.writeString(tokenFile(), testCase.get(0));
            Files.setPosixFilePermissions(tokenFile(), PosixFilePermissions.fromString("rw-------"));

            IOException refusal = assertThrows(IOException.class, () -> TokenStore.open(tokenFile()), testCase.get(0));
            String message = refusal.getMessage();
            assertTrue(message.contains(testCase.get(1)), message);
            assertTrue(message.contains(tokenFile().toString()), message);
            assertFalse(message.contains("\n") || message.contains("\r"), message);
            assertFalse(message.contains("QQQQ"), "the message repeats token material: " + message);
        }
    }

    @Test
    void aHandWrittenFileInTheDocumentedFormatIsAccepted() throws IOException {
        Files.createDirectories(tokenFile().getParent());
        Files.writeString(tokenFile(), "{\"tokens\":[" + entryObject("ops") + "]}");
        Files.setPosixFilePermissions(tokenFile(), PosixFilePermissions.fromString("rw-------"));

        assertEquals(List.of(new Principal("ops", Role.ADMIN)), TokenStore.open(tokenFile()).list());
    }

    @Test
    void issuedToStringHidesTheToken() throws IOException {
        Issued issued = TokenStore.open(tokenFile()).add("ops", Role.ADMIN);

        assertFalse(issued.toString().contains(issued.token()));
        assertFalse(issued.toString().contains(issued.token().substring(4, 20)));
        assertTrue(issued.toString().contains("ops"), issued.toString());
    }

    private static String entry(String name, String role, String sha256, String created) {
        return "{\"tokens\":[{\"name\":\"" + name + "\",\"role\":\"" + role + "\",\"sha256\":\"" + sha256
                + "\",\"created\":\"" + created + "\"}]}";
    }

    private static String entryObject(String name) {
        return "{\"name\":\"" + name + "\",\"role\":\"admin\",\"sha256\":\"" + "0f".repeat(32)
                + "\",\"created\":\"2025-01-31T12:00:00Z\"}";
    }
}
