package io.flowsec.appliance.cli;

import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.appliance.config.ConfigException;
import io.flowsec.appliance.config.ConfigurationFile;
import io.flowsec.appliance.runtime.ClusterRuntime;
import io.flowsec.appliance.runtime.ControlApi;
import io.flowsec.appliance.runtime.Appliance;
import io.flowsec.appliance.runtime.ControlCommands;
import io.flowsec.appliance.runtime.StatusServer;
import io.flowsec.appliance.warmstart.WarmUp;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * {@code flowsec run --config FILE}: starts an appliance and runs until SIGINT/SIGTERM, logging one line of totals
 * per minute (never per packet), answering {@code flowsec status} on its local socket, and removing its TUN device,
 * sockets and status socket on exit.
 */
public final class RunCommand {
    public static final String USAGE = """
            Usage: flowsec run --config FILE [--fresh-sa-state] [--allow-readable-keys]

              Starts the appliance described by FILE (JSON; every key is in README.md, "Appliance configuration")
              and runs until interrupted. Needs root (TUN device, routes). 'flowsec status' shows its counters.
              Each SA resumes its sequence numbers from the state directory (stateDirectory), so a restart never
              repeats a nonce or accepts a replay. An AES-GCM or ChaCha20-Poly1305 SA without state there is
              refused: its key may have been used before. --fresh-sa-state starts such SAs afresh; give it only
              for keys that were never used (README, "Sequence state across restarts").
              FILE holds keys: it is refused when group or others can read it (chmod 600), as ssh refuses a
              private key; --allow-readable-keys starts anyway, with a warning.
              The control API (REST, WebSocket events, Prometheus metrics) listens on the configuration's
              api.address:api.port (default https://127.0.0.1:8443/api/v1, a self-signed certificate made at
              first start); make a token with 'flowsec token add'. Each change made through the API or the
              control socket is written back to FILE, so a restart comes back in the same state.
              Warm start (README "Warm start"): ./flowsec starts it with the AOT cache recorded after the build, so
              it loads sooner and compiles its packet path sooner; warmUpSeconds N in FILE runs that packet path over
              the loopback for N seconds before the lanes open, so the first packets find it compiled.
            """;

    private final PrintStream out;
    private final PrintStream err;
    /** What this run logged, for GET /api/v1/logs (an appliance with no shell is read through its API). */
    private final io.flowsec.control.api.LogRing logRing = new io.flowsec.control.api.LogRing(
            io.flowsec.control.api.LogRing.DEFAULT_CAPACITY);

    public RunCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public int run(List<String> args) throws UsageException, ConfigException, IOException, InterruptedException {
        if (args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        boolean freshState = args.contains("--fresh-sa-state");
        boolean allowReadableKeys = args.contains("--allow-readable-keys");
        List<String> rest = args.stream()
                .filter(arg -> !arg.equals("--fresh-sa-state") && !arg.equals("--allow-readable-keys")).toList();
        if (rest.size() != 2 || !rest.get(0).equals("--config")) {
            throw new UsageException("run needs --config FILE [--fresh-sa-state] [--allow-readable-keys]");
        }
        Path path = Path.of(rest.get(1));
        ApplianceConfig config = ApplianceConfig.read(path);
        checkKeysAreTheOwnersOnly(path, config, allowReadableKeys);
        ConfigurationFile configuration = ConfigurationFile.open(path);
        warmUp(config);
        Appliance appliance = Appliance.start(config, freshState, this::log);
        ControlCommands commands = ControlCommands.of(appliance, configuration);
        appliance.dataplane().addListener(event -> log("event " + event));
        StatusServer status;
        ControlApi api = null;
        ClusterRuntime cluster = null;
        try {
            if (config.cluster().enabled()) {
                cluster = ClusterRuntime.start(appliance, this::log);   // in the background: the data plane runs either way
            }
            if (config.api().enabled()) {
                api = ControlApi.start(appliance, configuration, io.flowsec.appliance.Main.VERSION,
                        cluster == null ? io.flowsec.control.api.TunnelControl.NONE : cluster.tunnels(), logRing,
                        this::log);
            }
            status = StatusServer.start(config.statusSocket(), commands::execute);   // last: it answering means up
        } catch (IOException | RuntimeException e) {
            if (api != null) {
                api.close();
            }
            if (cluster != null) {
                cluster.close();
            }
            appliance.close();
            throw e;
        }
        log("status: flowsec status --socket " + config.statusSocket());

        ScheduledExecutorService minutely = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().unstarted(r));
        minutely.scheduleAtFixedRate(() -> log("totals " + commands.status().getJsonObject("totals").encode()), 1, 1, TimeUnit.MINUTES);

        CountDownLatch stopped = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            stopped.countDown();
            try {
                closed.await(15, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }));
        stopped.await();
        minutely.shutdownNow();
        JsonObject totals = commands.status().getJsonObject("totals");
        if (api != null) {
            api.close();
        }
        if (cluster != null) {
            cluster.close();
        }
        status.close();
        appliance.close();
        log("stopped; totals " + totals.encode());
        closed.countDown();
        return 0;
    }

    /**
     * The configuration's packet path run over the loopback for {@code warmUpSeconds} before the lanes open, so the
     * first packets find it compiled (README "Warm start"); an appliance that cannot warm up starts all the same.
     */
    private void warmUp(ApplianceConfig config) {
        if (config.warmUpSeconds() == 0) {
            return;
        }
        try {
            WarmUp.Result result = WarmUp.run(config, config.warmUpSeconds(), line -> { });
            log("warm-up: " + result.packets() + " packets through this configuration's packet path over the loopback in "
                    + result.millis() + " ms");
        } catch (Exception e) {
            log("warm-up left out (" + e.getMessage() + "); starting cold");
        }
    }

    /** Keys in a file that group or others can read are keys others have: refused, or (asked for) warned about. */
    private void checkKeysAreTheOwnersOnly(Path path, ApplianceConfig config, boolean allowReadableKeys)
            throws ConfigException, IOException {
        boolean holdsKeys = config.policies().policies().stream()
                .anyMatch(policy -> !policy.outbound().isEmpty() || !policy.inbound().isEmpty());
        String mode = java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(path));
        if (!holdsKeys || mode.substring(3).equals("------")) {
            return;
        }
        String problem = "configuration " + path + " holds keys and group or others can reach it (" + mode + ")";
        if (!allowReadableKeys) {
            throw new ConfigException("", problem + ": chmod 600 it, or start with --allow-readable-keys to be warned only");
        }
        log("warning: " + problem);
    }

    private void log(String line) {
        String stamped = Instant.now() + " flowsec " + line;
        err.println(stamped);
        logRing.append(stamped);
    }
}
