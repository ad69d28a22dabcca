package io.flowsec.control.config;

import java.io.IOException;

/**
 * The appliance's configuration file as the API changes it: each change is checked against what the appliance would
 * accept at its next start, applied to the data plane, and written durably (a temporary file written and forced, then
 * renamed over the configuration, the directory forced), or, when anything fails, none of it. Implemented by the
 * appliance, which owns the file's format; calls are serialised by the caller.
 */
public interface PersistentConfiguration {
    /**
     * Records {@code change}: first checks that the configuration with the change is one the appliance accepts
     * (else {@link IllegalArgumentException} naming the field, nothing applied), then runs {@code applyToDataplane}
     * (a refusal there propagates, nothing written), then writes the file. If the write fails after the data plane
     * changed, the data plane keeps the change and the {@link IOException} says the file lags behind.
     */
    void commit(ConfigurationChange change, Runnable applyToDataplane) throws IOException;
}
