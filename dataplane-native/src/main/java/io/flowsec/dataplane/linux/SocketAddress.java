package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/** Native {@code sockaddr_in} / {@code sockaddr_in6} built once per peer, so sends pass a ready address. */
public final class SocketAddress {
    public static final int SOCKADDR_IN_LENGTH = 16;
    public static final int SOCKADDR_IN6_LENGTH = 28;
    private static final ValueLayout.OfShort SHORT_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort SHORT_NATIVE = ValueLayout.JAVA_SHORT_UNALIGNED;

    private SocketAddress() {
    }

    public static MemorySegment of(Arena arena, InetAddress address, int port) {
        if (address instanceof Inet4Address) {
            MemorySegment sockaddr = arena.allocate(SOCKADDR_IN_LENGTH);
            sockaddr.set(SHORT_NATIVE, 0, (short) Syscalls.AF_INET);
            sockaddr.set(SHORT_BE, 2, (short) port);
            MemorySegment.copy(address.getAddress(), 0, sockaddr, ValueLayout.JAVA_BYTE, 4, 4);
            return sockaddr;
        }
        MemorySegment sockaddr = arena.allocate(SOCKADDR_IN6_LENGTH);
        sockaddr.set(SHORT_NATIVE, 0, (short) Syscalls.AF_INET6);
        sockaddr.set(SHORT_BE, 2, (short) port);
        MemorySegment.copy(address.getAddress(), 0, sockaddr, ValueLayout.JAVA_BYTE, 8, 16);
        if (address instanceof Inet6Address v6 && v6.getScopeId() != 0) {
            sockaddr.set(ValueLayout.JAVA_INT_UNALIGNED, 24, v6.getScopeId());
        }
        return sockaddr;
    }

    public static int port(MemorySegment sockaddr) {
        return sockaddr.get(SHORT_BE, 2) & 0xFFFF;
    }

    public static InetAddress address(MemorySegment sockaddr) {
        int family = sockaddr.get(SHORT_NATIVE, 0);
        byte[] bytes = family == Syscalls.AF_INET
                ? sockaddr.asSlice(4, 4).toArray(ValueLayout.JAVA_BYTE)
                : sockaddr.asSlice(8, 16).toArray(ValueLayout.JAVA_BYTE);
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
