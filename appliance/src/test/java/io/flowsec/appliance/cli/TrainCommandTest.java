package io.flowsec.appliance.cli;

import io.flowsec.appliance.Main;
import io.flowsec.appliance.warmstart.Training;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code flowsec train}'s command line: its one option, checked; its help. (The workload itself: TrainingTest.) */
class TrainCommandTest {
    @Test
    void withoutOptionsTheTrainingRunsItsDefaultSeconds() throws Exception {
        assertEquals(Training.DEFAULT_SECONDS, TrainCommand.seconds(List.of()));
    }

    @Test
    void secondsAreTakenFromOneToTheMaximum() throws Exception {
        assertEquals(1, TrainCommand.seconds(List.of("--seconds", "1")));
        assertEquals(TrainCommand.MAX_SECONDS, TrainCommand.seconds(List.of("--seconds", Integer.toString(TrainCommand.MAX_SECONDS))));
    }

    @Test
    void anythingElseIsAUsageError() {
        for (List<String> args : List.of(List.of("--seconds", "0"), List.of("--seconds", "601"), List.of("--seconds", "x"),
                List.of("--seconds"), List.of("--lanes", "2"), List.of("--seconds", "2", "--seconds", "3"))) {
            UsageException refused = assertThrows(UsageException.class, () -> TrainCommand.seconds(args), args.toString());
            assertTrue(refused.getMessage().contains("seconds"), refused.getMessage());
        }
    }

    @Test
    void helpNamesTheWorkloadAndTheCache() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int status = Main.run(List.of("train", "--help"), new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertEquals(0, status);
        String help = out.toString(StandardCharsets.UTF_8);
        assertTrue(help.startsWith("Usage: flowsec train [--seconds N]"), help);
        assertTrue(help.contains("AOTCacheOutput") && help.contains("no root"), help);
    }

    @Test
    void aBadOptionExitsWithTwoAndOneLine() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(List.of("train", "--seconds", "0"), System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, status);
        assertEquals(1, err.toString(StandardCharsets.UTF_8).strip().lines().count(), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void theCommandListNamesTrain() {
        assertTrue(Main.USAGE.contains("train [--seconds N]"), Main.USAGE);
    }
}
