package io.flowsec.dataplane.linux;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The outer DSCP/ECN and IPv6 flow label on real sockets over loopback: what {@link UdpSocket#sendWithTrafficClass}
 * puts in the outer header is exactly what {@link UdpSocket#receiveWithTrafficClass} reports on the other side. The
 * flow-label lease cases need a namespace of their own (root), since an exclusive lease marks the namespace for good.
 */
class OuterTrafficClassTest {
    /** Not-ECT, ECT(1), ECT(0), CE, alone and under DSCP EF (46), AF41 (34) and CS7. */
    private static final int[] TRAFFIC_CLASSES = {0x00, 0x01, 0x02, 0x03, 0xB8, 0xB9, 0xBA, 0xBB, 0x88, 0x8A, 0xE0, 0xFF};
    private static final int[] FLOW_LABELS = {0x00001, 0x12345, 0x80000, 0xFFFFF};
    private static final int DSCP_EF_ECT0 = 0xBA;

    private final List<UdpSocket> opened = new ArrayList<>();
    private final Errno errno = new Errno();
    /** Shared: the namespace tests use it from the thread that entered the namespace. */
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void closeSockets() {
        opened.forEach(UdpSocket::close);
        arena.close();
    }

    private UdpSocket open(InetAddress address) throws NativeException {
        UdpSocket socket = UdpSocket.bind(address, 0, false);
        opened.add(socket);
        return socket;
    }

    private static byte[] payload(int seed, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (seed * 31 + i);
        }
        return bytes;
    }

    /** Receives the one datagram sent, waiting up to a second for loopback to deliver it; its length. */
    private long receiveOne(UdpSocket receiver, MemorySegment buffer) throws InterruptedException {
        for (int attempt = 0; attempt < 1000; attempt++) {
            long length = receiver.receiveWithTrafficClass(errno, buffer);
            if (length != -Errno.EAGAIN) {
                return length;
            }
            Thread.sleep(1);
        }
        return -Errno.EAGAIN;
    }

    private void assertEachTrafficClassArrivesAsSent(String loopback, boolean nativeBuffers) throws Exception {
        InetAddress address = InetAddress.getByName(loopback);
        UdpSocket sender = open(address);
        UdpSocket receiver = open(address);
        receiver.enableReceiveTrafficClass();
        MemorySegment destination = SocketAddress.of(arena, address, receiver.localPort());
        for (int trafficClass : TRAFFIC_CLASSES) {
            byte[] sent = payload(trafficClass, 1400);
            MemorySegment out = nativeBuffers ? arena.allocateFrom(ValueLayout.JAVA_BYTE, sent) : MemorySegment.ofArray(sent);
            MemorySegment in = nativeBuffers ? arena.allocate(2048) : MemorySegment.ofArray(new byte[2048]);

            long written = sender.sendWithTrafficClass(errno, out, sent.length, destination, trafficClass);
            assertEquals(sent.length, written, "send failed with errno " + errno.value());
            long length = receiveOne(receiver, in);

            String what = loopback + " TOS 0x" + Integer.toHexString(trafficClass);
            assertEquals(sent.length, length, what);
            assertEquals(trafficClass, receiver.lastTrafficClass(), what);
            assertArrayEquals(sent, in.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE), what);
            assertEquals(sender.localPort(), SocketAddress.port(receiver.lastSource()), what);
            assertEquals(address, SocketAddress.address(receiver.lastSource()), what);
        }
    }

    @Test
    void shouldDeliverEachIpv4TosExactlyAsSent() throws Exception {
        assertEachTrafficClassArrivesAsSent("127.0.0.1", false);
    }

    @Test
    void shouldDeliverEachIpv6TrafficClassExactlyAsSent() throws Exception {
        assertEachTrafficClassArrivesAsSent("::1", false);
    }

    @Test
    void shouldSendAndReceiveNativeBuffersInPlaceWithTheSameTrafficClass() throws Exception {
        assertEachTrafficClassArrivesAsSent("127.0.0.1", true);
        assertEachTrafficClassArrivesAsSent("::1", true);
    }

    @Test
    void shouldLeaveTheSocketDefaultOnPlainSends() throws Exception {
        InetAddress address = InetAddress.getByName("127.0.0.1");
        UdpSocket sender = open(address);
        UdpSocket receiver = open(address);
        receiver.enableReceiveTrafficClass();
        MemorySegment destination = SocketAddress.of(arena, address, receiver.localPort());
        MemorySegment buffer = MemorySegment.ofArray(new byte[256]);

        assertEquals(10, sender.sendWithTrafficClass(errno, MemorySegment.ofArray(payload(1, 10)), 10, destination, 0xBA));
        assertEquals(10, receiveOne(receiver, buffer));
        assertEquals(0xBA, receiver.lastTrafficClass());
        assertEquals(10, sender.send(errno, MemorySegment.ofArray(payload(2, 10)), destination));
        assertEquals(10, receiveOne(receiver, buffer));
        assertEquals(0x00, receiver.lastTrafficClass(), "a marked send must not change the socket's own TOS");
    }

    @Test
    void shouldReportAnIpv4SendersTosOnADualStackIpv6Socket() throws Exception {
        UdpSocket receiver = open(InetAddress.getByName("::"));
        receiver.enableReceiveTrafficClass();
        receiver.enableReceiveFlowLabel();
        InetAddress ipv4 = InetAddress.getByName("127.0.0.1");
        UdpSocket sender = open(ipv4);
        MemorySegment destination = SocketAddress.of(arena, ipv4, receiver.localPort());

        assertEquals(10, sender.sendWithTrafficClass(errno, MemorySegment.ofArray(payload(7, 10)), 10, destination, 0xB9));
        assertEquals(10, receiveOne(receiver, MemorySegment.ofArray(new byte[64])));
        assertEquals(0xB9, receiver.lastTrafficClass(), "IP_TOS arrives on the IPv6 socket for a v4-mapped sender");
        assertEquals(UdpSocket.NONE, receiver.lastFlowLabel(), "an IPv4 datagram has no flow label");
        assertEquals(ipv4, SocketAddress.address(receiver.lastSource()));
    }

    @Test
    void shouldReportNoTrafficClassUnlessEnabled() throws Exception {
        InetAddress address = InetAddress.getByName("127.0.0.1");
        UdpSocket sender = open(address);
        UdpSocket receiver = open(address);
        MemorySegment destination = SocketAddress.of(arena, address, receiver.localPort());
        sender.sendWithTrafficClass(errno, MemorySegment.ofArray(payload(3, 20)), 20, destination, 0xB8);
        assertEquals(20, receiveOne(receiver, MemorySegment.ofArray(new byte[64])));
        assertEquals(UdpSocket.NONE, receiver.lastTrafficClass());
        assertEquals(UdpSocket.NONE, receiver.lastFlowLabel());
    }

    @Test
    void shouldTruncateToTheBufferAsRecvfromDoes() throws Exception {
        InetAddress address = InetAddress.getByName("::1");
        UdpSocket sender = open(address);
        UdpSocket receiver = open(address);
        receiver.enableReceiveTrafficClass();
        MemorySegment destination = SocketAddress.of(arena, address, receiver.localPort());
        byte[] sent = payload(4, 100);
        byte[] small = new byte[40];
        sender.sendWithTrafficClass(errno, MemorySegment.ofArray(sent), sent.length, destination, 0xB9);
        assertEquals(small.length, receiveOne(receiver, MemorySegment.ofArray(small)));
        assertArrayEquals(Arrays.copyOf(sent, small.length), small);
        assertEquals(0xB9, receiver.lastTrafficClass());
    }

    @Test
    void shouldReturnErrnoInsteadOfThrowingOnTheMarkedPaths() throws Exception {
        InetAddress address = InetAddress.getByName("::1");
        UdpSocket socket = open(address);
        MemorySegment destination = SocketAddress.of(arena, address, socket.localPort());
        MemorySegment small = MemorySegment.ofArray(new byte[16]);

        assertEquals(-Errno.EAGAIN, socket.receiveWithTrafficClass(errno, small));
        assertEquals(UdpSocket.NONE, socket.lastTrafficClass());
        assertEquals(-Errno.EINVAL, socket.sendWithTrafficClass(errno, small, 17, destination, 0));
        assertEquals(-Errno.EMSGSIZE, socket.sendWithTrafficClass(errno, MemorySegment.ofArray(new byte[70_000]), 70_000,
                destination, 0));
        assertEquals(-Errno.EINVAL, socket.sendWithTrafficClass(errno, small, 16, destination, 0, 0x12345),
                "a flow label without enableSendFlowLabel would be dropped silently by the kernel");
    }

    @Test
    void shouldDeliverEachIpv6FlowLabelExactlyAsSent() throws Exception {
        assertFlowLabelsArriveAsSent(FLOW_LABELS);
    }

    private void assertFlowLabelsArriveAsSent(int... labels) throws Exception {
        InetAddress address = InetAddress.getByName("::1");
        UdpSocket sender = open(address);
        UdpSocket receiver = open(address);
        sender.enableSendFlowLabel();
        receiver.enableReceiveTrafficClass();
        receiver.enableReceiveFlowLabel();
        MemorySegment destination = SocketAddress.of(arena, address, receiver.localPort());
        MemorySegment buffer = MemorySegment.ofArray(new byte[2048]);
        for (int label : labels) {
            long written = sender.sendWithTrafficClass(errno, MemorySegment.ofArray(payload(label, 64)), 64, destination,
                    DSCP_EF_ECT0, label);
            assertEquals(64, written, "label 0x" + Integer.toHexString(label) + ": errno " + errno.value());
            assertEquals(64, receiveOne(receiver, buffer));
            assertEquals(label, receiver.lastFlowLabel(), "flow label 0x" + Integer.toHexString(label));
            assertEquals(DSCP_EF_ECT0, receiver.lastTrafficClass());
        }
        assertEquals(0, destination.get(ValueLayout.JAVA_INT_UNALIGNED, 4), "the caller's sockaddr is left as it was");
    }

    @Test
    void shouldKeepArbitraryFlowLabelsWhateverTheFlowLabelSysctlsSay() throws Exception {
        try (NetnsFixture netns = NetnsFixture.create("fsflow")) {
            sysctl(netns, "net.ipv6.flowlabel_state_ranges", 1);
            sysctl(netns, "net.ipv6.flowlabel_reflect", 7);
            netns.inside(() -> {
                assertFlowLabelsArriveAsSent(FLOW_LABELS);
                return null;
            });
        }
    }

    @Test
    void shouldRefuseUnleasedFlowLabelsOnceTheNamespaceHasAnExclusiveLease() throws Exception {
        try (NetnsFixture netns = NetnsFixture.create("fsexcl")) {
            netns.inside(() -> {
                InetAddress address = InetAddress.getByName("::1");
                UdpSocket sender = open(address);
                UdpSocket receiver = open(address);
                sender.enableSendFlowLabel();
                receiver.enableReceiveFlowLabel();
                MemorySegment destination = SocketAddress.of(arena, address, receiver.localPort());
                MemorySegment buffer = MemorySegment.ofArray(new byte[2048]);
                MemorySegment datagram = MemorySegment.ofArray(payload(5, 32));

                UdpSocket sharedHolder = open(address);
                lease(sharedHolder, 0x22222, FL_S_ANY);
                assertEquals(32, sender.sendWithTrafficClass(errno, datagram, 32, destination, 0, 0x12345),
                        "a shared lease elsewhere does not restrict labels");
                assertEquals(32, receiveOne(receiver, buffer));
                assertEquals(0x12345, receiver.lastFlowLabel());

                lease(sender, 0x33333, FL_S_EXCL);
                assertEquals(32, sender.sendWithTrafficClass(errno, datagram, 32, destination, 0, 0x33333));
                assertEquals(32, receiveOne(receiver, buffer));
                assertEquals(0x33333, receiver.lastFlowLabel(), "the socket's own lease");
                assertEquals(-Errno.EINVAL, sender.sendWithTrafficClass(errno, datagram, 32, destination, 0, 0x12345),
                        "once an exclusive lease exists, unleased labels are refused");
                UdpSocket other = open(address);
                other.enableSendFlowLabel();
                assertEquals(-Errno.EINVAL, other.sendWithTrafficClass(errno, datagram, 32, destination, 0, 0x44444),
                        "on every socket of the namespace");
                assertEquals(32, other.sendWithTrafficClass(errno, datagram, 32, destination, 0, 0),
                        "label 0 (the kernel's choice) still goes");
                assertEquals(32, receiveOne(receiver, buffer));
                return null;
            });
        }
    }

    @Test
    void shouldAllocateNothingPerMarkedSendAndReceive() throws Exception {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        InetAddress address = InetAddress.getByName("::1");
        UdpSocket sender = open(address);
        UdpSocket receiver = open(address);
        sender.enableSendFlowLabel();
        receiver.enableReceiveTrafficClass();
        receiver.enableReceiveFlowLabel();
        MemorySegment destination = SocketAddress.of(arena, address, receiver.localPort());
        MemorySegment out = MemorySegment.ofArray(payload(6, 1400));
        MemorySegment in = MemorySegment.ofArray(new byte[2048]);

        exchange(sender, receiver, destination, out, in, 50_000);
        long before = threads.getCurrentThreadAllocatedBytes();
        long received = exchange(sender, receiver, destination, out, in, 10_000);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;

        assertTrue(received > 9_000, "only " + received + " of 10000 datagrams came back");
        assertTrue(allocated < 16 * 1024, allocated + " bytes allocated over 10000 sends and receives");
    }

    /** Sends {@code count} marked datagrams and receives what arrived after each; how many arrived. */
    private long exchange(UdpSocket sender, UdpSocket receiver, MemorySegment destination, MemorySegment out,
                          MemorySegment in, int count) {
        long received = 0;
        for (int i = 0; i < count; i++) {
            sender.sendWithTrafficClass(errno, out, 1400, destination, i & 0xFF, i & 0xFFFFF);
            while (receiver.receiveWithTrafficClass(errno, in) > 0) {
                received += receiver.lastTrafficClass() == (i & 0xFF) ? 1 : 0;
            }
        }
        return received;
    }

    // ---- flow label leases (struct in6_flowlabel_req, linux/in6.h) -------------------------------------------------

    private static final int FL_A_GET = 0;
    private static final int FL_F_CREATE = 1;
    private static final int FL_S_EXCL = 1;
    private static final int FL_S_ANY = 255;
    private static final int FLOWLABEL_REQ_LENGTH = 32;

    private void lease(UdpSocket socket, int label, int share) throws Exception {
        MemorySegment request = arena.allocate(FLOWLABEL_REQ_LENGTH);
        byte[] loopback = InetAddress.getByName("::1").getAddress();
        MemorySegment.copy(loopback, 0, request, ValueLayout.JAVA_BYTE, 0, loopback.length); // flr_dst
        request.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 16, label); // flr_label
        request.set(ValueLayout.JAVA_BYTE, 20, (byte) FL_A_GET);                                       // flr_action
        request.set(ValueLayout.JAVA_BYTE, 21, (byte) share);                                          // flr_share
        request.set(ValueLayout.JAVA_SHORT_UNALIGNED, 22, (short) FL_F_CREATE);                        // flr_flags
        request.set(ValueLayout.JAVA_SHORT_UNALIGNED, 26, (short) 6);                       // flr_linger, seconds
        Syscalls.setsockopt(socket.fd(), Syscalls.SOL_IPV6, Syscalls.IPV6_FLOWLABEL_MGR, request, "IPV6_FLOWLABEL_MGR");
    }

    private static void sysctl(NetnsFixture netns, String key, int value) throws Exception {
        NetnsFixture.run("ip", "netns", "exec", netns.name, "sysctl", "-q", "-w", key + "=" + value);
    }
}
