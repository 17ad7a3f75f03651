/**
 * Reassembly (data-level, RFC 8684 §3.3.1): whatever the arrival order, overlaps and duplicates, the
 * bytes leave in order, exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Reassembly } from '../../src/core/reassembly.js';

/** A stream, pieces that cover it (a partition plus random overlapping extras), in random order. */
const piecesArb = fc
  .record({
    length: fc.integer({ min: 1, max: 4000 }),
    cuts: fc.array(fc.integer({ min: 1, max: 3999 }), { maxLength: 30 }),
    extras: fc.array(fc.record({ start: fc.nat(3999), len: fc.integer({ min: 1, max: 600 }) }), {
      maxLength: 20,
    }),
    seed: fc.nat(),
    readEvery: fc.integer({ min: 1, max: 8 }),
  })
  .chain((r) => {
    const bounds = [...new Set([0, ...r.cuts.filter((c) => c < r.length), r.length])].sort((a, b) => a - b);
    const pieces: Array<[number, number]> = [];
    for (let i = 0; i + 1 < bounds.length; i++) pieces.push([bounds[i]!, bounds[i + 1]!]);
    for (const e of r.extras) {
      const start = e.start % r.length;
      pieces.push([start, Math.min(r.length, start + e.len)]);
    }
    return fc
      .shuffledSubarray(pieces, { minLength: pieces.length, maxLength: pieces.length })
      .map((order) => ({ ...r, order }));
  });

test('random overlapping, duplicated, reordered inserts come out in order, exactly once', () => {
  fc.assert(
    fc.property(piecesArb, ({ length, order, seed, readEvery }) => {
      const stream = Uint8Array.from({ length }, (_, i) => (i * 131 + seed) & 0xff);
      const r = new Reassembly();
      const out: Uint8Array[] = [];
      let added = 0;
      let inserted = 0;
      order.forEach(([start, end], i) => {
        added += r.insert(start, stream.subarray(start, end));
        inserted += end - start;
        assert.ok(r.next <= length);
        assert.equal(r.bufferedBytes, r.readyBytes + r.oooBytes);
        if (i % readEvery === 0) for (let c = r.read(); c; c = r.read()) out.push(c);
      });
      for (let c = r.read(); c; c = r.read()) out.push(c);
      assert.equal(added, length, 'every byte counted new exactly once');
      assert.equal(r.duplicateBytes, inserted - length);
      assert.equal(r.next, length);
      assert.equal(r.bufferedBytes, 0);
      assert.equal(r.oooBytes, 0);
      assert.ok(Buffer.concat(out).equals(Buffer.from(stream)));
    }),
    { numRuns: 500 },
  );
});

test('bytes below the cumulative point are duplicates; the out-of-order part is held until the gap fills', () => {
  const r = new Reassembly();
  assert.equal(r.insert(5, Uint8Array.of(5, 6, 7)), 3);
  assert.equal(r.read(), undefined);
  assert.equal(r.oooBytes, 3);
  assert.equal(r.insert(0, Uint8Array.of(0, 1, 2, 3, 4, 5)), 5);
  assert.deepEqual([...Buffer.concat([r.read()!, r.read()!])], [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(r.insert(2, Uint8Array.of(2, 3)), 0);
  assert.equal(r.duplicateBytes, 3);
});

test('an in-order insert that covers held out-of-order bytes counts them as duplicates, not new', () => {
  // Found by the property above: insert() returned 3 new bytes for a 2-byte stream.
  const r = new Reassembly();
  assert.equal(r.insert(1, Uint8Array.of(1)), 1);
  assert.equal(r.insert(0, Uint8Array.of(0, 1)), 1);
  assert.equal(r.duplicateBytes, 1);
  assert.equal(r.oooBytes, 0);
  assert.deepEqual([...r.read()!], [0, 1]);
  assert.equal(r.read(), undefined);
});
