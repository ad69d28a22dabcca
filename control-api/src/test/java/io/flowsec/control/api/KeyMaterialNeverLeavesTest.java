package io.flowsec.control.api;

import io.flowsec.control.metrics.MetricsEndpoint;
import io.flowsec.control.security.LoginThrottle;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Key material is write-only: everything the API said during a tour of it (every response with its headers, every
 * log line, every event on the WebSocket, every metrics scrape) is collected and scanned for every key the test sent,
 * good ones accepted by rekeys and bad ones refused (wrong length, not hex, in an unknown field, in the SPI's place).
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KeyMaterialNeverLeavesTest {
    private static final String ADMIN = "fsk_leak-test-admin";

    @Test
    void noResponseLogLineEventOrMetricCarriesAKeyTheTestSent(Vertx vertx) throws Exception {
        List<String> said = new CopyOnWriteArrayList<>();
        List<String> keys = new ArrayList<>();
        SecureRandom random = new SecureRandom();
        try (TwoDataplanes pair = new TwoDataplanes(TestPackets.tunnel().saCount(4).encoding(FlowEncoding.UDP_PORT), 2, Mode.FLOW)) {
            LoginThrottle logins = LoginThrottle.defaults();
            MetricsEndpoint metrics = new MetricsEndpoint(pair.b);
            EventStream events = new EventStream(vertx, pair.b, logins, EventStream.Settings.DEFAULTS, said::add);
            ApiServer api = ApiServer.start(vertx, new ApiServer.Settings("127.0.0.1", 0, null, 65536),
                    new ApplianceInfo("b", "test", "memory", List.of(), Instant.now()), pair.b,
                    new ApiServerTest.RecordingConfiguration(),
                    token -> ADMIN.equals(token) ? Optional.of(new Caller("ops", true)) : Optional.empty(), logins,
                    List.of(metrics, events), said::add).await();
            WebClient client = WebClient.create(vertx);
            io.vertx.core.http.WebSocketClient sockets = vertx.createWebSocketClient();
            WebSocket stream = sockets.connect(new WebSocketConnectOptions().setHost("127.0.0.1")
                    .setPort(api.port()).setURI(EventStream.PATH + "?rate=5").addHeader("Authorization", "Bearer " + ADMIN))
                    .await();
            stream.textMessageHandler(said::add);
            try {
                pair.sendFromA(64, 5);
                for (SecurityAssociation inbound : pair.tunnel.b().inbound()) {
                    int length = inbound.suite().encryptionKeyLength();
                    String wrongLength = hex(random, length - 1);
                    String notHex = hex(random, length).substring(2) + "zz";
                    String good = hex(random, length);
                    keys.addAll(List.of(wrongLength, notHex.substring(0, notHex.length() - 2), good));
                    String path = ApiServer.BASE + "/sas/inbound/" + ApiResources.hex(inbound.spi()) + "/rekey";
                    String newSpi = ApiResources.hex(0x6100_0000 + (inbound.spi() & 0xFFFF));
                    for (JsonObject body : List.of(
                            new JsonObject().put("spi", newSpi).put("key", wrongLength),
                            new JsonObject().put("spi", newSpi).put("key", notHex),
                            new JsonObject().put("spi", newSpi).put("key", good).put("secret", good),
                            new JsonObject().put("spi", good).put("key", good),
                            new JsonObject().put("spi", newSpi).put("key", good))) {
                        said.add(describe(client.request(HttpMethod.POST, api.port(), "127.0.0.1", path)
                                .putHeader("Authorization", "Bearer " + ADMIN).sendJsonObject(body).await()));
                    }
                }
                assertEquals(4, pair.b.sas().stream().filter(sa -> (sa.spi() >>> 24) == 0x61).count(), "the good rekeys took");
                pair.sendFromA(64, 5);
                Thread.sleep(600);   // a metrics refresh and a few event ticks
                for (String path : List.of("/appliance", "/lanes", "/mode", "/steering", "/policies", "/sas", "/drops",
                        "/openapi.json")) {
                    said.add(describe(client.get(api.port(), "127.0.0.1", ApiServer.BASE + path)
                            .putHeader("Authorization", "Bearer " + ADMIN).send().await()));
                }
                said.add(describe(client.get(api.port(), "127.0.0.1", MetricsEndpoint.PATH)
                        .putHeader("Authorization", "Bearer " + ADMIN).send().await()));
            } finally {
                stream.close().await();
                client.close();
                api.close();
                events.close();
                metrics.close();
            }
        }
        String everything = String.join("\n", said).toLowerCase(Locale.ROOT);
        assertTrue(everything.contains("flowsec_sa_packets_total"), "the scan saw a metrics scrape");
        assertTrue(everything.contains("\"type\":\"event\"") && everything.contains("\"type\":\"load\""),
                "the scan saw events and load messages");
        for (String key : keys) {
            for (int start = 0; start + 16 <= key.length(); start += 8) {
                String run = key.substring(start, start + 16).toLowerCase(Locale.ROOT);
                assertTrue(!everything.contains(run), "key material '" + run.substring(0, 4) + "…' left the API");
            }
        }
    }

    private static String hex(SecureRandom random, int bytes) {
        byte[] key = new byte[bytes];
        random.nextBytes(key);
        return HexFormat.of().formatHex(key);
    }

    private static String describe(HttpResponse<Buffer> response) {
        return response.statusCode() + " " + response.headers() + " " + (response.body() == null ? "" : response.bodyAsString());
    }
}
