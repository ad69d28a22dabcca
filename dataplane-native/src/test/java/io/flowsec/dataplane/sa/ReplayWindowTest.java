package io.flowsec.dataplane.sa;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static io.flowsec.dataplane.sa.ReplayWindow.ACCEPTABLE;
import static io.flowsec.dataplane.sa.ReplayWindow.DUPLICATE;
import static io.flowsec.dataplane.sa.ReplayWindow.TOO_OLD;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Table-driven, as wireguard-go's replay test: each step checks a sequence number, compares the verdict, and commits
 * it only when the step says so (as the inbound path does after the ICV verified).
 */
class ReplayWindowTest {
    private static final boolean COMMIT = true;
    private static final boolean NO_COMMIT = false;

    private record Step(long sequence, int expected, boolean commit) {
    }

    private static Step step(long sequence, int expected, boolean commit) {
        return new Step(sequence, expected, commit);
    }

    private static String name(int verdict) {
        return switch (verdict) {
            case ACCEPTABLE -> "ACCEPTABLE";
            case DUPLICATE -> "DUPLICATE";
            case TOO_OLD -> "TOO_OLD";
            default -> "?" + verdict;
        };
    }

    private static void run(ReplayWindow window, List<Step> steps) {
        for (int i = 0; i < steps.size(); i++) {
            Step step = steps.get(i);
            int verdict = window.check(step.sequence);
            assertEquals(name(step.expected), name(verdict),
                    "step " + i + ": check(" + Long.toUnsignedString(step.sequence) + ") with highest "
                            + Long.toUnsignedString(window.highest()) + ", window " + window.size());
            if (step.commit) {
                window.commit(step.sequence);
            }
        }
    }

    /** The same table for any window size W. */
    private static List<Step> table(long w) {
        List<Step> steps = new ArrayList<>();
        steps.add(step(0, TOO_OLD, NO_COMMIT));              // 0 is never sent
        steps.add(step(1, ACCEPTABLE, COMMIT));
        steps.add(step(1, DUPLICATE, NO_COMMIT));
        steps.add(step(2, ACCEPTABLE, COMMIT));
        steps.add(step(4, ACCEPTABLE, COMMIT));
        steps.add(step(3, ACCEPTABLE, COMMIT));               // late but inside
        steps.add(step(3, DUPLICATE, NO_COMMIT));
        steps.add(step(2, DUPLICATE, NO_COMMIT));
        steps.add(step(w, ACCEPTABLE, COMMIT));               // window now [1, w]
        steps.add(step(1, DUPLICATE, NO_COMMIT));             // highest - 1 = w - 1 < w: still inside
        steps.add(step(5, ACCEPTABLE, NO_COMMIT));            // never seen
        steps.add(step(w + 1, ACCEPTABLE, COMMIT));           // window now [2, w + 1]
        steps.add(step(1, TOO_OLD, NO_COMMIT));               // exactly highest - w
        steps.add(step(2, DUPLICATE, NO_COMMIT));             // exactly highest - w + 1
        steps.add(step(5, ACCEPTABLE, COMMIT));
        steps.add(step(5, DUPLICATE, NO_COMMIT));
        steps.add(step(2 * w, ACCEPTABLE, COMMIT));           // window now [w + 1, 2w]
        steps.add(step(w, TOO_OLD, NO_COMMIT));
        steps.add(step(w + 1, DUPLICATE, NO_COMMIT));
        steps.add(step(w + 2, ACCEPTABLE, NO_COMMIT));
        steps.add(step(2 * w - 1, ACCEPTABLE, COMMIT));
        steps.add(step(2 * w - 1, DUPLICATE, NO_COMMIT));
        // forgery: checked, failed authentication, never committed: still acceptable, again and again
        steps.add(step(2 * w + 7, ACCEPTABLE, NO_COMMIT));
        steps.add(step(2 * w + 7, ACCEPTABLE, NO_COMMIT));
        steps.add(step(2 * w - 3, ACCEPTABLE, NO_COMMIT));
        steps.add(step(2 * w - 3, ACCEPTABLE, COMMIT));       // then the genuine one
        steps.add(step(2 * w - 3, DUPLICATE, NO_COMMIT));
        // a big jump: the whole window is new
        long far = 2 * w + 100 * w + 13;
        steps.add(step(far, ACCEPTABLE, COMMIT));
        steps.add(step(far - w, TOO_OLD, NO_COMMIT));
        for (long s = far - w + 1; s < far; s += Math.max(1, w / 16)) {
            steps.add(step(s, ACCEPTABLE, NO_COMMIT));        // nothing left over from before the jump
        }
        steps.add(step(far - 1, ACCEPTABLE, COMMIT));
        steps.add(step(far, DUPLICATE, NO_COMMIT));
        steps.add(step(far - 1, DUPLICATE, NO_COMMIT));
        // a jump of exactly one window: the old highest falls out, everything inside is fresh
        steps.add(step(far + w, ACCEPTABLE, COMMIT));
        steps.add(step(far, TOO_OLD, NO_COMMIT));
        steps.add(step(far + 1, ACCEPTABLE, NO_COMMIT));
        steps.add(step(far + w - 1, ACCEPTABLE, NO_COMMIT));
        // half a block forward
        steps.add(step(far + w + 32, ACCEPTABLE, COMMIT));
        steps.add(step(far + w, DUPLICATE, NO_COMMIT));
        steps.add(step(far + 32, TOO_OLD, NO_COMMIT));
        steps.add(step(far + 33, ACCEPTABLE, NO_COMMIT));
        return steps;
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {64, 1024})
    void shouldFollowTheReplayTable(int size) {
        run(new ReplayWindow(size), table(size));
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {64, 1024})
    void shouldCallExactlyHighestMinusSizeTooOldAndTheNextOneAcceptable(int size) {
        ReplayWindow window = new ReplayWindow(size);
        long highest = 10L * size + 5;
        window.commit(highest);
        run(window, List.of(
                step(highest - size, TOO_OLD, NO_COMMIT),
                step(highest - size - 1, TOO_OLD, NO_COMMIT),
                step(highest - size + 1, ACCEPTABLE, COMMIT),
                step(highest - size + 1, DUPLICATE, NO_COMMIT),
                step(highest, DUPLICATE, NO_COMMIT),
                step(highest + 1, ACCEPTABLE, COMMIT),
                step(highest - size + 1, TOO_OLD, NO_COMMIT)));
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {64, 1024})
    void shouldNeverMarkAForgedNumberAsSeen(int size) {
        ReplayWindow window = new ReplayWindow(size);
        window.commit(100);
        for (long forged = 50; forged < 300; forged++) {
            if (forged != 100) {
                window.check(forged);                         // pre-checked, authentication fails, no commit
            }
        }
        assertEquals(100, window.highest(), "a check never moves the window");
        for (long s = 101 - Math.min(size, 100) + 1; s < 300; s++) {
            assertEquals(name(s == 100 ? DUPLICATE : ACCEPTABLE), name(window.check(s)), "seq " + s);
        }
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {64, 128, 192, 1024, 4096})
    void shouldAgreeWithASimpleModelOnRandomTraffic(int size) {
        Random random = new Random(4303 + size);
        ReplayWindow window = new ReplayWindow(size);
        Set<Long> seen = new HashSet<>();
        long highest = 0;
        long front = 1;
        for (int i = 0; i < 20_000; i++) {
            long sequence = switch (random.nextInt(10)) {
                case 0 -> front += 1 + random.nextInt(3 * size);                 // jump ahead
                case 1, 2, 3 -> front++;                                          // in order
                default -> Math.max(0, front - random.nextInt(size + size / 2)); // late, duplicate or too old
            };
            int expected;
            if (sequence == 0) {
                expected = TOO_OLD;
            } else if (sequence > highest) {
                expected = ACCEPTABLE;
            } else if (highest - sequence >= size) {
                expected = TOO_OLD;
            } else {
                expected = seen.contains(sequence) ? DUPLICATE : ACCEPTABLE;
            }
            assertEquals(name(expected), name(window.check(sequence)), "step " + i + " seq " + sequence + " highest " + highest);
            if (expected == ACCEPTABLE && random.nextInt(4) != 0) {           // a quarter fail authentication
                window.commit(sequence);
                seen.add(sequence);
                highest = Math.max(highest, sequence);
            }
        }
        assertEquals(highest, window.highest());
    }

    @Test
    void shouldHandleNumbersAboveTwoToThe63AsUnsigned() {
        ReplayWindow window = new ReplayWindow(64);
        long top = 0x8000_0000_0000_0010L;
        window.commit(top);
        run(window, List.of(
                step(top, DUPLICATE, NO_COMMIT),
                step(top - 63, ACCEPTABLE, NO_COMMIT),
                step(top - 64, TOO_OLD, NO_COMMIT),
                step(5, TOO_OLD, NO_COMMIT),
                step(-2L, ACCEPTABLE, COMMIT),                // 2^64 - 2
                step(-1L, ACCEPTABLE, COMMIT),                // 2^64 - 1
                step(-1L, DUPLICATE, NO_COMMIT),
                step(-2L, DUPLICATE, NO_COMMIT),
                step(-65L, TOO_OLD, NO_COMMIT)));
    }

    @Test
    void shouldForgetEverythingOnReset() {
        ReplayWindow window = new ReplayWindow(64);
        window.commit(1);
        window.commit(70);
        window.reset();
        assertEquals(0, window.highest());
        run(window, List.of(step(1, ACCEPTABLE, COMMIT), step(70, ACCEPTABLE, COMMIT), step(1, TOO_OLD, NO_COMMIT)));
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {-64, 32, 63, 65, 100, 1000, 65536 + 64, Integer.MAX_VALUE}) // 0 means off: its own test
    void shouldRejectAnInvalidSizeWithAMessageThatSaysWhy(int size) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ReplayWindow(size));
        assertTrue(e.getMessage().contains("multiple of 64"), e.getMessage());
        assertTrue(e.getMessage().contains(Integer.toString(size)), e.getMessage());
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {64, 128, 192, 1024, 65536})
    void shouldAcceptEveryMultipleOf64InRange(int size) {
        assertEquals(size, new ReplayWindow(size).size());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // ESN: RFC 4303 Appendix A2.2

    private static ReplayWindow windowAt(int size, long highest) {
        ReplayWindow window = new ReplayWindow(size);
        window.commit(highest);
        return window;
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {64, 1024})
    void shouldInferTheSameSubspaceOrTheNextOneInCaseA(int w) {
        long highest = 0x1_0000_8000L;                       // Tl = 0x8000 >= W - 1
        ReplayWindow window = windowAt(w, highest);
        long bottom = 0x8000L - w + 1;
        assertEquals(0x1_0000_8000L, window.inferSequence(0x8000L), "the highest itself");
        assertEquals(0x1_0000_0000L | bottom, window.inferSequence(bottom), "the window's bottom");
        assertEquals(0x1_0000_9000L, window.inferSequence(0x9000L), "ahead in the same subspace");
        assertEquals(0x1_FFFF_FFFFL, window.inferSequence(0xFFFF_FFFFL), "far ahead in the same subspace");
        assertEquals(0x2_0000_0000L | (bottom - 1), window.inferSequence(bottom - 1), "below the window: next subspace");
        assertEquals(0x2_0000_0000L, window.inferSequence(0), "low half 0: next subspace");
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {64, 1024})
    void shouldInferAWrapForwardWhenTheLowHalfStartsAgain(int w) {
        ReplayWindow window = windowAt(w, 0x0_FFFF_FFF0L);   // close to the top of subspace 0
        assertEquals(0x1_0000_0000L, window.inferSequence(0), "first number past 2^32");
        assertEquals(0x1_0000_0005L, window.inferSequence(5));
        assertEquals(0x0_FFFF_FFF5L, window.inferSequence(0xFFFF_FFF5L), "still ahead in subspace 0");
        assertEquals(0x0_FFFF_FFF0L - w + 1, window.inferSequence((0xFFFF_FFF0L - w + 1) & 0xFFFF_FFFFL), "window bottom");
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {64, 1024})
    void shouldInferTheSubspaceBeforeInCaseBWhenTheWindowSpansTheWrap(int w) {
        long highest = 0x5_0000_0010L;                       // Tl = 16 < W - 1: window reaches into subspace 4
        ReplayWindow window = windowAt(w, highest);
        long bottomLow = (0x10L - w + 1) & 0xFFFF_FFFFL;
        assertEquals(0x4_0000_0000L | bottomLow, window.inferSequence(bottomLow), "window bottom, previous subspace");
        assertEquals(0x4_FFFF_FFFFL, window.inferSequence(0xFFFF_FFFFL), "just before the wrap: previous subspace");
        assertEquals(0x5_0000_0000L, window.inferSequence(0), "just after the wrap: this subspace");
        assertEquals(0x5_0000_0010L, window.inferSequence(0x10), "the highest");
        assertEquals(0x5_0000_0011L, window.inferSequence(0x11), "ahead");
        assertEquals(0x5_0000_0000L | (bottomLow - 1), window.inferSequence(bottomLow - 1),
                "below the window's bottom: ahead in this subspace");
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {64, 1024})
    void shouldReturnZeroForNumbersBeforeTheSaStarted(int w) {
        ReplayWindow fresh = new ReplayWindow(w);
        long bottomLow = 0x1_0000_0000L - w + 1;
        assertEquals(0, fresh.inferSequence(0xFFFF_FFFFL));
        assertEquals(0, fresh.inferSequence(bottomLow));
        assertEquals(bottomLow - 1, fresh.inferSequence(bottomLow - 1), "below the window: a first packet far ahead");
        assertEquals(1, fresh.inferSequence(1));
        assertEquals(TOO_OLD, fresh.check(fresh.inferSequence(0xFFFF_FFFFL)), "0 is never acceptable");

        ReplayWindow early = windowAt(w, 20);
        assertEquals(0, early.inferSequence((20L - w + 1) & 0xFFFF_FFFFL), "window bottom before the start");
        assertEquals(0, early.inferSequence(0), "0 itself");
        assertEquals(7, early.inferSequence(7));
    }

    @Test
    void shouldCarryAnEsnStreamAcrossSeveralWrapsWithLosses() {
        ReplayWindow window = new ReplayWindow(64);
        Random random = new Random(2);
        long sequence = 0xFFFF_FF00L;
        window.commit(sequence);
        for (int i = 0; i < 100_000; i++) {
            sequence += 1 + random.nextInt(40);               // losses, but never a window's worth
            if (i % 997 == 0) {
                sequence += 0xFFFF_0000L;                     // jump close to the next wrap
            }
            long inferred = window.inferSequence(sequence & 0xFFFF_FFFFL);
            assertEquals(sequence, inferred, "step " + i);
            assertEquals(ACCEPTABLE, window.check(inferred));
            window.commit(inferred);
        }
        assertTrue(sequence >>> 32 > 50, "went through many wraps");
    }

    @Test
    void shouldAcceptDuplicatesAndOldNumbersWhenAntiReplayIsOff() {
        ReplayWindow window = new ReplayWindow(ReplayWindow.DISABLED);
        window.commit(5000);
        window.commit(7);
        assertEquals(ACCEPTABLE, window.check(5000), "a duplicate");
        assertEquals(ACCEPTABLE, window.check(7), "far behind the highest");
        assertEquals(TOO_OLD, window.check(0), "0 is never a valid sequence number");
        assertEquals(5000, window.highest());
        assertTrue(!window.enabled());
    }
}
