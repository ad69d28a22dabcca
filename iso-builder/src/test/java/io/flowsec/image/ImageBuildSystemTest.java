package io.flowsec.image;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The image build: two builds of one commit give the same bytes; the image holds the kernel, the Java runtime, the
 * appliance and the modules it needs and nothing of the test bed; it stays under 120 MiB; a pinned package the
 * mirror dropped, or one whose SHA-256 differs, stops the build with what to do.
 */
class ImageBuildSystemTest {
    private static final long MAX_IMAGE_BYTES = 120L << 20;

    @Test
    void twoBuildsOfOneCommitGiveTheSameBytes() throws Exception {
        ImageBuilder.Built first = ImageBuilder.shared();
        ImageBuilder.Built second = ImageBuilder.build(ImageBuilder.MODULE.resolve("target/image-again"), Map.of());
        System.out.println("image: " + Files.size(first.iso()) + " bytes; builds took " + first.millis() + " and "
                + second.millis() + " ms (the first may have filled the package cache)");
        assertEquals(Files.size(first.iso()), Files.size(second.iso()), "sizes");
        assertArrayEquals(sha256(first.iso()), sha256(second.iso()), "two builds of one commit differ");
        assertTrue(Files.size(first.iso()) < MAX_IMAGE_BYTES, Files.size(first.iso()) + " bytes, over 120 MiB");

        // and another date gives other bytes: the date is what pins them, not an accident of this machine
        ImageBuilder.Built otherDate = ImageBuilder.build(ImageBuilder.MODULE.resolve("target/image-other-date"),
                Map.of("SOURCE_DATE_EPOCH", "1700000000"));
        assertNotEquals(java.util.HexFormat.of().formatHex(sha256(first.iso())),
                java.util.HexFormat.of().formatHex(sha256(otherDate.iso())));
    }

    @Test
    void theImageHoldsTheApplianceItsRuntimeAndModulesAndNothingOfTheTestBed(@TempDir Path scratch) throws Exception {
        Path iso = ImageBuilder.shared().iso();
        String files = run(List.of("xorriso", "-indev", iso.toString(), "-find", "/", "-type", "f"));
        for (String expected : List.of("/boot/vmlinuz", "/boot/initrd.img", "/boot/grub/grub.cfg", "/boot/grub/bios.img")) {
            assertTrue(files.contains("'" + expected + "'"), expected + " missing from the ISO:\n" + files);
        }
        Path initrd = scratch.resolve("initrd.img");
        run(List.of("xorriso", "-osirrox", "on", "-indev", iso.toString(), "-extract", "/boot/initrd.img", initrd.toString()));
        String entries = run(List.of("sh", "-c", "zstd -dc '" + initrd + "' | cpio -t --quiet")).replace("./", "");
        for (String expected : List.of("init", "etc/inittab", "bin/busybox", "usr/sbin/ip", "usr/sbin/mke2fs",
                "opt/flowsec/jre/bin/java", "opt/flowsec/flowsec-appliance.jar", "etc/flowsec-release",
                "usr/sbin/flowsec-service", "etc/init.d/rcK")) {
            assertTrue(entries.lines().anyMatch(expected::equals), expected + " missing from the initramfs");
        }
        for (String module : List.of("tun.ko", "virtio_net.ko", "virtio_blk.ko", "virtio_pci.ko", "ext4.ko", "button.ko")) {
            assertTrue(entries.lines().anyMatch(entry -> entry.startsWith("lib/modules/") && entry.endsWith("/" + module)),
                    module + " missing from the initramfs");
        }
        assertTrue(entries.lines().anyMatch(entry -> entry.matches("opt/flowsec/lib/netty-transport-native-io_uring-.*\\.jar")),
                "Netty's io_uring native library");
        for (String absent : List.of("testbed", "jfreechart", "junit", "jmh", "vertx-codegen-processor")) {
            assertTrue(entries.lines().noneMatch(entry -> entry.contains(absent)), absent + " in the image");
        }
    }

    @Test
    void aPinnedPackageTheMirrorDroppedStopsTheBuildSayingHowToUpdateThePins(@TempDir Path scratch) throws Exception {
        HttpServer mirror = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        byte[] tampered = "not the package that was pinned".getBytes(StandardCharsets.US_ASCII);
        mirror.createContext("/", exchange -> {
            boolean present = exchange.getRequestURI().getPath().endsWith("/present_1.0_amd64.deb");
            exchange.sendResponseHeaders(present ? 200 : 404, present ? tampered.length : -1);
            if (present) {
                exchange.getResponseBody().write(tampered);
            }
            exchange.close();
        });
        mirror.start();
        try {
            String base = "http://127.0.0.1:" + mirror.getAddress().getPort() + "/debian/pool/main/";
            String pinnedSha = "0".repeat(64);

            Path gone = scratch.resolve("gone.txt");
            Files.writeString(gone, "gone 1.0 " + pinnedSha + " " + base + "gone_1.0_amd64.deb\n");
            ImageBuilder.Result goneResult = ImageBuilder.run(scratch.resolve("out"), Map.of(), "--pins", gone.toString(),
                    "--cache", scratch.resolve("cache").toString());
            assertNotEquals(0, goneResult.status());
            assertTrue(goneResult.output().contains("the pinned gone 1.0 is gone from the mirror"), goneResult.output());
            assertTrue(goneResult.output().contains("HTTP 404"), goneResult.output());
            assertTrue(goneResult.output().contains("iso-builder/update-pins.sh > iso-builder/pins.txt"), goneResult.output());

            Path changed = scratch.resolve("changed.txt");
            Files.writeString(changed, "present 1.0 " + pinnedSha + " " + base + "present_1.0_amd64.deb\n");
            ImageBuilder.Result changedResult = ImageBuilder.run(scratch.resolve("out"), Map.of(), "--pins",
                    changed.toString(), "--cache", scratch.resolve("cache").toString());
            assertNotEquals(0, changedResult.status());
            assertTrue(changedResult.output().contains("present 1.0 from " + base + "present_1.0_amd64.deb has SHA-256 "),
                    changedResult.output());
            assertTrue(changedResult.output().contains("pinned " + pinnedSha + ": refused"), changedResult.output());
            try (var cached = Files.list(scratch.resolve("cache/debs"))) {
                assertEquals(0, cached.count(), "a refused download is not kept");
            }
        } finally {
            mirror.stop(0);
        }
    }

    private static byte[] sha256(Path file) throws Exception {
        java.security.MessageDigest digest = java.security.MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 20];
            for (int read; (read = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, read);
            }
        }
        return digest.digest();
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        Thread reader = Thread.ofPlatform().start(() -> {
            try {
                process.getInputStream().transferTo(output);
            } catch (IOException ignored) {
                // the process ended
            }
        });
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
        reader.join();
        String text = output.toString(StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), String.join(" ", command) + ":\n" + text);
        return text;
    }
}
