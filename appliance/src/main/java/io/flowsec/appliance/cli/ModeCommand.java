package io.flowsec.appliance.cli;

import io.flowsec.appliance.runtime.StatusServer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.PrintStream;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code flowsec mode --socket PATH single|pcrypt|flow}: changes a running appliance's mode without a restart. */
public final class ModeCommand {
    public static final String USAGE = """
            Usage: flowsec mode --socket PATH single|pcrypt|flow

              Changes the receiving mode of the appliance listening on PATH while traffic flows. The lanes pause
              for the hand-over (arrivals wait in socket buffers), so no packet is lost or reordered by the change.
            """;

    private final PrintStream out;

    public ModeCommand(PrintStream out) {
        this.out = out;
    }

    public int run(List<String> args) throws UsageException, IOException {
        if (args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        if (args.size() != 3 || !args.get(0).equals("--socket")) {
            throw new UsageException("mode needs --socket PATH and single, pcrypt or flow");
        }
        Path path = Path.of(args.get(1));
        if (!Files.exists(path)) {
            throw new UsageException("no appliance is listening on " + path);
        }
        String reply;
        try {
            reply = StatusServer.query(path, "mode " + args.get(2));
        } catch (SocketException e) {
            throw new UsageException("no appliance answers on " + path + ": " + e.getMessage());
        }
        try {
            JsonObject json = new JsonObject(reply);
            if (json.containsKey("error")) {
                throw new UsageException(json.getString("error"));
            }
        } catch (DecodeException e) {
            throw new UsageException("unexpected reply: " + reply.strip());
        }
        out.print(reply);
        return 0;
    }
}
