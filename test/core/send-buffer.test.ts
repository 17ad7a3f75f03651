/**
 * SendBuffer: random appends, reads at any unacknowledged offset and cumulative acks, checked against
 * a plain byte-array model.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SendBuffer } from '../../src/core/send-buffer.js';

type Op =
  | { op: 'append'; len: number }
  | { op: 'read'; at: number; max: number }
  | { op: 'ack'; at: number }
  | { op: 'scan'; max: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('append' as const), len: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({
    op: fc.constant('read' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    max: fc.integer({ min: 1, max: 5000 }),
  }),
  fc.record({ op: fc.constant('ack' as const), at: fc.double({ min: 0, max: 1.1, noNaN: true }) }),
  fc.record({ op: fc.constant('scan' as const), max: fc.integer({ min: 1, max: 4000 }) }),
);

test('reads return the model bytes; acks release; retained = written − acked', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
      const sb = new SendBuffer();
      const model: number[] = [];
      let acked = 0;
      let counter = 0;
      for (const o of ops) {
        if (o.op === 'append') {
          const chunk = Uint8Array.from({ length: o.len }, () => counter++ & 0xff);
          sb.append(chunk);
          model.push(...chunk);
        } else if (o.op === 'ack') {
          const at = Math.floor(o.at * model.length);
          sb.ack(at);
          acked = Math.max(acked, Math.min(at, model.length));
        } else if (o.op === 'read' || o.op === 'scan') {
          if (acked >= model.length) {
            assert.throws(() => sb.read(acked, 1), RangeError);
            continue;
          }
          // 'read': one random offset; 'scan': a sequential walk (the cursor cache's common case).
          const starts =
            o.op === 'read' ? [acked + Math.floor(o.at * (model.length - acked - 1))] : undefined;
          let at = starts ? starts[0]! : acked;
          do {
            const max = o.op === 'read' ? o.max : o.max;
            const got = sb.read(at, max);
            const want = Math.min(max, model.length - at);
            assert.equal(got.length, want);
            assert.deepEqual([...got], model.slice(at, at + want));
            at += got.length;
          } while (o.op === 'scan' && at < model.length);
        }
        assert.equal(sb.writeEnd, model.length);
        assert.equal(sb.acked, acked);
        assert.equal(sb.retainedBytes, model.length - acked);
        if (acked > 0) assert.throws(() => sb.read(acked - 1, 1), RangeError);
      }
    }),
    { numRuns: 300 },
  );
});
