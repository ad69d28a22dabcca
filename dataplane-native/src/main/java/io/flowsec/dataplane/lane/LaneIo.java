package io.flowsec.dataplane.lane;

import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandle;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.channel.uring.IoUringIoOps;
import io.netty.util.concurrent.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.IntSupplier;

/**
 * Serves a lane's descriptors (its TUN queue and its tunnel sockets) from the lane's own Netty event loop, so in
 * {@code flow} mode reception, ESP and transmission of a packet all happen on one thread.
 * <p>
 * Readiness drives the lane: with io_uring a one-shot {@code POLL_ADD} per descriptor, re-armed after each drain;
 * with epoll a level-triggered {@code EPOLLIN} interest. The lane then reads with non-blocking calls straight into
 * its heap buffers. A TUN queue on io_uring is served by its ring instead ({@link TunRing}): its reads stay posted
 * and their completions start the drain. A drain that filled a whole batch yields to the other descriptors of the
 * loop and continues later, so one busy descriptor cannot starve the rest; on io_uring it continues after the
 * loop's next turn of the ring (a {@code NOP} completes then), so the writes the batch queued are submitted and their
 * buffers come back before the next batch.
 * <p>
 * A binding can be paused (readiness is ignored and not re-armed, packets wait in the kernel's queues) and resumed,
 * which the control plane uses to hand SAs from one lane to another without two lanes touching one SA's state.
 */
public final class LaneIo {
    private static final int POLLIN = 0x1;

    private final Lane lane;
    private final IoEventLoop loop;
    private final List<Readiness> handles = new ArrayList<>();
    private final List<IoRegistration> registrations = new ArrayList<>();
    /** Only touched on the lane's loop. */
    private boolean paused;
    /** Only the tunnel sockets wait (the gaining side of an SA's hand-over); the site queue is served. */
    private boolean tunnelPaused;
    private PcryptInbound pcryptInbound;

    private LaneIo(Lane lane, IoEventLoop loop) {
        this.lane = lane;
        this.loop = loop;
    }

    /** Registers every queue of {@code lane} on {@code loop} and starts serving them. */
    public static LaneIo attach(Lane lane, IoEventLoop loop) throws InterruptedException {
        LaneIo io = new LaneIo(lane, loop);
        io.register(lane.site(), lane::onSiteReadable, false);
        for (int i = 0; i < lane.sockets().length; i++) {
            int socketIndex = i;
            io.register(lane.sockets()[i], () -> lane.onTunnelReadable(socketIndex), true);
        }
        return io;
    }

    /**
     * Serves {@code site} alone on {@code loop}, calling {@code drain} as a lane's {@code onSiteReadable} would be
     * called: the site queue's I/O without a lane around it (tests).
     */
    static LaneIo serveSite(TunSiteQueue site, IntSupplier drain, IoEventLoop loop) throws InterruptedException {
        LaneIo io = new LaneIo(null, loop);
        io.register(site, drain, false);
        return io;
    }

    private void register(LaneReadiness queue, IntSupplier drain, boolean tunnel) throws InterruptedException {
        int fd = queue.fd();
        if (fd < 0) {
            CallbackReadiness handle = new CallbackReadiness(this, queue, drain, tunnel);
            handles.add(handle);
            queue.whenReadable(handle.wake);
            loop.execute(handle.wake);
            return;
        }
        Readiness handle;
        if (!loop.isCompatible(IoUringReadiness.class)) {
            handle = new EpollReadiness(this, queue, fd, drain, tunnel);
        } else if (queue instanceof TunSiteQueue tun && tun.wantsRing()) {
            handle = new IoUringRingReadiness(this, tun, fd, drain);
        } else {
            handle = new IoUringReadiness(this, queue, fd, drain, tunnel);
        }
        IoRegistration registration = loop.register((IoHandle) handle).sync().getNow();
        registrations.add(registration);
        handles.add(handle);
        loop.execute(() -> {
            if (handle instanceof IoUringRingReadiness ringReadiness) {
                ringReadiness.start(registration);
            }
            handle.arm(registration);
        });
    }

    /** Runs {@code command} on the lane's thread between two batches; the future completes once it ran. */
    public Future<?> run(Runnable command) {
        return loop.submit(command);
    }

    public Lane lane() {
        return lane;
    }

    public IoEventLoop loop() {
        return loop;
    }

    /** Stops serving after the batch in progress; the returned future completes on the lane's thread. */
    public Future<?> pause() {
        return loop.submit(() -> {
            paused = true;
        });
    }

    /**
     * Stops reading the tunnel sockets after the batch in progress, and goes on serving the site queue: the gaining
     * lane of an SA's hand-over waits so, until the losing lane has read what was queued before steering changed.
     */
    public Future<?> pauseTunnel() {
        return loop.submit(() -> {
            tunnelPaused = true;
        });
    }

    /** Reads the tunnel sockets again, at once. */
    public Future<?> resumeTunnel() {
        return loop.submit(() -> {
            tunnelPaused = false;
            for (Readiness handle : handles) {
                if (handle.tunnel) {
                    handle.onReadable();
                }
            }
        });
    }

    /**
     * Reads the lane's tunnel sockets until they are empty, at most {@code maxDatagrams} from each (packets of SAs
     * the lane keeps may go on arriving), and, for pcrypt's receiving lane, until every packet in the workers' hands
     * is back and written. Used while paused, during a hand-over.
     */
    public Future<?> drainTunnelSockets(int maxDatagrams) {
        return loop.submit(() -> {
            for (int i = 0; i < lane.sockets().length; i++) {
                int drained = 0;
                while (drained < maxDatagrams) {
                    int received = lane.onTunnelReadable(i);
                    drained += received;
                    if (received > 0) {
                        continue;
                    }
                    PcryptInbound pcrypt = lane.pcrypt();
                    if (pcrypt == null || pcrypt.isIdle()) {
                        break;                      // socket empty, nothing in flight
                    }
                    pcrypt.completeInOrder();       // ring full or results pending: workers keep running tasks
                    Thread.onSpinWait();
                }
            }
            PcryptInbound pcrypt = lane.pcrypt();
            while (pcrypt != null && !pcrypt.isIdle()) {
                // workers' results arrive as tasks for this loop, which is busy here: poll them instead
                pcrypt.completeInOrder();
                Thread.onSpinWait();
            }
        });
    }

    /**
     * Makes this lane pcrypt's receiving lane, handing cryptography to {@code workers} (this lane included), or
     * with an empty array makes it a lane of its own again. Use while paused and drained.
     */
    public Future<?> usePcrypt(LaneIo[] workers) {
        return loop.submit(() -> {
            if (workers.length == 0) {
                lane.usePcrypt(null);
                return;
            }
            Lane[] lanes = new Lane[workers.length];
            Executor[] loops = new Executor[workers.length];
            for (int i = 0; i < workers.length; i++) {
                lanes[i] = workers[i].lane;
                loops[i] = workers[i].loop;
            }
            if (pcryptInbound == null) {
                pcryptInbound = new PcryptInbound(lane, loop, lanes, loops);   // its ring is kept for later switches
            }
            lane.usePcrypt(pcryptInbound);
        });
    }

    /** Serves the descriptors again and catches up with what arrived meanwhile. */
    public Future<?> resume() {
        return loop.submit(() -> {
            paused = false;
            for (Readiness handle : handles) {
                handle.onReadable();
            }
        });
    }

    public void close() {
        for (Readiness handle : handles) {
            handle.close();
        }
        for (IoRegistration registration : registrations) {
            registration.cancel();
        }
    }

    /** Common part: drain, and either continue in a task (batch full) or wait for readiness again. */
    private abstract static class Readiness {
        final LaneIo io;
        /** Asked after a drain: a queue may hold in user space what it took from the kernel (a GRO run, a TSO cut). */
        final LaneReadiness queue;
        final int fd;
        final IntSupplier drain;
        /** A tunnel socket's (else the site queue's): {@link #pauseTunnel} holds it. */
        final boolean tunnel;
        final Runnable continueDrain;
        IoRegistration registration;

        Readiness(LaneIo io, LaneReadiness queue, int fd, IntSupplier drain, boolean tunnel) {
            this.io = io;
            this.queue = queue;
            this.fd = fd;
            this.drain = drain;
            this.tunnel = tunnel;
            this.continueDrain = this::onReadable;
        }

        /** Takes the registration the event loop gave this handle and starts waiting for readiness. */
        final void arm(IoRegistration registration) {
            this.registration = registration;
            rearm();
        }

        boolean isServing() {
            return registration != null && registration.isValid();
        }

        final void onReadable() {
            if (!isServing()) {
                return;
            }
            if (io.paused || tunnel && io.tunnelPaused) {
                pausedInterest();
                return;
            }
            if (drain.getAsInt() == Lane.BATCH || queue.hasPending()) {
                continueLater();
            } else {
                rearm();
            }
        }

        /** Drains again after the loop served its other descriptors. */
        void continueLater() {
            io.loop.execute(continueDrain);
        }

        abstract void rearm();

        /** While paused: stop being woken for this descriptor. */
        abstract void pausedInterest();

        /** The handle's {@code close()}: stop being woken. */
        public void close() {
            if (registration != null) {
                registration.cancel();
            }
        }
    }

    /**
     * A queue without a descriptor (an in-memory test double): it calls {@link #wake} from any thread when
     * something arrives, which runs a drain on the lane's loop; a drain that left something behind runs again.
     */
    private static final class CallbackReadiness extends Readiness {
        final Runnable wake;
        private boolean closed;

        CallbackReadiness(LaneIo io, LaneReadiness queue, IntSupplier drain, boolean tunnel) {
            super(io, queue, -1, drain, tunnel);
            this.wake = () -> io.loop.execute(continueDrain);
        }

        @Override
        boolean isServing() {
            return !closed;
        }

        @Override
        void rearm() {
            if (queue.hasPending()) {
                io.loop.execute(continueDrain);   // level-triggered, like a poll on a descriptor with data left
            }
        }

        @Override
        void pausedInterest() {
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static class IoUringReadiness extends Readiness implements IoUringIoHandle {
        private final IoUringIoOps pollIn;
        private final IoUringIoOps continuation;
        /** A POLL_ADD is outstanding: a second one would wake the lane twice for each readiness, for ever after. */
        private boolean armed;
        /** A NOP is outstanding: its completion continues the drain. */
        private boolean continuing;

        IoUringReadiness(LaneIo io, LaneReadiness queue, int fd, IntSupplier drain, boolean tunnel) {
            super(io, queue, fd, drain, tunnel);
            this.pollIn = new IoUringIoOps(TunRing.IORING_OP_POLL_ADD, (byte) 0, (short) 0, fd, 0L, 0L, 0, POLLIN,
                    0L, (short) 0, (short) 0, 0, 0L);
            this.continuation = new IoUringIoOps(TunRing.IORING_OP_NOP, (byte) 0, (short) 0, -1, 0L, 0L, 0, 0,
                    0L, (short) 0, (short) 0, 0, 0L);
        }

        @Override
        void rearm() {
            if (!armed) {
                armed = true;
                registration.submit(pollIn);
            }
        }

        @Override
        final void continueLater() {
            if (!continuing) {
                continuing = true;
                registration.submit(continuation);
            }
        }

        @Override
        void pausedInterest() {
            // one-shot poll: not re-arming is enough; resume() drains and re-arms
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            IoUringIoEvent completion = (IoUringIoEvent) event;
            switch (completion.opcode()) {
                case TunRing.IORING_OP_POLL_ADD -> {
                    armed = false;   // one-shot: the poll that completed is gone
                    onPollReady();
                }
                case TunRing.IORING_OP_NOP -> {
                    continuing = false;
                    onReadable();
                }
                default -> onOtherCompletion(completion);
            }
        }

        void onPollReady() {
            onReadable();
        }

        void onOtherCompletion(IoUringIoEvent completion) {
        }
    }

    /**
     * A TUN queue served by its {@link TunRing}: a poll says the queue is readable, a burst of reads takes what it
     * holds, and the burst's completions start the drain (once per loop turn, so the drain sees the whole burst).
     * After the drain, a burst that found no end is followed by another, one that did by a poll. While the queue
     * brings superpackets, the drain reads them itself with system calls (one moves 64 KB; the ring would copy it).
     * Should the ring's reads fail, the queue is polled and read with system calls.
     */
    private static final class IoUringRingReadiness extends IoUringReadiness {
        private final TunSiteQueue tun;
        private final TunRing ring;
        private final Runnable drainCompleted;
        private boolean drainScheduled;
        private boolean pollingFallback;

        IoUringRingReadiness(LaneIo io, TunSiteQueue tun, int fd, IntSupplier drain) {
            super(io, tun, fd, drain, false);
            this.tun = tun;
            this.ring = new TunRing(fd, Lane.MAX_PACKET);
            this.drainCompleted = () -> {
                drainScheduled = false;
                onReadable();
            };
        }

        @Override
        void rearm() {
            if (ring.readFailure() != 0 && !ring.hasCompletedReads()) {
                if (!pollingFallback) {
                    pollingFallback = true;
                    tun.ringReadsFailed(ring.readFailure());
                }
                super.rearm();                   // the queue reads with system calls when the poll says so
            } else if (!ring.burstInFlight()
                    && (tun.chooseDirectReads() || ring.burstFoundEnd() || ring.postBurst() == 0)) {
                super.rearm();                   // direct reads (superpackets), or the queue is empty: a poll first
            }
        }

        @Override
        void onPollReady() {
            if (io.paused) {
                return;                          // resume() drains and re-arms
            }
            if (tun.chooseDirectReads() || ring.postBurst() == 0) {
                onReadable();                    // the drain reads with system calls
            }
        }

        @Override
        void onOtherCompletion(IoUringIoEvent completion) {
            if (ring.onCompletion(completion.opcode(), completion.data(), completion.res()) && !drainScheduled) {
                drainScheduled = true;
                io.loop.execute(drainCompleted);
            }
        }

        @Override
        public void close() {
            ring.cancel();
            super.close();
        }

        /** First thing on the loop: the queue reads and writes through the ring from now on. */
        void start(IoRegistration registration) {
            tun.useRing(ring);
            ring.attach(registration);
        }
    }

    private static final class EpollReadiness extends Readiness implements EpollIoHandle {
        private final FileDescriptor descriptor;
        private boolean interested;

        EpollReadiness(LaneIo io, LaneReadiness queue, int fd, IntSupplier drain, boolean tunnel) {
            super(io, queue, fd, drain, tunnel);
            this.descriptor = new FileDescriptor(fd);
        }

        @Override
        public FileDescriptor fd() {
            return descriptor;
        }

        @Override
        void rearm() {
            // level-triggered: once interested, epoll reports the descriptor again while it has data
            if (!interested) {
                registration.submit(EpollIoOps.EPOLLIN);
                interested = true;
            }
        }

        @Override
        void pausedInterest() {
            if (interested) {
                // not NONE: Netty then removes the descriptor from epoll, and re-arming it would fail with ENOENT
                registration.submit(EpollIoOps.EPOLLERR);
                interested = false;
            }
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            onReadable();
        }
    }
}
