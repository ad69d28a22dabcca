package io.flowsec.control.config;

import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.vertx.core.json.JsonObject;

import java.util.Arrays;

/**
 * One change the API makes to a running appliance, as its configuration file must record it so that a restart comes
 * back in the same state. The API applies it to the data plane; {@link PersistentConfiguration} records it.
 */
public sealed interface ConfigurationChange {
    /** What the change does, for logs and events; never key material. */
    String describe();

    record ModeSet(Mode mode) implements ConfigurationChange {
        public String describe() {
            return "mode " + mode.configName();
        }
    }

    record SteeringSet(Steering steering) implements ConfigurationChange {
        public String describe() {
            return "steering " + steering.configName();
        }
    }

    /** A policy's SA-group weights, one per outbound SA in group order. */
    record WeightsSet(String policy, int[] weights) implements ConfigurationChange {
        public WeightsSet {
            weights = weights.clone();
        }

        public String describe() {
            return "weights of " + policy + " " + Arrays.toString(weights);
        }
    }

    /** Which lane serves an inbound SA. */
    record InboundLaneSet(int spi, int lane) implements ConfigurationChange {
        public String describe() {
            return String.format("inbound SA 0x%08x on lane %d", spi, lane);
        }
    }

    /**
     * An SA replaced by its successor: new SPI and keys, everything else carried over. Holds key material: never
     * logged, printed or returned ({@link #toString} leaves the keys out).
     */
    record SaRekeyed(Direction direction, int oldSpi, int newSpi, byte[] encryptionKey, byte[] integrityKey)
            implements ConfigurationChange {
        public SaRekeyed {
            encryptionKey = encryptionKey.clone();
            integrityKey = integrityKey == null ? null : integrityKey.clone();
        }

        public String describe() {
            return String.format("%s SA 0x%08x rekeyed as 0x%08x", direction.name().toLowerCase(), oldSpi, newSpi);
        }

        @Override
        public String toString() {
            return "SaRekeyed[" + describe() + "]";
        }
    }

    /**
     * A new inbound SA in a policy: SPI and keys given, everything else (suite, endpoints, encoding, selectors) the
     * policy's; the peer's UDP source port when its SA group encodes flow IDs in it (else null: the policy's port);
     * on {@code lane}, or the least loaded when null. Holds key material: {@link #toString} leaves it out.
     */
    record SaAdded(String policy, int spi, byte[] encryptionKey, byte[] integrityKey, Integer sourcePort, Integer lane)
            implements ConfigurationChange {
        public SaAdded {
            encryptionKey = encryptionKey.clone();
            integrityKey = integrityKey == null ? null : integrityKey.clone();
        }

        public String describe() {
            return String.format("inbound SA 0x%08x added to %s", spi, policy);
        }

        @Override
        public String toString() {
            return "SaAdded[" + describe() + "]";
        }
    }

    /** An inbound SA removed. */
    record SaRemoved(Direction direction, int spi) implements ConfigurationChange {
        public String describe() {
            return String.format("%s SA 0x%08x removed", direction.name().toLowerCase(), spi);
        }
    }

    /**
     * A new policy, or one replaced whole, given as the configuration file's policy entry: the same keys, the same
     * checks ({@code name}, selectors, action, SA group, inbound SAs, weights). A replacement keeps each SA whose SPI
     * it lists again, with its keys, settings and sequence state. Holds key material: {@link #toString} shows the
     * name only.
     */
    record PolicySet(String name, JsonObject entry, boolean replacing) implements ConfigurationChange {
        public PolicySet {
            entry = entry.copy();
        }

        @Override
        public JsonObject entry() {
            return entry.copy();
        }

        public String describe() {
            return "policy " + name + (replacing ? " replaced" : " added");
        }

        @Override
        public String toString() {
            return "PolicySet[" + describe() + "]";
        }
    }

    /** A policy removed with its SA group and its inbound SAs. */
    record PolicyRemoved(String name) implements ConfigurationChange {
        public String describe() {
            return "policy " + name + " removed";
        }
    }

    /** A cluster tunnel's balancing policy ({@code static}, {@code sender} or {@code receiver}). */
    record BalancingSet(String tunnel, String policy) implements ConfigurationChange {
        public String describe() {
            return "tunnel " + tunnel + " balancing " + policy;
        }
    }
}
