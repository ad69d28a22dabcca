package io.flowsec.appliance.cli;

import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.appliance.config.ConfigException;
import io.flowsec.control.security.Role;
import io.flowsec.control.security.TokenStore;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code flowsec token add|list|remove}: the control API's bearer tokens, kept hashed in the file the configuration's
 * {@code api.tokens} names. A new token is printed once, here, and never again: only its SHA-256 is stored.
 */
public final class TokenCommand {
    public static final String USAGE = """
            Usage: flowsec token add --config FILE --name NAME --role read-only|admin
                   flowsec token list --config FILE
                   flowsec token remove --config FILE --name NAME

              Manages the control API's bearer tokens in the file named by the configuration's api.tokens
              (default STATE_DIRECTORY/api-tokens.json, mode 0600). 'add' prints the new token once: store it
              where its user keeps secrets; the appliance keeps only its SHA-256. A read-only token reads every
              resource; an admin token also changes the appliance. Tokens take effect at the appliance's next
              start. NAME is 1-64 letters, digits, '.', '_' or '-'.
            """;

    private final PrintStream out;
    private final PrintStream err;

    public TokenCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public int run(List<String> args) throws UsageException, ConfigException, IOException {
        if (args.isEmpty() || args.contains("--help") || args.contains("-h")) {
            out.print(USAGE);
            return args.isEmpty() ? 2 : 0;
        }
        String action = args.getFirst();
        String config = option(args, "--config", true);
        TokenStore tokens = TokenStore.open(tokensFile(Path.of(config)));
        switch (action) {
            case "add" -> {
                Role role;
                try {
                    role = Role.fromConfigName(option(args, "--role", true));
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
                TokenStore.Issued issued = tokens.add(option(args, "--name", true), role);
                out.println(issued.token());
                err.println("flowsec: token '" + issued.name() + "' (" + role.configName() + ") added; it is shown "
                        + "only now. Restart the appliance for it to take effect.");
            }
            case "list" -> {
                for (TokenStore.Principal principal : tokens.list()) {
                    out.println(principal.name() + "\t" + principal.role().configName());
                }
            }
            case "remove" -> {
                String name = option(args, "--name", true);
                if (!tokens.remove(name)) {
                    throw new UsageException("no token named '" + name + "'");
                }
                out.println("removed " + name);
            }
            default -> throw new UsageException("token add, list or remove, not '" + action + "'");
        }
        return 0;
    }

    /** The configuration's tokens file; the configuration is read as a start reads it, so a bad one says why. */
    static Path tokensFile(Path config) throws ConfigException {
        return ApplianceConfig.read(config).api().tokens();
    }

    private static String option(List<String> args, String name, boolean required) throws UsageException {
        int at = args.indexOf(name);
        if (at < 0 || at + 1 >= args.size()) {
            if (required) {
                throw new UsageException("token " + args.getFirst() + " needs " + name + " VALUE");
            }
            return null;
        }
        return args.get(at + 1);
    }
}
