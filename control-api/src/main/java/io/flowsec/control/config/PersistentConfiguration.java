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

    /**
     * The inbound SA {@code added} describes, as the configuration with that change would start it (its policy's
     * suite, endpoints, encoding and selectors), for the API to install; nothing applied or written. Refusals are
     * {@link IllegalArgumentException}s naming the field (a key of the wrong length, an SPI in use).
     */
    default io.flowsec.dataplane.sa.SecurityAssociation inboundSa(ConfigurationChange.SaAdded added) {
        throw new UnsupportedOperationException("this appliance's configuration cannot add SAs");
    }
}
