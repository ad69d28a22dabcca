package io.flowsec.appliance.warmstart;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training workload, for real and briefly, as any user (no root, no TUN device, no network but the loopback):
 * traffic goes through both appliances in every phase, TSO superpackets are cut and coalesced again, and the engine
 * runs every suite with the drops meant.
 */
class TrainingTest {
    @Test
    void aShortTrainingCarriesTrafficBothWaysAndRunsEverySuite() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        Training.Result result = Training.run(1, log::add);

        assertTrue(result.receivedAtB() > 0 && result.receivedAtB() <= result.sentAtoB(), result.describe());
        assertTrue(result.receivedAtA() > 0 && result.receivedAtA() <= result.sentBtoA(), result.describe());
        // the offload paths trained too: TSO superpackets cut by router A's lanes, segments coalesced by router B's
        assertTrue(result.superpacketsCut() > 0, result.describe());
        assertTrue(result.superpacketsCoalesced() > 0, result.describe());
        // 7 suites x 8 rounds x 4 flows x 4 sizes x 3 policies; per suite and round, a forgery and a replay per policy
        assertEquals(7 * 8 * 4 * 4 * 3, result.enginePackets(), result.describe());
        assertEquals(7 * 8 * 3 * 2, result.engineDrops(), result.describe());
        assertTrue(log.stream().anyMatch(line -> line.startsWith("train-b: 2 lanes")), log.toString());
        assertTrue(log.stream().anyMatch(line -> line.startsWith("phase 4")), "every phase ran: " + log);
    }
}
