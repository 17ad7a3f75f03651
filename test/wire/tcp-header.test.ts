import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeTcpHeader, parseTcpHeader, TcpFlag } from '../../src/wire/tcp-header.js';
import {
  encodeTcpOptions,
  mptcpOptionsOf,
  parseTcpOptions,
  type TcpOption,
  tcpOptionsEncodedLength,
} from '../../src/wire/tcp-options.js';
import { encodedLength } from '../../src/wire/mptcp-option.js';
import { WireError } from '../../src/wire/types.js';
import { arbMptcpOption } from './arbitraries.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// A SYN laid out as Linux sends one with MPTCP: MSS, SACK-permitted, timestamps, NOP, window
// scale, MP_CAPABLE (v1, flags A|H). 20 + 24 bytes: data offset 11 words.
const SYN = hex(`
  c350 0050 01020304 00000000 b0 02 faf0 1234 0000
  020405b4 0402 080a 00000001 00000000 01 030307 1e040181
  68656c6c6f`);

test('parses a SYN with MPTCP and ordinary options', () => {
  const r = parseTcpHeader(SYN);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  const h = r.value;
  assert.equal(h.srcPort, 50000);
  assert.equal(h.dstPort, 80);
  assert.equal(h.seq, 0x01020304);
  assert.equal(h.ack, 0);
  assert.equal(h.dataOffset, 44);
  assert.equal(h.payloadOffset, 44);
  assert.equal(r.length, 44);
  assert.equal(h.flags, TcpFlag.SYN);
  assert.deepEqual([h.syn, h.ackFlag, h.fin, h.rst, h.psh, h.urg], [true, false, false, false, false, false]);
  assert.equal(h.window, 0xfaf0);
  assert.equal(h.checksum, 0x1234);
  assert.equal(h.urgentPointer, 0);
  assert.deepEqual(
    h.options.map((o) => ('mptcp' in o ? ['mptcp', o.mptcp.kind] : [o.kind, toHex(o.data)])),
    [
      [2, '05b4'],
      [4, ''],
      [8, '0000000100000000'],
      [3, '07'],
      ['mptcp', 'mp_capable'],
    ],
  );
  assert.deepEqual(mptcpOptionsOf(h.options), [{ kind: 'mp_capable', version: 1, flags: 0x81 }]);
  assert.equal(new TextDecoder().decode(SYN.subarray(h.payloadOffset)), 'hello');
});

test('32-bit fields are unsigned; flags and the ACK number are separate', () => {
  const b = hex('ffff0001 ffffffff fffffffe 50 1f ffff 0000 0000');
  const r = parseTcpHeader(b);
  assert.ok(r.ok);
  assert.equal(r.value.seq, 0xffffffff);
  assert.equal(r.value.ack, 0xfffffffe);
  assert.equal(r.value.flags, 0x1f);
  assert.deepEqual(
    [r.value.syn, r.value.ackFlag, r.value.fin, r.value.rst, r.value.psh],
    [true, true, true, true, true],
  );
  assert.deepEqual(r.value.options, []);
});

test('header errors', () => {
  const code = (b: Uint8Array) => {
    const r = parseTcpHeader(b);
    assert.equal(r.ok, false);
    if (r.ok) return '';
    assert.ok(r.error instanceof WireError);
    return r.error.code;
  };
  assert.equal(code(SYN.subarray(0, 19)), 'truncated');
  assert.equal(code(SYN.subarray(0, 43)), 'truncated'); // data offset 44
  const b = Uint8Array.from(SYN);
  b[12] = 0x40; // data offset 16 bytes
  assert.equal(code(b), 'bad-length');
  const c = Uint8Array.from(SYN.subarray(0, 44));
  c[20 + 1] = 60; // MSS option length runs past the options area
  const r = parseTcpHeader(c);
  assert.ok(!r.ok);
  assert.equal(r.error.code, 'truncated');
  assert.equal(r.error.offset, 21);
});

test('options: EOL ends the walk, NOPs are skipped, malformed lengths are errors', () => {
  const r = parseTcpOptions(hex('01 01 020405b4 00 ffffff'));
  assert.ok(r.ok);
  assert.equal(r.length, 7);
  assert.equal(r.value.length, 1);
  const err = (s: string) => {
    const x = parseTcpOptions(hex(s));
    return x.ok ? 'ok' : x.error.code;
  };
  assert.equal(err('02'), 'truncated');
  assert.equal(err('0201'), 'bad-length');
  assert.equal(err('0200'), 'bad-length');
  assert.equal(err('02040000 0206'), 'truncated');
  assert.equal(err('1e02'), 'bad-length'); // an MPTCP option with no subtype byte
  assert.equal(err(''), 'ok');
  // A malformed MPTCP option of a workable length parses as unknown.
  const u = parseTcpOptions(hex('1e050181ff 01 01 01'));
  assert.ok(u.ok);
  assert.deepEqual(
    mptcpOptionsOf(u.value).map((o) => o.kind),
    ['unknown'],
  );
});

test('options: emit pads with NOPs to a multiple of 4 and refuses more than 40 bytes', () => {
  const opts: TcpOption[] = [
    { kind: 2, data: hex('05b4') },
    { kind: 30, mptcp: { kind: 'mp_prio', backup: true } },
  ];
  assert.equal(toHex(encodeTcpOptions(opts)), '020405b41e035101');
  assert.throws(
    () => encodeTcpOptions([{ kind: 30, mptcp: { kind: 'remove_addr', addressIds: new Array(38).fill(1) } }]),
    (e: unknown) => e instanceof WireError && e.code === 'too-large',
  );
});

test('property: a header with random options round-trips', () => {
  const arbOption: fc.Arbitrary<TcpOption> = fc.oneof(
    arbMptcpOption.map((mptcp) => ({ kind: 30 as const, mptcp })),
    fc
      .tuple(
        fc.integer({ min: 2, max: 255 }).filter((k) => k !== 30),
        fc.uint8Array({ maxLength: 10 }),
      )
      .map(([kind, data]) => ({ kind, data })),
  );
  const arbOptions = fc
    .array(arbOption, { maxLength: 4 })
    .filter((os) => os.every((o) => !('mptcp' in o) || encodedLength(o.mptcp) <= 40))
    .filter((os) => tcpOptionsEncodedLength(os) <= 40);
  fc.assert(
    fc.property(
      fc.record({
        srcPort: fc.integer({ min: 0, max: 0xffff }),
        dstPort: fc.integer({ min: 0, max: 0xffff }),
        seq: fc.integer({ min: 0, max: 0xffffffff }),
        ack: fc.integer({ min: 0, max: 0xffffffff }),
        flags: fc.integer({ min: 0, max: 0xfff }),
        window: fc.integer({ min: 0, max: 0xffff }),
        checksum: fc.integer({ min: 0, max: 0xffff }),
        urgentPointer: fc.integer({ min: 0, max: 0xffff }),
      }),
      arbOptions,
      (h, options) => {
        const bytes = encodeTcpHeader({ ...h, options });
        const r = parseTcpHeader(bytes);
        assert.ok(r.ok);
        const { srcPort, dstPort, seq, ack, flags, window, checksum, urgentPointer } = r.value;
        assert.deepEqual({ srcPort, dstPort, seq, ack, flags, window, checksum, urgentPointer }, { ...h });
        assert.equal(r.value.dataOffset, bytes.length);
        assert.equal(r.value.syn, (h.flags & TcpFlag.SYN) !== 0);
        assert.equal(r.value.ackFlag, (h.flags & TcpFlag.ACK) !== 0);
        assert.deepEqual(r.value.options, options);
      },
    ),
    { numRuns: 500 },
  );
});
