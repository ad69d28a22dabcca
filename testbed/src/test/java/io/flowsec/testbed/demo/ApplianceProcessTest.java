package io.flowsec.testbed.demo;

import io.flowsec.appliance.Main;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How an appliance process's JVM is started: the same options whether it records its AOT cache or uses it. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ApplianceProcessTest {
    @TempDir
    Path directory;

    @Test
    void without_a_cache_the_command_is_java_the_options_the_class_path_and_the_appliances_main() {
        List<String> command = new ApplianceProcess.Jvm("/t/flowsec-testbed.jar", Optional.empty()).command();

        assertEquals(ApplianceProcess.JVM_OPTIONS, command.subList(1, 1 + ApplianceProcess.JVM_OPTIONS.size()));
        assertEquals(List.of("-cp", "/t/flowsec-testbed.jar", Main.class.getName()),
                command.subList(command.size() - 3, command.size()));
        assertTrue(command.stream().noneMatch(option -> option.startsWith("-XX:AOT")), command.toString());
    }

    @Test
    void with_a_cache_its_options_come_after_the_same_options_and_stdout_is_left_alone() {
        List<String> command = new ApplianceProcess.Jvm("/t/flowsec-testbed.jar", Optional.of(Path.of("/t/c.aot")))
                .withOptions(List.of("-XX:+UnlockExperimentalVMOptions")).command();

        assertEquals(ApplianceProcess.JVM_OPTIONS, command.subList(1, 1 + ApplianceProcess.JVM_OPTIONS.size()));
        int at = 1 + ApplianceProcess.JVM_OPTIONS.size();
        assertEquals(List.of("-XX:AOTCache=/t/c.aot", "-Xlog:aot*=off", "-Xlog:aot*=warning:stderr",
                "-XX:+UnlockExperimentalVMOptions"), command.subList(at, at + 4));
        assertEquals(Optional.empty(), new ApplianceProcess.Jvm("/t/x.jar", Optional.of(Path.of("/c"))).withoutCache().aotCache());
    }

    @Test
    void the_cache_lives_beside_the_first_jar_and_a_class_path_of_directories_has_none() throws Exception {
        Path jar = Files.writeString(directory.resolve("flowsec-testbed.jar"), "not really");

        assertEquals(Optional.of(directory.resolve(ApplianceProcess.CACHE_NAME)),
                ApplianceProcess.cacheFor(jar + ":" + directory.resolve("lib/a.jar")));
        assertEquals(Optional.empty(), ApplianceProcess.cacheFor(directory.toString()));
        assertEquals(Optional.empty(), ApplianceProcess.cacheFor(directory.resolve("missing.jar").toString()));
    }

    @Test
    void a_class_path_without_a_recorded_cache_starts_without_one() throws Exception {
        Path jar = Files.writeString(directory.resolve("flowsec-testbed.jar"), "not really");

        assertFalse(ApplianceProcess.Jvm.of(jar.toString()).aotCache().isPresent());
        assertFalse(ApplianceProcess.Jvm.of(directory.toString()).aotCache().isPresent());
    }
}
