import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  BPF_ACCEPT,
  BPF_INSTRUCTION_BYTES,
  BpfProgramError,
  dropGenlCommands,
  encodeBpf,
  keepGenlCommands,
  runBpf,
} from '../../src/netlink/bpf.js';
import { emitMessage } from '../../src/netlink/message.js';
import { emitPmEvent, MPTCP_EVENT, warmUpEvents } from '../../src/netlink/mptcp-pm-events.js';

test('encodeBpf writes struct sock_filter (u16 code, u8 jt, u8 jf, u32 k, host order)', () => {
  const bytes = encodeBpf([
    { code: 0x30, jt: 0, jf: 0, k: 16 },
    { code: 0x15, jt: 1, jf: 2, k: 0x01020304 },
    { code: 0x06, jt: 0, jf: 0, k: BPF_ACCEPT },
  ]);
  assert.equal(bytes.length, 3 * BPF_INSTRUCTION_BYTES);
  assert.deepEqual(
    [...bytes],
    [0x30, 0, 0, 0, 16, 0, 0, 0, 0x15, 0, 1, 2, 4, 3, 2, 1, 0x06, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
  );
  assert.throws(() => encodeBpf([]), BpfProgramError);
});

test('dropGenlCommands: drops exactly the listed commands of the family, accepts the rest', () => {
  const family = 0x1c;
  const prog = dropGenlCommands(family, [MPTCP_EVENT.CREATED]);
  for (const ev of warmUpEvents()) {
    const msg = emitMessage({ type: family, flags: 0, seq: 0, pid: 0 }, emitPmEvent(ev));
    const kept = runBpf(prog, msg);
    if (ev.type === 'created') assert.equal(kept, 0);
    else assert.equal(kept, msg.length, ev.type);
    // The same bytes from another family are kept, whatever their command.
    const other = emitMessage({ type: family + 0x100, flags: 0, seq: 0, pid: 0 }, emitPmEvent(ev));
    assert.equal(runBpf(prog, other), other.length);
  }
  assert.throws(() => dropGenlCommands(0x1_0000, [1]), BpfProgramError);
  assert.throws(() => dropGenlCommands(0x1c, []), BpfProgramError);
  assert.throws(() => dropGenlCommands(0x1c, [256]), BpfProgramError);
});

test('property: dropGenlCommands on random messages matches the rule it states', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0x10, max: 0xffff }),
      fc.uniqueArray(fc.nat(255), { minLength: 1, maxLength: 8 }),
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      (family, commands, bytes) => {
        const prog = dropGenlCommands(family, commands);
        // The rule, with the kernel's treatment of a load past the end (drop).
        const expected = (): number => {
          if (bytes.length <= 4) return 0;
          if (bytes[4] !== (family & 0xff)) return bytes.length;
          if (bytes.length <= 5) return 0;
          if (bytes[5] !== family >> 8) return bytes.length;
          if (bytes.length <= 16) return 0;
          return commands.includes(bytes[16]!) ? 0 : bytes.length;
        };
        assert.equal(runBpf(prog, bytes), expected());
      },
    ),
    { numRuns: 500 },
  );
});

test('keepGenlCommands: keeps exactly the listed commands of the family, drops the rest', () => {
  const family = 0x1c;
  const prog = keepGenlCommands(family, [MPTCP_EVENT.ESTABLISHED]);
  for (const ev of warmUpEvents()) {
    const msg = emitMessage({ type: family, flags: 0, seq: 0, pid: 0 }, emitPmEvent(ev));
    assert.equal(runBpf(prog, msg), ev.type === 'established' ? msg.length : 0, ev.type);
    const other = emitMessage({ type: family + 0x100, flags: 0, seq: 0, pid: 0 }, emitPmEvent(ev));
    assert.equal(runBpf(prog, other), 0);
  }
  assert.throws(() => keepGenlCommands(-1, [1]), BpfProgramError);
  assert.throws(() => keepGenlCommands(0x1c, []), BpfProgramError);
});

test('property: keepGenlCommands on random messages matches the rule it states', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0x10, max: 0xffff }),
      fc.uniqueArray(fc.nat(255), { minLength: 1, maxLength: 8 }),
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      (family, commands, bytes) => {
        const prog = keepGenlCommands(family, commands);
        const kept =
          bytes.length > 16 &&
          bytes[4] === (family & 0xff) &&
          bytes[5] === family >> 8 &&
          commands.includes(bytes[16]!);
        assert.equal(runBpf(prog, bytes), kept ? bytes.length : 0);
      },
    ),
    { numRuns: 500 },
  );
});
