package io.flowsec.testbed.system;

import io.flowsec.testbed.TestbedMain;
import io.flowsec.testbed.demo.Topology;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code flowsec demo}, the README's first command, end to end: it shows the paper's effect and leaves nothing behind. */
class DemoCommandSystemTest {

    @Test
    void theDemoWarmsUpThenShowsSingleModeOnOneLaneAndFlowModeOnEveryLaneThenCleansUp() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the demo needs root");
        assumeTrue(Topology.leftovers("fsdemo").isEmpty(), "a demo is running on this machine");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = TestbedMain.run(List.of("demo", "--seconds", "2", "--warmup", "2", "--flows", "16", "--lanes", "2"),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String output = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, output + err);

        int warmingUp = output.indexOf("warming up for 2 s (single, pcrypt, flow in turn)");
        assertTrue(warmingUp >= 0, "the demo warms up: " + output);
        assertTrue(output.indexOf("flow   warming up  host B receives") > warmingUp, "the warm-up runs every mode: " + output);
        assertTrue(output.indexOf("single  1s") > output.indexOf("flow   warming up"),
                "the first measured second comes after the warm-up: " + output);

        Matcher single = row("single").matcher(output);
        assertTrue(single.find(), output);
        assertTrue(Double.parseDouble(single.group(1).replace(",", "")) > 0, "single mode delivers: " + output);
        assertEquals("100% / 0%", single.group(2), "single mode keeps every packet on lane 0: " + output);

        Matcher flow = row("flow").matcher(output);
        assertTrue(flow.find(), output);
        String[] shares = flow.group(2).split(" / ");
        for (String share : shares) {
            int percent = Integer.parseInt(share.replace("%", ""));
            assertTrue(percent >= 10, "flow mode spreads over every lane: " + flow.group(0));
        }
        assertTrue(Topology.leftovers("fsdemo").isEmpty(), "the demo removed its namespaces");
    }

    private static Pattern row(String mode) {
        return Pattern.compile("\\| " + mode + " \\| ([\\d,]+) \\| [\\d.]+ \\| ([\\d% /]+) \\|");
    }
}
