package io.flowsec.testbed.bench;

import io.flowsec.dataplane.linux.NetworkNamespace;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * The web server of the application benchmark: an nginx of our own with a private configuration, serving static
 * files {@code <size>.bin} of a few sizes. Nothing of the system's nginx is used or touched: configuration, pid file,
 * logs and temp directories all lie in the directory the caller passes, and {@code /etc/nginx} is never read (the
 * configuration brings its own {@code types}).
 *
 * <p>"Served from memory", as the paper's benchmark wants: pass a directory on tmpfs (under {@code /dev/shm}), so the
 * files live in memory; {@code open_file_cache} keeps their descriptors open, {@code sendfile} copies from the page
 * cache. Keep-alive ends after 10 requests per connection ({@code keepalive_requests 10}), the paper's setting.
 *
 * <p>{@link #close} stops the master with SIGTERM (fast shutdown), then SIGKILL, and makes sure none of its workers
 * survives.
 */
public final class NginxServer implements AutoCloseable {
    /** Requests per keep-alive connection before nginx closes it (the paper's 10). */
    public static final int KEEPALIVE_REQUESTS = 10;

    private static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long STOP_TIMEOUT_SECONDS = 10;

    private final String namespace;
    private final String listenAddress;
    private final int port;
    private final List<Integer> fileSizes;
    private final Path directory;
    private final Process master;

    private NginxServer(String namespace, String listenAddress, int port, List<Integer> fileSizes, Path directory,
                        Process master) {
        this.namespace = namespace;
        this.listenAddress = listenAddress;
        this.port = port;
        this.fileSizes = fileSizes;
        this.directory = directory;
        this.master = master;
    }

    /**
     * Starts nginx with {@code workers} worker processes in network namespace {@code namespace} ({@code null}: the
     * current one), listening on {@code listenAddress:port} and serving one file per size in {@code fileSizes}.
     * Returns once the port accepts connections; fails (and stops nginx) if it does not within 10 s.
     *
     * @param directory where configuration, files, logs and temp paths go; should be on tmpfs (under /dev/shm)
     */
    public static NginxServer start(String namespace, String listenAddress, int port, int workers,
                                    List<Integer> fileSizes, Path directory) throws IOException, InterruptedException {
        // 1. find nginx before writing anything
        // 2. write the files to serve and the private configuration
        // 3. start the master in the foreground (ip netns exec execs nginx, so the process is the master)
        // 4. wait until the port accepts connections; on failure stop it and report its logs
        Path nginx = Executables.find("nginx")
                .orElseThrow(() -> new IOException("nginx not installed (apt-get install nginx-light)"));
        if (workers < 1 || port < 1 || port > 65535 || fileSizes.isEmpty()) {
            throw new IllegalArgumentException("need workers >= 1, a port 1..65535 and at least one file size");
        }
        Path root = directory.toAbsolutePath();
        Files.createDirectories(root.resolve("www"));
        for (int size : fileSizes) {
            Files.write(root.resolve("www").resolve(size + ".bin"), content(size));
        }
        Files.deleteIfExists(root.resolve("nginx.pid"));
        Path configFile = root.resolve("nginx.conf");
        Files.writeString(configFile, config(listenAddress, port, workers, root));

        List<String> command = new ArrayList<>();
        if (namespace != null) {
            command.addAll(List.of("ip", "netns", "exec", namespace));
        }
        command.addAll(List.of(nginx.toString(), "-p", root + "/", "-c", configFile.toString()));
        Process master = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(root.resolve("nginx.out").toFile())
                .start();
        NginxServer server = new NginxServer(namespace, listenAddress, port, List.copyOf(fileSizes), root, master);

        try {
            server.awaitListening();
            return server;
        } catch (IOException | InterruptedException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /**
     * The private configuration: everything nginx writes lies under {@code directory}, nothing is read from
     * {@code /etc/nginx}. Package-private so tests can read it.
     */
    static String config(String listenAddress, int port, int workers, Path directory) {
        String dir = directory.toAbsolutePath().toString();
        return """
                # flowsec bench app: private configuration, generated; nothing of /etc is used
                daemon off;
                master_process on;
                worker_processes %d;
                user root;
                pid %s/nginx.pid;
                error_log %s/error.log warn;

                events {
                    worker_connections 4096;
                    use epoll;
                }

                http {
                    types {}
                    default_type application/octet-stream;
                    access_log off;
                    sendfile on;
                    tcp_nopush on;
                    keepalive_requests %d;
                    keepalive_timeout 30s;
                    open_file_cache max=64 inactive=600s;
                    open_file_cache_valid 600s;
                    client_body_temp_path %s/client_body_temp;
                    proxy_temp_path %s/proxy_temp;
                    fastcgi_temp_path %s/fastcgi_temp;
                    uwsgi_temp_path %s/uwsgi_temp;
                    scgi_temp_path %s/scgi_temp;

                    server {
                        listen %s:%d reuseport backlog=4096;
                        root %s/www;
                    }
                }
                """.formatted(workers, dir, dir, KEEPALIVE_REQUESTS, dir, dir, dir, dir, dir,
                hostPart(listenAddress), port, dir);
    }

    /** The deterministic content of the file of {@code size} bytes: letters, shifted by the size. */
    public static byte[] content(int size) {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) ('a' + (i + size) % 26);
        }
        return bytes;
    }

    /** {@code http://ADDRESS:PORT/<size>.bin}. */
    public String url(int size) {
        return "http://" + hostPart(listenAddress) + ":" + port + "/" + size + ".bin";
    }

    public int port() {
        return port;
    }

    public Path directory() {
        return directory;
    }

    /** The master's process id. */
    public long pid() {
        return master.pid();
    }

    /**
     * Fetches every file once from inside the namespace, so the first measured requests do not pay for opening
     * files; fails if a response is not a 200 with exactly the file's content length.
     */
    public void warm() throws IOException, InterruptedException {
        for (int size : fileSizes) {
            byte[] response = inNamespace(() -> get("/" + size + ".bin"));
            String text = new String(response, StandardCharsets.ISO_8859_1);
            int headerEnd = text.indexOf("\r\n\r\n");
            if (!text.startsWith("HTTP/1.1 200") || headerEnd < 0 || response.length - headerEnd - 4 != size) {
                throw new IOException("nginx answered GET " + url(size) + " with " + response.length
                        + " bytes, not a 200 with " + size + " bytes: "
                        + text.lines().findFirst().orElse("(nothing)"));
            }
        }
    }

    private byte[] get(String path) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(listenAddress, port), 2000);
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + path + " HTTP/1.0\r\nHost: " + hostPart(listenAddress) + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            ByteArrayOutputStream response = new ByteArrayOutputStream();
            InputStream in = socket.getInputStream();
            in.transferTo(response);
            return response.toByteArray();
        }
    }

    private void awaitListening() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT_NANOS;
        while (true) {
            if (!master.isAlive()) {
                throw new IOException("nginx exited with status " + master.exitValue() + " at start: " + logs());
            }
            if (pidFileWritten() && inNamespace(this::accepts)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("nginx did not accept connections on " + hostPart(listenAddress) + ":" + port
                        + (namespace == null ? "" : " in namespace " + namespace) + " within 10 s: " + logs());
            }
            Thread.sleep(50);
        }
    }

    /**
     * nginx writes its pid file only after binding all its listening sockets: so a port that accepts while the pid
     * file is missing belongs to someone else (nginx retries a busy port for a few seconds before giving up).
     */
    private boolean pidFileWritten() {
        try {
            return Files.readString(directory.resolve("nginx.pid")).strip().equals(Long.toString(master.pid()));
        } catch (IOException e) {
            return false;
        }
    }

    private boolean accepts() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(listenAddress, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Runs {@code body} inside the namespace (see {@link NetworkNamespace#callInside}); with none, right here. */
    private <T> T inNamespace(Callable<T> body) throws IOException, InterruptedException {
        if (namespace == null) {
            try {
                return body.call();
            } catch (IOException | InterruptedException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
        }
        return NetworkNamespace.callInside(namespace, body);
    }

    /** The ends of nginx's error log and of its output, for failure messages. */
    private String logs() {
        return "error.log: " + tail(directory.resolve("error.log")) + "; output: " + tail(directory.resolve("nginx.out"));
    }

    private static String tail(Path file) {
        try {
            List<String> lines = Files.readAllLines(file);
            return lines.isEmpty() ? "(empty)"
                    : String.join(" | ", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
        } catch (IOException e) {
            return "(none)";
        }
    }

    /** An IPv6 address in brackets, as URLs and nginx's listen want it. */
    private static String hostPart(String address) {
        return address.contains(":") && !address.startsWith("[") ? "[" + address + "]" : address;
    }

    /**
     * Stops nginx: SIGTERM to the master (fast shutdown; its workers exit with it), up to 10 s, then SIGKILL; the
     * workers, noted before any signal, are killed too if they outlive it. Idempotent.
     */
    @Override
    public void close() throws InterruptedException {
        // 1. note the workers while the master is still their parent
        // 2. SIGTERM, wait; SIGKILL if it hangs
        // 3. kill any worker still alive (a SIGKILLed master leaves its workers behind)
        List<ProcessHandle> workers = master.descendants().toList();
        master.destroy();
        if (!master.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            master.destroyForcibly();
            master.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        for (ProcessHandle worker : workers) {
            while (worker.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            if (worker.isAlive()) {
                worker.destroyForcibly();
            }
        }
    }
}
