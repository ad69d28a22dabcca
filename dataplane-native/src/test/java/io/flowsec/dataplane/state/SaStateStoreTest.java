package io.flowsec.dataplane.state;

import io.flowsec.dataplane.crypto.EspSuite;
import io.flowsec.dataplane.esp.EspProcessor;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.Packet;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.policy.SecurityPolicyDatabase;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.OuterEndpoints;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.flowsec.dataplane.sa.SecurityAssociationDatabase;
import io.flowsec.dataplane.testing.TestPackets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sequence state across restarts: a "restart" here is a new SA object built from the same key and SPI, attached to
 * the same state directory, as a restarted appliance does from its configuration.
 */
class SaStateStoreTest {
    private static final byte[] KEY = HexFormat.of().parseHex("00112233445566778899aabbccddeeff01020304");
    private static final io.flowsec.dataplane.selector.TrafficSelector SELECTOR =
            TestPackets.tunnel().build().a().policy().selector();
    private final List<String> log = new CopyOnWriteArrayList<>();

    @TempDir
    Path directory;

    private static SecurityAssociation sa(Direction direction, EspSuite suite) {
        return SecurityAssociation.builder().name(direction.name().toLowerCase()).spi(0x1001).direction(direction)
                .suite(suite).encryptionKey(suite == EspSuite.AES_GCM_128 ? KEY : new byte[suite.encryptionKeyLength()])
                .integrityKey(suite.integrityKeyLength() == 0 ? null : new byte[suite.integrityKeyLength()])
                .selector(direction == Direction.OUTBOUND ? SELECTOR : TestPackets.mirror(SELECTOR))
                .outer(OuterEndpoints.udp(TestPackets.address("192.0.2.1"), TestPackets.address("198.51.100.1"), 4500, 4500))
                .build();
    }

    /** An engine sending with {@code sa}, as one lane. */
    private static EspProcessor sender(SecurityAssociation sa) {
        SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
        sad.add(sa);
        SecurityPolicy policy = new SecurityPolicy("p", sa.selector(), PolicyAction.PROTECT, new SaGroup(List.of(sa), FlowEncoding.SPI));
        return new EspProcessor(new SecurityPolicyDatabase(List.of(policy)), sad, EspProcessor.Framing.IP);
    }

    private static EspProcessor receiver(SecurityAssociation sa) {
        SecurityAssociationDatabase sad = new SecurityAssociationDatabase();
        sad.add(sa);
        return new EspProcessor(new SecurityPolicyDatabase(), sad, EspProcessor.Framing.IP);
    }

    private static byte[] inner(int n) {
        return TestPackets.udp(TestPackets.HOST_A_V4, 1000 + n, TestPackets.HOST_B_V4, 2000, 32);
    }

    @Test
    void shouldResumeASendersSequenceAfterEveryNumberItMayHaveUsedSoNoNonceRepeats() throws Exception {
        long lastBeforeRestart;
        SaStateStore killed = SaStateStore.open(directory, () -> "boot-1", log::add);
        SecurityAssociation before = sa(Direction.OUTBOUND, EspSuite.AES_GCM_128);
        killed.attach(before, true);
        EspProcessor lane = sender(before);
        for (int i = 0; i < 100; i++) {
            assertEquals(Outcome.ACCEPTED, lane.encapsulate(TestPackets.slot(inner(i))));
        }
        lastBeforeRestart = before.lastSequenceSent();
        // killed: nothing was said to the store; a restart builds the SA again from its configuration
        try (SaStateStore sameBoot = SaStateStore.open(directory, () -> "boot-1", log::add)) {
            SecurityAssociation after = sa(Direction.OUTBOUND, EspSuite.AES_GCM_128);
            sameBoot.attach(after, false);
            Packet packet = TestPackets.slot(inner(0));
            assertEquals(Outcome.ACCEPTED, sender(after).encapsulate(packet));
            assertEquals(lastBeforeRestart + 1, packet.sequenceNumber(), "on the same boot, right after the last one sent");
        }
        // a power cut: the mapped marks are gone, the fsync'd reservation is not
        try (SaStateStore rebooted = SaStateStore.open(directory, () -> "boot-2", log::add)) {
            SecurityAssociation after = sa(Direction.OUTBOUND, EspSuite.AES_GCM_128);
            rebooted.attach(after, false);
            Packet packet = TestPackets.slot(inner(0));
            assertEquals(Outcome.ACCEPTED, sender(after).encapsulate(packet));
            assertTrue(packet.sequenceNumber() > lastBeforeRestart + 1, packet.sequenceNumber() + " after " + lastBeforeRestart);
            assertEquals(lastBeforeRestart + SaStateStore.OUTBOUND_BLOCK + 1, packet.sequenceNumber(),
                    "after a reboot, past the block reserved at the last start");
        }
        killed.close();
    }

    @Test
    void shouldDropEveryPacketCapturedBeforeARestartOfTheReceiverAsAReplay() throws Exception {
        SecurityAssociation outbound = sa(Direction.OUTBOUND, EspSuite.AES_GCM_128);
        EspProcessor peer = sender(outbound);
        List<byte[]> captured = new ArrayList<>();
        try (SaStateStore store = SaStateStore.open(directory, log::add)) {
            SecurityAssociation before = sa(Direction.INBOUND, EspSuite.AES_GCM_128);
            store.attach(before, true);
            EspProcessor lane = receiver(before);
            for (int i = 0; i < 300; i++) {
                Packet packet = TestPackets.slot(inner(i));
                assertEquals(Outcome.ACCEPTED, peer.encapsulate(packet));
                captured.add(packet.toByteArray());
                assertEquals(Outcome.ACCEPTED, lane.decapsulate(TestPackets.slot(packet.toByteArray())));
            }
        }
        try (SaStateStore store = SaStateStore.open(directory, log::add)) {
            SecurityAssociation after = sa(Direction.INBOUND, EspSuite.AES_GCM_128);
            store.attach(after, false);
            EspProcessor lane = receiver(after);
            for (byte[] replayed : captured) {
                Outcome outcome = lane.decapsulate(TestPackets.slot(replayed));
                assertTrue(outcome == Outcome.REPLAY || outcome == Outcome.REPLAY_TOO_OLD, outcome.label());
            }
            assertEquals(0, lane.counters().total(Outcome.ACCEPTED), "not one of 300 replays accepted");
        }
    }

    /**
     * A receiver killed and restarted on the same boot resumes at the highest number it accepted, exactly (the mapped
     * marks survive the process in the page cache): a running sender's next packet is accepted, where the reserved
     * mark would drop up to a block of them. After a reboot only the reserved mark can be trusted.
     */
    @Test
    void shouldResumeAKilledReceiverAtTheHighestNumberItAcceptedUnlessTheMachineRebooted() throws Exception {
        EspProcessor peer = sender(sa(Direction.OUTBOUND, EspSuite.AES_GCM_128));
        List<byte[]> sent = new ArrayList<>();
        for (int i = 0; i < 101; i++) {
            Packet packet = TestPackets.slot(inner(i));
            assertEquals(Outcome.ACCEPTED, peer.encapsulate(packet));
            sent.add(packet.toByteArray());
        }
        SaStateStore killed = SaStateStore.open(directory, () -> "boot-1", log::add);
        SecurityAssociation before = sa(Direction.INBOUND, EspSuite.AES_GCM_128);
        killed.attach(before, true);
        EspProcessor lane = receiver(before);
        for (int i = 0; i < 100; i++) {
            assertEquals(Outcome.ACCEPTED, lane.decapsulate(TestPackets.slot(sent.get(i))));
        }
        // killed: no clean stop, no close; the restarted process maps the same file

        try (SaStateStore sameBoot = SaStateStore.open(directory, () -> "boot-1", log::add)) {
            SecurityAssociation after = sa(Direction.INBOUND, EspSuite.AES_GCM_128);
            sameBoot.attach(after, false);
            EspProcessor restarted = receiver(after);
            assertEquals(Outcome.REPLAY, restarted.decapsulate(TestPackets.slot(sent.get(99))), "the last one accepted");
            assertEquals(Outcome.ACCEPTED, restarted.decapsulate(TestPackets.slot(sent.get(100))),
                    "the running sender's next packet, lost to nothing");
        }

        try (SaStateStore rebooted = SaStateStore.open(directory, () -> "boot-2", log::add)) {
            SecurityAssociation after = sa(Direction.INBOUND, EspSuite.AES_GCM_128);
            rebooted.attach(after, false);
            Outcome outcome = receiver(after).decapsulate(TestPackets.slot(sent.get(100)));
            assertTrue(outcome == Outcome.REPLAY || outcome == Outcome.REPLAY_TOO_OLD,
                    "after a reboot, everything up to the reserved mark counts as seen: " + outcome.label());
            assertTrue(log.stream().anyMatch(line -> line.contains("resumes at its reserved mark")), log.toString());
        }
        killed.close();
    }

    @Test
    void shouldRefuseAnAeadSaWithoutStateUnlessItsKeyIsFreshAndOnlyWarnForCbc() throws Exception {
        try (SaStateStore store = SaStateStore.open(directory, log::add)) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> store.attach(sa(Direction.OUTBOUND, EspSuite.AES_GCM_128), false));
            assertTrue(refused.getMessage().contains("no sequence state"), refused.getMessage());
            assertFalse(refused.getMessage().contains(HexFormat.of().formatHex(KEY)), "no key in the message");
            try (var files = Files.list(directory)) {
                assertEquals(0, files.filter(file -> file.toString().endsWith(".state")).count(),
                        "nothing reserved for a refused SA");
            }
            store.attach(sa(Direction.OUTBOUND, EspSuite.AES_CBC_128_HMAC_SHA1_96), false);
            assertTrue(log.stream().anyMatch(line -> line.contains("no sequence state")), "a CBC SA starts, loudly: " + log);
        }
    }

    @Test
    void shouldKeepOneOwnerOnlyFileNamedByAFingerprintThatIsNotTheKey() throws Exception {
        try (SaStateStore store = SaStateStore.open(directory, log::add)) {
            SecurityAssociation sa = sa(Direction.OUTBOUND, EspSuite.AES_GCM_128);
            store.attach(sa, true);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(
                    directory.resolve(ExactMarks.FILE_NAME))), "the mapped marks are the owner's only");
            try (var files = Files.list(directory)) {
                List<Path> list = files.filter(file -> !file.getFileName().toString().equals(ExactMarks.FILE_NAME)).toList();
                assertEquals(1, list.size());
                String name = list.getFirst().getFileName().toString();
                assertEquals(sa.stateFingerprint() + ".state", name);
                assertFalse(name.contains(HexFormat.of().formatHex(KEY, 0, 8)));
                assertFalse(Files.readString(list.getFirst()).contains(HexFormat.of().formatHex(KEY, 0, 8)));
            }
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(directory)));
        }
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertThrows(java.io.IOException.class, () -> SaStateStore.open(directory, log::add), "others could read it");
    }

    @Test
    void shouldReserveTheNextBlockAheadOffThePacketPathAndNeverSendPastTheDurableMark() throws Exception {
        try (SaStateStore store = SaStateStore.open(directory, log::add)) {
            SecurityAssociation sa = sa(Direction.OUTBOUND, EspSuite.AES_GCM_128);
            store.attach(sa, true);
            // as if the lane had used all but three numbers of its block: the next packet asks for the next block
            sa.keepStateIn(store, SaStateStore.OUTBOUND_BLOCK, sa.lastSequenceSent() + 3);
            long firstLimit = sa.durableLimit();
            long writes = store.durableWrites();
            EspProcessor lane = sender(sa);
            for (int i = 0; i < 3; i++) {
                assertEquals(Outcome.ACCEPTED, lane.encapsulate(TestPackets.slot(inner(i))));
            }
            long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (sa.durableLimit() == firstLimit && System.nanoTime() < deadlineNs) {
                Thread.sleep(5);
            }
            assertEquals(firstLimit + SaStateStore.OUTBOUND_BLOCK, sa.durableLimit(), "the next block, made durable");
            assertEquals(writes + 1, store.durableWrites(), "one durable write for the block, not one per packet");
            for (int i = 0; i < 1000; i++) {
                assertEquals(Outcome.ACCEPTED, lane.encapsulate(TestPackets.slot(inner(i))), "the lane goes on");
            }
            assertEquals(writes + 1, store.durableWrites(), "a thousand packets later, still one write");
        }
    }

    @Test
    void shouldDropAPacketAboveTheDurableMarkWhenTheDiskFallsBehind() throws Exception {
        SecurityAssociation sa = sa(Direction.OUTBOUND, EspSuite.AES_GCM_128);
        sa.keepStateIn(ignored -> { }, 8, 3);   // a store that never catches up
        EspProcessor lane = sender(sa);
        for (int i = 0; i < 3; i++) {
            assertEquals(Outcome.ACCEPTED, lane.encapsulate(TestPackets.slot(inner(i))));
        }
        assertEquals(Outcome.SEQUENCE_NOT_DURABLE, lane.encapsulate(TestPackets.slot(inner(3))));
        assertEquals(3, sa.lastSequenceSent(), "no number above the mark was taken");
    }

    @Test
    void shouldCatchUpWithASenderThatResumedFarAheadInOneWrite() throws Exception {
        SecurityAssociation outbound = sa(Direction.OUTBOUND, EspSuite.AES_GCM_128);
        outbound.resumeAfter(5_000_000);   // a restarted peer resumes after its own reservation
        EspProcessor peer = sender(outbound);
        try (SaStateStore store = SaStateStore.open(directory, log::add)) {
            SecurityAssociation receiving = sa(Direction.INBOUND, EspSuite.AES_GCM_128);
            store.attach(receiving, true);
            long writes = store.durableWrites();
            EspProcessor lane = receiver(receiving);
            Packet first = TestPackets.slot(inner(0));
            peer.encapsulate(first);
            assertEquals(Outcome.SEQUENCE_NOT_DURABLE, lane.decapsulate(TestPackets.slot(first.toByteArray())),
                    "above the mark: not accepted before the mark is durable");
            long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (receiving.durableLimit() < 5_000_001 && System.nanoTime() < deadlineNs) {
                Thread.sleep(5);
            }
            assertEquals(writes + 1, store.durableWrites(), "one write catches up");
            for (int i = 1; i <= 100; i++) {
                Packet packet = TestPackets.slot(inner(i));
                peer.encapsulate(packet);
                assertEquals(Outcome.ACCEPTED, lane.decapsulate(TestPackets.slot(packet.toByteArray())));
            }
        }
    }
}
