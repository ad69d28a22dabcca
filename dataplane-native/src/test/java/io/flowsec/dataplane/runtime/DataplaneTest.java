package io.flowsec.dataplane.runtime;

import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.flow.ToeplitzHash;
import io.flowsec.dataplane.packet.FlowKey;
import io.flowsec.dataplane.esp.Outcome;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.policy.PolicyAction;
import io.flowsec.dataplane.policy.SecurityPolicy;
import io.flowsec.dataplane.sa.FlowEncoding;
import io.flowsec.dataplane.sa.SaGroup;
import io.flowsec.dataplane.sa.SaLifetime;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.flowsec.dataplane.selector.IpPrefix;
import io.flowsec.dataplane.selector.PortRange;
import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.testing.MemoryNetwork;
import io.flowsec.dataplane.testing.TestPackets;
import io.flowsec.dataplane.testing.TwoDataplanes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The data plane's lanes and command interface, end to end over in-memory queues and links: no root, no TUN, no
 * sockets. Each test builds two data planes (A sends, B receives) with 2 lanes and an SA group of 4 per direction
 * (udp-port encoding, so B's director steering reads the source port).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DataplaneTest {
    private static final int LANES = 2;
    private static final int FLOWS = 64;

    private static TestPackets.TunnelSpec spec() {
        return TestPackets.tunnel().saCount(4).encoding(FlowEncoding.UDP_PORT);
    }

    @Test
    void shouldCarryAPingFromOneDataplaneToTheOtherAndBack() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            byte[] echo = TestPackets.icmpEcho(TestPackets.HOST_A_V4, TestPackets.HOST_B_V4, 56);
            pair.siteA[0].inject(echo);
            byte[] atB = pair.takeAtB(5_000);
            assertArrayEquals(echo, atB, "B's site gets A's packet, byte for byte");

            byte[] reply = TestPackets.icmpEcho(TestPackets.HOST_B_V4, TestPackets.HOST_A_V4, 56);
            pair.siteB[1].inject(reply);
            assertArrayEquals(reply, pair.takeAtA(5_000), "and A's site B's reply");
            assertEquals(0, dropsOtherThanNone(pair.a.snapshot()) + dropsOtherThanNone(pair.b.snapshot()));
        }
    }

    /**
     * A clean stop records each SA's mark exactly, not the block reserved ahead: a receiver restarted cleanly then
     * accepts the very next packet of a sender that kept running (after a crash it would drop up to a block).
     */
    @Test
    void shouldRecordExactSequenceMarksOnACleanStop(@org.junit.jupiter.api.io.TempDir java.nio.file.Path directory)
            throws Exception {
        List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();
        io.flowsec.dataplane.state.SaStateStore storeA = io.flowsec.dataplane.state.SaStateStore.open(directory.resolve("a"), log::add);
        io.flowsec.dataplane.state.SaStateStore storeB = io.flowsec.dataplane.state.SaStateStore.open(directory.resolve("b"), log::add);
        List<SecurityAssociation> outboundOfA;
        List<SecurityAssociation> inboundOfB;
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW, storeA, storeB)) {
            pair.sendFromA(FLOWS, 20);
            assertEquals(FLOWS * 20, pair.receivedAtB(FLOWS * 20, 10_000).values().stream().mapToInt(List::size).sum());
            outboundOfA = pair.tunnel.a().outboundGroup().members();
            inboundOfB = pair.tunnel.b().inbound();
            for (SecurityAssociation sa : outboundOfA) {
                assertEquals(io.flowsec.dataplane.state.SaStateStore.OUTBOUND_BLOCK, storeA.load(sa).orElseThrow(),
                        "while running, the mark is the reserved block");
            }
        }
        long sent = 0;
        try (io.flowsec.dataplane.state.SaStateStore reopenedA = io.flowsec.dataplane.state.SaStateStore.open(directory.resolve("a"), log::add);
             io.flowsec.dataplane.state.SaStateStore reopenedB = io.flowsec.dataplane.state.SaStateStore.open(directory.resolve("b"), log::add)) {
            for (int i = 0; i < outboundOfA.size(); i++) {
                SecurityAssociation out = outboundOfA.get(i);
                SecurityAssociation in = inboundOfB.stream().filter(sa -> sa.spi() == out.spi()).findFirst().orElseThrow();
                long outMark = reopenedA.load(out).orElseThrow();
                assertEquals(out.lastSequenceSent(), outMark, out.name() + ": the last number sent");
                assertEquals(outMark, reopenedB.load(in).orElseThrow(), in.name() + ": the highest number accepted");
                sent += outMark;
            }
        }
        assertEquals(FLOWS * 20, sent, "every packet sent is accounted for once");
    }

    @Test
    void shouldSendEachOutboundSaFromItsOwnLaneOnlyAndInOrder() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            pair.sendFromA(FLOWS, 20);
            assertEquals(FLOWS * 20, TwoDataplanes.count(pair.receivedAtB(FLOWS * 20, 10_000)));

            DataplaneSnapshot snapshot = pair.a.snapshot();
            Map<Integer, Set<Integer>> lanesBySpi = new HashMap<>();
            Map<Integer, Long> lastSequence = new HashMap<>();
            for (MemoryNetwork.Datagram datagram : pair.network.wire()) {
                lanesBySpi.computeIfAbsent(datagram.spi(), s -> new HashSet<>()).add(datagram.sendingLane());
                Long previous = lastSequence.put(datagram.spi(), datagram.sequence());
                if (previous != null) {
                    assertTrue(datagram.sequence() > previous, "SPI 0x" + Integer.toHexString(datagram.spi())
                            + ": sequence " + datagram.sequence() + " on the wire after " + previous);
                }
            }
            assertEquals(4, lanesBySpi.size(), "64 flows use all four SAs");
            Set<Integer> sendingLanes = new HashSet<>();
            for (Map.Entry<Integer, Set<Integer>> entry : lanesBySpi.entrySet()) {
                assertEquals(1, entry.getValue().size(), "one lane sends SPI 0x" + Integer.toHexString(entry.getKey()));
                int owner = snapshot.sa(entry.getKey(), Direction.OUTBOUND).lane();
                assertEquals(Set.of(owner), entry.getValue(), "and it is the SA's owner");
                sendingLanes.addAll(entry.getValue());
            }
            assertEquals(Set.of(0, 1), sendingLanes, "both lanes send, each on its own SAs");
        }
    }

    @Test
    void shouldLoseNothingWhileEverySaOfBothEndsIsRekeyedDuringTraffic() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            Duration grace = Duration.ofMillis(300);
            int sent = sendWhile(pair, () -> {
                for (int round = 0; round < 3; round++) {
                    for (int member = 0; member < 4; member++) {
                        rekey(pair, Direction.OUTBOUND, member, round, grace);   // A → B: B's inbound first, then A's outbound
                    }
                    Thread.sleep(20);
                }
            });
            Map<Integer, List<Integer>> received = pair.receivedAtB(sent, 20_000);
            assertEquals(sent, TwoDataplanes.count(received), "every packet sent during the rekeys arrived");
            assertInOrderWithoutGaps(received);
            Thread.sleep(grace.toMillis() + 500);
            DataplaneSnapshot b = pair.b.snapshot();
            for (Outcome forbidden : List.of(Outcome.AUTHENTICATION_FAILED, Outcome.UNKNOWN_SPI, Outcome.REPLAY,
                    Outcome.REPLAY_TOO_OLD)) {
                assertEquals(0, b.total(forbidden), forbidden.label());
            }
            long removed = pair.eventsB.stream().filter(e -> e instanceof DataplaneEvent.SaRemoved).count();
            assertEquals(12, removed, "each replaced inbound SA was removed after its grace");
            assertEquals(4 + 4, b.sas().size(), "B holds its 4 outbound and the 4 newest inbound SAs");
        }
    }

    /** Rekeys A's outbound member {@code member} and B's matching inbound SA, make-before-break. */
    private static void rekey(TwoDataplanes pair, Direction direction, int member, int round, Duration grace) {
        SecurityAssociation oldOut = pair.a.policies().getFirst().outboundGroup().member(member);
        SecurityAssociation oldIn = find(pair.b, oldOut.spi(), Direction.INBOUND);
        int newSpi = 0x5000_0000 + round * 16 + member;
        byte[] key = TestPackets.randomBytes(oldOut.suite().encryptionKeyLength());
        SecurityAssociation newIn = oldIn.successor().name("b-in-" + Integer.toHexString(newSpi)).spi(newSpi)
                .encryptionKey(key).build();
        SecurityAssociation newOut = oldOut.successor().name("a-out-" + Integer.toHexString(newSpi)).spi(newSpi)
                .encryptionKey(key).build();
        pair.b.replaceSa(oldIn.spi(), Direction.INBOUND, newIn, grace);
        pair.a.replaceSa(oldOut.spi(), direction, newOut, grace);
    }

    private static SecurityAssociation find(Dataplane dataplane, int spi, Direction direction) {
        for (SecurityAssociation sa : dataplane.sas()) {
            if (sa.spi() == spi && sa.direction() == direction) {
                return sa;
            }
        }
        throw new AssertionError("no SA 0x" + Integer.toHexString(spi));
    }

    @Test
    void shouldKeepArrivalOrderInPcryptModeWhileTheCryptographyGoesRoundTheLanes() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.PCRYPT)) {
            pair.sendFromA(FLOWS, 40);
            Map<Integer, List<Integer>> received = pair.receivedAtB(FLOWS * 40, 10_000);
            assertEquals(FLOWS * 40, TwoDataplanes.count(received));
            assertInOrderWithoutGaps(received);
            DataplaneSnapshot b = pair.b.snapshot();
            assertEquals(FLOWS * 40, b.lanes().get(0).io(IoCounter.TUNNEL_DATAGRAMS_RECEIVED), "lane 0 receives all");
            assertEquals(0, b.lanes().get(1).io(IoCounter.TUNNEL_DATAGRAMS_RECEIVED));
            assertTrue(b.lanes().get(1).io(IoCounter.BUSY_NANOS) > 0, "lane 1 did its share of the cryptography");
            assertEquals(Steering.SINGLE, b.steeringInEffect(), "status says what is in effect");
        }
    }

    @Test
    void shouldHandOverBetweenModesWithoutLossOrReorder() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            assertNothingLostOrReorderedWhile(pair, () -> {
                for (Mode mode : List.of(Mode.SINGLE, Mode.PCRYPT, Mode.FLOW, Mode.PCRYPT, Mode.SINGLE, Mode.FLOW)) {
                    Thread.sleep(30);
                    pair.b.mode(mode);
                    assertEquals(mode, pair.b.mode());
                }
            });
        }
    }

    @Test
    void shouldChangeSteeringBackAndForthDuringTrafficWithoutLossOrReorder() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            assertNothingLostOrReorderedWhile(pair, () -> {
                for (Steering steering : List.of(Steering.RSS, Steering.DIRECTOR, Steering.RSS, Steering.DIRECTOR)) {
                    Thread.sleep(30);
                    pair.b.steering(steering);
                    assertEquals(steering, pair.b.steeringInEffect());
                }
            });
        }
    }

    @Test
    void shouldCountAnInjectedFaultTellItAndGoOn() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            pair.siteA[0].failNextRead(new IllegalStateException("injected"));
            waitUntil(() -> pair.a.snapshot().lanes().get(0).io(IoCounter.LANE_FAULTS) == 1, "fault counted");
            pair.sendFromA(FLOWS, 5);
            assertEquals(FLOWS * 5, TwoDataplanes.count(pair.receivedAtB(FLOWS * 5, 10_000)), "the lane goes on");
            waitUntil(() -> pair.eventsA.stream().anyMatch(e -> e instanceof DataplaneEvent.LaneFault f
                    && f.lane() == 0 && f.fault().contains("injected")), "fault event");
            waitUntil(() -> pair.logA.stream().anyMatch(line -> line.contains("lane 0") && line.contains("injected")),
                    "fault logged");
        }
    }

    @Test
    void shouldRaiseTheSoftLifetimeEventThenStopTheSaAtItsHardLimit() throws Exception {
        SaLifetime lifetime = new SaLifetime(0, 0, 5, 10, 0, 0);
        try (TwoDataplanes pair = new TwoDataplanes(spec().lifetime(lifetime), LANES, Mode.FLOW)) {
            pair.sendFromA(1, 15);   // one flow: one SA
            Map<Integer, List<Integer>> received = pair.receivedAtB(15, 2_000);
            assertEquals(10, TwoDataplanes.count(received), "the hard limit's packet is the SA's last");
            waitUntil(() -> pair.eventsA.stream().anyMatch(e -> e instanceof DataplaneEvent.SoftLifetime s
                    && s.limit().equals("packets") && s.direction() == Direction.OUTBOUND), "soft event");
            waitUntil(() -> pair.eventsA.stream().anyMatch(e -> e instanceof DataplaneEvent.HardLifetime h
                    && h.limit().equals("packets")), "hard event");
            assertEquals(5, pair.a.snapshot().total(Outcome.SA_EXPIRED), "later packets are counted drops");
            long expired = pair.a.snapshot().sas().stream().filter(sa -> sa.state().equals("expired")).count();
            assertEquals(1, expired);
        }
    }

    @Test
    void shouldMoveAnInboundSaToAnotherLaneLive() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            int spi = pair.tunnel.b().inbound().getFirst().spi();
            int from = pair.b.inboundLanes().get(spi);
            pair.sendFromA(FLOWS, 10);
            pair.b.moveInbound(spi, 1 - from);
            pair.sendFromA(FLOWS, 10);
            Map<Integer, List<Integer>> received = pair.receivedAtB(FLOWS * 20, 10_000);
            assertEquals(FLOWS * 20, TwoDataplanes.count(received));
            assertInOrderWithoutGaps(received);
            assertEquals(1 - from, pair.b.inboundLanes().get(spi));
            assertEquals(1 - from, pair.b.snapshot().sa(spi, Direction.INBOUND).lane());
            assertThrows(IllegalArgumentException.class, () -> pair.b.moveInbound(spi, 7));
        }
    }

    /**
     * The losing lane is busy (its loop blocked) with the SA's earlier datagrams queued behind: the move waits for it
     * to work through them (the marker behind them), holding only the gaining lane's tunnel sockets, and the flows
     * arrive in order.
     */
    @Test
    void shouldHoldTheGainingLaneUntilTheBusyLosingLaneReadsTheMarker() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            int spi = pair.tunnel.b().inbound().getFirst().spi();
            int from = pair.b.inboundLanes().get(spi);
            AutoCloseable busy = pair.holdLaneOfB(from);
            pair.sendFromA(FLOWS, 10);
            Thread.sleep(200);   // A's lanes sent them: the SA's wait in the losing lane's queue
            var outer = pair.tunnel.b().inbound().getFirst().outer();
            MemoryNetwork.Port port = pair.network.port(new java.net.InetSocketAddress(outer.local(), outer.localPort()));
            SteeringPlan before = port.plan();
            java.util.concurrent.CompletableFuture<Void> move = java.util.concurrent.CompletableFuture.runAsync(
                    () -> pair.b.moveInbound(spi, 1 - from));
            waitUntil(() -> !port.plan().equals(before), "steering changed");
            pair.sendFromA(FLOWS, 10);   // the SA's later ones queue at the gaining lane
            Thread.sleep(300);
            assertFalse(move.isDone(), "the move waits while the losing lane has not read its backlog");
            busy.close();
            move.get(5, java.util.concurrent.TimeUnit.SECONDS);
            Map<Integer, List<Integer>> received = pair.receivedAtB(FLOWS * 20, 10_000);
            assertEquals(FLOWS * 20, TwoDataplanes.count(received));
            assertInOrderWithoutGaps(received);
            assertEquals(0, pair.b.handOverTimeouts());
            assertTrue(pair.b.snapshot().total(Outcome.MARKER) >= 1, "the marker was read");
        }
    }

    /**
     * Each lane's queue delay, measured with markers: about 0 while the lanes keep up; for a lane held 400 ms, the
     * time its arrivals waited, growing while it is held; about 0 again once it caught up.
     */
    @Test
    void shouldMeasureEachLanesQueueDelayWithMarkers() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            waitUntil(() -> pair.b.snapshot().total(Outcome.MARKER) >= 2 * LANES, "probes read on every lane");
            long idleMs = delayMs(pair.b, 1);
            assertTrue(idleMs < 50, "a lane that keeps up: " + idleMs + " ms");
            try (AutoCloseable held = pair.holdLaneOfB(1)) {
                Thread.sleep(300);
                long heldMs = delayMs(pair.b, 1);
                assertTrue(heldMs >= 150, "a held lane's probe waits as long as it is held: " + heldMs + " ms");
                assertTrue(delayMs(pair.b, 0) < 50, "the other lane keeps up: " + delayMs(pair.b, 0) + " ms");
                Thread.sleep(100);
            }
            waitUntil(() -> delayMs(pair.b, 1) >= 300, "the held probe, read at last, gives the whole wait");
            waitUntil(() -> delayMs(pair.b, 1) < 50, "caught up");
        }
    }

    private static long delayMs(Dataplane dataplane, int lane) {
        return dataplane.snapshot().lanes().get(lane).queueDelayNanos() / 1_000_000;
    }

    /** A losing lane that does not get through its backlog in time lets the gaining lane go on, counted and logged. */
    @Test
    void shouldLetTheGainingLaneGoOnWhenTheLosingLaneIsStuckPastTheTimeout() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            int spi = pair.tunnel.b().inbound().getFirst().spi();
            int from = pair.b.inboundLanes().get(spi);
            AutoCloseable stuck = pair.holdLaneOfB(from);
            long startNs = System.nanoTime();
            pair.b.moveInbound(spi, 1 - from);
            long tookMs = (System.nanoTime() - startNs) / 1_000_000;
            stuck.close();
            assertEquals(1, pair.b.handOverTimeouts());
            assertTrue(tookMs >= Dataplane.HAND_OVER_MARKER_TIMEOUT_MS - 50 && tookMs < Dataplane.HAND_OVER_MARKER_TIMEOUT_MS + 3000,
                    "the move returned after the timeout: " + tookMs + " ms");
            assertEquals(1 - from, pair.b.inboundLanes().get(spi));
            pair.sendFromA(FLOWS, 5);
            assertEquals(FLOWS * 5, TwoDataplanes.count(pair.receivedAtB(FLOWS * 5, 10_000)), "both lanes serve again");
        }
    }

    @Test
    void shouldReweightTheGroupWithinEachLane() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            String policy = pair.a.policies().getFirst().name();
            SaGroup group = pair.a.policies().getFirst().outboundGroup();
            int silenced = -1;
            for (int i = 0; i < group.size(); i++) {
                if (group.owner(i) == 0) {
                    silenced = i;   // one of lane 0's two SAs
                }
            }
            int[] weights = {1, 1, 1, 1};
            weights[silenced] = 0;
            pair.a.groupWeights(policy, weights);
            assertArrayEquals(weights, pair.a.groupWeights(policy));
            pair.sendFromA(FLOWS, 5);
            assertEquals(FLOWS * 5, TwoDataplanes.count(pair.receivedAtB(FLOWS * 5, 10_000)));
            int silencedSpi = group.member(silenced).spi();
            assertTrue(pair.network.wire().stream().noneMatch(d -> d.spi() == silencedSpi), "weight 0: no flow on it");
            assertThrows(IllegalArgumentException.class, () -> pair.a.groupWeights(policy, 1, 2));
            assertThrows(IllegalArgumentException.class, () -> pair.a.groupWeights("no-such-policy", 1, 1, 1, 1));
        }
    }

    @Test
    void shouldMoveNoBusyFlowWhileTheGroupIsReweightedAgainAndAgainAndEachAtItsFirstPause() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            // a long gap, so that no lane or receiver stall on a busy test machine passes for a pause
            assertEquals(DataplaneControl.DEFAULT_FLOWLET_GAP, pair.a.flowletGap());
            Duration gap = Duration.ofMillis(300);
            pair.a.flowletGap(gap);
            assertEquals(gap, pair.a.flowletGap());
            String policy = pair.a.policies().getFirst().name();
            SaGroup group = pair.a.policies().getFirst().outboundGroup();
            SaGroup.LaneTable[] before = laneTables(group);
            pair.sendFromA(FLOWS, 1);   // every flow's bucket busy on its lane before the first reweighting
            Map<Integer, List<Integer>> received = pair.receivedAtB(FLOWS, 10_000);
            assertEquals(FLOWS, TwoDataplanes.count(received));

            // 1. load feedback reweights every 20 ms while every flow sends a packet every millisecond or so
            int[][] weights = {{3, 1, 1, 3}, {1, 3, 3, 1}, {1, 1, 1, 1}, {1, 2, 0, 1}, {2, 1, 1, 0}, {3, 1, 1, 3}};
            int sent = FLOWS + sendWhile(pair, () -> {
                for (int[] next : weights) {
                    pair.a.groupWeights(policy, next);
                    Thread.sleep(20);
                }
            });
            merge(received, pair.receivedAtB(sent - FLOWS, 20_000));
            assertEquals(sent, TwoDataplanes.count(received));
            assertInOrderWithoutGaps(received);
            // every busy bucket kept its SA: those the last reweighting gives another SA wait, no other
            SaGroup.LaneTable[] after = laneTables(group);
            int[] waiting = new int[LANES];
            long moved = 0;
            for (int lane = 0; lane < LANES; lane++) {
                for (int bucket : busyBuckets(lane)) {
                    waiting[lane] += before[lane].sa(bucket) == after[lane].sa(bucket) ? 0 : 1;
                }
                DataplaneSnapshot.LaneSnapshot snapshot = pair.a.snapshot().lanes().get(lane);
                assertEquals(waiting[lane], snapshot.flowletPending(), "lane " + lane + ": its busy buckets that move");
                moved += snapshot.io(IoCounter.FLOWLET_MOVES);
            }
            assertTrue(waiting[0] + waiting[1] > 0, "the reweightings leave busy buckets to move");

            // 2. every flow pauses for the gap: its next packet takes the SA the group gives it now
            Thread.sleep(gap.toMillis() + 50);
            pair.sendFromA(FLOWS, 10);
            merge(received, pair.receivedAtB(FLOWS * 10, 10_000));
            assertEquals(sent + FLOWS * 10, TwoDataplanes.count(received));
            assertInOrderWithoutGaps(received);
            DataplaneSnapshot snapshot = pair.a.snapshot();
            assertEquals(0, snapshot.lanes().get(0).flowletPending() + snapshot.lanes().get(1).flowletPending());
            assertEquals(moved + waiting[0] + waiting[1], snapshot.lanes().get(0).io(IoCounter.FLOWLET_MOVES)
                    + snapshot.lanes().get(1).io(IoCounter.FLOWLET_MOVES), "each waiting bucket moved once");
            assertEquals(0, dropsOtherThanNone(pair.b.snapshot()));
            assertThrows(IllegalArgumentException.class, () -> pair.a.flowletGap(Duration.ofMillis(-1)));
            assertThrows(IllegalArgumentException.class, () -> pair.a.flowletGap(Duration.ofHours(1)));
            assertEquals(gap, pair.a.flowletGap(), "a refused gap changes nothing");
        }
    }

    @Test
    void shouldSendNothingMoreOnARekeyedSaWhileBucketsWaitToMoveAndMoveThemAfterwards() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            Duration gap = Duration.ofSeconds(1);   // the rekeys take far less: the flows stay busy meanwhile
            pair.a.flowletGap(gap);
            String policy = pair.a.policies().getFirst().name();
            SaGroup group = pair.a.policies().getFirst().outboundGroup();
            pair.sendFromA(FLOWS, 1);
            Map<Integer, List<Integer>> received = pair.receivedAtB(FLOWS, 10_000);
            pair.a.groupWeights(policy, 3, 1, 1, 3);
            int waiting = pair.a.snapshot().lanes().get(0).flowletPending() + pair.a.snapshot().lanes().get(1).flowletPending();
            assertTrue(waiting > 0, "busy buckets wait to move");

            Set<Integer> replaced = new HashSet<>();
            for (int member = 0; member < group.size(); member++) {
                replaced.add(group.member(member).spi());
                rekey(pair, Direction.OUTBOUND, member, 0, Duration.ofSeconds(5));
            }
            DataplaneSnapshot snapshot = pair.a.snapshot();
            assertEquals(waiting, snapshot.lanes().get(0).flowletPending() + snapshot.lanes().get(1).flowletPending(),
                    "a rekey moves no bucket: the moves under way still wait");
            int wireBefore = pair.network.wire().size();
            pair.sendFromA(FLOWS, 5);
            merge(received, pair.receivedAtB(FLOWS * 5, 10_000));
            for (MemoryNetwork.Datagram datagram : pair.network.wire().subList(wireBefore, pair.network.wire().size())) {
                assertFalse(replaced.contains(datagram.spi()), "nothing on a replaced SA: 0x" + Integer.toHexString(datagram.spi()));
            }

            Thread.sleep(gap.toMillis() + 50);
            pair.sendFromA(FLOWS, 5);
            merge(received, pair.receivedAtB(FLOWS * 5, 10_000));
            assertEquals(FLOWS * 11, TwoDataplanes.count(received));
            assertInOrderWithoutGaps(received);
            snapshot = pair.a.snapshot();
            assertEquals(0, snapshot.lanes().get(0).flowletPending() + snapshot.lanes().get(1).flowletPending());
        }
    }

    @Test
    void shouldMoveBusyFlowsAtOnceWithAFlowletGapOfZero() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            pair.a.flowletGap(Duration.ZERO);
            String policy = pair.a.policies().getFirst().name();
            SaGroup group = pair.a.policies().getFirst().outboundGroup();
            SaGroup.LaneTable[] before = laneTables(group);
            pair.sendFromA(FLOWS, 1);
            assertEquals(FLOWS, TwoDataplanes.count(pair.receivedAtB(FLOWS, 10_000)));

            pair.a.groupWeights(policy, 3, 1, 1, 3);
            SaGroup.LaneTable[] after = laneTables(group);
            for (int lane = 0; lane < LANES; lane++) {
                int changed = 0;
                for (int bucket = 0; bucket < SaGroup.INDIRECTION_TABLE_SIZE; bucket++) {
                    changed += before[lane].sa(bucket) == after[lane].sa(bucket) ? 0 : 1;
                }
                DataplaneSnapshot.LaneSnapshot snapshot = pair.a.snapshot().lanes().get(lane);
                assertEquals(0, snapshot.flowletPending(), "lane " + lane + ": nothing waits");
                assertEquals(changed, snapshot.io(IoCounter.FLOWLET_MOVES), "lane " + lane + ": busy buckets too");
            }
            // flows move in mid-burst now, so B may see one reordered (not asserted): it loses nothing
            int sent = sendWhile(pair, () -> {
                for (int[] next : new int[][] {{1, 3, 3, 1}, {1, 1, 1, 1}, {3, 1, 1, 3}}) {
                    pair.a.groupWeights(policy, next);
                    Thread.sleep(20);
                }
            });
            assertEquals(sent, TwoDataplanes.count(pair.receivedAtB(sent, 20_000)));
            assertEquals(0, dropsOtherThanNone(pair.b.snapshot()));
        }
    }

    /**
     * An endpoint on every address ({@code 0.0.0.0:4500}, as an appliance configured through its API listens) serves
     * SAs on any local address at its port: arrivals are steered there as exactly as on an endpoint of their own, and
     * replies leave from the address the kernel picks.
     */
    @Test
    void shouldServeSasOnEndpointsListeningOnEveryAddress() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW, null, null, true)) {
            pair.sendFromA(FLOWS, 20);
            assertEquals(FLOWS * 20, TwoDataplanes.count(pair.receivedAtB(FLOWS * 20, 10_000)));

            SecurityAssociation firstInbound = pair.tunnel.b().inbound().getFirst();
            MemoryNetwork.Port listening = pair.network.port(new java.net.InetSocketAddress(
                    InetAddress.getByName("0.0.0.0"), firstInbound.outer().localPort()));
            assertEquals(SteeringPlan.Field.UDP_SOURCE_PORT, listening.plan().field(), "director steering reads the flow ID");
            DataplaneSnapshot atB = pair.b.snapshot();
            Set<Integer> servingLanes = new HashSet<>();
            for (SecurityAssociation sa : pair.tunnel.b().inbound()) {
                DataplaneSnapshot.SaSnapshot stats = atB.sa(sa.spi(), Direction.INBOUND);
                if (stats.packets() > 0) {
                    servingLanes.add(stats.lane());
                }
            }
            assertEquals(Set.of(0, 1), servingLanes, "B's lanes share the tunnel");

            byte[] reply = TestPackets.icmpEcho(TestPackets.HOST_B_V4, TestPackets.HOST_A_V4, 56);
            pair.siteB[1].inject(reply);
            assertArrayEquals(reply, pair.takeAtA(5_000), "B's reply reaches A's site");
            for (MemoryNetwork.Datagram datagram : pair.network.wire()) {
                assertFalse(datagram.from().getAddress().isAnyLocalAddress(), "sent from an address: " + datagram);
            }
            assertEquals(0, dropsOtherThanNone(pair.a.snapshot()) + dropsOtherThanNone(atB));
        }
    }

    /** The address encoding sends each SA from its own address: a socket on every address cannot, so it is refused. */
    @Test
    void shouldRefuseTheAddressEncodingFromAnEndpointOnEveryAddress() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () ->
                new TwoDataplanes(TestPackets.tunnel().saCount(4).encoding(FlowEncoding.ADDRESS), LANES, Mode.FLOW,
                        null, null, true).close());
        assertTrue(refused.getMessage().contains("encoding address sends each SA from its own local address"),
                refused.getMessage());
    }

    @Test
    void shouldRefuseAGroupWithFewerSasThanLanesAndKeepThePolicies() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            SecurityPolicy current = pair.a.policies().getFirst();
            SecurityAssociation lone = current.outboundGroup().member(0).successor().name("lone").spi(0x7000)
                    .encryptionKey(TestPackets.randomBytes(20)).build();
            SecurityPolicy tooSmall = new SecurityPolicy("too-small", current.selector(), PolicyAction.PROTECT,
                    new SaGroup(List.of(lone), FlowEncoding.SPI));
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> pair.a.replacePolicies(List.of(tooSmall)));
            assertTrue(refused.getMessage().contains("at least 2 outbound SAs"), refused.getMessage());
            assertEquals(List.of(current), pair.a.policies());
            pair.sendFromA(FLOWS, 2);
            assertEquals(FLOWS * 2, TwoDataplanes.count(pair.receivedAtB(FLOWS * 2, 10_000)));
        }
    }

    @Test
    void shouldKeepEachOutboundSaOnItsLaneWhenItsGroupIsRebuiltAndRefuseAnSaInTwoGroups() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            SecurityPolicy current = pair.a.policies().getFirst();
            List<SecurityAssociation> members = current.outboundGroup().members();
            Map<Integer, Integer> owners = new HashMap<>();
            members.forEach(sa -> owners.put(sa.spi(), sa.ownerLane()));
            // the same SAs in a new group object, listed the other way round: each keeps its lane and its counter
            SaGroup rebuilt = new SaGroup(members.reversed(), FlowEncoding.UDP_PORT);
            pair.a.replacePolicies(List.of(new SecurityPolicy(current.name(), current.selector(), PolicyAction.PROTECT, rebuilt)));
            members.forEach(sa -> assertEquals(owners.get(sa.spi()), sa.ownerLane(), sa.name()));
            pair.sendFromA(FLOWS, 5);
            assertEquals(FLOWS * 5, TwoDataplanes.count(pair.receivedAtB(FLOWS * 5, 10_000)));
            Map<Integer, Set<Integer>> lanesBySpi = new HashMap<>();
            pair.network.wire().forEach(d -> lanesBySpi.computeIfAbsent(d.spi(), k -> new HashSet<>()).add(d.sendingLane()));
            lanesBySpi.forEach((spi, lanes) -> assertEquals(Set.of(owners.get(spi)), lanes, "SPI 0x" + Integer.toHexString(spi)));

            SecurityPolicy twice = new SecurityPolicy("twice", current.selector(), PolicyAction.PROTECT,
                    new SaGroup(members, FlowEncoding.UDP_PORT));
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> pair.a.replacePolicies(List.of(pair.a.policies().getFirst(), twice)));
            assertTrue(refused.getMessage().contains("more than one SA group"), refused.getMessage());
        }
    }

    @Test
    void shouldLeaveNothingInstalledWhenSteeringRefusesAnInboundSa() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            SecurityAssociation old = pair.tunnel.b().inbound().getFirst();
            SecurityAssociation extra = old.successor().name("extra").spi(0x6000_0001)
                    .encryptionKey(TestPackets.randomBytes(20)).build();
            MemoryNetwork.Port port = pair.network.port(new java.net.InetSocketAddress(old.outer().local(), old.outer().localPort()));
            port.failNextSteer();
            assertThrows(IllegalStateException.class, () -> pair.b.installSa(extra));
            assertTrue(pair.b.sas().stream().noneMatch(sa -> sa.spi() == extra.spi()), "not installed");
            assertTrue(!pair.b.inboundLanes().containsKey(extra.spi()), "no lane");
            pair.b.installSa(extra);   // and a retry is not refused as a duplicate
            assertTrue(pair.b.inboundLanes().containsKey(extra.spi()));
        }
    }

    /** A steering program refused during a mode change: the change is rolled back whole and status says so. */
    @Test
    void shouldRollBackAModeChangeWhoseSteeringFailsAndReportWhatIsInEffect() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.SINGLE)) {
            SecurityAssociation inbound = pair.tunnel.b().inbound().getFirst();
            MemoryNetwork.Port port = pair.network.port(new java.net.InetSocketAddress(inbound.outer().local(), inbound.outer().localPort()));
            DataplaneSnapshot before = pair.b.snapshot();
            port.failNextSteer();
            IllegalStateException refused = assertThrows(IllegalStateException.class, () -> pair.b.mode(Mode.FLOW));
            assertTrue(refused.getMessage().contains("steering program refused"), refused.getMessage());
            DataplaneSnapshot after = pair.b.snapshot();
            assertEquals(Mode.SINGLE, pair.b.mode(), "the mode in effect");
            assertEquals(Mode.SINGLE, after.mode());
            assertEquals(Steering.SINGLE, after.steeringInEffect());
            assertEquals(before.steeringFields(), after.steeringFields(), "status shows the steering in effect");
            assertEquals(SteeringPlan.Field.NONE, port.plan().field(), "and the port still steers everything to lane 0");
            pair.sendFromA(FLOWS, 5);
            assertEquals(FLOWS * 5, pair.receivedAtB(FLOWS * 5, 10_000).values().stream().mapToInt(List::size).sum(),
                    "traffic goes on");
            pair.b.mode(Mode.FLOW);   // a retry works
            assertEquals(SteeringPlan.Field.UDP_SOURCE_PORT, port.plan().field());
        }
    }

    @Test
    void shouldRefuseACommandFromALanesOwnEventLoopInsteadOfWaitingForItself() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            io.netty.util.concurrent.Future<?> onLane = pair.laneLoopOfB(0).submit(() -> pair.b.mode(Mode.SINGLE));
            assertTrue(onLane.await(10, TimeUnit.SECONDS), "returns, no deadlock");
            assertTrue(onLane.cause() instanceof IllegalStateException, String.valueOf(onLane.cause()));
            assertEquals(Mode.FLOW, pair.b.mode());
            assertEquals(Mode.FLOW, pair.laneLoopOfB(1).submit(() -> pair.b.snapshot().mode()).get(), "reads are fine");
        }
    }

    @Test
    void shouldReplaceThePoliciesAtomicallyWithADiscardPolicyFirst() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            SecurityPolicy protect = pair.a.policies().getFirst();
            SecurityPolicy discard = new SecurityPolicy("discard-all", protect.selector(), PolicyAction.DISCARD, null);
            pair.a.replacePolicies(List.of(discard, protect));
            pair.sendFromA(4, 3);
            waitUntil(() -> pair.a.snapshot().total(Outcome.POLICY_DISCARD) == 12, "discarded by the new first policy");
            pair.a.replacePolicies(List.of(protect));
            pair.sendFromA(4, 3);
            assertEquals(12, TwoDataplanes.count(pair.receivedAtB(12, 10_000)), "protected again");
            assertEquals(8, pair.a.sas().size(), "the group's SAs stayed installed");
        }
    }

    @Test
    void shouldForwardABypassPolicysPacketsUnchangedToItsNextHopAndProtectTheRest() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            SecurityPolicy protect = pair.a.policies().getFirst();
            TrafficSelector port7 = new TrafficSelector(IpPrefix.parse(TestPackets.SITE_A_V4), IpPrefix.parse(TestPackets.SITE_B_V4),
                    IpProtocol.UDP, PortRange.ANY, new PortRange(7, 7));
            InetAddress nextHop = TestPackets.address("192.0.2.254");
            pair.a.replacePolicies(List.of(new SecurityPolicy("echo-in-clear", port7, PolicyAction.BYPASS, null, nextHop),
                    protect));
            byte[] clear = TestPackets.udp(TestPackets.HOST_A_V4, 5000, TestPackets.HOST_B_V4, 7, 40);
            pair.siteA[1].inject(clear);
            pair.sendFromA(4, 2);
            assertEquals(8, TwoDataplanes.count(pair.receivedAtB(8, 10_000)), "port 9 is still protected");
            waitUntil(() -> pair.clearA.forwarded().size() == 1, "forwarded in clear");
            assertArrayEquals(clear, pair.clearA.forwarded().getFirst().packet(), "unchanged");
            assertEquals(nextHop, pair.clearA.forwarded().getFirst().nextHop());
            DataplaneSnapshot snapshot = pair.a.snapshot();
            assertEquals(1, snapshot.total(Outcome.BYPASS));
            assertEquals(1, snapshot.lanes().get(1).io(IoCounter.CLEAR_PACKETS_SENT));

            // a bypass policy without a next hop: counted, never silently lost
            pair.a.replacePolicies(List.of(new SecurityPolicy("nowhere", port7, PolicyAction.BYPASS, null), protect));
            pair.siteA[0].inject(clear);
            waitUntil(() -> pair.a.snapshot().lanes().get(0).io(IoCounter.CLEAR_SEND_ERRORS) == 1, "counted");
            assertEquals(1, pair.clearA.forwarded().size());
        }
    }

    /**
     * Datagrams a full socket drops never reach the lane, so no outcome counts them: the lane's snapshot does, from its
     * sockets' receive queues (here the in-memory sockets, bounded as a kernel buffer is).
     */
    @Test
    void shouldCountWhatAFullSocketDroppedInItsLanesSnapshot() throws Exception {
        try (TwoDataplanes pair = new TwoDataplanes(spec(), LANES, Mode.FLOW)) {
            long bufferPerSocket = 2048;   // a dozen ESP datagrams of 64-byte packets
            int sockets = pair.boundSocketsOfB(bufferPerSocket);
            AutoCloseable held = pair.holdLanesOfB();
            int sent = FLOWS * 5;
            try {
                pair.sendFromA(FLOWS, 5);
                waitUntil(() -> pair.network.wire().size() == sent, "A sent every packet");
                DataplaneSnapshot full = pair.b.snapshot();
                long drops = full.socketDrops();
                long queued = full.lanes().stream().mapToLong(lane -> lane.receiveQueue().queuedBytes()).sum();
                long buffers = full.lanes().stream().mapToLong(lane -> lane.receiveQueue().bufferBytes()).sum();
                assertEquals(bufferPerSocket * sockets, buffers, "every socket's buffer, lane by lane");
                assertTrue(drops > 0 && drops < sent, "some dropped, some wait: " + drops);
                assertTrue(queued > 0 && queued <= buffers, "queued " + queued);
                assertEquals(0, dropsOtherThanNone(full), "no lane saw them");
            } finally {
                held.close();
            }
            DataplaneSnapshot before = pair.b.snapshot();
            long drops = before.socketDrops();
            assertEquals(sent - drops, TwoDataplanes.count(pair.receivedAtB((int) (sent - drops), 10_000)),
                    "the lanes read what waited, and only that");
            waitUntil(() -> pair.b.snapshot().lanes().stream().allMatch(lane -> lane.receiveQueue().queuedBytes() == 0),
                    "the queues drained");
            assertEquals(drops, pair.b.snapshot().socketDrops(),
                    "the drops stay counted");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** What a test changes while traffic flows. */
    private interface Changes {
        void run() throws Exception;
    }

    /** Sends rounds of one packet per flow from A while {@code changes} run; returns how many packets were sent. */
    private static int sendWhile(TwoDataplanes pair, Changes changes) throws Exception {
        AtomicBoolean sending = new AtomicBoolean(true);
        int[] sent = new int[1];
        Thread traffic = Thread.ofPlatform().start(() -> {
            while (sending.get()) {
                pair.sendFromA(FLOWS, 1);
                sent[0] += FLOWS;
                sleepQuietly(1);
            }
        });
        try {
            changes.run();
        } finally {
            sending.set(false);
            traffic.join();
        }
        return sent[0];
    }

    /** Traffic from A while {@code changes} run at B: every packet arrives, in order per flow, and B drops nothing. */
    private static void assertNothingLostOrReorderedWhile(TwoDataplanes pair, Changes changes) throws Exception {
        int sent = sendWhile(pair, changes);
        Map<Integer, List<Integer>> received = pair.receivedAtB(sent, 20_000);
        assertEquals(sent, TwoDataplanes.count(received));
        assertInOrderWithoutGaps(received);
        assertEquals(0, dropsOtherThanNone(pair.b.snapshot()));
    }

    private static void assertInOrderWithoutGaps(Map<Integer, List<Integer>> received) {
        for (Map.Entry<Integer, List<Integer>> flow : received.entrySet()) {
            List<Integer> numbers = flow.getValue();
            for (int i = 0; i < numbers.size(); i++) {
                if (numbers.get(i) != i) {
                    fail("flow " + flow.getKey() + ": packet " + i + " is number " + numbers.get(i)
                            + " (lost or reordered); first numbers " + numbers.subList(0, Math.min(20, numbers.size())));
                }
            }
        }
    }

    private static SaGroup.LaneTable[] laneTables(SaGroup group) {
        SaGroup.LaneTable[] tables = new SaGroup.LaneTable[LANES];
        for (int lane = 0; lane < LANES; lane++) {
            tables[lane] = group.laneTable(lane);
        }
        return tables;
    }

    /** The buckets of the flows that lane {@code lane} reads ({@link TwoDataplanes#sendFromA}: flow f on lane f mod lanes). */
    private static Set<Integer> busyBuckets(int lane) {
        Set<Integer> buckets = new HashSet<>();
        FlowKey key = new FlowKey();
        for (int flow = lane; flow < FLOWS; flow += LANES) {
            byte[] packet = TwoDataplanes.packet(flow, 0, 64);
            key.read(packet, 0, packet.length);
            buckets.add(ToeplitzHash.microsoft().flowId(key) & (SaGroup.INDIRECTION_TABLE_SIZE - 1));
        }
        return buckets;
    }

    private static void merge(Map<Integer, List<Integer>> into, Map<Integer, List<Integer>> more) {
        for (Map.Entry<Integer, List<Integer>> flow : more.entrySet()) {
            into.computeIfAbsent(flow.getKey(), f -> new java.util.ArrayList<>()).addAll(flow.getValue());
        }
    }

    private static long dropsOtherThanNone(DataplaneSnapshot snapshot) {
        long drops = 0;
        for (Map.Entry<Outcome, Long> entry : snapshot.totals().entrySet()) {
            if (entry.getKey().isDrop()) {
                drops += entry.getValue();
            }
        }
        return drops;
    }

    private static void waitUntil(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadlineNs) {
                fail("timed out waiting for: " + what);
            }
            Thread.sleep(5);
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
