package io.flowsec.dataplane.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * An eBPF program ({@code struct bpf_insn[]}), assembled in Java: only the instructions the steering programs use.
 * Registers are numbered as the kernel's: R0 the result, R1-R5 arguments (clobbered by calls and packet loads),
 * R6-R9 kept across them, R10 the read-only frame pointer.
 */
public final class EbpfProgram {
    public static final int R0 = 0;
    public static final int R1 = 1;
    public static final int R2 = 2;
    public static final int R6 = 6;
    public static final int R7 = 7;
    public static final int FRAME_POINTER = 10;

    /** BPF_FUNC_map_lookup_elem (linux/bpf.h). */
    public static final int MAP_LOOKUP_ELEMENT = 1;

    // opcodes (linux/bpf.h, linux/bpf_common.h)
    private static final int LD = 0x00;
    private static final int LDX = 0x01;
    private static final int STX = 0x03;
    private static final int JMP = 0x05;
    private static final int ALU64 = 0x07;
    private static final int W = 0x00;
    private static final int H = 0x08;
    private static final int B = 0x10;
    private static final int DW = 0x18;
    private static final int IMM = 0x00;
    private static final int ABS = 0x20;
    private static final int IND = 0x40;
    private static final int MEM = 0x60;
    private static final int K = 0x00;
    private static final int X = 0x08;
    private static final int ADD = 0x00;
    private static final int LSH = 0x60;
    private static final int AND = 0x50;
    private static final int MOV = 0xb0;
    private static final int JEQ = 0x10;
    private static final int JNE = 0x50;
    private static final int CALL = 0x80;
    private static final int EXIT = 0x90;
    /** src_reg of a 64-bit immediate load that names a map by its file descriptor. */
    private static final int PSEUDO_MAP_FD = 1;
    /** The kernel's limit for programs loaded without CAP_SYS_ADMIN; ours stay far below. */
    static final int MAX_INSTRUCTIONS = 4096;

    private record Instruction(int code, int dst, int src, int offset, int immediate) {
    }

    private final List<Instruction> instructions = new ArrayList<>();

    /** dst = src (64-bit). */
    public EbpfProgram move(int dst, int src) {
        return add(ALU64 | MOV | X, dst, src, 0, 0);
    }

    /** dst = value (64-bit, sign-extended). */
    public EbpfProgram moveImmediate(int dst, int value) {
        return add(ALU64 | MOV | K, dst, 0, 0, value);
    }

    public EbpfProgram addImmediate(int dst, int value) {
        return add(ALU64 | ADD | K, dst, 0, 0, value);
    }

    public EbpfProgram andImmediate(int dst, int value) {
        return add(ALU64 | AND | K, dst, 0, 0, value);
    }

    public EbpfProgram shiftLeftImmediate(int dst, int bits) {
        return add(ALU64 | LSH | K, dst, 0, 0, bits);
    }

    /**
     * R0 = the big-endian word at {@code offset} of the packet (the classic load, which needs R6 = the context and
     * clobbers R1-R5); a load beyond the packet ends the program returning 0. Negative offsets reach the headers as in
     * classic BPF ({@link CbpfProgram#NET_OFFSET}).
     */
    public EbpfProgram loadPacketWord(int offset) {
        return add(LD | W | ABS, 0, 0, 0, offset);
    }

    public EbpfProgram loadPacketHalf(int offset) {
        return add(LD | H | ABS, 0, 0, 0, offset);
    }

    public EbpfProgram loadPacketByte(int offset) {
        return add(LD | B | ABS, 0, 0, 0, offset);
    }

    /** R0 = the big-endian half word at {@code index + offset} of the packet. */
    public EbpfProgram loadPacketHalfIndirect(int index, int offset) {
        return add(LD | H | IND, 0, index, 0, offset);
    }

    /** *(u32 *)(dst + offset) = src. */
    public EbpfProgram storeWord(int dst, int offset, int src) {
        return add(STX | MEM | W, dst, src, offset, 0);
    }

    /** dst = *(u32 *)(src + offset). */
    public EbpfProgram loadWord(int dst, int src, int offset) {
        return add(LDX | MEM | W, dst, src, offset, 0);
    }

    /** dst = the map with file descriptor {@code mapFd} (two instruction slots). */
    public EbpfProgram loadMap(int dst, int mapFd) {
        add(LD | DW | IMM, dst, PSEUDO_MAP_FD, 0, mapFd);
        return add(0, 0, 0, 0, 0);
    }

    /** if dst == value skip {@code skip} instructions. */
    public EbpfProgram jumpIfEqual(int dst, int value, int skip) {
        return add(JMP | JEQ | K, dst, 0, skip, value);
    }

    /** if dst != value skip {@code skip} instructions. */
    public EbpfProgram jumpIfNotEqual(int dst, int value, int skip) {
        return add(JMP | JNE | K, dst, 0, skip, value);
    }

    public EbpfProgram call(int helper) {
        return add(JMP | CALL, 0, 0, 0, helper);
    }

    public EbpfProgram exit() {
        return add(JMP | EXIT, 0, 0, 0, 0);
    }

    private EbpfProgram add(int code, int dst, int src, int offset, int immediate) {
        if (instructions.size() == MAX_INSTRUCTIONS) {
            throw new IllegalArgumentException("eBPF programs hold at most " + MAX_INSTRUCTIONS + " instructions here");
        }
        instructions.add(new Instruction(code, dst, src, offset, immediate));
        return this;
    }

    public int length() {
        return instructions.size();
    }

    /** The {@code struct bpf_insn} array in {@code arena}. */
    MemorySegment toInstructions(Arena arena) {
        MemorySegment code = arena.allocate(8L * instructions.size(), 8);
        for (int i = 0; i < instructions.size(); i++) {
            Instruction instruction = instructions.get(i);
            long base = 8L * i;
            code.set(ValueLayout.JAVA_BYTE, base, (byte) instruction.code);
            code.set(ValueLayout.JAVA_BYTE, base + 1, (byte) ((instruction.src << 4) | instruction.dst));
            code.set(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2, (short) instruction.offset);
            code.set(ValueLayout.JAVA_INT_UNALIGNED, base + 4, instruction.immediate);
        }
        return code;
    }
}
