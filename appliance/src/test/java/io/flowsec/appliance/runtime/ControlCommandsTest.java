package io.flowsec.appliance.runtime;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneListener;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The control socket's text commands, over a recording stand-in for the data plane. */
class ControlCommandsTest {
    private static final String KEY = "00112233445566778899aabbccddeeff01020304";

    private final RecordingDataplane dataplane = new RecordingDataplane();
    private final ControlCommands commands = new ControlCommands("router-b", "io_uring", List.of(), dataplane, ControlCommands.UNRECORDED);

    @Test
    void shouldRekeyAnInboundSaWithItsSuccessorAndTheGraceAskedFor() {
        JsonObject reply = new JsonObject(commands.execute("rekey in 0xb001 0xc001 " + KEY + " grace-ms=250"));
        assertEquals("0x0000b001", reply.getString("replaced"), reply.encode());
        assertEquals("0x0000c001", reply.getString("by"));
        assertFalse(reply.encode().contains(KEY), "no key in the reply");
        assertEquals(1, dataplane.replaced.size());
        Replacement replacement = dataplane.replaced.getFirst();
        assertEquals(0xb001, replacement.oldSpi());
        assertEquals(Direction.INBOUND, replacement.direction());
        assertEquals(0xc001, replacement.sa().spi());
        assertEquals(Duration.ofMillis(250), replacement.grace());
        assertEquals(dataplane.inbound.outer().remotePort(), replacement.sa().outer().remotePort(),
                "the successor keeps the old SA's outer endpoints, so steering keeps its lane");
        assertFalse(replacement.sa().toString().contains(KEY));
    }

    @Test
    void shouldRefuseBadRequestsWithAMessageThatNeverRepeatsAKey() {
        assertError("rekey in 0xb001 0xc001 " + KEY.substring(2), "aes-gcm-128 needs a 20-byte encryption key");
        assertError("rekey in 0xdead 0xc001 " + KEY, "no inbound SA with SPI 0x0000dead");
        assertError("rekey sideways 0xb001 0xc001 " + KEY, "rekey in or out");
        assertError("rekey in 0xb001 0xc001 zz" + KEY.substring(2), "hex digits");
        assertError("rekey in 0xb001 nonsense " + KEY, "an SPI is a number from 1 to 0xffffffff");
        assertError("rekey in 0xb001 " + KEY + " 0xc001", "an SPI is a number");   // a key where an SPI goes: not echoed
        assertError("remove 0x100000100", "an SPI is a number from 1 to 0xffffffff");
        assertError("mode turbo", "unknown mode 'turbo'");
        assertError("steering sideways", "unknown steering 'sideways'");
        assertError("move 0xb001 two", "lane 'two' is not a whole number");
        assertError("launch", "unknown command 'launch'");
        assertTrue(dataplane.replaced.isEmpty(), "nothing was changed by a refused request");
    }

    @Test
    void shouldPassModeSteeringWeightsAndMovesThrough() {
        assertEquals("pcrypt", new JsonObject(commands.execute("mode pcrypt")).getString("mode"));
        assertEquals(Mode.PCRYPT, dataplane.mode);
        JsonObject steering = new JsonObject(commands.execute("steering rss"));
        assertEquals("rss", steering.getString("steering"));
        assertEquals("single", steering.getString("steeringInEffect"), "pcrypt receives on lane 0 whatever is set");
        assertEquals("[3,1]", new JsonObject(commands.execute("weights site-b 3 1")).getJsonArray("weights").encode());
        assertEquals(1, new JsonObject(commands.execute("move 0xb001 1")).getInteger("lane"));
    }

    @Test
    void shouldShowTheSteeringInEffectAndTheConfiguredOneInStatus() {
        dataplane.mode = Mode.SINGLE;
        JsonObject status = commands.status();
        assertEquals("single", status.getString("steering"));
        assertEquals("director", status.getString("steeringConfigured"));
        JsonObject sa = status.getJsonArray("sas").getJsonObject(0);
        assertEquals("retiring", sa.getString("state"));
        assertEquals(7L, sa.getJsonObject("drops").getLong("replay"));
        assertEquals(2L, status.getJsonArray("lanes").getJsonObject(0).getJsonObject("io").getLong("lane-faults"));
        assertEquals(3L, status.getJsonArray("lanes").getJsonObject(0).getLong("socketDrops"), "the kernel's drops too");
    }

    private void assertError(String command, String expected) {
        JsonObject reply = new JsonObject(commands.execute(command));
        assertTrue(reply.getString("error", "").contains(expected), command + " → " + reply.encode());
        assertFalse(reply.encode().contains(KEY) || reply.encode().contains(KEY.substring(2)), "no key in " + reply.encode());
    }

    private record Replacement(int oldSpi, Direction direction, SecurityAssociation sa, Duration grace) {
    }

    /** Records what the commands asked for; holds one inbound SA, 0xb001. */
    private static final class RecordingDataplane implements DataplaneControl {
        final SecurityAssociation inbound;
        final List<Replacement> replaced = new ArrayList<>();
        Mode mode = Mode.FLOW;
        Steering steering = Steering.DIRECTOR;
        int[] weights = {1, 1};
        int movedTo = -1;

        RecordingDataplane() {
            try {
                inbound = SecurityAssociation.builder().name("b-in").spi(0xb001).direction(Direction.INBOUND)
                        .suite(EspSuite.AES_GCM_128).encryptionKey(new byte[20])
                        .outer(OuterEndpoints.udp(InetAddress.getByName("192.0.2.2"), InetAddress.getByName("192.0.2.1"),
                                4500, 4501)).build();
            } catch (java.net.UnknownHostException e) {
                throw new AssertionError(e);
            }
        }

        @Override
        public int laneCount() {
            return 2;
        }

        @Override
        public Mode mode() {
            return mode;
        }

        @Override
        public void mode(Mode mode) {
            this.mode = mode;
        }

        @Override
        public Steering steering() {
            return steering;
        }

        @Override
        public Steering steeringInEffect() {
            return mode == Mode.FLOW ? steering : Steering.SINGLE;
        }

        @Override
        public void steering(Steering steering) {
            this.steering = steering;
        }

        @Override
        public void installSa(SecurityAssociation sa) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void installSa(SecurityAssociation sa, int lane) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void replaceSa(int oldSpi, Direction direction, SecurityAssociation replacement, Duration grace) {
            replaced.add(new Replacement(oldSpi, direction, replacement, grace));
        }

        @Override
        public void removeSa(int spi, Direction direction) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<SecurityAssociation> sas() {
            return List.of(inbound);
        }

        @Override
        public void replacePolicies(List<SecurityPolicy> policies) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<SecurityPolicy> policies() {
            return List.of();
        }

        @Override
        public int[] groupWeights(String policy) {
            return weights.clone();
        }

        @Override
        public void groupWeights(String policy, int... weights) {
            this.weights = weights.clone();
        }

        @Override
        public Duration flowletGap() {
            return DEFAULT_FLOWLET_GAP;
        }

        @Override
        public void flowletGap(Duration gap) {
        }

        @Override
        public Map<Integer, Integer> inboundLanes() {
            return Map.of(0xb001, movedTo < 0 ? 0 : movedTo);
        }

        @Override
        public void moveInbound(int spi, int lane) {
            movedTo = lane;
        }

        @Override
        public DataplaneSnapshot snapshot() {
            DataplaneSnapshot.LaneSnapshot lane = new DataplaneSnapshot.LaneSnapshot(0,
                    Map.of(IoCounter.LANE_FAULTS, 2L), Map.of(Outcome.ACCEPTED, 10L), 0,
                    new io.flowsec.dataplane.lane.TunnelSocket.ReceiveQueue(4096, 8192, 3));
            DataplaneSnapshot.SaSnapshot sa = new DataplaneSnapshot.SaSnapshot("b-in", 0xb001, Direction.INBOUND, 0,
                    10, 1000, 0, Map.of(Outcome.REPLAY, 7L), "retiring");
            return new DataplaneSnapshot(mode, steering, steeringInEffect(), Map.of("192.0.2.2:4500", "spi"),
                    Map.of("192.0.2.2:4500", "eBPF map, 1 entry"),
                    List.of(lane), List.of(sa), Map.of(Outcome.ACCEPTED, 10L, Outcome.REPLAY, 7L));
        }

        @Override
        public void addListener(DataplaneListener listener) {
        }

        @Override
        public void removeListener(DataplaneListener listener) {
        }
    }
}
