import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  emitMptcpOption,
  encodedLength,
  encodeMptcpOption,
  parseMptcpOption,
} from '../../src/wire/mptcp-option.js';
import { type MptcpOption, WireError } from '../../src/wire/types.js';
import {
  arbAddAddr,
  arbDss,
  arbMpCapable,
  arbMpFail,
  arbMpFastclose,
  arbMpJoin,
  arbMpPrio,
  arbMpTcpRst,
  arbMptcpOption,
  arbRemoveAddr,
  arbUnknown,
} from './arbitraries.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** net/mptcp/protocol.h mptcp_option(): the first 32-bit word of every option Linux writes. */
function kernelOptionWord(subtype: number, len: number, nib: number, field: number): string {
  const w = ((30 << 24) | (len << 16) | (subtype << 12) | ((nib & 0xf) << 8) | field) >>> 0;
  return w.toString(16).padStart(8, '0');
}

const KEY_A = 0x0102030405060708n;
const KEY_B = 0x1112131415161718n;
const KA = '0102030405060708';
const KB = '1112131415161718';
const HMAC8 = 'a1a2a3a4a5a6a7a8';
const HMAC20 = 'b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3';

/** Hand-assembled from the figures of RFC 8684 §3. */
const VECTORS: Array<[string, string, MptcpOption]> = [
  ['MP_CAPABLE SYN (A, H)', '1e040181', { kind: 'mp_capable', version: 1, flags: 0x81 }],
  ['MP_CAPABLE SYN/ACK', `1e0c0101${KA}`, { kind: 'mp_capable', version: 1, flags: 0x01, senderKey: KEY_A }],
  [
    'MP_CAPABLE ACK',
    `1e140101${KA}${KB}`,
    { kind: 'mp_capable', version: 1, flags: 0x01, senderKey: KEY_A, receiverKey: KEY_B },
  ],
  [
    'MP_CAPABLE ACK + data',
    `1e160121${KA}${KB}0064`,
    { kind: 'mp_capable', version: 1, flags: 0x21, senderKey: KEY_A, receiverKey: KEY_B, dataLength: 100 },
  ],
  [
    'MP_CAPABLE ACK + data + checksum',
    `1e180181${KA}${KB}0064abcd`,
    {
      kind: 'mp_capable',
      version: 1,
      flags: 0x81,
      senderKey: KEY_A,
      receiverKey: KEY_B,
      dataLength: 100,
      checksum: 0xabcd,
    },
  ],
  [
    'MP_CAPABLE v0 SYN (RFC 6824 version nibble)',
    '1e040001',
    { kind: 'mp_capable', version: 0, flags: 0x01 },
  ],
  [
    'MP_JOIN SYN (B, id 5)',
    '1e0c1105deadbeef01020304',
    { kind: 'mp_join', form: 'syn', backup: true, addressId: 5, token: 0xdeadbeef, nonce: 0x01020304 },
  ],
  [
    'MP_JOIN SYN/ACK (id 7)',
    `1e101007${HMAC8}fffffffe`,
    { kind: 'mp_join', form: 'synack', backup: false, addressId: 7, hmac: hex(HMAC8), nonce: 0xfffffffe },
  ],
  ['MP_JOIN ACK', `1e181000${HMAC20}`, { kind: 'mp_join', form: 'ack', hmac: hex(HMAC20) }],
  [
    'DSS 32-bit data ACK',
    '1e08200180000001',
    { kind: 'dss', dataFin: false, dataAck: 0x80000001n, ack64: false },
  ],
  [
    'DSS 64-bit data ACK',
    '1e0c2003fedcba9876543210',
    { kind: 'dss', dataFin: false, dataAck: 0xfedcba9876543210n, ack64: true },
  ],
  [
    'DSS 32-bit mapping',
    '1e0e2004 11223344 00000001 05dc',
    { kind: 'dss', dataFin: false, mapping: { dsn: 0x11223344n, dsn64: false, ssn: 1, length: 1500 } },
  ],
  [
    'DSS ack32 + map64 (as Linux sends)',
    '1e16200d 0000abcd 0000000100000002 00000003 0010',
    {
      kind: 'dss',
      dataFin: false,
      dataAck: 0xabcdn,
      ack64: false,
      mapping: { dsn: 0x100000002n, dsn64: true, ssn: 3, length: 16 },
    },
  ],
  [
    'DSS ack64 + map64 + checksum',
    '1e1c200f 0000000000000009 0000000000000010 00000020 0030 beef',
    {
      kind: 'dss',
      dataFin: false,
      dataAck: 9n,
      ack64: true,
      mapping: { dsn: 16n, dsn64: true, ssn: 32, length: 48, checksum: 0xbeef },
    },
  ],
  [
    'DSS DATA_FIN (Linux: ack32, map64, ssn 0, length 1)',
    '1e16201d 00000005 00000000000000ff 00000000 0001',
    {
      kind: 'dss',
      dataFin: true,
      dataAck: 5n,
      ack64: false,
      mapping: { dsn: 0xffn, dsn64: true, ssn: 0, length: 1 },
    },
  ],
  [
    'ADD_ADDR IPv4 + HMAC',
    `1e103001c0000201${HMAC8}`,
    { kind: 'add_addr', echo: false, addressId: 1, family: 4, address: '192.0.2.1', hmac: hex(HMAC8) },
  ],
  [
    'ADD_ADDR IPv4 + port + HMAC',
    `1e123002c00002011f90${HMAC8}`,
    {
      kind: 'add_addr',
      echo: false,
      addressId: 2,
      family: 4,
      address: '192.0.2.1',
      port: 8080,
      hmac: hex(HMAC8),
    },
  ],
  [
    'ADD_ADDR IPv4 echo',
    '1e083101c0000201',
    { kind: 'add_addr', echo: true, addressId: 1, family: 4, address: '192.0.2.1' },
  ],
  [
    'ADD_ADDR IPv4 echo + port',
    '1e0a3102c00002011f90',
    { kind: 'add_addr', echo: true, addressId: 2, family: 4, address: '192.0.2.1', port: 8080 },
  ],
  [
    'ADD_ADDR IPv6 + HMAC',
    `1e1c3003 20010db8000000000000000000000001 ${HMAC8}`,
    { kind: 'add_addr', echo: false, addressId: 3, family: 6, address: '2001:db8::1', hmac: hex(HMAC8) },
  ],
  [
    'ADD_ADDR IPv6 + port + HMAC',
    `1e1e3004 20010db8000000000000000000000001 0050 ${HMAC8}`,
    {
      kind: 'add_addr',
      echo: false,
      addressId: 4,
      family: 6,
      address: '2001:db8::1',
      port: 80,
      hmac: hex(HMAC8),
    },
  ],
  [
    'ADD_ADDR IPv6 echo',
    '1e143103 fe800000000000000000000000000001',
    { kind: 'add_addr', echo: true, addressId: 3, family: 6, address: 'fe80::1' },
  ],
  [
    'ADD_ADDR IPv6 echo + port',
    '1e163104 00000000000000000000ffffc0000201 0050',
    { kind: 'add_addr', echo: true, addressId: 4, family: 6, address: '::ffff:192.0.2.1', port: 80 },
  ],
  ['REMOVE_ADDR one ID', '1e044007', { kind: 'remove_addr', addressIds: [7] }],
  ['REMOVE_ADDR three IDs', '1e06400102ff', { kind: 'remove_addr', addressIds: [1, 2, 255] }],
  ['MP_PRIO backup (RFC 8684)', '1e0351', { kind: 'mp_prio', backup: true }],
  ['MP_PRIO not backup', '1e0350', { kind: 'mp_prio', backup: false }],
  ['MP_PRIO with address ID (RFC 6824)', '1e045109', { kind: 'mp_prio', backup: true, addressId: 9 }],
  ['MP_FAIL', '1e0c6000 8000000000000001', { kind: 'mp_fail', dsn: 0x8000000000000001n }],
  ['MP_FASTCLOSE', `1e0c7000${KB}`, { kind: 'mp_fastclose', receiverKey: KEY_B }],
  ['MP_TCPRST (T, middlebox interference)', '1e048106', { kind: 'mp_tcprst', flags: 1, reason: 6 }],
];

for (const [name, bytes, value] of VECTORS) {
  test(`vector: ${name}`, () => {
    const buf = hex(bytes);
    const r = parseMptcpOption(buf);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepEqual(r.value, value);
    assert.equal(r.length, buf.length);
    assert.equal(encodedLength(value), buf.length);
    assert.equal(toHex(encodeMptcpOption(value)), toHex(buf));
  });
}

test('the first word matches Linux mptcp_option() for the forms Linux writes', () => {
  const cases: Array<[MptcpOption, string]> = [
    [{ kind: 'mp_capable', version: 1, flags: 0x81 }, kernelOptionWord(0, 4, 1, 0x81)],
    [
      { kind: 'mp_join', form: 'syn', backup: true, addressId: 3, token: 1, nonce: 2 },
      kernelOptionWord(1, 12, 1, 3),
    ],
    [{ kind: 'mp_join', form: 'ack', hmac: new Uint8Array(20) }, kernelOptionWord(1, 24, 0, 0)],
    [
      {
        kind: 'dss',
        dataFin: true,
        dataAck: 1n,
        ack64: false,
        mapping: { dsn: 1n, dsn64: true, ssn: 0, length: 1 },
      },
      kernelOptionWord(2, 22, 0, 0x1d),
    ],
    [
      { kind: 'add_addr', echo: true, addressId: 9, family: 4, address: '10.0.0.1', port: 1 },
      kernelOptionWord(3, 10, 1, 9),
    ],
    [{ kind: 'remove_addr', addressIds: [4, 5] }, kernelOptionWord(4, 5, 0, 4)],
    [{ kind: 'mp_fail', dsn: 1n }, kernelOptionWord(6, 12, 0, 0)],
    [{ kind: 'mp_fastclose', receiverKey: 1n }, kernelOptionWord(7, 12, 0, 0)],
    [{ kind: 'mp_tcprst', flags: 1, reason: 2 }, kernelOptionWord(8, 4, 1, 2)],
  ];
  for (const [opt, word] of cases) assert.equal(toHex(encodeMptcpOption(opt).subarray(0, 4)), word, opt.kind);
  // MP_PRIO: Linux writes the 3-byte option followed by a NOP (mptcp_option(5, 3, backup, TCPOPT_NOP)).
  assert.equal(
    toHex(encodeMptcpOption({ kind: 'mp_prio', backup: true })) + '01',
    kernelOptionWord(5, 3, 1, 1),
  );
});

test('lengths that fit no form of a known subtype, and unknown subtypes, parse as unknown', () => {
  const cases: Array<[string, number]> = [
    ['1e050181ff', 0], // MP_CAPABLE length 5
    [`1e0e0101${KA}0000`, 0], // MP_CAPABLE length 14
    ['1e0b1000aabbccddeeff0011', 1], // MP_JOIN length 11 (buffer one longer)
    ['1e0c2001 0000000000000000', 2], // DSS A set, length 12 (expects 8, or 10 with a mapping only)
    ['1e0a20010000000000ff', 2], // DSS ack only + 2 bytes: no checksum without a mapping
    ['1e0e2008 00000000000000000000', 2], // DSS m without M: 4 bytes, not 14
    ['1e083001c0000201', 3], // ADD_ADDR non-echo without HMAC
    ['1e103101c0000201a1a2a3a4a5a6a7a8', 3], // ADD_ADDR echo with HMAC
    ['1e09300100000000ff', 3], // ADD_ADDR length 9
    ['1e0340', 4], // REMOVE_ADDR with no ID
    ['1e055000ffff', 5], // MP_PRIO length 5
    ['1e0b6000000000000000000000', 6], // MP_FAIL length 11
    ['1e0d700000000000000000000000', 7], // MP_FASTCLOSE length 13
    ['1e0381', 8], // MP_TCPRST length 3
    ['1e049000', 9],
    ['1e06f0010203', 15], // MP_EXPERIMENTAL
  ];
  for (const [bytes, subtype] of cases) {
    const buf = hex(bytes);
    const r = parseMptcpOption(buf);
    assert.ok(r.ok, bytes);
    assert.equal(r.value.kind, 'unknown', bytes);
    if (r.value.kind !== 'unknown') continue;
    assert.equal(r.value.subtype, subtype, bytes);
    assert.equal(r.length, buf[1]);
    assert.equal(toHex(r.value.raw), toHex(buf.subarray(0, buf[1])));
    // Unknown options re-emit byte for byte.
    assert.equal(toHex(encodeMptcpOption(r.value)), toHex(buf.subarray(0, buf[1])));
  }
});

test('parse errors: not-mptcp, truncated, bad-length', () => {
  const expectError = (bytes: Uint8Array, code: string) => {
    const r = parseMptcpOption(bytes);
    assert.equal(r.ok, false, toHex(bytes));
    if (!r.ok) {
      assert.ok(r.error instanceof WireError);
      assert.equal(r.error.code, code, toHex(bytes));
    }
  };
  expectError(new Uint8Array(0), 'truncated');
  expectError(hex('1e'), 'truncated');
  expectError(hex('020405b4'), 'not-mptcp');
  expectError(hex('1e02'), 'bad-length');
  expectError(hex('1e00'), 'bad-length');
  expectError(hex('1e0c1105deadbeef010203'), 'truncated'); // MP_JOIN SYN one byte short
  expectError(hex('1e14'), 'truncated');
});

test('parse consumes only the option length and returns views into the input', () => {
  const buf = hex(`1e101007${HMAC8}fffffffe 01 01 080a`);
  const r = parseMptcpOption(buf);
  assert.ok(r.ok);
  assert.equal(r.length, 16);
  assert.ok(r.value.kind === 'mp_join' && r.value.form === 'synack');
  if (r.value.kind === 'mp_join' && r.value.form === 'synack') {
    assert.equal(r.value.hmac.buffer, buf.buffer);
    assert.equal(r.value.hmac.byteOffset, buf.byteOffset + 4);
  }
  // Works on a view that starts inside a larger buffer.
  const big = new Uint8Array(64);
  big.set(hex('1e0c6000 0000000000000042'), 20);
  const r2 = parseMptcpOption(big.subarray(20));
  assert.ok(r2.ok);
  assert.deepEqual(r2.value, { kind: 'mp_fail', dsn: 0x42n });
});

test('64-bit values with a 32-bit wire form write the low 32 bits', () => {
  const out = encodeMptcpOption({
    kind: 'dss',
    dataFin: false,
    dataAck: 0x1_0000_0002n,
    ack64: false,
    mapping: { dsn: 0xffff_ffff_0000_0003n, dsn64: false, ssn: 4, length: 5 },
  });
  assert.equal(toHex(out), '1e1220050000000200000003000000040005');
  // ack64 omitted means a 4-byte data ACK.
  assert.equal(toHex(encodeMptcpOption({ kind: 'dss', dataFin: false, dataAck: 7n })), '1e08200100000007');
});

test('emit accepts non-canonical address text', () => {
  const opt = (address: string): MptcpOption => ({
    kind: 'add_addr',
    echo: true,
    addressId: 1,
    family: 6,
    address,
  });
  const canonical = toHex(encodeMptcpOption(opt('2001:db8::1')));
  assert.equal(toHex(encodeMptcpOption(opt('2001:0DB8:0:0:0:0:0:1'))), canonical);
  assert.equal(
    toHex(encodeMptcpOption(opt('::ffff:192.0.2.1'))),
    toHex(encodeMptcpOption(opt('0:0:0:0:0:ffff:c000:201'))),
  );
});

test('emit rejects values that cannot be encoded, leaving the output untouched', () => {
  const bad: MptcpOption[] = [
    { kind: 'mp_capable', version: 16, flags: 0 },
    { kind: 'mp_capable', version: 1, flags: 256 },
    { kind: 'mp_capable', version: 1, flags: 1, receiverKey: 1n },
    { kind: 'mp_capable', version: 1, flags: 1, senderKey: 1n, receiverKey: 2n, checksum: 3 },
    { kind: 'mp_capable', version: 1, flags: 1, senderKey: -1n },
    { kind: 'mp_capable', version: 1, flags: 1, senderKey: 2n ** 64n },
    { kind: 'mp_join', form: 'syn', backup: false, addressId: 256, token: 0, nonce: 0 },
    { kind: 'mp_join', form: 'syn', backup: false, addressId: 0, token: 2 ** 32, nonce: 0 },
    { kind: 'mp_join', form: 'syn', backup: false, addressId: 0, token: 0, nonce: -1 },
    { kind: 'mp_join', form: 'synack', backup: false, addressId: 0, hmac: new Uint8Array(7), nonce: 0 },
    { kind: 'mp_join', form: 'ack', hmac: new Uint8Array(32) },
    { kind: 'dss', dataFin: false, dataAck: -1n },
    { kind: 'dss', dataFin: false, mapping: { dsn: 2n ** 64n, dsn64: true, ssn: 0, length: 0 } },
    { kind: 'dss', dataFin: false, mapping: { dsn: 0n, dsn64: true, ssn: 1.5, length: 0 } },
    { kind: 'dss', dataFin: false, mapping: { dsn: 0n, dsn64: true, ssn: 0, length: 65536 } },
    { kind: 'dss', dataFin: false, mapping: { dsn: 0n, dsn64: true, ssn: 0, length: 1, checksum: 70000 } },
    { kind: 'add_addr', echo: true, addressId: 1, family: 4, address: '192.0.2.1', port: 65536 },
    { kind: 'add_addr', echo: true, addressId: 1, family: 4, address: '2001:db8::1' },
    { kind: 'add_addr', echo: true, addressId: 1, family: 6, address: '192.0.2.1' },
    { kind: 'add_addr', echo: true, addressId: 1, family: 4, address: '192.0.2.256' },
    { kind: 'add_addr', echo: true, addressId: 1, family: 6, address: '1:2:3:4:5:6:7:8:9' },
    { kind: 'add_addr', echo: false, addressId: 1, family: 4, address: '192.0.2.1' },
    { kind: 'add_addr', echo: true, addressId: 1, family: 4, address: '192.0.2.1', hmac: new Uint8Array(8) },
    { kind: 'add_addr', echo: false, addressId: 1, family: 4, address: '192.0.2.1', hmac: new Uint8Array(9) },
    { kind: 'remove_addr', addressIds: [] },
    { kind: 'remove_addr', addressIds: [1, 300] },
    { kind: 'mp_prio', backup: true, addressId: -1 },
    { kind: 'mp_fail', dsn: 2n ** 64n },
    { kind: 'mp_fastclose', receiverKey: -5n },
    { kind: 'mp_tcprst', flags: 16, reason: 0 },
    { kind: 'mp_tcprst', flags: 0, reason: 256 },
    { kind: 'unknown', subtype: 9, raw: hex('1e059000') },
    { kind: 'unknown', subtype: 9, raw: hex('0204') },
  ];
  for (const opt of bad) {
    const out = new Uint8Array(64).fill(0xee);
    assert.throws(
      () => emitMptcpOption(opt, out, 0),
      (e: unknown) => e instanceof WireError && e.code === 'bad-value',
      JSON.stringify(opt, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
    );
    assert.ok(
      out.every((b) => b === 0xee),
      `output written for ${opt.kind}`,
    );
  }
  // An option longer than 255 bytes, and an output buffer too short.
  assert.throws(
    () => encodeMptcpOption({ kind: 'remove_addr', addressIds: new Array(253).fill(1) }),
    (e: unknown) => e instanceof WireError && e.code === 'too-large',
  );
  assert.throws(
    () => emitMptcpOption({ kind: 'mp_tcprst', flags: 0, reason: 0 }, new Uint8Array(6), 3),
    (e: unknown) => e instanceof WireError && e.code === 'too-large',
  );
});

test('emit writes at the given offset and returns the length', () => {
  const out = new Uint8Array(10).fill(0xee);
  const n = emitMptcpOption({ kind: 'mp_tcprst', flags: 0, reason: 3 }, out, 6);
  assert.equal(n, 4);
  assert.equal(toHex(out), 'eeeeeeeeeeee1e048003');
});

const ARBS: Array<[string, fc.Arbitrary<MptcpOption>]> = [
  ['MP_CAPABLE', arbMpCapable],
  ['MP_JOIN', arbMpJoin],
  ['DSS', arbDss],
  ['ADD_ADDR', arbAddAddr],
  ['REMOVE_ADDR', arbRemoveAddr],
  ['MP_PRIO', arbMpPrio],
  ['MP_FAIL', arbMpFail],
  ['MP_FASTCLOSE', arbMpFastclose],
  ['MP_TCPRST', arbMpTcpRst],
  ['unknown subtypes', arbUnknown],
];

for (const [name, arb] of ARBS) {
  test(`property: ${name} emit → parse round-trips and length === encodedLength`, () => {
    fc.assert(
      fc.property(arb, fc.integer({ min: 0, max: 7 }), (opt, pad) => {
        const len = encodedLength(opt);
        const out = new Uint8Array(pad + len + 3).fill(0x01); // trailing NOPs after the option
        assert.equal(emitMptcpOption(opt, out, pad), len);
        const r = parseMptcpOption(out.subarray(pad));
        assert.ok(r.ok);
        assert.equal(r.length, len);
        assert.deepEqual(r.value, opt);
        // parse → emit is byte-exact too.
        assert.equal(toHex(encodeMptcpOption(r.value)), toHex(out.subarray(pad, pad + len)));
      }),
      { numRuns: 500 },
    );
  });
}

test('property: any option of any kind survives a round trip through a shared buffer', () => {
  fc.assert(
    fc.property(fc.array(arbMptcpOption, { minLength: 1, maxLength: 6 }), (opts) => {
      const total = opts.reduce((n, o) => n + encodedLength(o), 0);
      const out = new Uint8Array(total);
      let o = 0;
      for (const opt of opts) o += emitMptcpOption(opt, out, o);
      assert.equal(o, total);
      let p = 0;
      for (const opt of opts) {
        const r = parseMptcpOption(out.subarray(p));
        assert.ok(r.ok);
        assert.deepEqual(r.value, opt);
        p += r.length;
      }
    }),
    { numRuns: 300 },
  );
});
