package io.flowsec.control.security;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The API's bearer tokens, kept in a JSON file as SHA-256 hashes so that reading the file (a backup, a support bundle)
 * does not give access. A token is shown once, when {@link #add} issues it.
 *
 * <pre>{"tokens":[{"name":"ops","role":"admin","sha256":"&lt;hex&gt;","created":"&lt;ISO-8601&gt;"}]}</pre>
 *
 * <p>The file must be mode 0600: a token file others could rewrite would let them plant their own admin token.
 * Only this process writes it, so it is read once, at {@link #open}.
 */
public final class TokenStore {
    /** Tokens start with this so that one found in a log, a paste or a repository is recognisable (and revocable). */
    static final String TOKEN_PREFIX = "fsk_";
    private static final int TOKEN_RANDOM_BYTES = 32;
    /** Longer than any token this store issues; longer input is refused before it is hashed. */
    private static final int MAX_PRESENTED_LENGTH = 1024;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-fA-F]{64}");
    private static final Set<String> ENTRY_KEYS = Set.of("name", "role", "sha256", "created");
    private static final HexFormat HEX = HexFormat.of();
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A token as issued; the token itself is shown to the operator once and never stored. */
    public record Issued(String name, Role role, String token) {
        @Override
        public String toString() {
            return "Issued[name=" + name + ", role=" + role.configName() + ", token=(hidden)]";
        }
    }

    /** Who a request comes from, once its token is recognised. */
    public record Principal(String name, Role role) {
    }

    private record Entry(String name, Role role, byte[] sha256, Instant created) {
    }

    private final Path file;
    /** Replaced whole on each change, so {@link #authenticate} reads a consistent list without taking the lock. */
    private volatile List<Entry> entries;

    private TokenStore(Path file, List<Entry> entries) {
        this.file = file;
        this.entries = List.copyOf(entries);
    }

    /**
     * Reads the token file; a missing file is an empty store, created by the first {@link #add}. Refuses a file that
     * group or others may read or write, and a malformed one, with a one-line message naming the problem.
     */
    public static TokenStore open(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        if (!Files.exists(file)) {
            return new TokenStore(file, List.of());
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException("token file " + file + " is not a regular file");
        }
        SecureFiles.requireOwnerOnly(file, "token file");
        return new TokenStore(file, parse(file, Files.readString(file, StandardCharsets.UTF_8)));
    }

    /**
     * Issues a new token and records its hash. The name is what logs and {@link #list} show; it must be unique so
     * that a token can be revoked by name.
     *
     * @throws IllegalArgumentException if the name is malformed or taken
     */
    public synchronized Issued add(String name, Role role) throws IOException {
        Objects.requireNonNull(role, "role");
        if (!validName(name)) {
            throw new IllegalArgumentException("token name must match " + NAME.pattern() + ": letters, digits, "
                    + "'.', '_' or '-', at most 64, starting with a letter or digit, and not " + TOKEN_PREFIX);
        }
        if (find(name) != null) {
            throw new IllegalArgumentException("a token named '" + name + "' exists already");
        }
        byte[] random = new byte[TOKEN_RANDOM_BYTES];
        RANDOM.nextBytes(random);
        String token = TOKEN_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        List<Entry> updated = new ArrayList<>(entries);
        updated.add(new Entry(name, role, sha256(token), Instant.now().truncatedTo(ChronoUnit.SECONDS)));
        save(updated);
        return new Issued(name, role, token);
    }

    /** Revokes the token of that name; false if there was none. */
    public synchronized boolean remove(String name) throws IOException {
        Entry entry = find(name);
        if (entry == null) {
            return false;
        }
        List<Entry> updated = new ArrayList<>(entries);
        updated.remove(entry);
        save(updated);
        return true;
    }

    /**
     * Who presented this token, if anyone. Garbage of any kind (null, empty, huge, non-ASCII) is simply not a token.
     * Every stored hash is compared, in constant time, so the time taken tells nothing about which one came close.
     */
    public Optional<Principal> authenticate(String presentedToken) {
        if (presentedToken == null || presentedToken.isEmpty() || presentedToken.length() > MAX_PRESENTED_LENGTH) {
            return Optional.empty();
        }
        byte[] presentedHash = sha256(presentedToken);
        Entry match = null;
        for (Entry entry : entries) {
            if (MessageDigest.isEqual(entry.sha256(), presentedHash)) {
                match = entry;
            }
        }
        return match == null ? Optional.empty() : Optional.of(new Principal(match.name(), match.role()));
    }

    /** The tokens' names and roles, in the order they were issued. */
    public synchronized List<Principal> list() {
        return entries.stream().map(entry -> new Principal(entry.name(), entry.role())).toList();
    }

    /**
     * Names appear in logs and messages, so one that looks like a token is refused: it may be a token pasted into the
     * wrong place, and it would set off leak scanners.
     */
    private static boolean validName(String name) {
        return name != null && NAME.matcher(name).matches() && !name.startsWith(TOKEN_PREFIX);
    }

    private Entry find(String name) {
        for (Entry entry : entries) {
            if (entry.name().equals(name)) {
                return entry;
            }
        }
        return null;
    }

    /** Writes the file first and only then serves the new list, so that what is served is always on disk. */
    private void save(List<Entry> updated) throws IOException {
        JsonArray tokens = new JsonArray();
        for (Entry entry : updated) {
            tokens.add(new JsonObject()
                    .put("name", entry.name())
                    .put("role", entry.role().configName())
                    .put("sha256", HEX.formatHex(entry.sha256()))
                    .put("created", entry.created().toString()));
        }
        String json = new JsonObject().put("tokens", tokens).encodePrettily() + "\n";
        SecureFiles.createPrivateDirectories(file.toAbsolutePath().getParent());
        SecureFiles.writeAtomically(file, json.getBytes(StandardCharsets.UTF_8), SecureFiles.OWNER_ONLY_FILE);
        entries = List.copyOf(updated);
    }

    /**
     * A plain SHA-256 is enough: tokens carry 256 random bits, so there is no dictionary to precompute and no point in
     * a salt or a slow KDF, which would only make each request dearer.
     */
    private static byte[] sha256(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /**
     * Messages name the entry by position (and by name once the name is valid) but never echo other values, nor
     * chain the parser's exception, which quotes the text: an operator may have pasted a token into the wrong field.
     */
    private static List<Entry> parse(Path file, String text) throws IOException {
        String where = "token file " + file;
        if (text.isBlank()) {
            throw new IOException(where + " is empty; an empty store is {\"tokens\":[]}");
        }
        JsonObject root;
        try {
            root = new JsonObject(text);
        } catch (DecodeException e) {
            throw new IOException(where + " is not a JSON object" + location(e));
        } catch (ClassCastException e) {
            throw new IOException(where + " is not a JSON object");
        }
        for (String key : root.fieldNames()) {
            if (!key.equals("tokens")) {
                throw new IOException(where + ": unknown key " + quoted(key) + " (only \"tokens\")");
            }
        }
        if (!(root.getValue("tokens") instanceof JsonArray tokens)) {
            throw new IOException(where + ": \"tokens\" must be an array");
        }
        List<Entry> entries = new ArrayList<>();
        for (int index = 0; index < tokens.size(); index++) {
            String entryWhere = where + ": token " + (index + 1);
            if (!(tokens.getValue(index) instanceof JsonObject object)) {
                throw new IOException(entryWhere + " is not an object");
            }
            for (String key : object.fieldNames()) {
                if (!ENTRY_KEYS.contains(key)) {
                    throw new IOException(entryWhere + ": unknown key " + quoted(key)
                            + " (name, role, sha256, created)");
                }
            }
            String name = text(object, "name");
            if (!validName(name)) {
                throw new IOException(entryWhere + ": \"name\" is missing, not " + NAME.pattern()
                        + " or starts with " + TOKEN_PREFIX);
            }
            entryWhere += " ('" + name + "')";
            for (Entry earlier : entries) {
                if (earlier.name().equals(name)) {
                    throw new IOException(entryWhere + ": the name is used twice");
                }
            }
            String roleName = text(object, "role");
            Role role;
            try {
                role = Role.fromConfigName(roleName);
            } catch (IllegalArgumentException e) {
                throw new IOException(entryWhere + ": \"role\" is missing or unknown (read-only, admin)");
            }
            String hash = text(object, "sha256");
            if (hash == null || !SHA256_HEX.matcher(hash).matches()) {
                throw new IOException(entryWhere + ": \"sha256\" is missing or not 64 hex digits");
            }
            String createdText = text(object, "created");
            Instant created;
            try {
                created = Instant.parse(Objects.requireNonNull(createdText));
            } catch (DateTimeParseException | NullPointerException e) {
                throw new IOException(entryWhere + ": \"created\" is missing or not an ISO-8601 instant "
                        + "such as 2025-01-31T12:00:00Z");
            }
            entries.add(new Entry(name, role, HEX.parseHex(hash), created));
        }
        return entries;
    }

    private static String text(JsonObject object, String key) {
        return object.getValue(key) instanceof String value ? value : null;
    }

    /** A key quoted if it is short and printable; anything else could be a pasted secret or break the line. */
    private static String quoted(String value) {
        return value.matches("[\\x21-\\x7e]{1,32}") ? "\"" + value + "\"" : "(too long or not printable)";
    }

    private static String location(DecodeException e) {
        if (e.getCause() instanceof JsonProcessingException cause && cause.getLocation() != null) {
            JsonLocation location = cause.getLocation();
            return " (at line " + location.getLineNr() + ", column " + location.getColumnNr() + ")";
        }
        return "";
    }
}
