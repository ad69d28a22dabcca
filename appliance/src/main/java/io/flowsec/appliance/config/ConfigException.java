package io.flowsec.appliance.config;

/**
 * A configuration problem, with the path of the offending key ({@code policies[0].outbound[1].key}) and what is wrong.
 * Messages never contain key material.
 */
public final class ConfigException extends Exception {
    private final String path;

    public ConfigException(String path, String problem) {
        super(path.isEmpty() ? problem : path + ": " + problem);
        this.path = path;
    }

    public String path() {
        return path;
    }
}
