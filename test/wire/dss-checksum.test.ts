import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { dssChecksum, dssChecksumOfChunks, dssChecksumValid } from '../../src/wire/dss-checksum.js';

/** Straightforward reference: build the pseudo-header and payload as one byte string, sum words. */
function referenceChecksum(dsn: bigint, ssn: number, len: number, payload: Uint8Array): number {
  const b = Buffer.alloc(16 + payload.length + (payload.length % 2));
  b.writeBigUInt64BE(dsn, 0);
  b.writeUInt32BE(ssn, 8);
  b.writeUInt16BE(len, 12);
  b.writeUInt16BE(0, 14);
  Buffer.from(payload).copy(b, 16);
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) {
    sum += b.readUInt16BE(i);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

test('known answers worked by hand', () => {
  // Words: 0000 0000 0000 0001 | 0000 0001 | 0002 | 0000 | 0001 → sum 5 → checksum 0xfffa.
  assert.equal(dssChecksum(1n, 1, 2, Uint8Array.of(0x00, 0x01)), 0xfffa);
  // Odd payload: the last byte is the high byte of a zero-padded word.
  // 0000 0000 0000 0000 | 0000 0000 | 0001 | 0000 | ab00 → sum 0xab01 → checksum 0x54fe.
  assert.equal(dssChecksum(0n, 0, 1, Uint8Array.of(0xab)), 0x54fe);
  // End-around carry: DSN ffff…ffff contributes 4 × 0xffff ≡ 0xffff; + length 1 → 0x0001 after the
  // carry; + payload 0xff00 → 0xff01 → checksum 0x00fe.
  assert.equal(dssChecksum(2n ** 64n - 1n, 0, 1, Uint8Array.of(0xff)), 0x00fe);
  assert.equal(referenceChecksum(2n ** 64n - 1n, 0, 1, Uint8Array.of(0xff)), 0x00fe);
});

test('property: agrees with the reference, validates itself, rejects a flipped bit', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(),
      (dsn, ssn, payload, flip) => {
        const len = payload.length;
        const c = dssChecksum(dsn, ssn, len, payload);
        assert.equal(c, referenceChecksum(dsn, ssn, len, payload));
        assert.equal(dssChecksumValid(dsn, ssn, len, payload, c), true);
        if (payload.length > 0) {
          const bad = Uint8Array.from(payload);
          bad[flip % bad.length]! ^= 1 << (flip % 8);
          assert.equal(dssChecksumValid(dsn, ssn, len, bad, c), false);
        }
        assert.equal(dssChecksumValid(dsn, ssn ^ 1, len, payload, c), false);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: chunked computation equals the one-shot one for any split', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.nat({ max: 200 }), { maxLength: 6 }),
      (dsn, ssn, payload, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of [...points, payload.length]) {
          chunks.push(payload.subarray(prev, p));
          prev = p;
        }
        assert.equal(
          dssChecksumOfChunks(dsn, ssn, payload.length, chunks),
          dssChecksum(dsn, ssn, payload.length, payload),
        );
      },
    ),
    { numRuns: 500 },
  );
});
