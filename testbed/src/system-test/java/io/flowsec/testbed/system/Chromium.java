package io.flowsec.testbed.system;

import io.flowsec.dataplane.linux.NetworkNamespace;
import io.vertx.core.json.JsonObject;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Headless Chromium (Debian's {@code chromium}) started inside a network namespace of the test bed and driven over the
 * Chrome DevTools Protocol from the test JVM:
 * <ol>
 *   <li>Chromium runs under {@code ip netns exec}, so the pages it opens see that namespace's addresses (a management
 *       address on its loopback); it picks a free DevTools port and writes it to {@code DevToolsActivePort} in its
 *       profile directory;</li>
 *   <li>that port is on the namespace's loopback, out of the test JVM's reach: the DevTools socket is made by a thread
 *       that entered the namespace ({@link NetworkNamespace#callInside}), and a socket stays in the namespace it was
 *       made in, whichever thread uses it later;</li>
 *   <li>over it runs a small blocking WebSocket client (RFC 6455: text frames, masked from client to server, as the
 *       protocol needs) carrying the DevTools messages; one reader thread completes the replies by id and keeps the
 *       page's console messages and exceptions for the test to look at;</li>
 *   <li>one page: a target attached with {@code flatten}, so its commands go over the browser's socket with its
 *       session ID.</li>
 * </ol>
 * The certificate of the appliance is self-signed: the browser is told to ignore certificate errors, which is fine for
 * a browser that only ever opens the test's own appliance.
 */
final class Chromium implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

    private final Process process;
    private final DevToolsSocket socket;
    private final Path profile;
    private final List<String> console = new CopyOnWriteArrayList<>();
    private volatile String session;

    private Chromium(Process process, DevToolsSocket socket, Path profile) {
        this.process = process;
        this.socket = socket;
        this.profile = profile;
    }

    /** The browser on the PATH, if there is one. */
    static Optional<Path> executable() {
        for (String directory : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            for (String name : new String[] {"chromium", "chromium-browser"}) {
                Path candidate = Path.of(directory, name);
                if (Files.isExecutable(candidate)) {
                    return Optional.of(candidate);
                }
            }
        }
        return Optional.empty();
    }

    /** Starts the browser in {@code namespace} with a fresh profile below {@code directory}, its output to {@code log}. */
    static Chromium start(Path executable, String namespace, Path directory, Path log, int width, int height)
            throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory(directory, "chromium-profile");
        List<String> command = List.of("ip", "netns", "exec", namespace, executable.toString(),
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--mute-audio",
                "--ignore-certificate-errors", "--hide-scrollbars", "--force-device-scale-factor=1",
                "--window-size=" + width + "," + height,
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                "--user-data-dir=" + profile, "about:blank");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("HOME", profile.toString());   // its caches and crash reports stay in the profile
        Process process = builder.start();
        try {
            Path activePort = profile.resolve("DevToolsActivePort");
            long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
            List<String> lines = List.of();
            while (lines.size() < 2) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("chromium did not start in " + namespace + ": " + Files.readString(log));
                }
                Thread.sleep(100);
                lines = Files.exists(activePort) ? Files.readAllLines(activePort) : List.of();
            }
            int port = Integer.parseInt(lines.get(0).strip());
            String path = lines.get(1).strip();
            Socket tcp = NetworkNamespace.callInside(namespace, () -> new Socket("127.0.0.1", port));
            DevToolsSocket socket = DevToolsSocket.open(tcp, "127.0.0.1:" + port, path);
            Chromium chromium = new Chromium(process, socket, profile);
            socket.eventHandler(chromium::onEvent);
            return chromium;
        } catch (IOException | RuntimeException | InterruptedException e) {
            stop(process);
            throw e;
        }
    }

    /** Opens {@code url} in a new page that the following commands go to (it may still be loading on return). */
    void open(String url) throws IOException {
        try {
            socket.call(null, "Security.setIgnoreCertificateErrors", new JsonObject().put("ignore", true));
        } catch (IOException e) {
            // older browsers lack it at the browser's level; --ignore-certificate-errors covers them
        }
        String target = socket.call(null, "Target.createTarget", new JsonObject().put("url", "about:blank"))
                .getString("targetId");
        session = socket.call(null, "Target.attachToTarget", new JsonObject().put("targetId", target).put("flatten", true))
                .getString("sessionId");
        call("Runtime.enable", new JsonObject());
        call("Log.enable", new JsonObject());
        call("Page.enable", new JsonObject());
        JsonObject navigated = call("Page.navigate", new JsonObject().put("url", url));
        if (navigated.getString("errorText") != null) {
            throw new IOException("chromium could not open " + url + ": " + navigated.getString("errorText"));
        }
    }

    /** A DevTools command to the page. */
    JsonObject call(String method, JsonObject params) throws IOException {
        return socket.call(session, method, params);
    }

    /** The value of a JavaScript expression in the page (promises awaited); throws with the page's exception. */
    Object evaluate(String expression) throws IOException {
        JsonObject reply = call("Runtime.evaluate", new JsonObject().put("expression", expression)
                .put("returnByValue", true).put("awaitPromise", true).put("userGesture", true));
        JsonObject exception = reply.getJsonObject("exceptionDetails");
        if (exception != null) {
            JsonObject thrown = exception.getJsonObject("exception", new JsonObject());
            throw new IOException("in the page: " + thrown.getString("description", exception.getString("text"))
                    + " evaluating " + expression);
        }
        return reply.getJsonObject("result").getValue("value");
    }

    /** Waits until {@code expression} is true in the page; fails with {@code what} and the page's console. */
    void await(String what, String expression, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (Boolean.TRUE.equals(evaluate(expression))) {
                    return;
                }
                last = null;
            } catch (IOException e) {
                last = e;   // the page may be between documents
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the page never showed " + what + " (" + expression + ")"
                + (last == null ? "" : ": " + last.getMessage()) + "\nconsole: " + console);
    }

    /** A PNG of the whole page. */
    byte[] screenshot() throws IOException {
        JsonObject shot = call("Page.captureScreenshot", new JsonObject().put("format", "png")
                .put("captureBeyondViewport", true));
        return Base64.getDecoder().decode(shot.getString("data"));
    }

    /** What the page logged as warnings or errors, and its uncaught exceptions (CSP violations among them). */
    List<String> console() {
        return List.copyOf(console);
    }

    private void onEvent(JsonObject message) {
        if (session != null && !session.equals(message.getString("sessionId"))) {
            return;
        }
        JsonObject params = message.getJsonObject("params", new JsonObject());
        switch (message.getString("method", "")) {
            case "Runtime.exceptionThrown" -> console.add("exception: " + params.getJsonObject("exceptionDetails").encode());
            case "Runtime.consoleAPICalled" -> {
                String type = params.getString("type", "");
                if (type.equals("error") || type.equals("warning") || type.equals("assert")) {
                    console.add("console." + type + ": " + params.getJsonArray("args").encode());
                }
            }
            case "Log.entryAdded" -> {
                JsonObject entry = params.getJsonObject("entry");
                if (!"verbose".equals(entry.getString("level")) && !"info".equals(entry.getString("level"))) {
                    console.add("log " + entry.getString("level") + " " + entry.getString("source") + ": "
                            + entry.getString("text") + " " + entry.getString("url", ""));
                }
            }
            default -> { }
        }
    }

    @Override
    public void close() throws IOException {
        try {
            socket.call(null, "Browser.close", new JsonObject());
        } catch (IOException | RuntimeException e) {
            // it goes anyway below
        }
        socket.close();
        stop(process);
        try (var files = Files.walk(profile)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }

    /** Ends the browser this test started and the processes it started, by their IDs. */
    private static void stop(Process process) {
        List<ProcessHandle> children = process.descendants().toList();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        for (ProcessHandle child : children) {
            if (child.isAlive()) {
                child.destroyForcibly();
            }
        }
    }

    /**
     * A WebSocket client for the DevTools protocol over a socket made elsewhere: the opening handshake, masked text
     * frames out, text frames in (fragmented or not; pings answered), one reader thread.
     */
    static final class DevToolsSocket implements AutoCloseable {
        private static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        private static final int OP_CONTINUATION = 0x0;
        private static final int OP_TEXT = 0x1;
        private static final int OP_CLOSE = 0x8;
        private static final int OP_PING = 0x9;
        private static final int OP_PONG = 0xA;

        private final Socket socket;
        private final DataInputStream in;
        private final OutputStream out;
        private final SecureRandom random = new SecureRandom();
        private final AtomicInteger ids = new AtomicInteger();
        private final Map<Integer, CompletableFuture<JsonObject>> pending = new ConcurrentHashMap<>();
        private volatile java.util.function.Consumer<JsonObject> events = event -> { };
        private volatile IOException failure;

        private DevToolsSocket(Socket socket, DataInputStream in) throws IOException {
            this.socket = socket;
            this.in = in;
            this.out = socket.getOutputStream();
        }

        static DevToolsSocket open(Socket socket, String host, String path) throws IOException {
            byte[] nonce = new byte[16];
            new SecureRandom().nextBytes(nonce);
            String key = Base64.getEncoder().encodeToString(nonce);
            String request = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
            socket.setSoTimeout((int) COMMAND_TIMEOUT.toMillis());
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
            List<String> head = new ArrayList<>();
            for (String line = line(in); !line.isEmpty(); line = line(in)) {
                head.add(line);
            }
            String expected = expectedAccept(key);
            boolean accepted = head.stream().anyMatch(line -> line.regionMatches(true, 0, "Sec-WebSocket-Accept:", 0, 21)
                    && line.substring(21).strip().equals(expected));
            if (head.isEmpty() || !head.getFirst().contains(" 101 ") || !accepted) {
                socket.close();
                throw new IOException("the DevTools WebSocket handshake failed: " + head);
            }
            socket.setSoTimeout(0);   // the reader waits for events as long as it takes; calls have their own timeout
            DevToolsSocket client = new DevToolsSocket(socket, in);
            Thread.ofPlatform().daemon().name("devtools-reader").start(client::read);
            return client;
        }

        void eventHandler(java.util.function.Consumer<JsonObject> handler) {
            events = handler;
        }

        /** Sends a command (to a page's session, or to the browser when {@code session} is null) and waits for its reply. */
        JsonObject call(String session, String method, JsonObject params) throws IOException {
            int id = ids.incrementAndGet();
            CompletableFuture<JsonObject> reply = new CompletableFuture<>();
            pending.put(id, reply);
            JsonObject message = new JsonObject().put("id", id).put("method", method).put("params", params);
            if (session != null) {
                message.put("sessionId", session);
            }
            try {
                if (failure != null) {
                    throw failure;
                }
                send(OP_TEXT, message.encode().getBytes(StandardCharsets.UTF_8));
                JsonObject answer = reply.get(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                if (answer.getJsonObject("error") != null) {
                    throw new IOException(method + ": " + answer.getJsonObject("error").encode());
                }
                return answer.getJsonObject("result", new JsonObject());
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IOException(method + ": " + e.getCause().getMessage(), e.getCause());
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IOException(method + ": no reply within " + COMMAND_TIMEOUT, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(method + ": interrupted", e);
            } finally {
                pending.remove(id);
            }
        }

        /** One frame, FIN set, masked as a client must. */
        private synchronized void send(int opcode, byte[] payload) throws IOException {
            ByteArrayOutputStream frame = new ByteArrayOutputStream(payload.length + 14);
            frame.write(0x80 | opcode);
            if (payload.length < 126) {
                frame.write(0x80 | payload.length);
            } else if (payload.length <= 0xFFFF) {
                frame.write(0x80 | 126);
                frame.write(payload.length >>> 8);
                frame.write(payload.length);
            } else {
                frame.write(0x80 | 127);
                for (int shift = 56; shift >= 0; shift -= 8) {
                    frame.write((int) ((long) payload.length >>> shift));
                }
            }
            byte[] mask = new byte[4];
            random.nextBytes(mask);
            frame.write(mask);
            for (int i = 0; i < payload.length; i++) {
                frame.write(payload[i] ^ mask[i & 3]);
            }
            out.write(frame.toByteArray());
            out.flush();
        }

        private void read() {
            ByteArrayOutputStream message = new ByteArrayOutputStream();
            try {
                while (true) {
                    int first = in.readUnsignedByte();
                    int second = in.readUnsignedByte();
                    int opcode = first & 0x0F;
                    long length = second & 0x7F;
                    if (length == 126) {
                        length = in.readUnsignedShort();
                    } else if (length == 127) {
                        length = in.readLong();
                    }
                    byte[] mask = null;
                    if ((second & 0x80) != 0) {
                        mask = new byte[4];
                        in.readFully(mask);
                    }
                    if (length > 256L * 1024 * 1024) {
                        throw new IOException("a DevTools frame of " + length + " bytes");
                    }
                    byte[] payload = new byte[(int) length];
                    in.readFully(payload);
                    if (mask != null) {
                        for (int i = 0; i < payload.length; i++) {
                            payload[i] ^= mask[i & 3];
                        }
                    }
                    switch (opcode) {
                        case OP_TEXT, OP_CONTINUATION -> {
                            message.write(payload);
                            if ((first & 0x80) != 0) {
                                dispatch(new JsonObject(message.toString(StandardCharsets.UTF_8)));
                                message.reset();
                            }
                        }
                        case OP_PING -> send(OP_PONG, payload);
                        case OP_CLOSE -> throw new EOFException("the browser closed the DevTools connection");
                        default -> { }
                    }
                }
            } catch (IOException | RuntimeException e) {
                failure = e instanceof IOException io ? io : new IOException(e);
                pending.values().forEach(reply -> reply.completeExceptionally(failure));
            }
        }

        private void dispatch(JsonObject message) {
            Integer id = message.getInteger("id");
            if (id != null) {
                CompletableFuture<JsonObject> reply = pending.get(id);
                if (reply != null) {
                    reply.complete(message);
                }
            } else {
                events.accept(message);
            }
        }

        private static String line(InputStream in) throws IOException {
            StringBuilder line = new StringBuilder();
            for (int c = in.read(); c != '\n'; c = in.read()) {
                if (c < 0) {
                    throw new EOFException("the DevTools handshake ended early: " + line);
                }
                if (c != '\r') {
                    line.append((char) c);
                }
            }
            return line.toString();
        }

        private static String expectedAccept(String key) throws IOException {
            try {
                byte[] digest = MessageDigest.getInstance("SHA-1")
                        .digest((key + ACCEPT_GUID).getBytes(StandardCharsets.US_ASCII));
                return Base64.getEncoder().encodeToString(digest);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IOException(e);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
