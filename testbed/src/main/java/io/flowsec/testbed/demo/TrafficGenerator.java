package io.flowsec.testbed.demo;

import io.flowsec.dataplane.linux.NetworkNamespace;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * Many flows from host A to host B across the test bed: UDP datagrams of a fixed size or TCP streams, each flow on
 * its own source port, sent as fast as the machine allows. A sink in host B counts what arrives. Threads enter the
 * hosts' namespaces themselves, so nothing outside the test bed is touched. Bounded: {@link #stop} ends it.
 */
public final class TrafficGenerator implements AutoCloseable {
    public enum Kind { UDP, TCP }

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final LongAdder receivedBytes = new LongAdder();
    private final LongAdder receivedPackets = new LongAdder();
    private final List<Thread> threads = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    private TrafficGenerator() {
    }

    /**
     * Starts {@code flows} flows of {@code kind} from {@code hostA} to {@code hostB} ({@code destination}, base port
     * {@code port}); UDP datagrams carry {@code payloadBytes} bytes each. {@code senders} threads share the flows.
     */
    public static TrafficGenerator start(Kind kind, String hostA, String hostB, String source, String destination,
                                         int port, int flows, int payloadBytes, int senders) throws InterruptedException {
        TrafficGenerator generator = new TrafficGenerator();
        if (kind == Kind.UDP) {
            generator.startUdp(hostA, hostB, source, destination, port, flows, payloadBytes, senders);
        } else {
            generator.startTcp(hostA, hostB, source, destination, port, flows, senders);
        }
        return generator;
    }

    public long receivedBytes() {
        return receivedBytes.sum();
    }

    /** Datagrams (UDP) or reads (TCP) at the sink. */
    public long receivedPackets() {
        return receivedPackets.sum();
    }

    private Thread spawn(String name, String namespace, ThrowingRunnable body) {
        Thread thread = Thread.ofPlatform().daemon().name(name).start(() -> {
            try {
                NetworkNamespace.enter(namespace);
                body.run();
            } catch (Exception e) {
                if (running.get()) {
                    System.err.println("flowsec demo: " + name + " stopped: " + e.getMessage());
                }
            }
        });
        threads.add(thread);
        return thread;
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private synchronized void track(AutoCloseable closeable) {
        closeables.add(closeable);
    }

    private void startUdp(String hostA, String hostB, String source, String destination, int port, int flows,
                          int payloadBytes, int senders) throws InterruptedException {
        Object ready = new Object();
        boolean[] bound = {false};
        spawn("sink-udp", hostB, () -> {
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(destination, port))) {
                socket.setReceiveBufferSize(8 << 20);
                track(socket);
                synchronized (ready) {
                    bound[0] = true;
                    ready.notifyAll();
                }
                byte[] buffer = new byte[65536];
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                while (running.get()) {
                    socket.receive(packet);
                    receivedPackets.increment();
                    receivedBytes.add(packet.getLength());
                }
            } catch (SocketException closed) {
                // stop() closed the socket
            }
        });
        synchronized (ready) {
            while (!bound[0]) {
                ready.wait(5000);
                if (!bound[0]) {
                    throw new IllegalStateException("the UDP sink did not start");
                }
            }
        }
        InetSocketAddress target = new InetSocketAddress(destination, port);
        for (int s = 0; s < senders; s++) {
            int first = s;
            spawn("flows-udp-" + s, hostA, () -> {
                List<DatagramSocket> sockets = new ArrayList<>();
                for (int flow = first; flow < flows; flow += senders) {
                    DatagramSocket socket = new DatagramSocket(new InetSocketAddress(source, 30000 + flow));
                    track(socket);
                    sockets.add(socket);
                }
                byte[] payload = new byte[payloadBytes];
                DatagramPacket packet = new DatagramPacket(payload, payload.length, target);
                while (running.get()) {
                    for (DatagramSocket socket : sockets) {
                        socket.send(packet);
                    }
                }
            });
        }
    }

    private void startTcp(String hostA, String hostB, String source, String destination, int port, int flows,
                          int senders) throws InterruptedException {
        Object ready = new Object();
        boolean[] listening = {false};
        spawn("sink-tcp", hostB, () -> {
            try (ServerSocket server = new ServerSocket(port, flows, InetAddress.getByName(destination))) {
                track(server);
                synchronized (ready) {
                    listening[0] = true;
                    ready.notifyAll();
                }
                while (running.get()) {
                    Socket connection = server.accept();
                    track(connection);
                    Thread.ofPlatform().daemon().start(() -> {
                        byte[] buffer = new byte[65536];
                        try (InputStream in = connection.getInputStream()) {
                            int n;
                            while ((n = in.read(buffer)) > 0) {
                                receivedPackets.increment();
                                receivedBytes.add(n);
                            }
                        } catch (IOException closed) {
                            // stop() closed it
                        }
                    });
                }
            } catch (SocketException closed) {
                // stop()
            }
        });
        synchronized (ready) {
            while (!listening[0]) {
                ready.wait(5000);
                if (!listening[0]) {
                    throw new IllegalStateException("the TCP sink did not start");
                }
            }
        }
        for (int s = 0; s < senders; s++) {
            int first = s;
            spawn("flows-tcp-" + s, hostA, () -> {
                List<OutputStream> streams = new ArrayList<>();
                for (int flow = first; flow < flows; flow += senders) {
                    Socket socket = new Socket();
                    socket.bind(new InetSocketAddress(source, 30000 + flow));
                    socket.connect(new InetSocketAddress(destination, port), 5000);
                    track(socket);
                    streams.add(socket.getOutputStream());
                }
                byte[] chunk = new byte[16384];
                while (running.get()) {
                    for (OutputStream stream : streams) {
                        stream.write(chunk);
                    }
                }
            });
        }
    }

    /** Stops every flow and the sink, and waits for their threads. */
    public void stop() throws InterruptedException {
        running.set(false);
        synchronized (this) {
            for (AutoCloseable closeable : closeables) {
                try {
                    closeable.close();
                } catch (Exception ignored) {
                    // already closed
                }
            }
        }
        for (Thread thread : threads) {
            thread.join(5000);
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
