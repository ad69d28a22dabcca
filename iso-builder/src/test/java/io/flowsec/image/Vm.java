package io.flowsec.image;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One appliance VM under qemu with TCG (KVM does not work on these machines): the image as a CD-ROM (or as a disk),
 * a data disk, user networking with the API forwarded to a free port on 127.0.0.1 only, the serial console in a
 * file, and the monitor on a socket for the ACPI power button. Closing it ends its qemu (by PID) if still running.
 */
final class Vm implements AutoCloseable {
    private static final Pattern TOKEN = Pattern.compile("admin-token (fsk_[A-Za-z0-9_-]+)");
    private static final Pattern FINGERPRINT = Pattern.compile("api: certificate \\S+ sha256 ([0-9A-F:]{95})");

    private final Process qemu;
    private final Path console;
    private final Path monitor;
    final int apiPort;

    enum Boot { CDROM, DISK }

    enum Firmware { BIOS, UEFI }

    private Vm(Process qemu, Path console, Path monitor, int apiPort) {
        this.qemu = qemu;
        this.console = console;
        this.monitor = monitor;
        this.apiPort = apiPort;
    }

    /**
     * Starts a VM in {@code directory} (its console log and monitor socket go there).
     *
     * @param dataDisk a raw disk image, or null for none
     * @param extra    further qemu arguments (a second NIC, ...)
     */
    static Vm start(Path directory, Path iso, Boot boot, Firmware firmware, Path dataDisk, List<String> extra)
            throws IOException {
        Files.createDirectories(directory);
        Path console = directory.resolve("console.log");
        Path monitor = directory.resolve("monitor.sock");
        Files.deleteIfExists(console);
        Files.deleteIfExists(monitor);
        int apiPort = freePort();
        // one host thread for both vCPUs (thread=single): with a thread per vCPU, qemu 7.2's TCG now and then ran
        // code the JVM had just patched on another vCPU in its old form (SIGSEGV and SIGILL at the entry of C1
        // methods, the service restarting the appliance); Westmere (SSE4.2, AES-NI, no AVX or BMI2) keeps to
        // instructions TCG has long emulated
        List<String> command = new ArrayList<>(List.of("qemu-system-x86_64", "-accel", "tcg,thread=single", "-cpu", "Westmere",
                "-m", "1024", "-smp", "2", "-display", "none", "-no-reboot",
                "-serial", "file:" + console, "-monitor", "unix:" + monitor + ",server,nowait",
                "-nic", "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:" + apiPort + "-:8443"));
        if (firmware == Firmware.UEFI) {
            command.addAll(List.of("-bios", "/usr/share/ovmf/OVMF.fd"));
        }
        if (boot == Boot.CDROM) {
            command.addAll(List.of("-cdrom", iso.toString()));
        } else {
            // the image as a read-only disk: the hybrid ISO's MBR (BIOS) or GPT (UEFI)
            command.addAll(List.of("-drive", "file=" + iso + ",format=raw,if=virtio,readonly=on"));
        }
        if (dataDisk != null) {
            command.addAll(List.of("-drive", "file=" + dataDisk + ",format=raw,if=virtio"));
        }
        command.addAll(extra);
        Process qemu = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(directory.resolve("qemu.log").toFile()).start();
        return new Vm(qemu, console, monitor, apiPort);
    }

    /** A blank raw disk of {@code mebibytes}, as a new appliance would get. */
    static Path blankDisk(Path file, int mebibytes) throws IOException {
        Files.deleteIfExists(file);
        try (java.io.RandomAccessFile disk = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            disk.setLength((long) mebibytes << 20);   // sparse: all zeros, as a new disk reads
        }
        return file;
    }

    String console() throws IOException {
        return Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
    }

    boolean running() {
        return qemu.isAlive();
    }

    /** Waits until the console shows {@code text}; fails with the console's tail after {@code seconds}. */
    void awaitConsole(String text, int seconds) throws Exception {
        await(() -> {
            try {
                return console().contains(text);
            } catch (IOException e) {
                return false;
            }
        }, seconds, "the console to show '" + text + "'");
    }

    /** The first-boot admin token the console showed. */
    String adminToken() throws IOException {
        Matcher matcher = TOKEN.matcher(console());
        if (!matcher.find()) {
            throw new AssertionError("no admin token on the console:\n" + tail());
        }
        return matcher.group(1);
    }

    /**
     * Waits until the API's health endpoint answers {@code up} through the forwarded port (qemu accepts connections
     * before the guest listens, so a connect proves nothing). Returns the seconds it took from now.
     */
    double awaitHealthy(int seconds) throws Exception {
        long started = System.nanoTime();
        await(() -> {
            try {
                // a new client each time: it pins the certificate the console named, which comes with the API
                HttpResponse<String> response = pinnedClient().send(HttpRequest.newBuilder(url("/health"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                return response.statusCode() == 200 && new JsonObject(response.body()).getString("status").equals("up");
            } catch (Exception notYet) {
                return false;
            }
        }, seconds, "the API's health endpoint to answer up");
        return (System.nanoTime() - started) / 1e9;
    }

    /** GET {@code path} under /api/v1 with {@code token}; the body as JSON (an object or an array). */
    Object get(String path, String token) throws Exception {
        HttpResponse<String> response = pinnedClient().send(HttpRequest.newBuilder(url(path))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new AssertionError("GET " + path + ": " + response.statusCode() + " " + response.body());
        }
        String body = response.body().strip();
        return body.startsWith("[") ? new JsonArray(body) : new JsonObject(body);
    }

    /** PUT {@code body} to {@code path} under /api/v1 with {@code token}; the response whatever its status. */
    HttpResponse<String> put(String path, String token, JsonObject body) throws Exception {
        return pinnedClient().send(HttpRequest.newBuilder(url(path)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(body.encode()))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** POST {@code body} to {@code path} under /api/v1 with {@code token}; the response whatever its status. */
    HttpResponse<String> post(String path, String token, JsonObject body) throws Exception {
        return pinnedClient().send(HttpRequest.newBuilder(url(path)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.encode()))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * qemu arguments that give the guest a file through fw_cfg as {@code opt/io.flowsec/NAME}, where the image's
     * boot reads its first configuration and its boot script.
     */
    static List<String> firmwareFile(String name, Path file) {
        return List.of("-fw_cfg", "name=opt/io.flowsec/" + name + ",file=" + file);
    }

    /**
     * qemu arguments for a second NIC (eth1 in the guest) on a socket netdev: Ethernet frames as UDP datagrams
     * between {@code localPort} and {@code peerPort} on 127.0.0.1, the link between two VMs.
     */
    static List<String> linkNic(int localPort, int peerPort, String mac) {
        return List.of("-netdev", "socket,id=link,udp=127.0.0.1:" + peerPort + ",localaddr=127.0.0.1:" + localPort,
                "-device", "virtio-net-pci,netdev=link,mac=" + mac);
    }

    /** A UDP port free on 127.0.0.1 now. */
    static int freeUdpPort() throws IOException {
        try (java.net.DatagramSocket socket = new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** The status of a GET of {@code path} under /api/v1 without a token. */
    int statusWithoutToken(String path) throws Exception {
        return pinnedClient().send(HttpRequest.newBuilder(url(path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /**
     * Presses the ACPI power button (qemu's system_powerdown): after the monitor's first prompt, and the connection
     * held until the prompt after the command (a connection closed sooner may lose it).
     */
    void pressPowerButton() throws IOException {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(monitor));
            readUntilPrompts(channel, 1);
            channel.write(ByteBuffer.wrap("system_powerdown\n".getBytes(StandardCharsets.US_ASCII)));
            readUntilPrompts(channel, 1);
        }
    }

    private static void readUntilPrompts(SocketChannel channel, int prompts) throws IOException {
        StringBuilder seen = new StringBuilder();
        ByteBuffer buffer = ByteBuffer.allocate(4096);
        int found = 0;
        while (found < prompts) {
            buffer.clear();
            if (channel.read(buffer) < 0) {
                throw new IOException("qemu's monitor closed; it answered: " + seen);
            }
            seen.append(new String(buffer.array(), 0, buffer.position(), StandardCharsets.ISO_8859_1));
            found = (seen.length() - seen.toString().replace("(qemu) ", "").length()) / "(qemu) ".length();
        }
    }

    /** Waits for qemu to exit (the guest powered off, -no-reboot); returns its exit status. */
    int awaitExit(int seconds) throws Exception {
        if (!qemu.waitFor(seconds, TimeUnit.SECONDS)) {
            throw new AssertionError("qemu still running after " + seconds + " s; console:\n" + tail());
        }
        return qemu.exitValue();
    }

    String tail() throws IOException {
        String text = console();
        return text.substring(Math.max(0, text.length() - 4000));
    }

    @Override
    public void close() throws Exception {
        if (qemu.isAlive()) {
            qemu.destroy();
            if (!qemu.waitFor(10, TimeUnit.SECONDS)) {
                qemu.destroyForcibly().waitFor();
            }
        }
        Files.deleteIfExists(monitor);
    }

    private URI url(String path) {
        return URI.create("https://127.0.0.1:" + apiPort + "/api/v1" + path);
    }

    /**
     * A client that trusts exactly the certificate whose SHA-256 the appliance logged on the console (its
     * self-signed one, made at first start), as an operator pins it; before the log shows it, nothing is trusted.
     */
    HttpClient pinnedClient() throws Exception {
        Matcher matcher = FINGERPRINT.matcher(console());
        String pinned = matcher.find() ? matcher.group(1).replace(":", "").toLowerCase() : null;
        // an X509ExtendedTrustManager is used as it is: the pin is the whole check (the certificate names the
        // guest's address, not 127.0.0.1, so no host name check)
        TrustManager pinning = new javax.net.ssl.X509ExtendedTrustManager() {
            private void check(X509Certificate[] chain) throws java.security.cert.CertificateException {
                try {
                    String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(chain[0].getEncoded()));
                    if (!actual.equals(pinned)) {
                        throw new java.security.cert.CertificateException("not the pinned certificate");
                    }
                } catch (java.security.NoSuchAlgorithmException e) {
                    throw new java.security.cert.CertificateException(e);
                }
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, java.net.Socket socket)
                    throws java.security.cert.CertificateException {
                check(chain);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine engine)
                    throws java.security.cert.CertificateException {
                check(chain);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType)
                    throws java.security.cert.CertificateException {
                check(chain);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, java.net.Socket socket) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine engine) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
                throw new UnsupportedOperationException();
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, new TrustManager[] {pinning}, null);
        return HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private void await(BooleanSupplier condition, int seconds, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (!qemu.isAlive()) {
                throw new AssertionError("qemu exited (" + qemu.exitValue() + ") while waiting for " + what
                        + "; console:\n" + tail());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("waited " + seconds + " s for " + what + "; console:\n" + tail());
            }
            Thread.sleep(500);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
