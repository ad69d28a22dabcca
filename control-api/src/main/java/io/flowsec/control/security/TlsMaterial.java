package io.flowsec.control.security;

import io.vertx.core.net.PemKeyCertOptions;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.util.IPAddress;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The API's TLS certificate and private key, as files that Vert.x loads. Either an operator's pair ({@link #load}) or
 * one generated on first start ({@link #selfSigned}), which clients trust by pinning {@link #sha256Fingerprint()}.
 * The key never leaves its file through this class: no getter returns it and nothing logs it.
 */
public final class TlsMaterial {
    static final String CERTIFICATE_FILE = "api-cert.pem";
    static final String KEY_FILE = "api-key.pem";

    private static final Duration CLOCK_SKEW_ALLOWANCE = Duration.ofDays(1);
    private static final int VALIDITY_YEARS = 10;
    private static final String DNS_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    /** Host names, with an optional leading wildcard label; no Unicode (IDNs go in as their xn-- form). */
    private static final Pattern DNS_NAME = Pattern.compile("(\\*\\.)?" + DNS_LABEL + "(\\." + DNS_LABEL + ")*");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path certificatePath;
    private final Path keyPath;
    private final String sha256Fingerprint;
    private final boolean generated;

    private TlsMaterial(Path certificatePath, Path keyPath, String sha256Fingerprint, boolean generated) {
        this.certificatePath = certificatePath.toAbsolutePath();
        this.keyPath = keyPath.toAbsolutePath();
        this.sha256Fingerprint = sha256Fingerprint;
        this.generated = generated;
    }

    /**
     * An operator's certificate and key. Checked here, with one-line messages, rather than left to fail in the TLS
     * handshake: both must be PEM, the key unencrypted RSA or EC (what Vert.x can serve), not readable or writable by
     * group or others, and the pair of the certificate.
     */
    public static TlsMaterial load(Path certificatePem, Path privateKeyPem) throws IOException {
        requireRegularFile(certificatePem, "certificate");
        requireRegularFile(privateKeyPem, "private key");
        SecureFiles.requireOwnerOnly(privateKeyPem, "private key");
        X509Certificate certificate = readCertificate(certificatePem);
        PrivateKey key = readPrivateKey(privateKeyPem);
        requirePair(certificate, key, certificatePem, privateKeyPem);
        return new TlsMaterial(certificatePem, privateKeyPem, fingerprint(certificate), false);
    }

    /**
     * The pair in {@code directory}, generated if either file is missing: a key without its certificate (or the
     * reverse) is left by a crash between the two writes and can serve nobody, so both are made afresh.
     *
     * @param commonName       the certificate's subject CN, for people reading it; clients match the SANs
     * @param subjectAltNames  IP addresses ("127.0.0.1", "::1") and DNS names ("localhost") clients connect to
     */
    public static TlsMaterial selfSigned(Path directory, String commonName, List<String> subjectAltNames)
            throws IOException {
        Objects.requireNonNull(commonName, "commonName");
        GeneralNames names = generalNames(subjectAltNames);
        Path certificatePath = directory.resolve(CERTIFICATE_FILE);
        Path keyPath = directory.resolve(KEY_FILE);
        if (Files.exists(certificatePath) && Files.exists(keyPath)) {
            return load(certificatePath, keyPath);
        }
        SecureFiles.createPrivateDirectories(directory);
        KeyPair keyPair = generateKeyPair();
        X509Certificate certificate = selfSign(keyPair, commonName, names);
        // The key first: should a crash come between the two, the lone key is replaced on the next start.
        SecureFiles.writeAtomically(keyPath, pem(new JcaPKCS8Generator(keyPair.getPrivate(), null)),
                SecureFiles.OWNER_ONLY_FILE);
        SecureFiles.writeAtomically(certificatePath, pem(certificate), SecureFiles.PUBLIC_FILE);
        return new TlsMaterial(certificatePath, keyPath, fingerprint(certificate), true);
    }

    /** For {@code HttpServerOptions.setKeyCertOptions}; Vert.x reads the files when the server starts. */
    public PemKeyCertOptions keyCertOptions() {
        return new PemKeyCertOptions().setCertPath(certificatePath.toString()).setKeyPath(keyPath.toString());
    }

    /** The certificate, for clients to trust (curl --cacert, PemTrustOptions). */
    public Path certificatePath() {
        return certificatePath;
    }

    /** SHA-256 of the DER certificate, upper-case hex with colons as openssl prints it, for clients that pin it. */
    public String sha256Fingerprint() {
        return sha256Fingerprint;
    }

    /** Whether {@link #selfSigned} generated the pair this time: the moment to show the fingerprint to the operator. */
    public boolean generated() {
        return generated;
    }

    @Override
    public String toString() {
        return "TlsMaterial[" + certificatePath + ", sha256 " + sha256Fingerprint + "]";
    }

    private static void requireRegularFile(Path file, String what) throws IOException {
        Objects.requireNonNull(file, what);
        if (!Files.isRegularFile(file)) {
            throw new IOException(what + " " + file + " does not exist or is not a regular file");
        }
    }

    /** Read as ISO-8859-1, which maps every byte, so that a binary (DER) file is reported as not PEM. */
    private static X509Certificate readCertificate(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.ISO_8859_1);
        if (!text.contains("-----BEGIN CERTIFICATE-----")) {
            throw new IOException("certificate " + file + " is not PEM (no -----BEGIN CERTIFICATE----- line)");
        }
        try {
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            return (X509Certificate) factory.generateCertificate(
                    new ByteArrayInputStream(text.getBytes(StandardCharsets.ISO_8859_1)));
        } catch (CertificateException e) {
            throw new IOException("certificate " + file + " is not a readable X.509 certificate");
        }
    }

    /** Parse failures are reported without their cause, whose message might quote the key. */
    private static PrivateKey readPrivateKey(Path file) throws IOException {
        String notPem = "private key " + file + " is not a PEM private key (PRIVATE KEY, EC PRIVATE KEY or "
                + "RSA PRIVATE KEY)";
        Object parsed;
        try (PEMParser parser = new PEMParser(new StringReader(Files.readString(file, StandardCharsets.ISO_8859_1)))) {
            parsed = parser.readObject();
        } catch (IOException | RuntimeException e) {
            throw new IOException(notPem);
        }
        if (parsed instanceof PEMEncryptedKeyPair || parsed instanceof PKCS8EncryptedPrivateKeyInfo) {
            throw new IOException("private key " + file + " is encrypted; the API needs it unencrypted, mode 0600");
        }
        PrivateKeyInfo info;
        if (parsed instanceof PrivateKeyInfo pkcs8) {
            info = pkcs8;
        } else if (parsed instanceof PEMKeyPair pair) {
            info = pair.getPrivateKeyInfo();
        } else {
            throw new IOException(notPem);
        }
        PrivateKey key;
        try {
            key = new JcaPEMKeyConverter().getPrivateKey(info);
        } catch (IOException | RuntimeException e) {
            throw new IOException(notPem);
        }
        if (!key.getAlgorithm().equals("EC") && !key.getAlgorithm().equals("RSA")) {
            throw new IOException("private key " + file + " is " + key.getAlgorithm() + "; the API serves RSA or EC");
        }
        return key;
    }

    /** A signature made with the key and checked with the certificate: the only sure test that they belong together. */
    private static void requirePair(X509Certificate certificate, PrivateKey key, Path certificateFile, Path keyFile)
            throws IOException {
        String algorithm = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        byte[] challenge = new byte[32];
        RANDOM.nextBytes(challenge);
        boolean matches;
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(challenge);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(challenge);
            matches = verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            matches = false;
        }
        if (!matches) {
            throw new IOException("private key " + keyFile + " does not belong to certificate " + certificateFile);
        }
    }

    private static GeneralNames generalNames(List<String> subjectAltNames) {
        if (subjectAltNames == null || subjectAltNames.isEmpty()) {
            throw new IllegalArgumentException("at least one subject alternative name is needed: "
                    + "clients match the host they connect to against the SANs, not the CN");
        }
        List<GeneralName> names = new ArrayList<>();
        for (String name : subjectAltNames) {
            String bare = name != null && name.startsWith("[") && name.endsWith("]")
                    ? name.substring(1, name.length() - 1) : name;
            if (bare != null && IPAddress.isValid(bare)) {
                names.add(new GeneralName(GeneralName.iPAddress, bare));
            } else if (bare != null && DNS_NAME.matcher(bare).matches() && bare.length() <= 253) {
                names.add(new GeneralName(GeneralName.dNSName, bare));
            } else {
                throw new IllegalArgumentException("not an IP address or DNS name: " + name);
            }
        }
        return new GeneralNames(names.toArray(GeneralName[]::new));
    }

    private static KeyPair generateKeyPair() throws IOException {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot generate an EC P-256 key: " + e.getMessage(), e);
        }
    }

    /**
     * A leaf certificate for TLS servers only (CA=false, digitalSignature, serverAuth), valid from a day ago, so that
     * a client whose clock is a little behind accepts it, for ten years, so that it outlives the appliance's
     * deployment rather than expiring unnoticed.
     */
    private static X509Certificate selfSign(KeyPair keyPair, String commonName, GeneralNames names)
            throws IOException {
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
        ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
        Date notBefore = Date.from(now.minus(CLOCK_SKEW_ALLOWANCE).toInstant());
        Date notAfter = Date.from(now.plusYears(VALIDITY_YEARS).toInstant());
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    subject, serialNumber(), notBefore, notAfter, subject, keyPair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                    .addExtension(Extension.subjectAlternativeName, false, names)
                    .addExtension(Extension.subjectKeyIdentifier, false,
                            new JcaX509ExtensionUtils().createSubjectKeyIdentifier(keyPair.getPublic()));
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keyPair.getPrivate())));
        } catch (CertIOException | OperatorCreationException | GeneralSecurityException e) {
            throw new IOException("cannot build the self-signed certificate: " + e.getMessage(), e);
        }
    }

    /** Random, positive and non-zero (RFC 5280 4.1.2.2), so that two generated certificates never share a serial. */
    private static BigInteger serialNumber() {
        BigInteger serial;
        do {
            serial = new BigInteger(64, RANDOM);
        } while (serial.signum() == 0);
        return serial;
    }

    private static byte[] pem(Object object) throws IOException {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(object);
        }
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static String fingerprint(X509Certificate certificate) throws IOException {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot fingerprint the certificate: " + e.getMessage(), e);
        }
    }
}
