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

    /**
     * The largest inner packet that every outbound SA can carry in one tunnel-MTU outer packet: the tunnel MTU less
     * the outer headers, ESP header, IV, ICV, trailer and the padding to the suite's block (1438 for AES-GCM over
     * ESP-in-UDP/IPv4 on a 1500-byte link, 1422 for AES-CBC with HMAC-SHA1-96).
     */
    public static int mtu(ApplianceConfig config) {
        int smallest = config.tunnelMtu();
        for (PolicyDefinition policy : config.policies().policies()) {
            for (SaDefinition sa : policy.outbound()) {
                int outer = (sa.localAddress() instanceof Inet4Address ? 20 : 40) + (sa.udpEncapsulation() ? 8 : 0);
                smallest = Math.min(smallest, sa.suite().largestInnerPacket(config.tunnelMtu() - outer));
            }
        }
        return smallest;
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
