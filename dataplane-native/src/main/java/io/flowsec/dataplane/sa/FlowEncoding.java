package io.flowsec.dataplane.sa;

import java.util.Locale;

/** How an SA group makes the flow ID (through the SA chosen) visible in the outer packet. */
public enum FlowEncoding {
    /** Each SA its own SPI only: a steering program that reads the SPI can spread it; a NIC's RSS cannot. */
    SPI("spi"),
    /** Each SA its own ESP-in-UDP source port: any NIC's RSS hashes it. */
    UDP_PORT("udp-port"),
    /** Each SA its own outer address pair: the paper's method. */
    ADDRESS("address");

    private final String configName;

    FlowEncoding(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    public static FlowEncoding fromConfigName(String name) {
        String wanted = name.strip().toLowerCase(Locale.ROOT);
        for (FlowEncoding encoding : values()) {
            if (encoding.configName.equals(wanted)) {
                return encoding;
            }
        }
        throw new IllegalArgumentException("unknown encoding '" + name + "' (known: spi, udp-port, address)");
    }
}
