package io.flowsec.dataplane.linux;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A network namespace that a test creates and always deletes: traffic stays inside it. Tests using it need root and
 * iproute2; without them they are skipped with the reason (the README's test command runs as root).
 */
final class NetnsFixture implements AutoCloseable {
    final String name;

    private NetnsFixture(String name) {
        this.name = name;
    }

    static NetnsFixture create(String prefix) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to create network namespaces");
        assumeTrue(new java.io.File("/dev/net/tun").exists(), "needs /dev/net/tun");
        String name = prefix + "-" + ProcessHandle.current().pid();
        run("ip", "netns", "add", name);
        NetnsFixture fixture = new NetnsFixture(name);
        fixture.ip("link", "set", "lo", "up");
        return fixture;
    }

    /** Runs {@code ip -n NAME ARGS...}, failing with its output if it fails. */
    String ip(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip", "-n", name));
        command.addAll(List.of(args));
        return run(command.toArray(String[]::new));
    }

    static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        if (!process.waitFor(20, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + output);
        }
        return output;
    }

    /** Runs {@code body} on a fresh thread that has entered the namespace (the caller's thread stays where it is). */
    <T> T inside(ThrowingSupplier<T> body) throws Exception {
        Object[] result = new Object[1];
        Throwable[] failure = new Throwable[1];
        Thread thread = new Thread(() -> {
            try {
                NetworkNamespace.enter(name);
                result[0] = body.get();
            } catch (Exception | AssertionError e) {
                failure[0] = e;   // an assertion failing inside must fail the test, not only the thread
            }
        }, "netns-" + name);
        thread.start();
        thread.join();
        if (failure[0] instanceof AssertionError assertion) {
            throw assertion;
        }
        if (failure[0] != null) {
            throw (Exception) failure[0];
        }
        @SuppressWarnings("unchecked")
        T value = (T) result[0];
        return value;
    }

    interface ThrowingSupplier<T> {
        T get() throws Exception;
    }

    @Override
    public void close() throws Exception {
        run("ip", "netns", "del", name);
    }
}
