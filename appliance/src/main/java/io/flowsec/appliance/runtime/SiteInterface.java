package io.flowsec.appliance.runtime;

import io.flowsec.appliance.config.ApplianceConfig;
import io.flowsec.appliance.config.PolicyDefinition;
import io.flowsec.appliance.config.SaDefinition;

import java.io.IOException;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The site side's kernel configuration: the TUN device's MTU (from the suites' overhead), addresses and routes. */
public final class SiteInterface {
private SiteInterface() {
}

    static void configure(ApplianceConfig config) throws IOException, InterruptedException {
        String device = config.site().device();
        int mtu = config.site().mtu() != 0 ? config.site().mtu() : mtu(config);
        // no IPv6 link-local address: the kernel would otherwise send router solicitations and MLD reports into
        // the TUN device, which no policy covers (they showed as no-policy drops); configured addresses still apply
        ip("link", "set", "dev", device, "addrgenmode", "none");
        ip("link", "set", "dev", device, "mtu", Integer.toString(mtu), "up");
        for (String address : config.site().addresses()) {
            ip("addr", "add", address, "dev", device);
        }
        for (String route : config.site().routes()) {
            ip("route", "add", route, "dev", device);
        }
    }

    /** The tunnel MTU minus the outer headers and the worst ESP overhead of any outbound SA. */
    public static int mtu(ApplianceConfig config) {
        int worst = 0;
        for (PolicyDefinition policy : config.policies().policies()) {
            for (SaDefinition sa : policy.outbound()) {
                int outer = (sa.localAddress() instanceof Inet4Address ? 20 : 40) + (sa.udpEncapsulation() ? 8 : 0);
                worst = Math.max(worst, outer + sa.suite().maxOverhead());
            }
        }
        return config.tunnelMtu() - worst;
    }

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes()).strip();
        if (!process.waitFor(10, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + output);
        }
    }
}
