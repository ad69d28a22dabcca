package io.flowsec.testbed.demo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** The example SA files, which travel inside the jar so the demo and the benchmarks run from any directory. */
public final class Examples {
    private Examples() {
    }

    /** The text of {@code examples/NAME}. */
    public static String read(String name) throws IOException {
        try (InputStream in = Examples.class.getResourceAsStream("/examples/" + name)) {
            if (in == null) {
                throw new IOException("example " + name + " missing from the build");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
