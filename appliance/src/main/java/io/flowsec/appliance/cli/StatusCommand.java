package io.flowsec.appliance.cli;

import io.flowsec.appliance.runtime.StatusServer;

import java.io.IOException;
import java.io.PrintStream;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code flowsec status --socket PATH}: prints a running appliance's counters (JSON). */
public final class StatusCommand {
    public static final String USAGE = """
            Usage: flowsec status --socket PATH

              Prints the counters of the appliance listening on PATH (its configuration's statusSocket,
              default /run/flowsec/NAME.sock): per lane I/O and outcomes, per SA packets, bytes and drops by reason.
            """;

    private final PrintStream out;

    public StatusCommand(PrintStream out) {
        this.out = out;
    }

    public int run(List<String> args) throws UsageException, IOException {
        if (args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        if (args.size() != 2 || !args.get(0).equals("--socket")) {
            throw new UsageException("status needs --socket PATH");
        }
        Path path = Path.of(args.get(1));
        if (!Files.exists(path)) {
            throw new UsageException("no appliance is listening on " + path + " (is it running? see its statusSocket)");
        }
        String status;
        try {
            status = StatusServer.query(path);
        } catch (SocketException e) {
            throw new UsageException("no appliance answers on " + path + ": " + e.getMessage());
        }
        if (status.isBlank()) {
            throw new UsageException("the appliance on " + path + " sent no status (try again)");
        }
        out.print(status);
        return 0;
    }
}
