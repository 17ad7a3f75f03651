import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { type CapturedPacket, captureFormat, MAX_PACKET_BYTES, readPackets } from '../../src/pcap/capture.js';
import { PcapError } from '../../src/pcap/errors.js';
import { concat, epb, idb, nrb, pcapFile, shb, spb } from './builders.js';

const FIXTURE = new URL('../../../test/fixtures/kernel-mptcp.pcap', import.meta.url);

const A = Uint8Array.from([1, 2, 3, 4, 5]);
const B = Uint8Array.from([9, 8, 7]);

function all(buf: Uint8Array): CapturedPacket[] {
  return [...readPackets(buf)];
}

/** Reads as far as possible; returns the packets and the error (if any). */
function drain(buf: Uint8Array): { packets: CapturedPacket[]; error?: unknown } {
  const packets: CapturedPacket[] = [];
  try {
    for (const p of readPackets(buf)) packets.push(p);
  } catch (error) {
    return { packets, error };
  }
  return { packets };
}

for (const le of [true, false]) {
  test(`pcap ${le ? 'little' : 'big'}-endian, microseconds`, () => {
    const file = pcapFile({
      le,
      linkType: 113,
      records: [
        { sec: 1_700_000_000, frac: 123_456, data: A },
        { sec: 1_700_000_001, frac: 7, data: B, origLen: 60 },
      ],
    });
    assert.equal(captureFormat(file), 'pcap');
    const p = all(file);
    assert.equal(p.length, 2);
    assert.equal(p[0]!.linkType, 113);
    assert.equal(p[0]!.tsMicros, 1_700_000_000_123_456);
    assert.deepEqual([...p[0]!.data], [...A]);
    assert.equal(p[0]!.offset, 24);
    assert.equal(p[1]!.tsMicros, 1_700_000_001_000_007);
    assert.deepEqual([...p[1]!.data], [...B]);
    assert.equal(p[1]!.origLen, 60);
    assert.equal(p[1]!.offset, 24 + 16 + 5);
    assert.equal(p[1]!.index, 1);
  });

  test(`pcap ${le ? 'little' : 'big'}-endian, nanoseconds`, () => {
    const file = pcapFile({
      le,
      nanos: true,
      linkType: 276,
      records: [{ sec: 10, frac: 999_999_999, data: A }],
    });
    const [p] = all(file);
    assert.equal(p!.tsMicros, 10_999_999);
    assert.equal(p!.linkType, 276);
  });

  test(`pcapng ${le ? 'little' : 'big'}-endian: IDB per interface, EPB, SPB, skipped blocks`, () => {
    const file = concat([
      shb(le),
      idb(le, 1),
      nrb(le),
      idb(le, 276, { tsresol: 9 }),
      epb(le, 0, 1_700_000_000_000_001n, A),
      epb(le, 1, 1_700_000_000_123_456_789n, B, 100),
      spb(le, B),
    ]);
    assert.equal(captureFormat(file), 'pcapng');
    const p = all(file);
    assert.equal(p.length, 3);
    assert.equal(p[0]!.linkType, 1);
    assert.equal(p[0]!.tsMicros, 1_700_000_000_000_001);
    assert.deepEqual([...p[0]!.data], [...A]);
    assert.equal(p[1]!.linkType, 276);
    assert.equal(p[1]!.tsMicros, 1_700_000_000_123_456);
    assert.equal(p[1]!.origLen, 100);
    assert.deepEqual([...p[1]!.data], [...B]);
    assert.equal(p[2]!.linkType, 1, 'SPB belongs to interface 0');
    assert.deepEqual([...p[2]!.data], [...B]);
  });
}

test('pcapng: binary timestamp resolution and a second section in the other byte order', () => {
  const file = concat([
    shb(true),
    idb(true, 101, { tsresol: 0x80 | 20 }),
    epb(true, 0, 3n << 20n, A),
    shb(false),
    idb(false, 113),
    epb(false, 0, 42n, B),
  ]);
  const p = all(file);
  assert.equal(p.length, 2);
  assert.equal(p[0]!.tsMicros, 3_000_000);
  assert.equal(p[0]!.linkType, 101);
  assert.equal(p[1]!.linkType, 113, 'interfaces are per section');
  assert.equal(p[1]!.tsMicros, 42);
});

test('pcapng: a packet on an undeclared interface is a PcapError at its block', () => {
  const head = concat([shb(true), idb(true, 1)]);
  const file = concat([head, epb(true, 3, 0n, A)]);
  const { error } = drain(file);
  assert.ok(error instanceof PcapError);
  assert.equal(error.offset, head.length + 8);
});

test('not a capture file → PcapError at offset 0', () => {
  assert.throws(
    () => all(new TextEncoder().encode('hello, world, this is text')),
    (e) => e instanceof PcapError && e.offset === 0 && /not a pcap/.test(e.message),
  );
  assert.throws(
    () => all(new Uint8Array(2)),
    (e) => e instanceof PcapError && e.offset === 0,
  );
});

test('pcap: a record larger than MAX_PACKET_BYTES is refused with its offset', () => {
  const file = pcapFile({ le: true, linkType: 1, records: [{ sec: 0, frac: 0, data: A }] });
  const dv = new DataView(file.buffer);
  dv.setUint32(24 + 8, MAX_PACKET_BYTES + 1, true);
  assert.throws(
    () => all(file),
    (e) => e instanceof PcapError && e.offset === 24 && /exceeds/.test(e.message),
  );
});

test('every truncation of a pcap and a pcapng file: earlier packets, then a PcapError within the file', () => {
  const files = [
    pcapFile({
      le: true,
      linkType: 1,
      records: [
        { sec: 1, frac: 2, data: A },
        { sec: 3, frac: 4, data: B },
      ],
    }),
    concat([shb(false), idb(false, 1), epb(false, 0, 5n, A), spb(false, B)]),
  ];
  for (const full of files) {
    const complete = all(full).length;
    for (let cut = 0; cut < full.length; cut++) {
      const { packets, error } = drain(full.subarray(0, cut));
      assert.ok(packets.length < complete, `cut ${cut}: fewer packets`);
      if (error === undefined) continue; // cut exactly on a record boundary
      assert.ok(error instanceof PcapError, `cut ${cut}: ${error}`);
      assert.ok(error.offset >= 0 && error.offset <= cut, `cut ${cut}: offset ${error.offset}`);
    }
  }
});

test('a truncated copy of the kernel fixture reports the offset of the cut record', () => {
  const full = new Uint8Array(readFileSync(FIXTURE));
  const records = all(full);
  const victim = records[5]!;
  const cut = victim.offset + 16 + Math.floor(victim.data.length / 2);
  const { packets, error } = drain(full.subarray(0, cut));
  assert.equal(packets.length, 5);
  assert.ok(error instanceof PcapError);
  assert.equal(error.offset, victim.offset);
  assert.match(error.message, /truncated/);
});

test('fuzz: mutated capture files never throw anything but PcapError', () => {
  const seeds = [
    new Uint8Array(readFileSync(FIXTURE)).subarray(0, 4000),
    pcapFile({ le: false, nanos: true, linkType: 113, records: [{ sec: 1, frac: 2, data: A }] }),
    concat([shb(true), idb(true, 276, { tsresol: 9 }), epb(true, 0, 5n, A), nrb(true), spb(true, B)]),
    concat([shb(false), idb(false, 1), epb(false, 0, 5n, B)]),
  ];
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
      fc.option(fc.nat()),
      (which, edits, cut) => {
        const seed = seeds[which]!;
        const buf = seed.slice();
        for (const [pos, val] of edits) buf[pos % buf.length] = val;
        const input = cut === null ? buf : buf.subarray(0, cut % (buf.length + 1));
        const { packets, error } = drain(input);
        if (error !== undefined && !(error instanceof PcapError)) throw error;
        for (const p of packets) {
          assert.ok(p.data.length <= MAX_PACKET_BYTES);
          assert.ok(p.data.byteOffset + p.data.length <= input.byteOffset + input.length);
        }
      },
    ),
    { numRuns: 4000, seed: 8684 },
  );
});
