package io.flowsec.testbed.bench;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class NginxServerTest {

    @Test
    void configuration_is_private() {
        String config = NginxServer.config("10.2.0.20", 80, 4, Path.of("/dev/shm/flowsec-app"));

        assertFalse(config.contains("/etc/nginx"), config);
        assertFalse(config.contains("include"), config);
        for (String line : List.of(
                "daemon off;", "master_process on;", "worker_processes 4;", "user root;",
                "pid /dev/shm/flowsec-app/nginx.pid;", "error_log /dev/shm/flowsec-app/error.log warn;",
                "worker_connections 4096;", "use epoll;",
                "types {}", "default_type application/octet-stream;", "access_log off;", "sendfile on;",
                "tcp_nopush on;", "keepalive_requests 10;", "keepalive_timeout 30s;",
                "open_file_cache max=64 inactive=600s;", "open_file_cache_valid 600s;",
                "client_body_temp_path /dev/shm/flowsec-app/client_body_temp;",
                "proxy_temp_path /dev/shm/flowsec-app/proxy_temp;",
                "fastcgi_temp_path /dev/shm/flowsec-app/fastcgi_temp;",
                "uwsgi_temp_path /dev/shm/flowsec-app/uwsgi_temp;",
                "scgi_temp_path /dev/shm/flowsec-app/scgi_temp;",
                "listen 10.2.0.20:80 reuseport backlog=4096;", "root /dev/shm/flowsec-app/www;")) {
            assertTrue(config.contains(line), "missing " + line + " in\n" + config);
        }
    }

    @Test
    void ipv6_addresses_are_bracketed() {
        assertTrue(NginxServer.config("fd00:2::20", 80, 1, Path.of("/x")).contains("listen [fd00:2::20]:80 "));
    }

    @Test
    void content_is_deterministic_and_exactly_sized() {
        assertEquals(64, NginxServer.content(64).length);
        assertEquals(16384, NginxServer.content(16384).length);
        assertArrayEquals(NginxServer.content(1024), NginxServer.content(1024));
    }

    @Test
    void serves_the_files_and_ab_measures_it_then_leaves_nothing_behind(@TempDir Path directory) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/nginx")), "nginx not installed");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/ab")), "ab not installed");
        int port = freePort();
        List<ProcessHandle> processes;

        try (NginxServer server = NginxServer.start(null, "127.0.0.1", port, 2, List.of(64, 1024), directory)) {
            // workers retitle themselves "nginx: worker process": follow them by pid, not by command line
            ProcessHandle master = ProcessHandle.of(server.pid()).orElseThrow();
            processes = Stream.concat(Stream.of(master), master.descendants())
                    .toList();
            assertEquals(3, processes.size(), "master and 2 workers: " + processes);
            assertFalse(nginxUsing(directory).isEmpty(), "the scan below must see a running master");
            assertEquals("http://127.0.0.1:" + port + "/64.bin", server.url(64));
            server.warm();
            try (HttpClient client = HttpClient.newHttpClient()) {
                for (int size : List.of(64, 1024)) {
                    HttpResponse<byte[]> response = client.send(
                            HttpRequest.newBuilder(URI.create(server.url(size))).build(),
                            HttpResponse.BodyHandlers.ofByteArray());
                    assertEquals(200, response.statusCode());
                    assertEquals(size, response.body().length);
                    assertArrayEquals(NginxServer.content(size), response.body());
                }
            }

            ApacheBench.Result result = ApacheBench.run(null, server.url(1024), 8, 1);

            assertTrue(result.completeRequests() > 0, result.toString());
            assertEquals(0, result.failedRequests(), result.toString());
            assertEquals(0, result.non2xxResponses(), result.toString());
            assertTrue(result.gigabitsPerSecond() > 0, result.toString());
        }

        assertEquals(List.of(), processes.stream().filter(ProcessHandle::isAlive).toList());
        assertEquals(List.of(), nginxUsing(directory));
    }

    @Test
    void a_busy_port_fails_with_the_error_log_and_stops_nginx(@TempDir Path directory) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/nginx")), "nginx not installed");
        try (ServerSocket busy = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            IOException e = assertThrows(IOException.class, () -> NginxServer.start(
                    null, "127.0.0.1", busy.getLocalPort(), 1, List.of(64), directory));

            assertTrue(e.getMessage().contains("Address already in use"), e.getMessage());
        }
        assertEquals(List.of(), nginxUsing(directory));
    }

    /**
     * Processes whose command line names {@code directory}: ours, if any survived. Read from /proc raw: nginx's master
     * retitles itself "nginx: master process /usr/sbin/nginx -p DIR ...", which ProcessHandle's parser shortens.
     */
    private static List<String> nginxUsing(Path directory) {
        String needle = directory.toAbsolutePath().toString();
        return ProcessHandle.allProcesses()
                .filter(process -> process.pid() != ProcessHandle.current().pid())
                .map(process -> process.pid() + " " + commandLine(process.pid()))
                .filter(line -> line.contains(needle))
                .toList();
    }

    private static String commandLine(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/cmdline"), StandardCharsets.ISO_8859_1)
                    .replace('\0', ' ');
        } catch (IOException e) {
            return ""; // gone meanwhile
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
