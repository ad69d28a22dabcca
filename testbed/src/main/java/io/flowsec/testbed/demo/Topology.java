package io.flowsec.testbed.demo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The paper's test bed (Fig. 4) in four network namespaces: host A — router A ⇒ tunnel ⇒ router B — host B, joined
 * by veth pairs. Site A is 10.1.0.0/24, site B 10.2.0.0/24, the tunnel link 192.0.2.0/24 (TEST-NET-1, only inside
 * these namespaces). {@link #close} deletes every namespace it made, which also removes their links and devices.
 *
 * <p>{@link #create(String, boolean)} with {@code ipv6} also gives the sites IPv6 (dual stack): site A fd00:1::/64,
 * site B fd00:2::/64 (unique local addresses, RFC 4193), default routes via the routers, IPv6 forwarding on the
 * routers. Addresses skip duplicate address detection, so they are usable at once. The tunnel link stays IPv4.
 */
public final class Topology implements AutoCloseable {
    public static final String HOST_A_ADDRESS = "10.1.0.10";
    public static final String HOST_B_ADDRESS = "10.2.0.20";
    public static final String ROUTER_A_TUNNEL_ADDRESS = "192.0.2.1";
    public static final String ROUTER_B_TUNNEL_ADDRESS = "192.0.2.2";
    public static final String HOST_A_ADDRESS6 = "fd00:1::10";
    public static final String HOST_B_ADDRESS6 = "fd00:2::20";
    public static final String ROUTER_A_SITE_ADDRESS6 = "fd00:1::1";
    public static final String ROUTER_B_SITE_ADDRESS6 = "fd00:2::1";

    private final String prefix;
    private final boolean ipv6;
    private final List<String> created = new ArrayList<>();

    private Topology(String prefix, boolean ipv6) {
        this.prefix = prefix;
        this.ipv6 = ipv6;
    }

    public String hostA() {
        return prefix + "-hosta";
    }

    public String routerA() {
        return prefix + "-routera";
    }

    public String routerB() {
        return prefix + "-routerb";
    }

    public String hostB() {
        return prefix + "-hostb";
    }

    /** Namespaces left by an earlier run with this prefix (a run that was killed before cleaning up). */
    public static List<String> leftovers(String prefix) throws IOException, InterruptedException {
        List<String> found = new ArrayList<>();
        for (String line : run("ip", "netns", "list").split("\n")) {
            String name = line.strip().split(" ")[0];
            if (name.startsWith(prefix + "-")) {
                found.add(name);
            }
        }
        return found;
    }

    /**
     * Removes every namespace named {@code prefix-*} after ending the processes inside it (SIGTERM, then SIGKILL
     * after 5 s). The last step of a command's cleanup: it also catches a test bed that was still being built
     * when Ctrl-C came, which no handle yet pointed to. Only for prefixes the command checked were free at start.
     */
    public static void removeAll(String prefix) throws IOException, InterruptedException {
        for (String namespace : leftovers(prefix)) {
            List<ProcessHandle> inside = new ArrayList<>();
            for (String pid : run("ip", "netns", "pids", namespace).split("\\s+")) {
                if (!pid.isBlank()) {
                    ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(inside::add);
                }
            }
            inside.forEach(ProcessHandle::destroy);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            for (ProcessHandle process : inside) {
                while (process.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                process.destroyForcibly();
            }
            run("ip", "netns", "del", namespace);
        }
    }

    /** Builds the four namespaces with addresses, routes and forwarding; on any failure removes what it made. */
    public static Topology create(String prefix) throws IOException, InterruptedException {
        return create(prefix, false);
    }

    /** As {@link #create(String)}; with {@code ipv6} the sites also get IPv6 addresses, routes and forwarding. */
    public static Topology create(String prefix, boolean ipv6) throws IOException, InterruptedException {
        Topology topology = new Topology(prefix, ipv6);
        try {
            topology.build();
            return topology;
        } catch (IOException | InterruptedException | RuntimeException e) {
            topology.close();
            throw e;
        }
    }

    private void build() throws IOException, InterruptedException {
        for (String namespace : List.of(hostA(), routerA(), routerB(), hostB())) {
            run("ip", "netns", "add", namespace);
            created.add(namespace);
            ip(namespace, "link", "set", "lo", "up");
        }
        link(hostA(), "eth0", routerA(), "site");
        link(routerA(), "wan", routerB(), "wan");
        link(routerB(), "site", hostB(), "eth0");
        address(hostA(), "eth0", HOST_A_ADDRESS + "/24");
        address(routerA(), "site", "10.1.0.1/24");
        address(routerA(), "wan", ROUTER_A_TUNNEL_ADDRESS + "/24");
        address(routerB(), "wan", ROUTER_B_TUNNEL_ADDRESS + "/24");
        address(routerB(), "site", "10.2.0.1/24");
        address(hostB(), "eth0", HOST_B_ADDRESS + "/24");
        ip(hostA(), "route", "add", "default", "via", "10.1.0.1");
        ip(hostB(), "route", "add", "default", "via", "10.2.0.1");
        for (String router : List.of(routerA(), routerB())) {
            run("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1",
                    "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
        }
        if (ipv6) {
            buildIpv6();
        }
    }

    private void buildIpv6() throws IOException, InterruptedException {
        for (String router : List.of(routerA(), routerB())) {
            // all.forwarding also sets default.forwarding, so a TUN device made later forwards too
            run("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
        }
        address6(hostA(), "eth0", HOST_A_ADDRESS6 + "/64");
        address6(routerA(), "site", ROUTER_A_SITE_ADDRESS6 + "/64");
        address6(routerB(), "site", ROUTER_B_SITE_ADDRESS6 + "/64");
        address6(hostB(), "eth0", HOST_B_ADDRESS6 + "/64");
        ip(hostA(), "-6", "route", "add", "default", "via", ROUTER_A_SITE_ADDRESS6);
        ip(hostB(), "-6", "route", "add", "default", "via", ROUTER_B_SITE_ADDRESS6);
    }

    private void link(String leftNamespace, String leftName, String rightNamespace, String rightName)
            throws IOException, InterruptedException {
        String left = prefix + "-l" + created.size() + leftName;
        String right = prefix + "-r" + created.size() + rightName;
        String tmpLeft = shortName(left);
        String tmpRight = shortName(right);
        run("ip", "link", "add", tmpLeft, "type", "veth", "peer", "name", tmpRight);
        run("ip", "link", "set", tmpLeft, "netns", leftNamespace, "name", leftName);
        run("ip", "link", "set", tmpRight, "netns", rightNamespace, "name", rightName);
        ip(leftNamespace, "link", "set", leftName, "up");
        ip(rightNamespace, "link", "set", rightName, "up");
    }

    /** Temporary names in the root namespace must be unique and at most 15 characters. */
    private static String shortName(String name) {
        return "fs" + Integer.toHexString(name.hashCode());
    }

    private void address(String namespace, String device, String prefixText) throws IOException, InterruptedException {
        ip(namespace, "addr", "add", prefixText, "dev", device);
    }

    /** An IPv6 address without duplicate address detection: usable at once, not tentative for a second or two. */
    private void address6(String namespace, String device, String prefixText) throws IOException, InterruptedException {
        ip(namespace, "-6", "addr", "add", prefixText, "dev", device, "nodad");
    }

    /** {@code ip -n NAMESPACE ARGS...}. */
    public static String ip(String namespace, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip", "-n", namespace));
        command.addAll(List.of(args));
        return run(command.toArray(String[]::new));
    }

    public static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + output.strip());
        }
        return output;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        IOException failure = null;
        for (String namespace : created.reversed()) {
            try {
                run("ip", "netns", "del", namespace);
            } catch (IOException e) {
                failure = e;
            }
        }
        created.clear();
        if (failure != null) {
            throw failure;
        }
    }
}
