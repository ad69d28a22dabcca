package io.flowsec.dataplane.linux;

import io.flowsec.dataplane.packet.HandOverMarker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receiver's steering on real sockets: four lane sockets share one port on loopback through SO_REUSEPORT, a
 * steering program is attached (each in both forms: classic BPF and eBPF with a map), and datagrams must arrive on
 * exactly the lane the program names.
 */
class ReuseportSteeringTest {
    private static final int LANES = 4;
    private final List<UdpSocket> opened = new ArrayList<>();
    private final Errno errno = new Errno();
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void closeSockets() {
        opened.forEach(UdpSocket::close);
        arena.close();
    }

    private UdpSocket[] laneSockets(InetAddress address) throws Exception {
        UdpSocket first = track(UdpSocket.bind(address, 0, true));
        int port = first.localPort();
        UdpSocket[] lanes = new UdpSocket[LANES];
        lanes[0] = first;
        for (int i = 1; i < LANES; i++) {
            lanes[i] = track(UdpSocket.bind(address, port, true));
        }
        return lanes;
    }

    private UdpSocket track(UdpSocket socket) {
        opened.add(socket);
        return socket;
    }

    private static byte[] espWithSpi(int spi) {
        return ByteBuffer.allocate(32).putInt(spi).putInt(1).array();
    }

    /** Which lane received the one datagram sent; -1 if none did within the wait. */
    private int laneThatReceived(UdpSocket[] lanes) throws InterruptedException {
        MemorySegment buffer = MemorySegment.ofArray(new byte[2048]);
        for (int attempt = 0; attempt < 200; attempt++) {
            for (int lane = 0; lane < lanes.length; lane++) {
                if (lanes[lane].receive(errno, buffer) >= 0) {
                    return lane;
                }
            }
            Thread.sleep(1);
        }
        return -1;
    }

    private void send(UdpSocket from, byte[] payload, InetAddress to, int port) {
        long sent = from.send(errno, MemorySegment.ofArray(payload), SocketAddress.of(arena, to, port));
        assertEquals(payload.length, sent, "send failed with errno " + errno.value());
    }

    /** The two forms of the same steering: a classic compare chain, or an eBPF lookup in a hash map. */
    private static void attach(String form, UdpSocket group, SteeringPrograms.Key key, Map<Integer, Integer> laneByKey)
            throws NativeException {
        if (form.equals("ebpf")) {
            group.attachSteering(key, laneByKey);
        } else {
            group.attachSteering(SteeringPrograms.chain(key, laneByKey, 0));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"classic", "ebpf"})
    void shouldSteerEachSpiToTheLaneTheReceiverAssigned(String form) throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        UdpSocket[] lanes = laneSockets(loopback);
        Map<Integer, Integer> laneBySpi = new LinkedHashMap<>();
        for (int i = 0; i < 16; i++) {
            laneBySpi.put(0x1000 + i, (i * 3) % LANES);
        }
        attach(form, lanes[0], SteeringPrograms.Key.SPI, laneBySpi);
        UdpSocket sender = track(UdpSocket.bind(loopback, 0, false));
        for (Map.Entry<Integer, Integer> entry : laneBySpi.entrySet()) {
            send(sender, espWithSpi(entry.getKey()), loopback, lanes[0].localPort());
            assertEquals(entry.getValue(), laneThatReceived(lanes), "SPI 0x" + Integer.toHexString(entry.getKey()));
        }
        send(sender, espWithSpi(0x9999), loopback, lanes[0].localPort());
        assertEquals(0, laneThatReceived(lanes), "an SPI outside the table goes to the default lane");
        send(sender, new byte[2], loopback, lanes[0].localPort());
        assertEquals(0, laneThatReceived(lanes), "a datagram too short for an SPI goes to the default lane");
    }

    @ParameterizedTest
    @ValueSource(strings = {"classic", "ebpf"})
    void shouldSteerByUdpSourcePortForTheUdpPortEncodingOverIpv4AndIpv6(String form) throws Exception {
        for (String address : List.of("127.0.0.1", "::1")) {
            InetAddress loopback = InetAddress.getByName(address);
            UdpSocket[] lanes = laneSockets(loopback);
            List<UdpSocket> senders = new ArrayList<>();
            Map<Integer, Integer> laneByPort = new LinkedHashMap<>();
            for (int i = 0; i < 8; i++) {
                UdpSocket sender = track(UdpSocket.bind(loopback, 0, false));
                senders.add(sender);
                laneByPort.put(sender.localPort(), (i + 1) % LANES);
            }
            attach(form, lanes[0], address.contains(":") ? SteeringPrograms.Key.IPV6_UDP_SOURCE_PORT
                    : SteeringPrograms.Key.IPV4_UDP_SOURCE_PORT, laneByPort);
            for (UdpSocket sender : senders) {
                send(sender, espWithSpi(0x2000), loopback, lanes[0].localPort());
                assertEquals(laneByPort.get(sender.localPort()), laneThatReceived(lanes),
                        address + " source port " + sender.localPort());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"classic", "ebpf"})
    void shouldSteerByOuterSourceAddressForTheAddressEncoding(String form) throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        UdpSocket[] lanes = laneSockets(loopback);
        Map<Integer, Integer> laneByAddress = new LinkedHashMap<>();
        List<UdpSocket> senders = new ArrayList<>();
        for (int i = 0; i < LANES; i++) {
            InetAddress source = InetAddress.getByName("127.0.0." + (10 + i));
            senders.add(track(UdpSocket.bind(source, 0, false)));
            laneByAddress.put(ByteBuffer.wrap(source.getAddress()).getInt(), LANES - 1 - i);
        }
        attach(form, lanes[0], SteeringPrograms.Key.IPV4_SOURCE_ADDRESS, laneByAddress);
        for (int i = 0; i < LANES; i++) {
            send(senders.get(i), espWithSpi(0x3000), loopback, lanes[0].localPort());
            assertEquals(LANES - 1 - i, laneThatReceived(lanes), "source 127.0.0." + (10 + i));
        }
    }

    /**
     * A hand-over marker must reach the losing lane's socket whatever the steering reads, or the gaining lane would wait
     * for it in vain: every exact program, in both forms, sends it to the lane it names.
     */
    @ParameterizedTest
    @ValueSource(strings = {"classic", "ebpf"})
    void shouldSendAHandOverMarkerToTheLaneItNamesWhateverTheKey(String form) throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        UdpSocket sender = track(UdpSocket.bind(loopback, 0, false));
        for (SteeringPrograms.Key key : List.of(SteeringPrograms.Key.SPI, SteeringPrograms.Key.IPV4_UDP_SOURCE_PORT,
                SteeringPrograms.Key.IPV4_SOURCE_ADDRESS)) {
            UdpSocket[] lanes = laneSockets(loopback);
            int senderKey = switch (key) {
                case SPI -> HandOverMarker.SPI;
                case IPV4_UDP_SOURCE_PORT -> sender.localPort();
                default -> 0x7F000001;
            };
            // the table sends the marker sender's own key to lane 3: only the marker rule can send it elsewhere
            attach(form, lanes[0], key, Map.of(senderKey, 3, 0x1234, 2));
            for (int lane = 0; lane < LANES; lane++) {
                send(sender, HandOverMarker.encode(lane, 0x5EED_0000L + lane), loopback, lanes[0].localPort());
                assertEquals(lane, laneThatReceived(lanes), key + ": a marker for lane " + lane);
            }
            send(sender, espWithSpi(0x1234), loopback, lanes[0].localPort());
            assertEquals(key == SteeringPrograms.Key.SPI ? 2 : 3, laneThatReceived(lanes), key + ": ESP steers as before");
        }
    }

    @Test
    void shouldPutEverythingOnLaneZeroWithTheSingleProgram() throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        UdpSocket[] lanes = laneSockets(loopback);
        lanes[0].attachSteering(SteeringPrograms.single());
        UdpSocket sender = track(UdpSocket.bind(loopback, 0, false));
        for (int i = 0; i < 20; i++) {
            send(sender, espWithSpi(0x4000 + i), loopback, lanes[0].localPort());
            assertEquals(0, laneThatReceived(lanes));
        }
    }

    @Test
    void shouldSpreadFourTuplesWithoutAProgramAsRssWould() throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        UdpSocket[] lanes = laneSockets(loopback);
        int[] perLane = new int[LANES];
        for (int i = 0; i < 64; i++) {
            UdpSocket sender = track(UdpSocket.bind(loopback, 0, false));
            send(sender, espWithSpi(0x5000), loopback, lanes[0].localPort());
            int lane = laneThatReceived(lanes);
            assertTrue(lane >= 0, "datagram lost");
            perLane[lane]++;
            // the same 4-tuple always hashes to the same lane
            send(sender, espWithSpi(0x5000), loopback, lanes[0].localPort());
            assertEquals(lane, laneThatReceived(lanes));
        }
        int lanesUsed = 0;
        for (int count : perLane) {
            lanesUsed += count > 0 ? 1 : 0;
        }
        assertTrue(lanesUsed >= 3, "64 source ports over 4 lanes used only " + lanesUsed + " lanes");
    }

    // ---- the eBPF form: a constant program and a hash map, for any number of SAs ------------------------------------

    /** The target: 65,536 inbound SAs on one endpoint, 32 times what a classic chain holds. */
    @Test
    void shouldSteer65536SpisExactlyThroughOneEndpoint() throws Exception {
        int count = 65_536;
        assertTrue(count > SteeringPrograms.CLASSIC_MAX_ENTRIES);
        Map<Integer, Integer> laneBySpi = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            laneBySpi.put(0x10000 + i * 7, Integer.bitCount(i) % LANES);
        }
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        UdpSocket[] lanes = laneSockets(loopback);
        lanes[0].attachSteering(SteeringPrograms.Key.SPI, laneBySpi);
        UdpSocket sender = track(UdpSocket.bind(loopback, 0, false));
        java.util.Random random = new java.util.Random(65_536);
        for (int probe = 0; probe < 400; probe++) {
            int i = probe == 0 ? 0 : probe == 1 ? count - 1 : random.nextInt(count);
            int spi = 0x10000 + i * 7;
            send(sender, espWithSpi(spi), loopback, lanes[0].localPort());
            assertEquals(laneBySpi.get(spi), laneThatReceived(lanes), "SPI 0x" + Integer.toHexString(spi));
        }
    }

    @Test
    void shouldKeepWhatItWasGivenInTheMap() throws Exception {
        int map = Bpf.createIntHashMap("test_map", 3);
        try {
            Bpf.putAll(map, Map.of(0x1001, 2, 0x1002, 0, -1, 3));
            assertEquals(2, Bpf.get(map, 0x1001));
            assertEquals(0, Bpf.get(map, 0x1002));
            assertEquals(3, Bpf.get(map, -1));
            assertEquals(null, Bpf.get(map, 0x1003));
            NativeException full = org.junit.jupiter.api.Assertions.assertThrows(NativeException.class,
                    () -> Bpf.putAll(map, Map.of(0x2001, 1)));
            assertTrue(full.getMessage().contains("BPF_MAP_UPDATE_BATCH"), full.getMessage());
        } finally {
            Syscalls.close(map);
        }
    }

    @Test
    void shouldReportTheVerifiersReasonForARefusedProgram() {
        EbpfProgram readsAnUnsetRegister = new EbpfProgram().move(EbpfProgram.R0, EbpfProgram.R7).exit();
        NativeException refused = org.junit.jupiter.api.Assertions.assertThrows(NativeException.class,
                () -> Bpf.loadSocketFilter("test_bad", readsAnUnsetRegister));
        assertTrue(refused.getMessage().contains("verifier: ") && refused.getMessage().contains("R7"),
                refused.getMessage());
    }

    @Test
    void shouldReportErrnoInsteadOfThrowingWhenNothingWaits() throws Exception {
        UdpSocket socket = track(UdpSocket.bind(InetAddress.getByName("127.0.0.1"), 0, false));
        long result = socket.receive(errno, MemorySegment.ofArray(new byte[64]));
        assertEquals(-Errno.EAGAIN, result);
    }
}
