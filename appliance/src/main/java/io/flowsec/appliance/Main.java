package io.flowsec.appliance;

import io.flowsec.appliance.cli.ApiCommand;
import io.flowsec.appliance.cli.ModeCommand;
import io.flowsec.appliance.cli.PcapCommand;
import io.flowsec.appliance.cli.RunCommand;
import io.flowsec.appliance.cli.StatusCommand;
import io.flowsec.appliance.cli.TokenCommand;
import io.flowsec.appliance.cli.TrainCommand;
import io.flowsec.appliance.cli.UsageException;
import io.flowsec.appliance.config.ConfigException;
import io.flowsec.appliance.pcap.PcapFormatException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/** The flowsec command line. Errors are one clear line on stderr, never a stack trace (unless FLOWSEC_DEBUG=1). */
public final class Main {
    public static final String VERSION = "0.1.0";

    public static final String USAGE = """
            flowsec %s: a user-space IPsec ESP router whose tunnel ends cooperate so one tunnel spreads over all cores.

            Usage: flowsec COMMAND [ARGS]

            Commands:
              run --config FILE [--fresh-sa-state]         run an appliance (root; see README "Appliance configuration";
                                                           'flowsec run --help' for its options)
              status | lanes | sas | policies | drops      a running appliance through its control API, as tables
              mode | steering [set VALUE]                  (--json for the API's JSON); connection and the rest:
              weights POLICY [W ...] | sa lane|rekey|remove  'flowsec sas --help'
              policy add|replace|remove ...
              status --socket PATH                         the same counters through the local control socket
              mode --socket PATH single|pcrypt|flow        change the mode through it, losing nothing (the socket
                                                           also takes steering, weights, move, rekey and remove:
                                                           README "The data plane as a service")
              token add|list|remove --config FILE ...      the control API's bearer tokens ('flowsec token --help')
              cluster secret FILE                          a new control-cluster secret (0600), for every member
              tunnels | tunnel ID [balancing set POLICY]   the cluster's tunnels, an assignment, its balancing
              pcap decrypt --sa SA.json IN.pcap OUT.pcap   decrypt a capture's ESP packets with the given SAs
              pcap encrypt --sa SA.json IN.pcap OUT.pcap   encrypt a capture's IP packets as the appliance would
              train [--seconds N]                          the warm-start training workload (no root; the build
                                                           records an AOT cache from it: README "Warm start")
              --version                                    print the version
              --help                                       this text; 'flowsec pcap --help' for the pcap tool

            Lab commands (the ./flowsec launcher only; not part of the appliance):
              demo [OPTIONS]                               the paper's test bed, live (root; 'flowsec demo --help';
                                                           testbed module)
              bench micro|app|receiver [OPTIONS]           the paper's evaluation as CSV, chart and summary (root;
                                                           'flowsec bench --help'; testbed module)
              jmh [JMH ARGS]                               the ESP engine benchmark (dataplane-native's JMH)
              image build [--out DIR]                      the bootable appliance image, a hybrid BIOS/UEFI ISO
                                                           ('flowsec image build --help'; iso-builder module)

            Exit status: 0 success, 1 failure while running, 2 bad usage or bad input file.
            The SA file format is described in README.md, section "SA definitions".
            """.formatted(VERSION);

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(Arrays.asList(args), System.out, System.err));
    }

    public static int run(List<String> args, PrintStream out, PrintStream err) {
        return reportingErrors(args, err, () -> {
            if (args.isEmpty()) {
                err.print(USAGE);
                return 2;
            }
            return switch (args.getFirst()) {
                case "--help", "-h", "help" -> {
                    out.print(USAGE);
                    yield 0;
                }
                case "--version" -> {
                    out.println("flowsec " + VERSION);
                    yield 0;
                }
                case "pcap" -> new PcapCommand(out, err).run(args.subList(1, args.size()));
                case "run" -> new RunCommand(out, err).run(args.subList(1, args.size()));
                case "status", "mode" -> args.contains("--socket")   // the local control socket, as before the API
                        ? (args.getFirst().equals("status") ? new StatusCommand(out).run(args.subList(1, args.size()))
                        : new ModeCommand(out).run(args.subList(1, args.size())))
                        : new ApiCommand(out, System.getenv()).run(args.getFirst(), args.subList(1, args.size()));
                case "lanes", "sas", "policies", "drops", "steering", "weights", "sa", "policy" ->
                        new ApiCommand(out, System.getenv()).run(args.getFirst(), args.subList(1, args.size()));
                case "token" -> new TokenCommand(out, err).run(args.subList(1, args.size()));
                case "train" -> new TrainCommand(out, err).run(args.subList(1, args.size()));
                case "cluster" -> clusterCommand(args.subList(1, args.size()), out);
                case "tunnels", "tunnel" ->
                        new ApiCommand(out, System.getenv()).run(args.getFirst(), args.subList(1, args.size()));
                default -> throw new UsageException("unknown command '" + args.getFirst() + "'");
            };
        });
    }

    /** {@code flowsec cluster secret FILE}: a new cluster secret, 0600; only its fingerprint is printed. */
    private static int clusterCommand(List<String> args, PrintStream out) throws UsageException, java.io.IOException {
        if (args.size() != 2 || !args.getFirst().equals("secret")) {
            throw new UsageException("cluster secret FILE");
        }
        io.flowsec.cluster.security.ClusterSecret secret = io.flowsec.cluster.security.ClusterSecret.generate(Path.of(args.get(1)));
        out.println("cluster secret written to " + args.get(1) + " (0600), fingerprint " + secret.fingerprint()
                + "; copy the file to every member (each compares fingerprints in its log)");
        return 0;
    }

    /**
     * Runs {@code command}, the command line {@code args}, and turns what it throws into one line on {@code err}
     * and an exit status: 2 for bad usage or a bad input file, 1 for a failure while running. Public so that every
     * flowsec command line reports errors the same way, the test bed's included.
     */
    public static int reportingErrors(List<String> args, PrintStream err, Callable<Integer> command) {
        try {
            return command.call();
        } catch (UsageException e) {
            err.println("flowsec: " + e.getMessage() + " (see flowsec --help)");
            return 2;
        } catch (ConfigException e) {
            err.println("flowsec: bad " + (args.getFirst().equals("run") ? "configuration" : "SA file") + ": " + e.getMessage());
            return 2;
        } catch (PcapFormatException e) {
            err.println("flowsec: bad capture: " + e.getMessage());
            return 2;
        } catch (NoSuchFileException e) {
            err.println("flowsec: " + e.getFile() + ": no such file or directory");
            return 2;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("flowsec: interrupted");
            return 1;
        } catch (IOException e) {
            err.println("flowsec: " + e.getClass().getSimpleName().replace("Exception", "") + ": " + e.getMessage());
            debug(e, err);
            return 1;
        } catch (IllegalArgumentException refused) {
            err.println("flowsec: refused: " + refused.getMessage());   // the data plane's refusals say why
            return 2;
        } catch (RuntimeException e) {
            err.println("flowsec: internal error: " + e);
            debug(e, err);
            return 1;
        } catch (Exception e) {
            err.println("flowsec: " + e.getMessage());
            debug(e, err);
            return 1;
        }
    }

    private static void debug(Throwable e, PrintStream err) {
        if ("1".equals(System.getenv("FLOWSEC_DEBUG"))) {
            e.printStackTrace(err);
        }
    }
}
