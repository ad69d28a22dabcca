package io.flowsec.dataplane.linux;

import java.io.Closeable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * A multi-queue TUN device (layer 3, no packet information header): one non-blocking file descriptor per queue,
 * each owned by one lane. The kernel keeps each inner flow on one queue, so the site side is already spread over
 * the lanes before encryption (the paper's step 1). The device lives as long as one of its queues is open.
 */
public final class TunDevice implements Closeable {
    /** _IOW('T', 202, int). */
    static final long TUNSETIFF = 0x400454caL;
    static final short IFF_TUN = 0x0001;
    static final short IFF_NO_PI = 0x1000;
    static final short IFF_MULTI_QUEUE = 0x0100;
    /** Each packet read or written starts with a struct virtio_net_hdr (10 bytes): what offloads need. */
    static final short IFF_VNET_HDR = 0x4000;
    /** _IOW('T', 208, unsigned int): which offloads the kernel may leave to us; the argument is the value itself. */
    static final long TUNSETOFFLOAD = 0x400454d0L;
    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    public static final int TUN_F_TSO_ECN = 0x08;
    /** USO4 and USO6 only together (Linux 6.2 on). */
    public static final int TUN_F_USO4 = 0x20;
    public static final int TUN_F_USO6 = 0x40;
    /** What a lane can cut: checksums, TCP over IPv4 and IPv6 (with ECN's CWR), UDP over both. */
    public static final int ALL_OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6;
    /** Create only: TUNSETIFF fails with EBUSY when the device exists (another appliance's: never join its queues). */
    static final short IFF_TUN_EXCL = (short) 0x8000;
    public static final int EBUSY = 16;
    static final int IFNAMSIZ = 16;
    static final int IFREQ_LENGTH = 40;

    private final String name;
    private final int[] queueFds;
    private final boolean vnetHeader;
    private final int offloads;
    private final String offloadRefusal;
    private boolean closed;

    private TunDevice(String name, int[] queueFds, boolean vnetHeader, int offloads, String offloadRefusal) {
        this.name = name;
        this.queueFds = queueFds;
        this.vnetHeader = vnetHeader;
        this.offloads = offloads;
        this.offloadRefusal = offloadRefusal;
    }

    /**
     * Creates TUN device {@code name} with {@code queues} queues in the caller's network namespace. A device of that
     * name that exists already is refused (NativeException with {@link #EBUSY}), never joined.
     */
    public static TunDevice open(String name, int queues) throws NativeException {
        return open(name, queues, 0);
    }

    /**
     * As {@link #open(String, int)}; with {@code wantedOffloads} (TUN_F_* flags) not 0, every queue reads and writes
     * a virtio_net_hdr before each packet, and the kernel may hand over what the device grants of them:
     * checksums left partial, TCP and UDP superpackets up to 64 KB. What the kernel refuses is retried without the
     * newest flags (USO, then ECN, then segmentation), and what was granted is {@link #offloads()}, the refusal
     * {@link #offloadRefusal()}.
     */
    public static TunDevice open(String name, int queues, int wantedOffloads) throws NativeException {
        byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
        if (nameBytes.length == 0 || nameBytes.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("interface name must have 1-15 characters: '" + name + "'");
        }
        if (queues < 1) {
            throw new IllegalArgumentException("a TUN device needs at least one queue");
        }
        int[] fds = new int[queues];
        int opened = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (; opened < queues; opened++) {
                int fd = Syscalls.open("/dev/net/tun", Syscalls.O_RDWR | Syscalls.O_NONBLOCK | Syscalls.O_CLOEXEC);
                fds[opened] = fd;
                MemorySegment ifreq = arena.allocate(IFREQ_LENGTH);
                MemorySegment.copy(nameBytes, 0, ifreq, ValueLayout.JAVA_BYTE, 0, nameBytes.length);
                // the first queue creates the device, exclusively; the others attach to it
                short flags = (short) (IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | (opened == 0 ? IFF_TUN_EXCL : 0)
                        | (wantedOffloads != 0 ? IFF_VNET_HDR : 0));
                ifreq.set(ValueLayout.JAVA_SHORT_UNALIGNED, IFNAMSIZ, flags);
                try {
                    Syscalls.ioctl(fd, TUNSETIFF, ifreq, "TUNSETIFF " + name + " queue " + opened);
                } catch (NativeException e) {
                    Syscalls.close(fd);
                    throw e;
                }
            }
        } catch (NativeException e) {
            for (int i = 0; i < opened; i++) {
                Syscalls.close(fds[i]);
            }
            throw e;
        }
        if (wantedOffloads == 0) {
            return new TunDevice(name, fds, false, 0, "");
        }
        // the device's features, set through any queue; each retry drops what newer kernels added last
        int[] attempts = {wantedOffloads, wantedOffloads & ~(TUN_F_USO4 | TUN_F_USO6),
                wantedOffloads & ~(TUN_F_USO4 | TUN_F_USO6 | TUN_F_TSO_ECN), wantedOffloads & TUN_F_CSUM};
        String refusal = "";
        for (int attempt : attempts) {
            try {
                Syscalls.ioctlValue(fds[0], TUNSETOFFLOAD, attempt, "TUNSETOFFLOAD " + describe(attempt));
                return new TunDevice(name, fds, true, attempt, refusal);
            } catch (NativeException refused) {
                refusal = refusal.isEmpty() ? refused.getMessage() : refusal;
            }
        }
        return new TunDevice(name, fds, true, 0, refusal);
    }

    /** TUN_F_* flags as words: {@code CSUM TSO4 TSO6 TSO_ECN USO4 USO6}. */
    public static String describe(int offloads) {
        StringBuilder words = new StringBuilder();
        String[] names = {"CSUM", "TSO4", "TSO6", "TSO_ECN", "UFO", "USO4", "USO6"};
        for (int bit = 0; bit < names.length; bit++) {
            if ((offloads & (1 << bit)) != 0) {
                words.append(words.isEmpty() ? "" : " ").append(names[bit]);
            }
        }
        return words.isEmpty() ? "none" : words.toString();
    }

    /** Every packet read or written carries a virtio_net_hdr first. */
    public boolean vnetHeader() {
        return vnetHeader;
    }

    /** The TUN_F_* offloads the kernel granted (0: none, or no virtio header). */
    public int offloads() {
        return offloads;
    }

    /** The first refusal met while asking for offloads; empty when everything asked for was granted. */
    public String offloadRefusal() {
        return offloadRefusal;
    }

    /**
     * A device whose queue descriptors were opened elsewhere: one per queue, non-blocking, each read and write one
     * packet, as a TUN queue's. The appliance's warm-start training runs its lanes on datagram socket pairs adopted so
     * ({@link Syscalls#socketpair}), which needs neither root nor a device, through the same queue code as production.
     * Closing the device closes the descriptors.
     */
    public static TunDevice adopt(String name, int[] queueFds) {
        return adopt(name, queueFds, false);
    }

    /**
     * As {@link #adopt(String, int[])}; with {@code vnetHeader} each packet read or written carries a virtio_net_hdr
     * first, as on a device opened with offloads (none granted: the other ends decide what they write).
     */
    public static TunDevice adopt(String name, int[] queueFds, boolean vnetHeader) {
        if (queueFds.length < 1) {
            throw new IllegalArgumentException("a TUN device needs at least one queue");
        }
        return new TunDevice(name, queueFds.clone(), vnetHeader, 0, vnetHeader ? "adopted descriptors" : "");
    }

    public String name() {
        return name;
    }

    public int queues() {
        return queueFds.length;
    }

    public int queueFd(int queue) {
        return queueFds[queue];
    }

    /** Reads one packet from a queue into {@code buffer}: its length, or -errno (-EAGAIN: none waiting). */
    public long read(Errno errno, int queue, MemorySegment buffer) {
        return Syscalls.read(errno, queueFds[queue], buffer);
    }

    /** Writes one IP packet to a queue (the kernel then routes it): its length, or -errno. */
    public long write(Errno errno, int queue, MemorySegment packet) {
        return Syscalls.write(errno, queueFds[queue], packet);
    }

    /** Writes the first {@code length} bytes of {@code packet} to a queue: its length, or -errno. */
    public long write(Errno errno, int queue, MemorySegment packet, int length) {
        return Syscalls.write(errno, queueFds[queue], packet, length);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            for (int fd : queueFds) {
                Syscalls.close(fd);
            }
        }
    }
}
