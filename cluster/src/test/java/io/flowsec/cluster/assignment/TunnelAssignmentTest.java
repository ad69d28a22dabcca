package io.flowsec.cluster.assignment;

import io.flowsec.cluster.assignment.TunnelAssignment.SaPlacement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The shared assignment: what it says, how it changes, and its strict JSON. */
class TunnelAssignmentTest {
    /** Two sender lanes × two receiver lanes, one SPI above 2^31 (negative as an int, sorted unsigned). */
    static TunnelAssignment twoByTwo() {
        return new TunnelAssignment("hq-branch", 3, "router-a", 2, 2, List.of(
                new SaPlacement(0xfffffff0, 1, 1, 16),
                new SaPlacement(0x00001000, 0, 0, 16),
                new SaPlacement(0x00001001, 0, 1, 12),
                new SaPlacement(0x00002000, 1, 0, 20)));
    }

    private static final String TWO_BY_TWO_JSON = "{\"tunnel\":\"hq-branch\",\"version\":3,\"author\":\"router-a\","
            + "\"senderLanes\":2,\"receiverLanes\":2,\"sas\":["
            + "{\"spi\":\"0x00001000\",\"senderLane\":0,\"receiverLane\":0,\"weight\":16},"
            + "{\"spi\":\"0x00001001\",\"senderLane\":0,\"receiverLane\":1,\"weight\":12},"
            + "{\"spi\":\"0x00002000\",\"senderLane\":1,\"receiverLane\":0,\"weight\":20},"
            + "{\"spi\":\"0xfffffff0\",\"senderLane\":1,\"receiverLane\":1,\"weight\":16}]}";

    @Test
    void shouldEncodeExactlyWithSpisInUnsignedOrderAndDecodeToAnEqualAssignment() {
        TunnelAssignment assignment = twoByTwo();
        assertEquals(TWO_BY_TWO_JSON, assignment.encode());
        assertEquals(assignment, TunnelAssignment.decode(TWO_BY_TWO_JSON));
        assertEquals(assignment.hashCode(), TunnelAssignment.decode(TWO_BY_TWO_JSON).hashCode());
        assertEquals(assignment, TunnelAssignment.fromJson(assignment.toJson()));
    }

    @Test
    void shouldSayWhichReceiverLaneEachSenderSaLandsOn() {
        TunnelAssignment assignment = twoByTwo();
        assertEquals(1, assignment.receiverLaneOf(0x00001001));
        assertEquals(1, assignment.senderLaneOf(0xfffffff0));
        assertEquals(List.of(0x00001000, 0x00001001, 0x00002000, 0xfffffff0), List.copyOf(assignment.inboundLanes().keySet()));
        assertEquals(Map.of(0x00001000, 0, 0x00001001, 1, 0x00002000, 0, 0xfffffff0, 1), assignment.inboundLanes());
        assertEquals(Map.of(0x00001000, 16, 0x00001001, 12, 0x00002000, 20, 0xfffffff0, 16), assignment.weights());
        assertEquals(List.of(0x00002000, 0xfffffff0), assignment.sasOfSenderLane(1).stream().map(SaPlacement::spi).toList());
        assertEquals(List.of(0x00001001, 0xfffffff0), assignment.sasOnReceiverLane(1).stream().map(SaPlacement::spi).toList());
        assertTrue(assignment.coversEveryReceiverLane());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> assignment.receiverLaneOf(0x3000));
        assertEquals("tunnel hq-branch has no SA 0x00003000", unknown.getMessage());
    }

    @Test
    void shouldNotCoverEveryReceiverLaneWhenASenderLaneHasAllItsSasOnOne() {
        TunnelAssignment assignment = twoByTwo().withInboundLanes(Map.of(0x00001001, 0), "router-b");
        assertEquals(java.util.Set.of(0), assignment.receiverLanesReachedBy(0));
        assertFalse(assignment.coversEveryReceiverLane());
    }

    @Test
    void shouldGiveTheDataplaneWeightsInGroupOrderAndTheInboundMovesItLacks() {
        TunnelAssignment assignment = twoByTwo();
        assertArrayEquals(new int[]{20, 16, 12, 16}, assignment.groupWeights(List.of(0x00002000, 0x00001000, 0x00001001, 0xfffffff0)));
        assertThrows(IllegalArgumentException.class, () -> assignment.groupWeights(List.of(0x00002000, 0x00001000, 0x00001001)));
        assertThrows(IllegalArgumentException.class, () -> assignment.groupWeights(List.of(0x00002000, 0x00001000, 0x00001001, 0x00001001)));
        // another tunnel's SA (0x9000) and one not installed yet (0xfffffff0) are left alone
        Map<Integer, Integer> installed = Map.of(0x00001000, 1, 0x00001001, 1, 0x00002000, 0, 0x9000, 3);
        assertEquals(Map.of(0x00001000, 0), assignment.inboundMoves(installed));
    }

    @Test
    void shouldMakeTheNextVersionWithTheNewAuthor() {
        TunnelAssignment assignment = twoByTwo();
        TunnelAssignment moved = assignment.withInboundLanes(Map.of(0x00001000, 1), "router-b");
        assertEquals(4, moved.version());
        assertEquals("router-b", moved.author());
        assertEquals(1, moved.receiverLaneOf(0x00001000));
        TunnelAssignment reweighted = assignment.withWeights(Map.of(0x00001001, 4), "router-a");
        assertEquals(4, reweighted.sa(0x00001001).weight());
        assertEquals(16, reweighted.sa(0x00001000).weight());
        TunnelAssignment rekeyed = assignment.withSpiReplaced(0x00001001, 0x00005001, "router-a");
        assertEquals(new SaPlacement(0x00005001, 0, 1, 12), rekeyed.sa(0x00005001));
        assertFalse(rekeyed.contains(0x00001001));
        assertThrows(IllegalArgumentException.class, () -> assignment.withWeights(Map.of(0x7777, 1), "router-a"));
        assertThrows(IllegalArgumentException.class, () -> assignment.withSpiReplaced(0x00001001, 0x00001000, "router-a"));
        TunnelAssignment last = new TunnelAssignment("t", Long.MAX_VALUE, "a", 1, 1, List.of(new SaPlacement(0x100, 0, 0, 1)));
        assertThrows(IllegalArgumentException.class, () -> last.withWeights(Map.of(), "a"));
    }

    @Test
    void shouldRefuseWhatADataplaneWouldRefuseWhenBuiltInJava() {
        List<SaPlacement> one = List.of(new SaPlacement(0x100, 0, 0, 1));
        expect("tunnel:", () -> new TunnelAssignment("", 1, "a", 1, 1, one));
        expect("version: 0 is not positive", () -> new TunnelAssignment("t", 0, "a", 1, 1, one));
        expect("author:", () -> new TunnelAssignment("t", 1, "a b", 1, 1, one));
        expect("senderLanes: 0 is out of range 1-128", () -> new TunnelAssignment("t", 1, "a", 0, 1, one));
        expect("sas: an assignment needs at least one SA", () -> new TunnelAssignment("t", 1, "a", 1, 1, List.of()));
        expect("sas[1].receiverLane: 1 is out of range 0-0", () -> new TunnelAssignment("t", 1, "a", 1, 1,
                List.of(new SaPlacement(0x100, 0, 0, 1), new SaPlacement(0x101, 0, 1, 1))));
        expect("sas[1].spi: 0x00000100 appears twice", () -> new TunnelAssignment("t", 1, "a", 1, 1,
                List.of(new SaPlacement(0x100, 0, 0, 1), new SaPlacement(0x100, 0, 0, 2))));
        expect("sas: sender lane 1 owns no SA", () -> new TunnelAssignment("t", 1, "a", 2, 1, one));
        expect("sas: every SA of sender lane 0 weighs 0", () -> new TunnelAssignment("t", 1, "a", 1, 1,
                List.of(new SaPlacement(0x100, 0, 0, 0))));
        expect("spi: 0x000000ff is reserved", () -> new SaPlacement(0xff, 0, 0, 1));
        expect("weight: 65536 is out of range 0-65535", () -> new SaPlacement(0x100, 0, 0, 65536));
    }

    static Stream<Arguments> refusals() {
        String sa = "{\"spi\":\"0x00001000\",\"senderLane\":0,\"receiverLane\":0,\"weight\":16}";
        String head = "\"tunnel\":\"t\",\"version\":1,\"author\":\"a\",\"senderLanes\":1,\"receiverLanes\":2";
        return Stream.of(
                Arguments.of("not JSON", "{", "assignment: not valid JSON"),
                Arguments.of("not an object", "[]", "assignment: must be a JSON object"),
                Arguments.of("trailing data", "{" + head + ",\"sas\":[" + sa + "]} {}", "assignment: not valid JSON"),
                Arguments.of("a duplicate key", "{" + head + ",\"version\":2,\"sas\":[" + sa + "]}", "assignment: not valid JSON (Duplicate field 'version'"),
                Arguments.of("an unknown field", "{" + head + ",\"sas\":[" + sa + "],\"extra\":1}", "extra: unknown field"),
                Arguments.of("an unknown SA field", "{" + head + ",\"sas\":[" + sa.replace("}", ",\"lane\":1}") + "]}", "sas[0].lane: unknown field"),
                Arguments.of("a missing field", "{" + head.replace("\"version\":1,", "") + ",\"sas\":[" + sa + "]}", "version: missing"),
                Arguments.of("a missing SA field", "{" + head + ",\"sas\":[" + sa.replace(",\"weight\":16", "") + "]}", "sas[0].weight: missing"),
                Arguments.of("version 0", "{" + head.replace("\"version\":1", "\"version\":0") + ",\"sas\":[" + sa + "]}", "version: 0 is out of range"),
                Arguments.of("a fractional version", "{" + head.replace("\"version\":1", "\"version\":1.0") + ",\"sas\":[" + sa + "]}", "version: must be an integer, got 1.0"),
                Arguments.of("a version as text", "{" + head.replace("\"version\":1", "\"version\":\"1\"") + ",\"sas\":[" + sa + "]}", "version: must be an integer, got a string"),
                Arguments.of("a huge version", "{" + head.replace("\"version\":1", "\"version\":99999999999999999999") + ",\"sas\":[" + sa + "]}", "version: 99999999999999999999 is out of range"),
                Arguments.of("129 receiver lanes", "{" + head.replace("\"receiverLanes\":2", "\"receiverLanes\":129") + ",\"sas\":[" + sa + "]}", "receiverLanes: 129 is out of range 1-128"),
                Arguments.of("a receiver lane out of range", "{" + head + ",\"sas\":[" + sa.replace("\"receiverLane\":0", "\"receiverLane\":2") + "]}", "sas[0].receiverLane: 2 is out of range 0-1"),
                Arguments.of("a sender lane out of range", "{" + head + ",\"sas\":[" + sa.replace("\"senderLane\":0", "\"senderLane\":1") + "]}", "sas[0].senderLane: 1 is out of range 0-0"),
                Arguments.of("a negative weight", "{" + head + ",\"sas\":[" + sa.replace("16", "-1") + "]}", "sas[0].weight: -1 is out of range 0-65535"),
                Arguments.of("too great a weight", "{" + head + ",\"sas\":[" + sa.replace("16", "65536") + "]}", "sas[0].weight: 65536 is out of range 0-65535"),
                Arguments.of("a duplicate SPI", "{" + head + ",\"sas\":[" + sa + "," + sa + "]}", "sas[1].spi: 0x00001000 appears twice"),
                Arguments.of("a short SPI", "{" + head + ",\"sas\":[" + sa.replace("0x00001000", "0x1000") + "]}", "sas[0].spi: an SPI is written 0x and 8 lower-case hex digits, got '0x1000'"),
                Arguments.of("an upper-case SPI", "{" + head + ",\"sas\":[" + sa.replace("0x00001000", "0x0000ABCD") + "]}", "sas[0].spi: an SPI is written"),
                Arguments.of("a numeric SPI", "{" + head + ",\"sas\":[" + sa.replace("\"0x00001000\"", "4096") + "]}", "sas[0].spi: an SPI is written 0x and 8 lower-case hex digits, got 4096"),
                Arguments.of("a reserved SPI", "{" + head + ",\"sas\":[" + sa.replace("0x00001000", "0x000000ff") + "]}", "sas[0].spi: 0x000000ff is reserved"),
                Arguments.of("no SAs", "{" + head + ",\"sas\":[]}", "sas: an assignment needs at least one SA"),
                Arguments.of("SAs not a list", "{" + head + ",\"sas\":{}}", "sas: must be a list, got an object"),
                Arguments.of("an SA not an object", "{" + head + ",\"sas\":[1]}", "sas[0]: must be an object, got 1"),
                Arguments.of("a sender lane whose SAs all weigh 0", "{" + head + ",\"sas\":[" + sa.replace("16", "0") + "]}", "sas: every SA of sender lane 0 weighs 0"),
                Arguments.of("a sender lane without SAs", "{" + head.replace("\"senderLanes\":1", "\"senderLanes\":2") + ",\"sas\":[" + sa + "]}", "sas: sender lane 1 owns no SA"),
                Arguments.of("a tunnel name with a space", "{" + head.replace("\"t\"", "\"a b\"") + ",\"sas\":[" + sa + "]}", "tunnel: 'a b' is not"),
                Arguments.of("an author with a newline", "{" + head.replace("\"a\"", "\"a\\nb\"") + ",\"sas\":[" + sa + "]}", "author: 'a\\u000ab' is not"),
                Arguments.of("a null author", "{" + head.replace("\"a\"", "null") + ",\"sas\":[" + sa + "]}", "author: must be a string, got null"),
                Arguments.of("too long a text", "{\"x\":\"" + "y".repeat(TunnelAssignment.MAX_ENCODED_CHARS) + "\"}", "assignment: 65544 characters, more than the 65536 allowed"),
                Arguments.of("nothing", null, "assignment: no text"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void shouldRefuseWithOneLineNamingTheField(String what, String json, String expectedStart) {
        expect(expectedStart, () -> TunnelAssignment.decode(json));
    }

    @Test
    void shouldThrowNothingButIllegalArgumentWhateverTheBytes() {
        Random random = new Random(42);
        String good = TWO_BY_TWO_JSON;
        for (int i = 0; i < 2000; i++) {
            StringBuilder text = new StringBuilder(good.substring(0, random.nextInt(good.length() + 1)));
            if (i % 2 == 1) {
                text = new StringBuilder(good);
                for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
                    text.setCharAt(random.nextInt(text.length()), (char) (0x20 + random.nextInt(0x60)));
                }
            }
            try {
                TunnelAssignment.decode(text.toString());
            } catch (IllegalArgumentException e) {
                assertFalse(e.getMessage().contains("\n"), e.getMessage());
            } catch (RuntimeException e) {
                fail("'" + text + "' threw " + e);
            }
        }
    }

    private static void expect(String messageStart, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(messageStart), "expected '" + messageStart + "...', got '" + e.getMessage() + "'");
        assertFalse(e.getMessage().contains("\n") || e.getMessage().contains("\r"), e.getMessage());
    }
}
