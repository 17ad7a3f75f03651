/**
 * Classic BPF socket filters (include/uapi/linux/filter.h: struct sock_filter, 8 bytes each) for
 * netlink sockets: the kernel runs the filter on each message before queuing it, so a dropped
 * message neither uses the receive buffer nor wakes the reader.
 *
 * Contract: pure. `encodeBpf` writes the kernel's layout (host order: little-endian here);
 * `dropGenlCommands` and `keepGenlCommands` build filters over netlink messages (offsets from the start of nlmsghdr);
 * `runBpf` interprets the subset of opcodes this module emits (for tests), returning the accepted
 * length (0 = dropped).
 */

/** One instruction: struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Opcodes used here (BPF_LD|BPF_B|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K). */
export const BPF_LD_B_ABS = 0x30;
export const BPF_JEQ_K = 0x15;
export const BPF_RET_K = 0x06;
export const BPF_INSTRUCTION_BYTES = 8;
/** The kernel's limit on a classic filter (BPF_MAXINSNS). */
export const BPF_MAX_INSTRUCTIONS = 4096;
/** RET value accepting the whole message. */
export const BPF_ACCEPT = 0xffff_ffff;

/** nlmsghdr.nlmsg_type (u16, host order) and the genl command byte after the 16-byte nlmsghdr. */
const OFF_NLMSG_TYPE = 4;
const OFF_GENL_CMD = 16;

export class BpfProgramError extends Error {
  override readonly name = 'BpfProgramError';
}

export function encodeBpf(program: readonly BpfInstruction[]): Uint8Array {
  if (program.length === 0 || program.length > BPF_MAX_INSTRUCTIONS)
    throw new BpfProgramError(`a filter has 1..${BPF_MAX_INSTRUCTIONS} instructions, got ${program.length}`);
  const out = new Uint8Array(program.length * BPF_INSTRUCTION_BYTES);
  const dv = new DataView(out.buffer);
  program.forEach((ins, i) => {
    const o = i * BPF_INSTRUCTION_BYTES;
    dv.setUint16(o, ins.code, true);
    out[o + 2] = ins.jt;
    out[o + 3] = ins.jf;
    dv.setUint32(o + 4, ins.k >>> 0, true);
  });
  return out;
}

/**
 * Drops generic netlink messages of `familyId` whose command is one of `commands`; accepts
 * everything else (other types, short messages: a load past the end makes the kernel drop, so the
 * length is not checked here: every genl message has its 4-byte header).
 */
export function dropGenlCommands(familyId: number, commands: readonly number[]): BpfInstruction[] {
  return genlCommandFilter(familyId, commands, 'drop');
}

/**
 * Keeps only generic netlink messages of `familyId` whose command is one of `commands`; drops
 * everything else (other message types too). For a socket that reacts to a few events only (the
 * native reflex thread, ../pm/native-reflex.ts: `established`).
 */
export function keepGenlCommands(familyId: number, commands: readonly number[]): BpfInstruction[] {
  return genlCommandFilter(familyId, commands, 'keep');
}

/** `listed`: what happens to the family's messages with a listed command; the rest get the other verdict. */
function genlCommandFilter(
  familyId: number,
  commands: readonly number[],
  listed: 'drop' | 'keep',
): BpfInstruction[] {
  if (!Number.isInteger(familyId) || familyId < 0 || familyId > 0xffff)
    throw new BpfProgramError(`bad family id ${familyId}`);
  if (commands.length === 0 || commands.length > 200) throw new BpfProgramError('1..200 commands');
  const n = commands.length;
  // 0: type low byte; 1: ≠ → other; 2: type high byte; 3: ≠ → other; 4: cmd; 5..: = → listed.
  const otherAt = 5 + n;
  const listedAt = otherAt + 1;
  const prog: BpfInstruction[] = [
    { code: BPF_LD_B_ABS, jt: 0, jf: 0, k: OFF_NLMSG_TYPE },
    { code: BPF_JEQ_K, jt: 0, jf: otherAt - 2, k: familyId & 0xff },
    { code: BPF_LD_B_ABS, jt: 0, jf: 0, k: OFF_NLMSG_TYPE + 1 },
    { code: BPF_JEQ_K, jt: 0, jf: otherAt - 4, k: familyId >> 8 },
    { code: BPF_LD_B_ABS, jt: 0, jf: 0, k: OFF_GENL_CMD },
  ];
  commands.forEach((cmd, i) => {
    if (!Number.isInteger(cmd) || cmd < 0 || cmd > 255) throw new BpfProgramError(`bad command ${cmd}`);
    prog.push({ code: BPF_JEQ_K, jt: listedAt - (5 + i) - 1, jf: 0, k: cmd });
  });
  const accept = { code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT };
  const drop = { code: BPF_RET_K, jt: 0, jf: 0, k: 0 };
  prog.push(listed === 'drop' ? accept : drop, listed === 'drop' ? drop : accept);
  return prog;
}

/** Runs `program` on `packet` (the opcodes above only); the accepted length, 0 when dropped. */
export function runBpf(program: readonly BpfInstruction[], packet: Uint8Array): number {
  let a = 0;
  for (let pc = 0; pc < program.length; ) {
    const ins = program[pc]!;
    switch (ins.code) {
      case BPF_LD_B_ABS:
        if (ins.k >= packet.length) return 0; // the kernel drops on an out-of-bounds load
        a = packet[ins.k]!;
        pc++;
        break;
      case BPF_JEQ_K:
        pc += 1 + (a === ins.k ? ins.jt : ins.jf);
        break;
      case BPF_RET_K:
        return Math.min(ins.k, packet.length);
      default:
        throw new BpfProgramError(`opcode 0x${ins.code.toString(16)} not supported here`);
    }
  }
  return 0;
}
