package io.flowsec.testbed.bench;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ApacheBenchTest {
    /** A real run: ab -q -k -c 8 -t 1 against nginx on 127.0.0.1 serving 1024.bin with keepalive_requests 10. */
    static final String CLEAN_RUN = """
            This is ApacheBench, Version 2.3 <$Revision$>
            Copyright 1996 Adam Twiss, Zeus Technology Ltd, http://www.zeustech.net/
            Licensed to The Apache Software Foundation, http://www.apache.org/

            Benchmarking 127.0.0.1 (be patient).....done


            Server Software:        nginx/1.22.1
            Server Hostname:        127.0.0.1
            Server Port:            18089

            Document Path:          /1024.bin
            Document Length:        1024 bytes

            Concurrency Level:      8
            Time taken for tests:   1.000 seconds
            Complete requests:      88215
            Failed requests:        0
            Keep-Alive requests:    79397
            Total transferred:      112694680 bytes
            HTML transferred:       90332160 bytes
            Requests per second:    88213.41 [#/sec] (mean)
            Time per request:       0.091 [ms] (mean)
            Time per request:       0.011 [ms] (mean, across all concurrent requests)
            Transfer rate:          110051.42 [Kbytes/sec] received

            Connection Times (ms)
                          min  mean[+/-sd] median   max
            Connect:        0    0   0.0      0       4
            Processing:     0    0   0.1      0       8
            Waiting:        0    0   0.1      0       8
            Total:          0    0   0.1      0       8

            Percentage of the requests served within a certain time (ms)
              50%      0
              66%      0
              75%      0
              80%      0
              90%      0
              95%      0
              98%      0
              99%      0
             100%      8 (longest request)
            """;

    /** A real run against a missing file: every response a 404, so ab adds "Non-2xx responses". */
    static final String NOT_FOUND_RUN = """
            Server Software:        nginx/1.22.1
            Server Hostname:        127.0.0.1
            Server Port:            18089

            Document Path:          /missing.bin
            Document Length:        153 bytes

            Concurrency Level:      8
            Time taken for tests:   1.000 seconds
            Complete requests:      69076
            Failed requests:        0
            Non-2xx responses:      69076
            Keep-Alive requests:    62171
            Total transferred:      21240883 bytes
            HTML transferred:       10568628 bytes
            Requests per second:    69074.27 [#/sec] (mean)
            Time per request:       0.116 [ms] (mean)
            Time per request:       0.014 [ms] (mean, across all concurrent requests)
            Transfer rate:          20742.53 [Kbytes/sec] received
            """;

    /** A real run (ab -r) with nginx stopped half way: failed requests with their breakdown. */
    static final String FAILED_RUN = """
            Benchmarking 127.0.0.1 (be patient).....done


            Server Software:        nginx/1.22.1
            Server Hostname:        127.0.0.1
            Server Port:            18089

            Document Path:          /64.bin
            Document Length:        64 bytes

            Concurrency Level:      8
            Time taken for tests:   2.001 seconds
            Complete requests:      84650
            Failed requests:        2091
               (Connect: 0, Receive: 712, Length: 719, Exceptions: 660)
            Keep-Alive requests:    75541
            Total transferred:      26396315 bytes
            HTML transferred:       5371584 bytes
            Requests per second:    42307.38 [#/sec] (mean)
            Time per request:       0.189 [ms] (mean)
            Time per request:       0.024 [ms] (mean, across all concurrent requests)
            Transfer rate:          12883.46 [Kbytes/sec] received
            """;

    @Test
    void parses_a_clean_run() throws IOException {
        ApacheBench.Result result = ApacheBench.parse(CLEAN_RUN);

        assertEquals(new ApacheBench.Result(88213.41, 110051.42, 88215, 0, 0, 0.091), result);
        assertEquals(110051.42 * 1024 * 8 / 1e9, result.gigabitsPerSecond(), 1e-12);
        assertEquals(0.9015, result.gigabitsPerSecond(), 1e-4);
    }

    @Test
    void parses_non_2xx_responses() throws IOException {
        assertEquals(new ApacheBench.Result(69074.27, 20742.53, 69076, 0, 69076, 0.116),
                ApacheBench.parse(NOT_FOUND_RUN));
    }

    @Test
    void parses_failed_requests() throws IOException {
        assertEquals(new ApacheBench.Result(42307.38, 12883.46, 84650, 2091, 0, 0.189),
                ApacheBench.parse(FAILED_RUN));
    }

    @Test
    void output_without_requests_per_second_is_a_clear_error() {
        String output = """
                This is ApacheBench, Version 2.3 <$Revision$>
                Benchmarking 127.0.0.1 (be patient)...
                apr_socket_connect(): Connection refused (111)
                """;

        IOException e = assertThrows(IOException.class, () -> ApacheBench.parse(output));

        assertTrue(e.getMessage().contains("no \"Requests per second\" line"), e.getMessage());
        assertTrue(e.getMessage().contains("Connection refused (111)"), e.getMessage());
    }

    @Test
    void a_failing_ab_is_reported_with_its_output() throws IOException {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/ab")), "ab not installed");
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }

        IOException e = assertThrows(IOException.class,
                () -> ApacheBench.run(null, "http://127.0.0.1:" + port + "/64.bin", 1, 1));

        assertTrue(e.getMessage().contains("ab exited with status"), e.getMessage());
        assertTrue(e.getMessage().contains("Connection refused"), e.getMessage());
    }
}
