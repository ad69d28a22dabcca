package io.flowsec.dataplane.lane;

import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandle;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.channel.uring.IoUringIoOps;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * Serves a lane's descriptors (its TUN queue and its tunnel sockets) from the lane's own Netty event loop, so in
 * {@code flow} mode reception, ESP and transmission of a packet all happen on one thread.
 * <p>
 * Readiness drives the lane: with io_uring a one-shot {@code POLL_ADD} per descriptor, re-armed after each drain;
 * with epoll a level-triggered {@code EPOLLIN} interest. The lane then reads with plain non-blocking system calls
 * straight into its heap buffers. A drain that filled a whole batch yields to the other descriptors of the loop and
 * continues in a task, so one busy descriptor cannot starve the rest.
 */
public final class LaneIo {
    private static final byte IORING_OP_POLL_ADD = 6;
    private static final int POLLIN = 0x1;

    private LaneIo() {
    }

    /** Registers every descriptor of {@code lane} on {@code loop} (call from any thread; the loop must be the lane's). */
    public static List<IoRegistration> attach(Lane lane, IoEventLoop loop) throws InterruptedException {
        List<IoRegistration> registrations = new ArrayList<>();
        registrations.add(register(loop, lane.tunQueueFd(), lane::onSiteReadable));
        for (int i = 0; i < lane.sockets().length; i++) {
            int socketIndex = i;
            registrations.add(register(loop, lane.sockets()[i].fd(), () -> lane.onTunnelReadable(socketIndex)));
        }
        return registrations;
    }

    private static IoRegistration register(IoEventLoop loop, int fd, IntSupplier drain) throws InterruptedException {
        IoHandle handle = loop.isCompatible(IoUringReadiness.class)
                ? new IoUringReadiness(loop, fd, drain)
                : new EpollReadiness(loop, fd, drain);
        IoRegistration registration = loop.register(handle).sync().getNow();
        loop.execute(() -> ((Readiness) handle).arm(registration));
        return registration;
    }

    /** Common part: drain, and either continue in a task (batch full) or wait for readiness again. */
    private abstract static class Readiness {
        final IoEventLoop loop;
        final int fd;
        final IntSupplier drain;
        private final Runnable continueDrain;
        IoRegistration registration;

        Readiness(IoEventLoop loop, int fd, IntSupplier drain) {
            this.loop = loop;
            this.fd = fd;
            this.drain = drain;
            this.continueDrain = this::onReadable;
        }

        abstract void arm(IoRegistration registration);

        final void onReadable() {
            if (registration == null || !registration.isValid()) {
                return;
            }
            if (drain.getAsInt() == Lane.BATCH) {
                loop.execute(continueDrain);
            } else {
                rearm();
            }
        }

        abstract void rearm();
    }

    private static final class IoUringReadiness extends Readiness implements IoUringIoHandle {
        private final IoUringIoOps pollIn;

        IoUringReadiness(IoEventLoop loop, int fd, IntSupplier drain) {
            super(loop, fd, drain);
            this.pollIn = new IoUringIoOps(IORING_OP_POLL_ADD, (byte) 0, (short) 0, fd, 0L, 0L, 0, POLLIN,
                    (short) 0, (short) 0, (short) 0, 0, 0L);
        }

        @Override
        void arm(IoRegistration registration) {
            this.registration = registration;
            rearm();
        }

        @Override
        void rearm() {
            registration.submit(pollIn);
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            onReadable();
        }

        @Override
        public void close() {
            if (registration != null) {
                registration.cancel();
            }
        }
    }

    private static final class EpollReadiness extends Readiness implements EpollIoHandle {
        private final FileDescriptor descriptor;

        EpollReadiness(IoEventLoop loop, int fd, IntSupplier drain) {
            super(loop, fd, drain);
            this.descriptor = new FileDescriptor(fd);
        }

        @Override
        public FileDescriptor fd() {
            return descriptor;
        }

        @Override
        void arm(IoRegistration registration) {
            this.registration = registration;
            registration.submit(EpollIoOps.EPOLLIN);
        }

        @Override
        void rearm() {
            // level-triggered: epoll reports the descriptor again while it has data
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            onReadable();
        }

        @Override
        public void close() {
            if (registration != null) {
                registration.cancel();
            }
        }
    }
}
