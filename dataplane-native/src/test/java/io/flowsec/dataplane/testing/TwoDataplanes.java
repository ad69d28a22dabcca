package io.flowsec.dataplane.testing;

import io.flowsec.dataplane.lane.SiteQueue;
import io.flowsec.dataplane.runtime.Dataplane;
import io.flowsec.dataplane.runtime.DataplaneEvent;
import io.flowsec.dataplane.runtime.Mode;
import io.flowsec.dataplane.runtime.Steering;
import io.flowsec.dataplane.runtime.TunnelPort;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.state.SaStateStore;
import io.netty.channel.IoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalIoHandler;
import io.netty.util.concurrent.EventExecutor;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Two data planes, A and B, joined by a {@link MemoryNetwork}, each with its lanes on plain Netty event loops and
 * in-memory site queues: wireguard-go's two-device test, without root, TUN or sockets. Traffic is UDP from host A
 * to host B, one source port per flow, each packet carrying (flow, number) so loss and reordering show at B.
 */
public final class TwoDataplanes implements AutoCloseable {
    public final MemoryNetwork network = new MemoryNetwork();
    public final TestPackets.Tunnel tunnel;
    public final MemorySiteQueue[] siteA;
    public final MemorySiteQueue[] siteB;
    public final Dataplane a;
    public final Dataplane b;
    public final List<DataplaneEvent> eventsA = new CopyOnWriteArrayList<>();
    public final List<DataplaneEvent> eventsB = new CopyOnWriteArrayList<>();
    public final List<String> logA = new CopyOnWriteArrayList<>();
    /** Where A's lanes forward bypass packets. */
    public final MemoryClearPath clearA = new MemoryClearPath();
    private final SaStateStore storeA;
    private final SaStateStore storeB;
    private final MultiThreadIoEventLoopGroup loopsA;
    private final MultiThreadIoEventLoopGroup loopsB;
    private final int lanes;
    private final boolean bOnEveryAddress;
    private final int[] nextNumber = new int[1024];

    public TwoDataplanes(TestPackets.TunnelSpec spec, int lanes, Mode modeB) throws Exception {
        this(spec, lanes, modeB, null, null);
    }

    /** With each end's sequence state kept in a store (null: none), as the appliance keeps it. */
    public TwoDataplanes(TestPackets.TunnelSpec spec, int lanes, Mode modeB, SaStateStore storeA, SaStateStore storeB)
            throws Exception {
        this(spec, lanes, modeB, storeA, storeB, false);
    }

    /** @param bOnEveryAddress B's endpoints listen on every address ({@code 0.0.0.0:4500}), not on B's own */
    public TwoDataplanes(TestPackets.TunnelSpec spec, int lanes, Mode modeB, SaStateStore storeA, SaStateStore storeB,
                         boolean bOnEveryAddress) throws Exception {
        this.bOnEveryAddress = bOnEveryAddress;
        this.lanes = lanes;
        this.storeA = storeA;
        this.storeB = storeB;
        this.tunnel = spec.build();
        loopsA = new MultiThreadIoEventLoopGroup(lanes, LocalIoHandler.newFactory());
        loopsB = new MultiThreadIoEventLoopGroup(lanes, LocalIoHandler.newFactory());
        siteA = sites(lanes, hostA);
        siteB = sites(lanes, hostB);
        a = start(tunnel.a(), loopsA, siteA, clearA, Mode.FLOW, storeA, eventsA, logA);
        try {
            b = start(tunnel.b(), loopsB, siteB, new MemoryClearPath(), modeB, storeB, eventsB, new CopyOnWriteArrayList<>());
        } catch (Exception | Error e) {
            a.close();
            loopsA.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            loopsB.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            throw e;
        }
    }

    /** The site behind each data plane: one ordered stream of what any lane wrote, as the kernel's stack sees it. */
    private final BlockingQueue<byte[]> hostA = new LinkedBlockingQueue<>();
    private final BlockingQueue<byte[]> hostB = new LinkedBlockingQueue<>();

    private static MemorySiteQueue[] sites(int lanes, BlockingQueue<byte[]> host) {
        MemorySiteQueue[] sites = new MemorySiteQueue[lanes];
        for (int i = 0; i < lanes; i++) {
            sites[i] = new MemorySiteQueue(host);
        }
        return sites;
    }

    /** The next packet host A received, or null after {@code timeoutMs}. */
    public byte[] takeAtA(long timeoutMs) throws InterruptedException {
        return hostA.poll(timeoutMs, TimeUnit.MILLISECONDS);
    }

    public byte[] takeAtB(long timeoutMs) throws InterruptedException {
        return hostB.poll(timeoutMs, TimeUnit.MILLISECONDS);
    }

    private Dataplane start(TestPackets.Side side, MultiThreadIoEventLoopGroup group, MemorySiteQueue[] sites,
                            MemoryClearPath clear, Mode mode, SaStateStore store, List<DataplaneEvent> events,
                            List<String> log) throws Exception {
        List<IoEventLoop> loops = new ArrayList<>();
        for (EventExecutor executor : group) {
            loops.add((IoEventLoop) executor);
        }
        Set<InetSocketAddress> endpoints = new LinkedHashSet<>();
        for (SecurityAssociation sa : side.outboundGroup().members()) {
            endpoints.add(new InetSocketAddress(sa.outer().local(), sa.outer().localPort()));
        }
        for (SecurityAssociation sa : side.inbound()) {
            endpoints.add(new InetSocketAddress(sa.outer().local(), sa.outer().localPort()));
        }
        List<TunnelPort> ports = new ArrayList<>();
        Set<Integer> portsOnEveryAddress = new java.util.HashSet<>();
        for (InetSocketAddress endpoint : endpoints) {
            if (side != tunnel.b() || !bOnEveryAddress) {
                ports.add(network.port(endpoint.getAddress(), endpoint.getPort(), lanes));
            } else if (portsOnEveryAddress.add(endpoint.getPort())) {   // one socket per port for all addresses
                ports.add(network.portOnEveryAddress(endpoint.getAddress(), endpoint.getPort(), lanes));
            }
        }
        Dataplane dataplane = Dataplane.start(new Dataplane.Setup(loops, List.<SiteQueue>of(sites), ports,
                java.util.Collections.nCopies(lanes, clear), List.of(side.policy()), side.inbound(), mode, Steering.DIRECTOR,
                store, true, log::add));
        dataplane.addListener(events::add);
        return dataplane;
    }

    /** Lane {@code lane}'s event loop at B. */
    public io.netty.util.concurrent.EventExecutor laneLoopOfB(int lane) {
        int i = 0;
        for (EventExecutor executor : loopsB) {
            if (i++ == lane) {
                return executor;
            }
        }
        throw new IllegalArgumentException("no lane " + lane);
    }

    /** One UDP packet of flow {@code flow} from host A to host B, carrying (flow, number). */
    public static byte[] packet(int flow, int number, int payloadLength) {
        byte[] packet = TestPackets.udp(TestPackets.HOST_A_V4, 10_000 + flow, TestPackets.HOST_B_V4, 9, Math.max(8, payloadLength));
        TestPackets.put32(packet, 28, flow);
        TestPackets.put32(packet, 32, number);
        return packet;
    }

    /** Sends the next {@code perFlow} packets of each of {@code flows} flows from A's site, flow f on queue f mod lanes. */
    public void sendFromA(int flows, int perFlow) {
        for (int n = 0; n < perFlow; n++) {
            for (int flow = 0; flow < flows; flow++) {
                siteA[flow % lanes].inject(packet(flow, nextNumber[flow]++, 64));
            }
        }
    }

    /**
     * Takes what B's site queues received until {@code expected} packets came or {@code timeoutMs} passed:
     * flow → the numbers in the order they arrived.
     */
    public Map<Integer, List<Integer>> receivedAtB(int expected, long timeoutMs) throws InterruptedException {
        Map<Integer, List<Integer>> byFlow = new HashMap<>();
        int received = 0;
        long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (received < expected && System.nanoTime() < deadlineNs) {
            byte[] packet = hostB.poll(10, TimeUnit.MILLISECONDS);
            if (packet != null) {
                received++;
                byFlow.computeIfAbsent(TestPackets.get32(packet, 28), f -> new ArrayList<>()).add(TestPackets.get32(packet, 32));
            }
        }
        return byFlow;
    }

    /**
     * Bounds each socket of B's tunnel ports to {@code bytes} of waiting datagrams ({@link MemoryNetwork.Port#receiveBufferBytes});
     * returns how many sockets that is.
     */
    public int boundSocketsOfB(long bytes) {
        Set<InetSocketAddress> endpoints = new LinkedHashSet<>();
        for (SecurityAssociation sa : tunnel.b().inbound()) {
            endpoints.add(new InetSocketAddress(sa.outer().local(), sa.outer().localPort()));
        }
        endpoints.forEach(endpoint -> network.port(endpoint).receiveBufferBytes(bytes));
        return endpoints.size() * lanes;
    }

    /**
     * Holds every lane of B inside a task on its event loop until the returned handle is closed: B reads nothing
     * meanwhile, so what arrives waits in (or overflows) its sockets.
     */
    public AutoCloseable holdLanesOfB() throws InterruptedException {
        List<java.util.concurrent.CountDownLatch> releases = new ArrayList<>();
        for (int lane = 0; lane < lanes; lane++) {
            releases.add(hold(laneLoopOfB(lane)));
        }
        return () -> releases.forEach(java.util.concurrent.CountDownLatch::countDown);
    }

    /** Holds B's lane {@code lane} as {@link #holdLanesOfB} holds them all: busy, or stuck, as a test needs. */
    public AutoCloseable holdLaneOfB(int lane) throws InterruptedException {
        return hold(laneLoopOfB(lane))::countDown;
    }

    /** Runs a task on {@code loop} that waits for the returned latch (or 30 s); returns once the task runs. */
    private static java.util.concurrent.CountDownLatch hold(EventExecutor loop) throws InterruptedException {
        java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        loop.execute(() -> {
            held.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        if (!held.await(5, TimeUnit.SECONDS)) {
            release.countDown();
            throw new IllegalStateException("a lane of B did not stop within 5 s");
        }
        return release;
    }

    public static int count(Map<Integer, List<Integer>> byFlow) {
        int total = 0;
        for (List<Integer> numbers : byFlow.values()) {
            total += numbers.size();
        }
        return total;
    }

    @Override
    public void close() throws Exception {
        a.close();
        b.close();
        loopsA.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        loopsB.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        if (storeA != null) {
            storeA.close();
        }
        if (storeB != null) {
            storeB.close();
        }
    }
}
