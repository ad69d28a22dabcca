package io.flowsec.image;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The image boots under qemu (TCG) into a running flowsec reachable through its API, and powers off cleanly on the
 * ACPI power button; its data disk keeps the configuration and tokens for the next boot, of the image booted another
 * way (the first boot: BIOS from the CD-ROM; the second: UEFI from the image as a raw disk).
 */
class BootSystemTest {
    /** TCG emulates every instruction (on one host thread here): a boot to a healthy API takes 2 to 3 minutes. */
    private static final int BOOT_SECONDS = 480;

    @Test
    void theImageBootsToAHealthyApiKeepsItsDataDiskAndPowersOffCleanly() throws Exception {
        Path iso = ImageBuilder.shared().iso();
        Path directory = ImageBuilder.MODULE.resolve("target/boot-test");
        Files.createDirectories(directory);
        Path dataDisk = Vm.blankDisk(directory.resolve("data.img"), 256);

        // 1. first boot: BIOS, the image as a CD-ROM, a blank data disk
        String token;
        try (Vm vm = Vm.start(directory.resolve("bios-cdrom"), iso, Vm.Boot.CDROM, Vm.Firmware.BIOS, dataDisk, List.of())) {
            double healthy = vm.awaitHealthy(BOOT_SECONDS);
            System.out.printf("BIOS, CD-ROM: the API healthy %.1f s after qemu started%n", healthy);
            String console = vm.console();
            assertTrue(console.contains("first boot: formatting the blank disk /dev/vda as the data disk"), vm.tail());
            assertTrue(console.contains("network: eth0 52:54:00:12:34:56 10.0.2.15/24"), "DHCP on eth0:\n" + vm.tail());
            token = vm.adminToken();

            JsonObject appliance = (JsonObject) vm.get("/appliance", token);
            assertEquals("flowsec", appliance.getString("name"));
            assertEquals(version(), appliance.getString("version"));
            assertEquals(2, appliance.getInteger("lanes"), "a lane per vCPU");
            assertEquals("io_uring", appliance.getString("transport"));
            JsonArray lanes = (JsonArray) vm.get("/lanes", token);
            assertEquals(2, lanes.size());
            assertEquals(401, vm.statusWithoutToken("/appliance"), "without the token");
            JsonObject logs = (JsonObject) vm.get("/logs?lines=50", token);
            assertTrue(logs.getJsonArray("lines").stream().anyMatch(line -> ((String) line).contains("flowsec api: https://")),
                    "the appliance's log through the API: " + logs.encodePrettily());

            HttpResponse<String> changed = vm.put("/mode", token, new JsonObject().put("mode", "pcrypt"));
            assertEquals(200, changed.statusCode(), changed.body());   // recorded in the configuration on the data disk

            vm.pressPowerButton();
            assertEquals(0, vm.awaitExit(120));
            console = vm.console();
            assertTrue(console.contains("power button: shutting down"), vm.tail());
            assertTrue(console.contains("sequence state of"), "flowsec's clean stop flushes the SA state:\n" + vm.tail());
            assertTrue(console.contains("flowsec-image: flowsec stopped"), vm.tail());
            assertTrue(console.contains("data disk unmounted"), vm.tail());
            assertTrue(console.contains("reboot: Power down"), vm.tail());
        }

        // 2. the next boot: UEFI, the image as a raw disk, the same data disk
        try (Vm vm = Vm.start(directory.resolve("uefi-disk"), iso, Vm.Boot.DISK, Vm.Firmware.UEFI, dataDisk, List.of())) {
            double healthy = vm.awaitHealthy(BOOT_SECONDS);
            System.out.printf("UEFI, raw disk: the API healthy %.1f s after qemu started%n", healthy);
            String console = vm.console();
            assertTrue(console.contains("data disk /dev/vd"), vm.tail());
            assertFalse(console.contains("first boot"), "the data disk kept the first boot's files:\n" + vm.tail());
            assertFalse(console.contains("admin-token"), "no second token:\n" + vm.tail());
            JsonObject mode = (JsonObject) vm.get("/mode", token);
            assertEquals("pcrypt", mode.getString("mode"), "the change made through the API survived the reboot");
            vm.pressPowerButton();
            assertEquals(0, vm.awaitExit(120));
            assertTrue(vm.console().contains("reboot: Power down"), vm.tail());
        }
    }

    /** The version the appliance reports: the project's, less a -SNAPSHOT suffix. */
    private static String version() throws Exception {
        String pom = Files.readString(ImageBuilder.MODULE.resolve("../pom.xml"));
        java.util.regex.Matcher matcher = java.util.regex.Pattern.compile("<version>([^<]+)</version>").matcher(pom);
        assertTrue(matcher.find());
        return matcher.group(1).replace("-SNAPSHOT", "");
    }
}
