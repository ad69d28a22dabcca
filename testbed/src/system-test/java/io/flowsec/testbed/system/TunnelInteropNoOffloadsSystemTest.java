package io.flowsec.testbed.system;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * {@link TunnelInteropSystemTest}'s exchanges with scapy on the tunnel link, with the appliances' batching and offload
 * paths all off (one system call per packet): both paths must put the same bytes on the wire and take them off it.
 */
class TunnelInteropNoOffloadsSystemTest extends TunnelInteropSystemTest {
    /** Hides the parent's: JUnit runs only this one, which switches the offloads off first. */
    @BeforeAll
    static void buildTopology() throws Exception {
        offloads = false;
        TunnelInteropSystemTest.buildTopology();
    }

    /** The parent class may run after this one, in the same JVM. */
    @AfterAll
    static void offloadsBackOn() {
        offloads = true;
    }
}
