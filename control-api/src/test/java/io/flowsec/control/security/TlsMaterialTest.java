package io.flowsec.control.security;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TlsMaterialTest {
    private static final List<String> SANS = List.of("127.0.0.1", "::1", "localhost", "appliance.example.net");
    private static final int SAN_DNS = 2;
    private static final int SAN_IP = 7;

    @TempDir
    Path directory;

    private Path tlsDirectory() {
        return directory.resolve("tls");
    }

    private static X509Certificate parse(Path pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));
    }

    private static String mode(Path file) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
    }

    @Test
    void selfSignedWritesAnOwnerOnlyPkcs8KeyAndAPublicCertificate() throws Exception {
        TlsMaterial material = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);

        Path key = tlsDirectory().resolve("api-key.pem");
        Path certificate = tlsDirectory().resolve("api-cert.pem");
        assertTrue(material.generated());
        assertEquals(certificate.toAbsolutePath(), material.certificatePath());
        assertEquals("rw-------", mode(key));
        assertEquals("rw-r--r--", mode(certificate));
        assertEquals("rwx------", mode(tlsDirectory()));
        assertTrue(Files.readString(key).startsWith("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
        try (var files = Files.list(tlsDirectory())) {
            assertEquals(Set.of(key, certificate), Set.copyOf(files.toList()), "no temporary file is left behind");
        }
        assertFalse(material.toString().contains("PRIVATE"));
    }

    @Test
    void theGeneratedCertificateIsASelfSignedEcServerCertificateForTheGivenNames() throws Exception {
        TlsMaterial material = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);
        X509Certificate certificate = parse(material.certificatePath());

        assertEquals("CN=flowsec-api", certificate.getSubjectX500Principal().getName());
        assertEquals(certificate.getSubjectX500Principal(), certificate.getIssuerX500Principal());
        certificate.verify(certificate.getPublicKey());
        assertInstanceOf(ECPublicKey.class, certificate.getPublicKey());
        assertEquals(256, ((ECPublicKey) certificate.getPublicKey()).getParams().getOrder().bitLength());
        assertEquals("SHA256withECDSA", certificate.getSigAlgName());
        assertEquals(3, certificate.getVersion());
        assertTrue(certificate.getSerialNumber().signum() > 0);

        Instant now = Instant.now();
        certificate.checkValidity(Date.from(now));
        certificate.checkValidity(Date.from(now.plus(Duration.ofDays(9 * 366))));
        assertTrue(certificate.getNotBefore().toInstant().isBefore(now.minus(Duration.ofHours(23))));

        assertEquals(-1, certificate.getBasicConstraints(), "not a CA");
        assertTrue(certificate.getKeyUsage()[0], "digitalSignature");
        assertEquals(List.of("1.3.6.1.5.5.7.3.1"), certificate.getExtendedKeyUsage(), "serverAuth");

        List<String> dnsNames = new ArrayList<>();
        List<InetAddress> ipAddresses = new ArrayList<>();
        for (List<?> name : certificate.getSubjectAlternativeNames()) {
            int type = (Integer) name.get(0);
            if (type == SAN_DNS) {
                dnsNames.add((String) name.get(1));
            } else if (type == SAN_IP) {
                ipAddresses.add(InetAddress.getByName((String) name.get(1)));
            }
        }
        assertEquals(List.of("localhost", "appliance.example.net"), dnsNames);
        assertEquals(List.of(InetAddress.getByName("127.0.0.1"), InetAddress.getByName("::1")), ipAddresses);
    }

    @Test
    void theFingerprintIsTheSha256OfTheDerCertificateInColonHex() throws Exception {
        TlsMaterial material = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);

        byte[] expected = MessageDigest.getInstance("SHA-256").digest(parse(material.certificatePath()).getEncoded());
        assertTrue(material.sha256Fingerprint().matches("([0-9A-F]{2}:){31}[0-9A-F]{2}"), material.sha256Fingerprint());
        assertArrayEquals(expected, HexFormat.ofDelimiter(":").parseHex(material.sha256Fingerprint()));
    }

    @Test
    void aSecondCallReusesTheFilesItFinds() throws Exception {
        TlsMaterial first = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);
        String keyBefore = Files.readString(tlsDirectory().resolve("api-key.pem"));

        TlsMaterial second = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);

        assertFalse(second.generated());
        assertEquals(first.sha256Fingerprint(), second.sha256Fingerprint());
        assertEquals(keyBefore, Files.readString(tlsDirectory().resolve("api-key.pem")));
    }

    @Test
    void aLoneKeyLeftByACrashIsReplacedWithAFreshPair() throws Exception {
        TlsMaterial first = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);
        Files.delete(first.certificatePath());

        TlsMaterial second = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);

        assertTrue(second.generated());
        assertNotEquals(first.sha256Fingerprint(), second.sha256Fingerprint());
        assertEquals(second.sha256Fingerprint(), TlsMaterial.load(second.certificatePath(),
                tlsDirectory().resolve("api-key.pem")).sha256Fingerprint());
    }

    @Test
    void namesThatAreNeitherIpAddressesNorHostNamesAreRefused() {
        for (List<String> names : List.of(List.<String>of(), List.of("two words"), List.of("ünïcode.example"),
                List.of("-leading.example"))) {
            assertThrows(IllegalArgumentException.class,
                    () -> TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", names), names::toString);
        }
    }

    @Test
    void aVertxHttpsServerServesItToAClientThatTrustsOnlyThisCertificate() throws Exception {
        TlsMaterial material = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);
        TlsMaterial stranger = TlsMaterial.selfSigned(directory.resolve("stranger"), "flowsec-api", SANS);
        Vertx vertx = Vertx.vertx();
        try {
            HttpServer server = vertx.createHttpServer(new HttpServerOptions()
                            .setSsl(true)
                            .setKeyCertOptions(material.keyCertOptions())
                            .setHost("127.0.0.1")
                            .setPort(0))
                    .requestHandler(request -> request.response().end("hello over TLS"));
            await(server.listen());

            HttpResponse<Buffer> response = await(client(vertx, material).get(server.actualPort(), "127.0.0.1", "/")
                    .send());
            assertEquals(200, response.statusCode());
            assertEquals("hello over TLS", response.bodyAsString());

            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> await(client(vertx, stranger).get(server.actualPort(), "127.0.0.1", "/").send()),
                    "a client trusting another certificate must not connect");
            assertInstanceOf(SSLException.class, refused.getCause());
        } finally {
            await(vertx.close());
        }
    }

    private static WebClient client(Vertx vertx, TlsMaterial trusted) {
        return WebClient.create(vertx, new WebClientOptions()
                .setSsl(true)
                .setVerifyHost(true)
                .setTrustOptions(new PemTrustOptions().addCertPath(trusted.certificatePath().toString())));
    }

    private static <T> T await(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void loadAcceptsAGoodPairAndReportsTheSameFingerprint() throws Exception {
        TlsMaterial generated = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);

        TlsMaterial loaded = TlsMaterial.load(generated.certificatePath(), tlsDirectory().resolve("api-key.pem"));

        assertFalse(loaded.generated());
        assertEquals(generated.sha256Fingerprint(), loaded.sha256Fingerprint());
        assertEquals(generated.keyCertOptions().getKeyPath(), loaded.keyCertOptions().getKeyPath());
    }

    @Test
    void loadRefusesMissingFiles() throws Exception {
        TlsMaterial material = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);
        Path key = tlsDirectory().resolve("api-key.pem");

        assertRefused("does not exist", () -> TlsMaterial.load(directory.resolve("absent.pem"), key));
        assertRefused("does not exist", () -> TlsMaterial.load(material.certificatePath(), directory.resolve("no")));
        assertRefused("does not exist", () -> TlsMaterial.load(directory, key));
    }

    @Test
    void loadRefusesFilesThatAreNotPem() throws Exception {
        TlsMaterial material = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);
        Path key = tlsDirectory().resolve("api-key.pem");
        Path garbage = Files.writeString(directory.resolve("garbage.pem"), "not a pem file\n");
        Files.setPosixFilePermissions(garbage, PosixFilePermissions.fromString("rw-------"));
        Path der = Files.write(directory.resolve("cert.der"), parse(material.certificatePath()).getEncoded());

        assertRefused("is not PEM", () -> TlsMaterial.load(garbage, key));
        assertRefused("is not PEM", () -> TlsMaterial.load(der, key));
        assertRefused("is not a PEM private key", () -> TlsMaterial.load(material.certificatePath(), garbage));
        Files.writeString(garbage, Files.readString(material.certificatePath()));
        assertRefused("is not a PEM private key", () -> TlsMaterial.load(material.certificatePath(), garbage));
    }

    @Test
    void loadRefusesAKeyReadableByGroupOrOthers() throws Exception {
        TlsMaterial material = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);
        Path key = tlsDirectory().resolve("api-key.pem");
        for (String mode : List.of("rw-r--r--", "rw-r-----", "rw-----w-")) {
            Files.setPosixFilePermissions(key, PosixFilePermissions.fromString(mode));

            assertRefused("chmod 600", () -> TlsMaterial.load(material.certificatePath(), key));
            assertRefused("chmod 600", () -> TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS));
        }
    }

    @Test
    void loadRefusesAKeyThatIsNotTheCertificatesOwn() throws Exception {
        TlsMaterial material = TlsMaterial.selfSigned(tlsDirectory(), "flowsec-api", SANS);
        TlsMaterial.selfSigned(directory.resolve("other"), "flowsec-api", SANS);

        assertRefused("does not belong", () -> TlsMaterial.load(material.certificatePath(),
                directory.resolve("other").resolve("api-key.pem")));
    }

    private interface Loader {
        void load() throws Exception;
    }

    private static void assertRefused(String expected, Loader loader) {
        IOException refusal = assertThrows(IOException.class, loader::load);
        String message = refusal.getMessage();
        assertTrue(message.contains(expected), message);
        assertFalse(message.contains("\n") || message.contains("PRIVATE KEY-----"), message);
    }
}
