package io.flowsec.appliance.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code flowsec status|lanes|sas|policies|drops|mode|steering|weights|sa|policy ...}: a running appliance through its
 * control API, as readable tables, or the API's JSON with {@code --json}. Keys for a rekey are read from files (or
 * standard input), never from the command line.
 */
public final class ApiCommand {
    public static final String USAGE = """
            Usage: flowsec [CONNECTION] [--json] COMMAND

            Commands (a running appliance, through its control API):
              status                                     the appliance, its lanes and drops
              lanes | sas | policies | drops             one table each
              mode [set single|pcrypt|flow]              read or change the mode, live
              steering [set director|rss|single]         read or change the steering, live
              weights POLICY [W ...]                     read or change a policy's SA-group weights
              sa lane SPI [LANE]                         which lane serves an inbound SA; move it
              sa rekey inbound|outbound SPI NEW_SPI --key-file F [--integrity-key-file F] [--grace-ms N]
                                                         replace an SA, make-before-break (the receiver's inbound
                                                         SA first, then the sender's outbound one); F may be -
                                                         (standard input); keys never go on the command line
              sa remove SPI                              remove an inbound SA
              tunnels                                    the cluster's tunnels: peer, balancing, versions
              tunnel ID [assignment]                     which receiver lane each SA lands on, its weight,
                                                         and both ends' lane load
              tunnel ID balancing [set static|sender|receiver]
                                                         read or switch the tunnel's load feedback, live
              policy add FILE | policy replace NAME FILE | policy remove NAME
                                                         a policy with its SA group and inbound SAs, FILE (or -)
                                                         holding one policy entry as the configuration has them;
                                                         a replacement may list running SAs by SPI without keys

            Connection (first found: flag, environment, client file):
              --api URL          FLOWSEC_API      [https://127.0.0.1:8443/api/v1]
              --token-file PATH  FLOWSEC_TOKEN    a token from 'flowsec token add'
              --cacert PATH      FLOWSEC_CACERT   the appliance's certificate (STATE_DIRECTORY/api-cert.pem)
              client file: FLOWSEC_CLIENT_CONFIG or ~/.config/flowsec/client.json,
                           {"api": URL, "tokenFile": PATH, "cacert": PATH}
            'flowsec status --socket PATH' and 'flowsec mode --socket PATH MODE' use the local control socket instead.
            """;

    private final PrintStream out;
    private final Map<String, String> environment;

    public ApiCommand(PrintStream out, Map<String, String> environment) {
        this.out = out;
        this.environment = environment;
    }

    public int run(String command, List<String> arguments) throws UsageException, IOException, InterruptedException {
        List<String> args = ApiClient.mutable(arguments);
        if (args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        boolean json = args.remove("--json");
        ApiClient api = ApiClient.from(args, environment);
        switch (command) {
            case "status" -> {
                none(args, command);
                JsonObject appliance = new JsonObject(api.send("GET", "appliance", null));
                JsonArray lanes = new JsonArray(api.send("GET", "lanes", null));
                JsonObject drops = new JsonObject(api.send("GET", "drops", null));
                if (json) {
                    out.println(new JsonObject().put("appliance", appliance).put("lanes", lanes).put("drops", drops).encodePrettily());
                    return 0;
                }
                out.printf("%s %s  %s  %d lanes on %s  up %.0f s  configuration v%d%n", appliance.getString("name"),
                        appliance.getString("version"), appliance.getString("health"), appliance.getInteger("lanes"),
                        appliance.getString("transport"), appliance.getDouble("uptimeSeconds"),
                        appliance.getLong("configurationVersion"));
                printLanes(lanes);
                printDrops(drops.getJsonObject("totals"));
            }
            case "lanes" -> {
                none(args, command);
                JsonArray lanes = new JsonArray(api.send("GET", "lanes", null));
                if (json) {
                    out.println(lanes.encodePrettily());
                } else {
                    printLanes(lanes);
                }
            }
            case "sas" -> {
                none(args, command);
                JsonArray sas = new JsonArray(api.send("GET", "sas", null));
                if (json) {
                    out.println(sas.encodePrettily());
                    return 0;
                }
                Table table = new Table("SPI", "DIRECTION", "NAME", "LANE", "STATE", "PACKETS", "BYTES", "DROPS");
                for (Object entry : sas) {
                    JsonObject sa = (JsonObject) entry;
                    long dropped = sa.getJsonObject("drops").stream().mapToLong(e -> ((Number) e.getValue()).longValue()).sum();
                    table.row(sa.getString("spi"), sa.getString("direction"), sa.getString("name"), sa.getValue("lane"),
                            sa.getString("state"), sa.getValue("packets"), sa.getValue("bytes"), dropped);
                }
                table.print(out);
            }
            case "policies" -> {
                none(args, command);
                JsonArray policies = new JsonArray(api.send("GET", "policies", null));
                if (json) {
                    out.println(policies.encodePrettily());
                    return 0;
                }
                Table table = new Table("POLICY", "ACTION", "SELECTOR", "OUTBOUND SAS", "WEIGHTS");
                for (Object entry : policies) {
                    JsonObject policy = (JsonObject) entry;
                    table.row(policy.getString("name"), policy.getString("action"), policy.getString("selector"),
                            join(policy.getJsonArray("outbound")), join(policy.getJsonArray("weights")));
                }
                table.print(out);
            }
            case "drops" -> {
                none(args, command);
                JsonObject drops = new JsonObject(api.send("GET", "drops", null));
                if (json) {
                    out.println(drops.encodePrettily());
                } else {
                    printDrops(drops.getJsonObject("totals"));
                }
            }
            case "mode", "steering" -> {
                JsonObject reply;
                if (args.isEmpty()) {
                    reply = new JsonObject(api.send("GET", command, null));
                } else if (args.size() == 2 && args.get(0).equals("set")) {
                    reply = new JsonObject(api.send("PUT", command, new JsonObject().put(command, args.get(1))));
                } else {
                    throw new UsageException(command + " takes nothing, or: set VALUE");
                }
                out.println(json ? reply.encodePrettily() : command + " " + reply.getString(command)
                        + (reply.containsKey("inEffect") ? " (in effect: " + reply.getString("inEffect") + ")" : ""));
            }
            case "weights" -> {
                if (args.isEmpty()) {
                    throw new UsageException("weights needs POLICY [W ...]");
                }
                String path = "policies/" + encode(args.getFirst()) + "/weights";
                JsonObject reply;
                if (args.size() == 1) {
                    reply = new JsonObject(api.send("GET", path, null));
                } else {
                    JsonArray weights = new JsonArray();
                    for (String weight : args.subList(1, args.size())) {
                        weights.add(integer(weight, "weight"));
                    }
                    reply = new JsonObject(api.send("PUT", path, new JsonObject().put("weights", weights)));
                }
                out.println(json ? reply.encodePrettily() : reply.getString("policy") + ": weights "
                        + join(reply.getJsonArray("weights")) + " over " + join(reply.getJsonArray("sas")));
            }
            case "sa" -> sa(api, args, json);
            case "policy" -> policy(api, args, json);
            case "tunnels" -> {
                none(args, command);
                JsonArray tunnels = new JsonArray(api.send("GET", "tunnels", null));
                if (json) {
                    out.println(tunnels.encodePrettily());
                    return 0;
                }
                Table table = new Table("TUNNEL", "POLICY", "PEER", "PEER STATE", "BALANCING", "SENDING", "RECEIVING", "REJECTED");
                for (Object entry : tunnels) {
                    JsonObject tunnel = (JsonObject) entry;
                    table.row(tunnel.getString("id"), tunnel.getString("policy"), tunnel.getString("peer"),
                            tunnel.getString("peerState"), tunnel.getString("balancing"), "v" + tunnel.getValue("sendingVersion"),
                            "v" + tunnel.getValue("receivingVersion"), tunnel.getValue("rejectedMessages"));
                }
                table.print(out);
            }
            case "tunnel" -> tunnel(api, args, json);
            default -> throw new UsageException("unknown command '" + command + "'");
        }
        return 0;
    }

    private void sa(ApiClient api, List<String> args, boolean json) throws UsageException, IOException, InterruptedException {
        if (args.isEmpty()) {
            throw new UsageException("sa lane|rekey|remove ...");
        }
        switch (args.getFirst()) {
            case "lane" -> {
                if (args.size() < 2 || args.size() > 3) {
                    throw new UsageException("sa lane SPI [LANE]");
                }
                String path = "sas/inbound/" + encode(args.get(1)) + "/lane";
                JsonObject reply = args.size() == 2 ? new JsonObject(api.send("GET", path, null))
                        : new JsonObject(api.send("PUT", path, new JsonObject().put("lane", integer(args.get(2), "lane"))));
                out.println(json ? reply.encodePrettily() : "inbound SA " + reply.getString("spi") + " on lane " + reply.getInteger("lane"));
            }
            case "remove" -> {
                if (args.size() != 2) {
                    throw new UsageException("sa remove SPI");
                }
                api.send("DELETE", "sas/inbound/" + encode(args.get(1)), null);
                out.println("removed inbound SA " + args.get(1));
            }
            case "rekey" -> {
                String keyFile = ApiClient.take(args, "--key-file");
                String integrityKeyFile = ApiClient.take(args, "--integrity-key-file");
                String grace = ApiClient.take(args, "--grace-ms");
                if (args.size() != 4 || keyFile == null) {
                    throw new UsageException("sa rekey inbound|outbound SPI NEW_SPI --key-file F [--integrity-key-file F] [--grace-ms N]");
                }
                String direction = args.get(1).toLowerCase(Locale.ROOT);
                if (!direction.equals("inbound") && !direction.equals("outbound")) {
                    throw new UsageException("sa rekey inbound or outbound, not '" + args.get(1) + "'");
                }
                JsonObject body = new JsonObject().put("spi", args.get(3)).put("key", readKey(keyFile));
                if (integrityKeyFile != null) {
                    body.put("integrityKey", readKey(integrityKeyFile));
                }
                if (grace != null) {
                    body.put("graceMs", integer(grace, "--grace-ms"));
                }
                JsonObject reply = new JsonObject(api.send("POST", "sas/" + direction + "/" + encode(args.get(2)) + "/rekey", body));
                out.println(json ? reply.encodePrettily() : direction + " SA " + args.get(2) + " replaced by " + reply.getString("spi")
                        + " (" + reply.getString("name") + ")");
            }
            default -> throw new UsageException("sa lane, rekey or remove, not '" + args.getFirst() + "'");
        }
    }

    private void tunnel(ApiClient api, List<String> args, boolean json) throws UsageException, IOException, InterruptedException {
        if (args.isEmpty()) {
            throw new UsageException("tunnel ID [assignment | balancing [set POLICY]]");
        }
        String path = "tunnels/" + encode(args.getFirst());
        if (args.size() >= 2 && args.get(1).equals("balancing")) {
            JsonObject reply;
            if (args.size() == 2) {
                reply = new JsonObject(api.send("GET", path + "/balancing", null));
            } else if (args.size() == 4 && args.get(2).equals("set")) {
                reply = new JsonObject(api.send("PUT", path + "/balancing", new JsonObject().put("policy", args.get(3))));
            } else {
                throw new UsageException("tunnel ID balancing [set static|sender|receiver]");
            }
            out.println(json ? reply.encodePrettily() : "tunnel " + reply.getString("tunnel") + " balancing " + reply.getString("policy"));
            return;
        }
        if (args.size() > 2 || (args.size() == 2 && !args.get(1).equals("assignment"))) {
            throw new UsageException("tunnel ID [assignment | balancing [set POLICY]]");
        }
        JsonObject assignment = new JsonObject(api.send("GET", path + "/assignment", null));
        if (json) {
            out.println(assignment.encodePrettily());
            return;
        }
        out.println("tunnel " + assignment.getString("tunnel") + "  balancing " + assignment.getString("balancing")
                + "  peer " + assignment.getString("peerState"));
        for (String direction : List.of("sending", "receiving")) {
            JsonObject half = assignment.getJsonObject(direction);
            out.println(direction + " (" + half.getString("key") + ") v" + half.getValue("version")
                    + (half.getString("author") == null ? "" : " by " + half.getString("author")));
            Table table = new Table("SPI", "SENDER LANE", "RECEIVER LANE", "WEIGHT");
            for (Object entry : half.getJsonArray("sas", new JsonArray())) {
                JsonObject sa = (JsonObject) entry;
                table.row(sa.getString("spi"), sa.getValue("senderLane"), sa.getValue("receiverLane"), sa.getValue("weight"));
            }
            table.print(out);
        }
        JsonObject load = assignment.getJsonObject("load", new JsonObject());
        for (String end : List.of("local", "peer")) {
            JsonObject report = load.getJsonObject(end);
            if (report != null) {
                StringBuilder busy = new StringBuilder();
                for (Object lane : report.getJsonArray("lanes", new JsonArray())) {
                    busy.append(String.format(" %.0f%%", 100 * ((JsonObject) lane).getDouble("busy", 0.0)));
                }
                out.println(end + " lanes busy:" + busy);
            }
        }
    }

    /** Policies from files: their keys travel in the request body only, never on the command line. */
    private void policy(ApiClient api, List<String> args, boolean json) throws UsageException, IOException, InterruptedException {
        String usage = "policy add FILE, policy replace NAME FILE or policy remove NAME";
        if (args.isEmpty()) {
            throw new UsageException(usage);
        }
        switch (args.getFirst()) {
            case "add", "replace" -> {
                boolean add = args.getFirst().equals("add");
                if (args.size() != (add ? 2 : 3)) {
                    throw new UsageException(add ? "policy add FILE" : "policy replace NAME FILE");
                }
                JsonObject entry = readPolicy(args.getLast());
                String reply = add ? api.send("POST", "policies", entry)
                        : api.send("PUT", "policies/" + encode(args.get(1)), entry);
                JsonObject policy = new JsonObject(reply);
                out.println(json ? policy.encodePrettily() : "policy " + policy.getString("name") + (add ? " added: " : " replaced: ")
                        + policy.getString("selector") + (policy.containsKey("outbound")
                        ? ", SA group " + join(policy.getJsonArray("outbound")) : ""));
            }
            case "remove" -> {
                if (args.size() != 2) {
                    throw new UsageException("policy remove NAME");
                }
                api.send("DELETE", "policies/" + encode(args.get(1)), null);
                out.println("removed policy " + args.get(1));
            }
            default -> throw new UsageException(usage + ", not '" + args.getFirst() + "'");
        }
    }

    private static JsonObject readPolicy(String source) throws IOException, UsageException {
        String text = source.equals("-") ? new String(System.in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
                : Files.readString(Path.of(source), java.nio.charset.StandardCharsets.UTF_8);
        try {
            return new JsonObject(text);
        } catch (io.vertx.core.json.DecodeException e) {
            throw new UsageException((source.equals("-") ? "standard input" : source)
                    + " does not hold one JSON object (a policy entry)");
        }
    }

    /** A key from a file or standard input ({@code -}), as ASCII hex; never echoed. */
    private static String readKey(String source) throws IOException, UsageException {
        String text = source.equals("-") ? new String(System.in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII)
                : Files.readString(Path.of(source), java.nio.charset.StandardCharsets.US_ASCII);
        String key = text.strip();
        if (!key.matches("[0-9a-fA-F]+")) {
            throw new UsageException("the key in " + (source.equals("-") ? "standard input" : source) + " is not ASCII hex");
        }
        return key;
    }

    private void printLanes(JsonArray lanes) {
        Table table = new Table("LANE", "CPU", "BUSY", "RECEIVED", "SENT", "DELIVERED", "FAULTS");
        for (Object entry : lanes) {
            JsonObject lane = (JsonObject) entry;
            JsonObject io = lane.getJsonObject("io");
            table.row(lane.getValue("lane"), lane.getValue("cpu") == null ? "-" : lane.getValue("cpu"),
                    String.format("%.0f%%", 100 * lane.getDouble("busyFraction", 0.0)), io.getValue("tunnel-datagrams-received"),
                    io.getValue("tunnel-datagrams-sent"), io.getValue("site-packets-written"), lane.getValue("faults"));
        }
        table.print(out);
    }

    private void printDrops(JsonObject totals) {
        if (totals.isEmpty()) {
            out.println("drops: none");
            return;
        }
        Table table = new Table("DROP REASON", "PACKETS");
        totals.forEach(entry -> table.row(entry.getKey(), entry.getValue()));
        table.print(out);
    }

    private static void none(List<String> args, String command) throws UsageException {
        if (!args.isEmpty()) {
            throw new UsageException(command + " takes no arguments, got " + args);
        }
    }

    private static int integer(String text, String what) throws UsageException {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new UsageException(what + " must be a whole number, got '" + text + "'");
        }
    }

    private static String encode(String segment) {
        return java.net.URLEncoder.encode(segment, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String join(JsonArray values) {
        if (values == null) {
            return "-";
        }
        List<String> parts = new ArrayList<>();
        values.forEach(value -> parts.add(String.valueOf(value)));
        return String.join(",", parts);
    }

    /** Left-aligned columns as wide as their widest cell. */
    private static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        void row(Object... cells) {
            String[] row = new String[cells.length];
            for (int i = 0; i < cells.length; i++) {
                row[i] = String.valueOf(cells[i]);
            }
            rows.add(row);
        }

        void print(PrintStream out) {
            int[] widths = new int[rows.getFirst().length];
            for (String[] row : rows) {
                for (int i = 0; i < row.length; i++) {
                    widths[i] = Math.max(widths[i], row[i].length());
                }
            }
            for (String[] row : rows) {
                StringBuilder line = new StringBuilder();
                for (int i = 0; i < row.length; i++) {
                    line.append(String.format("%-" + widths[i] + "s", row[i])).append(i + 1 < row.length ? "  " : "");
                }
                out.println(line.toString().stripTrailing());
            }
        }
    }
}
