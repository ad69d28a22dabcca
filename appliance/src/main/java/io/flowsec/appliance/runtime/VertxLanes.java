package io.flowsec.appliance.runtime;

import io.netty.channel.IoEventLoop;
import io.netty.channel.uring.IoUring;
import io.netty.util.concurrent.EventExecutor;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.transport.Transport;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The one place where the lanes meet Vert.x: a Vert.x instance with one event loop per lane on io_uring (epoll when
 * io_uring is unavailable, or when {@code FLOWSEC_TRANSPORT=epoll}), and those loops as Netty {@link IoEventLoop}s
 * for the data plane, which registers its queues on them. The control API and the cluster run verticles on the same
 * instance; only this class uses Vert.x's internal API.
 */
public final class VertxLanes implements AutoCloseable {
    private final Vertx vertx;
    private final List<IoEventLoop> loops;
    private final String transport;

    private VertxLanes(Vertx vertx, List<IoEventLoop> loops, String transport) {
        this.vertx = vertx;
        this.loops = loops;
        this.transport = transport;
    }

    public static VertxLanes start(int lanes, Consumer<String> log) {
        boolean forceEpoll = "epoll".equals(System.getenv("FLOWSEC_TRANSPORT"));
        boolean ioUring = !forceEpoll && IoUring.isAvailable();
        if (forceEpoll) {
            log.accept("FLOWSEC_TRANSPORT=epoll: lanes run on epoll");
        } else if (!ioUring) {
            log.accept("io_uring is unavailable (" + IoUring.unavailabilityCause() + "); lanes run on epoll");
        }
        Vertx vertx = Vertx.builder().with(new VertxOptions().setEventLoopPoolSize(lanes))
                .withTransport(ioUring ? Transport.IO_URING : Transport.EPOLL).build();
        List<IoEventLoop> loops = new ArrayList<>();
        for (EventExecutor executor : ((VertxInternal) vertx).nettyEventLoopGroup()) {
            loops.add((IoEventLoop) executor);
        }
        return new VertxLanes(vertx, List.copyOf(loops.subList(0, lanes)), ioUring ? "io_uring" : "epoll");
    }

    public Vertx vertx() {
        return vertx;
    }

    /** One event loop per lane, lane i's at index i. */
    public List<IoEventLoop> loops() {
        return loops;
    }

    /** {@code io_uring} or {@code epoll}. */
    public String transport() {
        return transport;
    }

    /** Stops the event loops, waiting at most 10 s; an IllegalStateException says they did not stop in time. */
    @Override
    public void close() {
        try {
            vertx.close().await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("event loops did not stop cleanly: " + e.getMessage(), e);
        }
    }
}
