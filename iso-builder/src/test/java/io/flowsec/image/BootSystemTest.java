package io.flowsec.image;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two appliances boot side by side from the image under qemu (TCG), are joined by a link, carry a tunnel configured
 * through their APIs, and power off cleanly on the ACPI power button; appliance A then boots the image another way
 * on the same data disk, as after an upgrade, and finds what its API changed.
 *
 * <ol>
 *   <li>first boots, side by side: A from the CD-ROM with BIOS, B from the image as a raw disk with UEFI, each with
 *       a blank data disk, management on eth0 by DHCP (user networking, the API forwarded to 127.0.0.1), eth1 on a
 *       socket netdev between them, and from fw_cfg: the network file, the appliance file (the image's default with
 *       a site) and a boot script that plays the site's hosts;</li>
 *   <li>through A's API: version, lanes, io_uring, 401 without the token, the log;</li>
 *   <li>the tunnel through both APIs: a policy each, SA groups of four (the spi encoding), on the default endpoint
 *       0.0.0.0:4500;</li>
 *   <li>site A's host pings site B's and fetches a 4 MiB payload over HTTP; the checksums at both ends agree;
 *       sixteen connections more, and B's per-lane counters show both lanes served the tunnel;</li>
 *   <li>a mode change on A, then the power button on both: clean stops, SA state flushed;</li>
 *   <li>A's next boot: UEFI, the image as a raw disk, the same data disk: no first boot, the mode and the tunnel
 *       kept.</li>
 * </ol>
 */
class BootSystemTest {
    /** TCG emulates every instruction (one host thread a VM here): a boot to a healthy API takes 2 to 4 minutes. */
    private static final int BOOT_SECONDS = 540;
    private static final int PAYLOAD_BYTES = 4 << 20;
    private static final Pattern PAYLOAD = Pattern.compile("boot-script: payload sha256 ([0-9a-f]{64})");
    private static final Pattern TRANSFER =
            Pattern.compile("boot-script: transfer (\\d+) bytes in ([0-9.]+) s sha256 ([0-9a-f]{64})");
    private static final Pattern PLAIN_TRANSFER =
            Pattern.compile("boot-script: plain transfer (\\d+) bytes in ([0-9.]+) s sha256 ([0-9a-f]{64})");
    private static final Pattern PINGS = Pattern.compile("boot-script: 5 packets transmitted, (\\d) packets received");

    @Test
    void twoAppliancesBootCarryATunnelConfiguredThroughTheirApisAndOneKeepsItOnTheNextImage() throws Exception {
        Path iso = ImageBuilder.shared().iso();
        Path directory = ImageBuilder.MODULE.resolve("target/boot-test");
        Files.createDirectories(directory);
        Path diskA = Vm.blankDisk(directory.resolve("data-a.img"), 256);
        Path diskB = Vm.blankDisk(directory.resolve("data-b.img"), 256);
        int linkPortA = Vm.freeUdpPort();
        int linkPortB = Vm.freeUdpPort();

        // 1. first boots, side by side
        String tokenA;
        try (Vm a = Vm.start(directory.resolve("a-bios-cdrom"), iso, Vm.Boot.CDROM, Vm.Firmware.BIOS, diskA,
                siteArguments(directory, "a", 1, linkPortA, linkPortB));
             Vm b = Vm.start(directory.resolve("b-uefi-disk"), iso, Vm.Boot.DISK, Vm.Firmware.UEFI, diskB,
                     siteArguments(directory, "b", 2, linkPortB, linkPortA))) {
            double healthyA = a.awaitHealthy(BOOT_SECONDS);
            double healthyB = b.awaitHealthy(BOOT_SECONDS);
            System.out.printf("first boots side by side: A (BIOS, CD-ROM) healthy after %.1f s, B (UEFI, raw disk) "
                    + "within %.1f s more%n", healthyA, healthyB);
            String console = a.console();
            assertTrue(console.contains("first boot: formatting the blank disk /dev/vda as the data disk"), a.tail());
            assertTrue(console.contains("the hypervisor's appliance configuration (fw_cfg opt/io.flowsec/appliance.json)"),
                    a.tail());
            assertTrue(console.contains("network: eth0 52:54:00:12:34:56 10.0.2.15/24"), "DHCP on eth0:\n" + a.tail());
            tokenA = a.adminToken();
            String tokenB = b.adminToken();

            // 2. A through its API
            JsonObject appliance = (JsonObject) a.get("/appliance", tokenA);
            assertEquals("flowsec", appliance.getString("name"));
            assertEquals(version(), appliance.getString("version"));
            assertEquals(2, appliance.getInteger("lanes"), "a lane per vCPU");
            assertEquals("io_uring", appliance.getString("transport"));
            assertEquals(401, a.statusWithoutToken("/appliance"), "without the token");
            JsonObject logs = (JsonObject) a.get("/logs?lines=50", tokenA);
            assertTrue(logs.getJsonArray("lines").stream().anyMatch(line -> ((String) line).contains("flowsec api: https://")),
                    "the appliance's log through the API: " + logs.encodePrettily());

            // 3. the tunnel, through both APIs
            List<String> keys = new ArrayList<>();
            SecureRandom random = new SecureRandom();
            for (int i = 0; i < 8; i++) {
                keys.add(HexFormat.of().formatHex(random.generateSeed(20)));   // AES-128-GCM: key and salt
            }
            HttpResponse<String> createdA = a.post("/policies", tokenA, policy("site-a-to-site-b", 1, 2, 0xa000,
                    keys.subList(0, 4), 0xb000, keys.subList(4, 8)));
            assertEquals(201, createdA.statusCode(), createdA.body());
            HttpResponse<String> createdB = b.post("/policies", tokenB, policy("site-b-to-site-a", 2, 1, 0xb000,
                    keys.subList(4, 8), 0xa000, keys.subList(0, 4)));
            assertEquals(201, createdB.statusCode(), createdB.body());

            // 4. site to site: a ping, a checksummed transfer, sixteen connections
            try {
                a.awaitConsole("boot-script: sixteen connections done", 600);
            } catch (AssertionError notThrough) {   // what the lanes saw, for whoever reads the failure
                throw new AssertionError(notThrough.getMessage() + "\nA's lanes: " + a.get("/lanes", tokenA)
                        + "\nB's lanes: " + b.get("/lanes", tokenB) + "\nB's console:\n" + b.tail(), notThrough);
            }
            Matcher pings = PINGS.matcher(a.console());
            assertTrue(pings.find(), "ping's summary:\n" + a.tail());
            assertTrue(Integer.parseInt(pings.group(1)) >= 4, "at most one of five pings lost:\n" + a.tail());
            Matcher served = PAYLOAD.matcher(b.console());
            assertTrue(served.find(), "B's payload checksum:\n" + b.tail());
            Matcher fetched = TRANSFER.matcher(a.console());
            assertTrue(fetched.find(), "A's transfer:\n" + a.tail());
            assertEquals(PAYLOAD_BYTES, Integer.parseInt(fetched.group(1)), "the whole payload");
            assertEquals(served.group(1), fetched.group(3), "the payload arrived unchanged");
            double seconds = Double.parseDouble(fetched.group(2));
            Matcher plain = PLAIN_TRANSFER.matcher(a.console());
            assertTrue(plain.find(), "A's transfer around the tunnel:\n" + a.tail());
            assertEquals(served.group(1), plain.group(3), "the payload arrived unchanged around the tunnel too");
            double plainSeconds = Double.parseDouble(plain.group(2));
            System.out.printf("two VMs, one TCP transfer of %d bytes through the tunnel: %.2f s, %.2f Mbit/s; around it "
                    + "on the same link: %.2f s, %.2f Mbit/s; tunnel/plain %.2f (TCG: a health check, not a benchmark)%n",
                    PAYLOAD_BYTES, seconds, PAYLOAD_BYTES * 8 / seconds / 1e6, plainSeconds,
                    PAYLOAD_BYTES * 8 / plainSeconds / 1e6, plainSeconds / seconds);
            assertFalse(Pattern.compile("boot-script: connection \\d+ failed").matcher(a.console()).find(),
                    "every connection through the tunnel succeeded:\n" + a.tail());
            Map<Integer, Long> packetsByLane = inboundPacketsByLane((JsonArray) b.get("/sas", tokenB));
            System.out.println("B's inbound packets by lane: " + packetsByLane);
            assertEquals(2, packetsByLane.size(), "B's two lanes serve the tunnel's inbound SAs: " + packetsByLane);
            packetsByLane.forEach((lane, packets) ->
                    assertTrue(packets > 0, "lane " + lane + " decrypted none of the tunnel: " + packetsByLane));

            // 5. a change on A, then clean stops
            HttpResponse<String> changed = a.put("/mode", tokenA, new JsonObject().put("mode", "pcrypt"));
            assertEquals(200, changed.statusCode(), changed.body());   // recorded in the configuration on the data disk
            a.pressPowerButton();
            b.pressPowerButton();
            assertEquals(0, a.awaitExit(120));
            assertEquals(0, b.awaitExit(120));
            console = a.console();
            assertTrue(console.contains("power button: shutting down"), a.tail());
            assertTrue(console.contains("sequence state of"), "flowsec's clean stop flushes the SA state:\n" + a.tail());
            assertTrue(console.contains("flowsec-image: flowsec stopped"), a.tail());
            assertTrue(console.contains("data disk unmounted"), a.tail());
            assertTrue(console.contains("reboot: Power down"), a.tail());
            assertTrue(b.console().contains("reboot: Power down"), b.tail());
        }

        // 6. A's next boot: UEFI, the image as a raw disk, the same data disk
        try (Vm vm = Vm.start(directory.resolve("a-uefi-disk"), iso, Vm.Boot.DISK, Vm.Firmware.UEFI, diskA, List.of())) {
            double healthy = vm.awaitHealthy(BOOT_SECONDS);
            System.out.printf("A's next boot (UEFI, raw disk): the API healthy %.1f s after qemu started%n", healthy);
            String console = vm.console();
            assertTrue(console.contains("data disk /dev/vd"), vm.tail());
            assertFalse(console.contains("first boot"), "the data disk kept the first boot's files:\n" + vm.tail());
            assertFalse(console.contains("admin-token"), "no second token:\n" + vm.tail());
            JsonObject mode = (JsonObject) vm.get("/mode", tokenA);
            assertEquals("pcrypt", mode.getString("mode"), "the change made through the API survived the reboot");
            JsonArray policies = (JsonArray) vm.get("/policies", tokenA);
            assertTrue(policies.encode().contains("site-a-to-site-b"), "and the tunnel: " + policies.encode());
            vm.pressPowerButton();
            assertEquals(0, vm.awaitExit(120));
            assertTrue(vm.console().contains("reboot: Power down"), vm.tail());
        }
    }

    /**
     * What makes a VM one side of the two-VM test: eth1 on the link as 192.168.77.N, and from fw_cfg the network file,
     * the image's default appliance file with site {@code 10.N.0.1/24} and a route to the other site, and the site's
     * boot script.
     */
    private static List<String> siteArguments(Path directory, String site, int n, int linkPort, int peerPort)
            throws Exception {
        int other = 3 - n;
        Path network = Files.writeString(directory.resolve("network-" + site + ".conf"), String.join("\n",
                "management eth0", "address eth0 dhcp", "address eth1 192.168.77." + n + "/24", ""));
        JsonObject config = new JsonObject(Files.readString(
                ImageBuilder.MODULE.resolve("rootfs/etc/flowsec/appliance.json.default")));
        config.getJsonObject("site").put("addresses", new JsonArray().add("10." + n + ".0.1/24"))
                .put("routes", new JsonArray().add("10." + other + ".0.0/24"));
        Path appliance = Files.writeString(directory.resolve("appliance-" + site + ".json"), config.encodePrettily());
        Path script = ImageBuilder.MODULE.resolve("src/test/resources/two-vm/site-" + site + ".sh");
        List<String> arguments = new ArrayList<>(Vm.linkNic(linkPort, peerPort, "52:54:00:77:00:0" + n));
        arguments.addAll(Vm.firmwareFile("network.conf", network));
        arguments.addAll(Vm.firmwareFile("appliance.json", appliance));
        arguments.addAll(Vm.firmwareFile("boot-script", script));
        return arguments;
    }

    /** Site N to the other: an SA group of four, four inbound SAs, keys given (write-only), on 0.0.0.0:4500. */
    private static JsonObject policy(String name, int n, int other, int outboundSpi, List<String> outboundKeys,
                                     int inboundSpi, List<String> inboundKeys) {
        JsonArray outbound = new JsonArray();
        JsonArray inbound = new JsonArray();
        for (int i = 0; i < 4; i++) {
            outbound.add(new JsonObject().put("spi", String.format("0x%08x", outboundSpi + 1 + i)).put("key", outboundKeys.get(i)));
            inbound.add(new JsonObject().put("spi", String.format("0x%08x", inboundSpi + 1 + i)).put("key", inboundKeys.get(i)));
        }
        return new JsonObject().put("name", name)
                .put("local", "10." + n + ".0.0/24").put("remote", "10." + other + ".0.0/24")
                .put("suite", "aes-gcm-128").put("encapsulation", "udp")
                .put("localAddress", "192.168.77." + n).put("remoteAddress", "192.168.77." + other).put("port", 4500)
                .put("encoding", "spi").put("outbound", outbound).put("inbound", inbound);
    }

    /** The packets each lane decrypted, from the inbound SAs' counters and lanes. */
    private static Map<Integer, Long> inboundPacketsByLane(JsonArray sas) {
        Map<Integer, Long> byLane = new TreeMap<>();
        for (Object entry : sas) {
            JsonObject sa = (JsonObject) entry;
            if ("inbound".equals(sa.getString("direction"))) {
                byLane.merge(sa.getInteger("lane"), sa.getLong("packets"), Long::sum);
            }
        }
        return byLane;
    }

    /** The version the appliance reports: the project's, less a -SNAPSHOT suffix. */
    private static String version() throws Exception {
        String pom = Files.readString(ImageBuilder.MODULE.resolve("../pom.xml"));
        Matcher matcher = Pattern.compile("<version>([^<]+)</version>").matcher(pom);
        assertTrue(matcher.find());
        return matcher.group(1).replace("-SNAPSHOT", "");
    }
}
