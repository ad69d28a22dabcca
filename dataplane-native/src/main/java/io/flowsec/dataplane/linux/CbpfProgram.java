package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A classic BPF program ({@code struct sock_filter[]}), assembled in Java. For {@code SO_ATTACH_REUSEPORT_CBPF} on a
 * UDP socket, offset 0 is the first byte of the UDP payload and {@link #NET_OFFSET} reaches the IP header; the
 * value returned is the index of the socket in the reuseport group (in bind order).
 */
public final class CbpfProgram {
    /** SKF_NET_OFF: loads relative to the network header. */
    public static final int NET_OFFSET = -0x100000;

    // opcodes (linux/bpf_common.h)
    static final int LD = 0x00;
    static final int LDX = 0x01;
    static final int ALU = 0x04;
    static final int JMP = 0x05;
    static final int RET = 0x06;
    static final int W = 0x00;
    static final int H = 0x08;
    static final int B = 0x10;
    static final int ABS = 0x20;
    static final int IND = 0x40;
    static final int MSH = 0xa0;
    static final int K = 0x00;
    static final int A = 0x10;
    static final int JEQ = 0x10;
    static final int AND = 0x50;
    static final int MAX_INSTRUCTIONS = 4096;

    private record Instruction(int code, int jt, int jf, int k) {
    }

    private final List<Instruction> instructions = new ArrayList<>();

    public CbpfProgram loadWordAbsolute(int offset) {
        return add(LD | W | ABS, 0, 0, offset);
    }

    public CbpfProgram loadHalfAbsolute(int offset) {
        return add(LD | H | ABS, 0, 0, offset);
    }

    /** X = 4 * (byte at offset & 0x0f): the IPv4 header length. */
    public CbpfProgram loadIpv4HeaderLengthIntoX(int offset) {
        return add(LDX | B | MSH, 0, 0, offset);
    }

    public CbpfProgram loadHalfIndirect(int offset) {
        return add(LD | H | IND, 0, 0, offset);
    }

    public CbpfProgram and(int mask) {
        return add(ALU | AND | K, 0, 0, mask);
    }

    /** if A == k skip {@code jumpIfTrue} instructions, else skip {@code jumpIfFalse}. */
    public CbpfProgram jumpIfEqual(int k, int jumpIfTrue, int jumpIfFalse) {
        return add(JMP | JEQ | K, jumpIfTrue, jumpIfFalse, k);
    }

    public CbpfProgram returnConstant(int value) {
        return add(RET | K, 0, 0, value);
    }

    public CbpfProgram returnA() {
        return add(RET | A, 0, 0, 0);
    }

    private CbpfProgram add(int code, int jt, int jf, int k) {
        if (jt > 255 || jf > 255) {
            throw new IllegalArgumentException("classic BPF jumps reach at most 255 instructions");
        }
        instructions.add(new Instruction(code, jt, jf, k));
        if (instructions.size() > MAX_INSTRUCTIONS) {
            throw new IllegalArgumentException("classic BPF programs hold at most " + MAX_INSTRUCTIONS + " instructions");
        }
        return this;
    }

    public int length() {
        return instructions.size();
    }

    /** {@code struct sock_fprog { unsigned short len; struct sock_filter *filter; }} in {@code arena}. */
    MemorySegment toSockFprog(Arena arena) {
        MemorySegment filter = arena.allocate(8L * instructions.size(), 8);
        for (int i = 0; i < instructions.size(); i++) {
            Instruction instruction = instructions.get(i);
            long base = 8L * i;
            filter.set(ValueLayout.JAVA_SHORT_UNALIGNED, base, (short) instruction.code);
            filter.set(ValueLayout.JAVA_BYTE, base + 2, (byte) instruction.jt);
            filter.set(ValueLayout.JAVA_BYTE, base + 3, (byte) instruction.jf);
            filter.set(ValueLayout.JAVA_INT_UNALIGNED, base + 4, instruction.k);
        }
        MemorySegment program = arena.allocate(16, 8);
        program.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) instructions.size());
        program.set(ValueLayout.ADDRESS_UNALIGNED, 8, filter);
        return program;
    }
}
