package io.flowsec.appliance.cli;

import io.flowsec.appliance.config.ConfigException;
import io.flowsec.appliance.config.SaFile;
import io.flowsec.appliance.pcap.PcapFormatException;
import io.flowsec.appliance.pcap.PcapReader;
import io.flowsec.appliance.pcap.PcapWriter;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * {@code flowsec pcap decrypt|encrypt}: runs a capture through the same ESP engine the appliance uses, with SAs from
 * an SA file, and reports every packet's outcome as a JSON line, then a summary.
 *
 * <ol>
 *   <li>read the SA file and build the tables (decrypt: inbound SAs plus outbound ones mirrored);</li>
 *   <li>read each record, find its IP header (raw IP, Ethernet with VLANs, Linux cooked);</li>
 *   <li>decapsulate or encapsulate it in a packet slot;</li>
 *   <li>write accepted packets (raw IP, original timestamps) and print the outcome line;</li>
 *   <li>print the summary: packets, accepted, drops by reason.</li>
 * </ol>
 */
public final class PcapCommand {
    public static final String USAGE = """
            Usage: flowsec pcap decrypt --sa SA.json IN.pcap OUT.pcap [--quiet]
                   flowsec pcap encrypt --sa SA.json IN.pcap OUT.pcap [--quiet]

              decrypt  ESP / ESP-in-UDP packets of IN are decrypted with the SA file's inbound SAs (and its outbound
                       SAs seen from the peer, so both directions of a capture decrypt); inner packets go to OUT.
              encrypt  IP packets of IN are matched against the SA file's policies and encapsulated with the
                       outbound SA the flow ID picks; outer packets go to OUT.

              IN: classic pcap, link type Ethernet (1), raw IP (101), Linux cooked (113). OUT: raw IP (101).
              stdout: one JSON line per packet {"packet":N,"outcome":...}, then {"summary":...}.
              --quiet  print only the summary line.
            """;

    private final PrintStream out;
    private final PrintStream err;

    public PcapCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public int run(List<String> args) throws UsageException, ConfigException, IOException, PcapFormatException {
        if (args.isEmpty()) {
            err.print(USAGE);
            return 2;
        }
        if (args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        String operation = args.getFirst();
        if (!operation.equals("decrypt") && !operation.equals("encrypt")) {
            throw new UsageException("unknown pcap operation '" + operation + "' (decrypt or encrypt)");
        }
        Path saFile = null;
        boolean quiet = false;
        List<String> positional = new ArrayList<>();
        for (int i = 1; i < args.size(); i++) {
            String arg = args.get(i);
            switch (arg) {
                case "--sa" -> {
                    if (i + 1 >= args.size()) {
                        throw new UsageException("--sa needs a file");
                    }
                    saFile = Path.of(args.get(++i));
                }
                case "--quiet" -> quiet = true;
                default -> {
                    if (arg.startsWith("-")) {
                        throw new UsageException("unknown option " + arg);
                    }
                    positional.add(arg);
                }
            }
        }
        if (saFile == null) {
            throw new UsageException("--sa SA.json is required");
        }
        if (positional.size() != 2) {
            throw new UsageException("need IN.pcap and OUT.pcap");
        }
        boolean decrypt = operation.equals("decrypt");

        // 1. SA file and tables
        SaFile sas = SaFile.read(saFile);
        SaFile.Tables tables = decrypt ? sas.buildDecryptTables() : sas.buildTables();
        EspProcessor processor = new EspProcessor(tables.spd(), tables.sad(), EspProcessor.Framing.IP);

        Map<Outcome, Long> outcomes = new EnumMap<>(Outcome.class);
        long packets = 0;
        long notIp = 0;
        Packet slot = Packet.withRoomFor(Packet.MAX_IP_PACKET);
        Path input = Path.of(positional.get(0));
        Path output = Path.of(positional.get(1));
        if (Files.exists(input) && Files.exists(output) && Files.isSameFile(input, output)) {
            throw new UsageException("OUT.pcap is IN.pcap (" + output + "): writing it would destroy the input");
        }
        // the output appears whole or not at all: written beside it, renamed into place at the end
        Path partial = output.toAbsolutePath().resolveSibling("." + output.getFileName() + ".partial");
        boolean complete = false;
        try (PcapReader reader = PcapReader.open(input);
             PcapWriter writer = PcapWriter.create(partial)) {
            // 2. records
            while (reader.next()) {
                packets++;
                int ipOffset = reader.ipOffset();
                if (ipOffset < 0) {
                    notIp++;
                    if (!quiet) {
                        out.println(new JsonObject().put("packet", reader.recordNumber()).put("outcome", "not-ip").encode());
                    }
                    continue;
                }
                // 3. through the engine
                if (!slot.load(reader.data(), ipOffset, reader.capturedLength() - ipOffset)) {
                    outcomes.merge(Outcome.MALFORMED, 1L, Long::sum); // larger than any IP packet
                    if (!quiet) {
                        out.println(new JsonObject().put("packet", reader.recordNumber())
                                .put("outcome", Outcome.MALFORMED.label()).encode());
                    }
                    continue;
                }
                Outcome outcome = decrypt ? processor.decapsulate(slot) : processor.encapsulate(slot);
                outcomes.merge(outcome, 1L, Long::sum);

                // 4. output
                if (!outcome.isDrop()) {
                    writer.write(reader.timestampSeconds(), reader.timestampNanos(), slot.buffer(), slot.offset(), slot.length());
                }
                if (!quiet) {
                    out.println(describe(reader.recordNumber(), outcome, slot, tables).encode());
                }
            }
            complete = true;
        } finally {
            if (!complete) {
                Files.deleteIfExists(partial);
            }
        }
        Files.move(partial, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

        // 5. summary
        JsonObject dropped = new JsonObject();
        long accepted = 0;
        for (Map.Entry<Outcome, Long> entry : outcomes.entrySet()) {
            if (entry.getKey().isDrop()) {
                dropped.put(entry.getKey().label(), entry.getValue());
            } else {
                accepted += entry.getValue();
            }
        }
        if (notIp > 0) {
            dropped.put("not-ip", notIp);
        }
        JsonObject summary = new JsonObject().put("packets", packets).put("accepted", accepted)
                .put("bypass", outcomes.getOrDefault(Outcome.BYPASS, 0L)).put("dropped", dropped);
        out.println(new JsonObject().put("summary", summary).encode());
        err.println("flowsec pcap " + operation + ": " + packets + " packets, " + accepted + " written to "
                + positional.get(1) + ", " + (packets - accepted) + " dropped" + (dropped.isEmpty() ? "" : " " + dropped.encode()));
        return 0;
    }

    private static JsonObject describe(long number, Outcome outcome, Packet slot, SaFile.Tables tables) {
        JsonObject line = new JsonObject().put("packet", number).put("outcome", outcome.label());
        SecurityAssociation sa = tables.sad().byIndex(slot.saIndex());
        if (sa != null) {
            line.put("sa", sa.name()).put("spi", String.format("0x%08x", sa.spi()));
            if (slot.sequenceNumber() != 0) {
                line.put("seq", slot.sequenceNumber());
            }
        }
        if (!outcome.isDrop()) {
            line.put("length", slot.length());
        }
        return line;
    }
}
