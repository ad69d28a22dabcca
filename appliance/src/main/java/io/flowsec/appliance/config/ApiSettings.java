package io.flowsec.appliance.config;

import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Set;
import java.util.TreeSet;

/**
 * The configuration's {@code api} section: where the control API listens (the management address only), its TLS
 * certificate (a configured pair, or a self-signed one made at first start and kept in the state directory) and the
 * file of its hashed tokens.
 *
 * @param address       the management address; null while {@code interfaceName} names where to find it
 * @param certificate   null with {@code privateKey} null: a self-signed certificate in the state directory
 * @param interfaceName null, or the management interface whose address the API listens on, looked up at start
 *                      ({@link #atInterfaceAddress()}): an appliance whose management address comes by DHCP
 */
public record ApiSettings(boolean enabled, String address, int port, boolean tls, Path certificate, Path privateKey,
                          Path tokens, String interfaceName) {
    public static final int DEFAULT_PORT = 8443;
    private static final Set<String> KEYS = Set.of("enabled", "address", "interface", "port", "tls", "certificate",
            "privateKey", "tokens");
    /** A Linux interface name: at most 15 characters (IFNAMSIZ less its NUL), no slash, space or colon. */
    private static final java.util.regex.Pattern INTERFACE_NAME = java.util.regex.Pattern.compile("[A-Za-z0-9_.-]{1,15}");

    public ApiSettings(boolean enabled, String address, int port, boolean tls, Path certificate, Path privateKey,
                       Path tokens) {
        this(enabled, address, port, tls, certificate, privateKey, tokens, null);
    }

    /** The section at {@code api} of {@code json}; defaults when it is absent. */
    static ApiSettings parse(JsonObject json, Path stateDirectory) throws ConfigException {
        Object value = json.getValue("api");
        if (value != null && !(value instanceof JsonObject)) {
            throw new ConfigException("api", "must be an object (see README, \"The control API\")");
        }
        JsonObject api = value == null ? new JsonObject() : (JsonObject) value;
        for (String key : api.fieldNames()) {
            if (!KEYS.contains(key)) {
                throw new ConfigException("api." + SaFile.keyName(key), "unknown key (allowed: " + String.join(", ", new TreeSet<>(KEYS)) + ")");
            }
        }
        boolean enabled = bool(api, "enabled", true);
        boolean tls = bool(api, "tls", true);
        String interfaceName = null;
        String address = null;
        if (api.getValue("interface") != null) {
            if (api.getValue("address") != null) {
                throw new ConfigException("api.interface", "give api.address or api.interface, not both");
            }
            interfaceName = text(api, "interface");
            if (!INTERFACE_NAME.matcher(interfaceName).matches()) {
                throw new ConfigException("api.interface", "must be an interface name (1-15 letters, digits, '_', '.', '-')");
            }
        } else {
            address = api.getValue("address") == null ? "127.0.0.1" : text(api, "address");
            try {
                InetAddress parsed = InetAddress.ofLiteral(address);
                address = parsed.getHostAddress();
            } catch (IllegalArgumentException e) {
                throw new ConfigException("api.address", "must be an IP address literal (the management address), got '" + address + "'");
            }
        }
        Object portValue = api.getValue("port");
        int port = DEFAULT_PORT;
        if (portValue != null) {
            if (!(portValue instanceof Integer number) || number < 1 || number > 65535) {
                throw new ConfigException("api.port", "must be a whole number 1-65535");
            }
            port = number;
        }
        Path certificate = path(api, "certificate");
        Path privateKey = path(api, "privateKey");
        if ((certificate == null) != (privateKey == null)) {
            throw new ConfigException(certificate == null ? "api.certificate" : "api.privateKey",
                    "give both certificate and privateKey, or neither (a self-signed certificate is made then)");
        }
        Path tokens = path(api, "tokens");
        return new ApiSettings(enabled, address, port, tls, certificate, privateKey,
                tokens == null ? stateDirectory.resolve("api-tokens.json") : tokens, interfaceName);
    }

    /**
     * These settings with the address to listen on: the configured one, or the management interface's now (its first
     * IPv4 address, else its first global IPv6 one).
     *
     * @throws IOException naming the interface when it is missing or has no address yet
     */
    public ApiSettings atInterfaceAddress() throws IOException {
        if (interfaceName == null) {
            return this;
        }
        NetworkInterface nic = NetworkInterface.getByName(interfaceName);
        if (nic == null) {
            throw new IOException("api: no interface " + interfaceName + " (api.interface)");
        }
        InetAddress chosen = null;
        for (InetAddress candidate : Collections.list(nic.getInetAddresses())) {
            if (candidate instanceof Inet4Address) {
                chosen = candidate;
                break;
            }
            if (chosen == null && !candidate.isLinkLocalAddress()) {
                chosen = candidate;
            }
        }
        if (chosen == null) {
            throw new IOException("api: interface " + interfaceName + " has no address yet (api.interface)");
        }
        return new ApiSettings(enabled, chosen.getHostAddress(), port, tls, certificate, privateKey, tokens, interfaceName);
    }

    private static boolean bool(JsonObject api, String key, boolean fallback) throws ConfigException {
        Object value = api.getValue(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof Boolean flag)) {
            throw new ConfigException("api." + key, "must be true or false");
        }
        return flag;
    }

    private static String text(JsonObject api, String key) throws ConfigException {
        if (!(api.getValue(key) instanceof String text) || text.isEmpty()) {
            throw new ConfigException("api." + key, "must be a non-empty string");
        }
        return text;
    }

    private static Path path(JsonObject api, String key) throws ConfigException {
        if (api.getValue(key) == null) {
            return null;
        }
        try {
            return Path.of(text(api, key));
        } catch (InvalidPathException e) {
            throw new ConfigException("api." + key, "is not a usable path: " + e.getReason());
        }
    }

    /** The URL clients use, for the log line at start. */
    public String url() {
        String host = address == null ? "(" + interfaceName + "'s address)"
                : address.contains(":") ? "[" + address + "]" : address;
        return (tls ? "https" : "http") + "://" + host + ":" + port + "/api/v1";
    }
}
