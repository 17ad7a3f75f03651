import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DelayLine, DelayLineError } from '../../src/lab/nfqueue-delay-line.js';
import { NfqueueRuleError, nfqueueRuleSpec } from '../../src/lab/nfqueue-rules.js';

const never = () => 0.5;

describe('lab/nfqueue delay line (pure)', () => {
  test('fixed delay: each packet leaves delayMs after it arrived; popDue returns the last due id', () => {
    const line = new DelayLine({ delayMs: 20 });
    assert.equal(line.arrive(1, 0, never), 20);
    assert.equal(line.arrive(2, 5, never), 25);
    assert.equal(line.arrive(3, 6, never), 26);
    assert.equal(line.nextReleaseAt(), 20);
    assert.equal(line.popDue(19.999), undefined);
    assert.equal(line.popDue(25), 2);
    assert.equal(line.size, 1);
    assert.equal(line.nextReleaseAt(), 26);
    assert.equal(line.popDue(100), 3);
    assert.equal(line.size, 0);
    assert.equal(line.nextReleaseAt(), undefined);
  });

  test('jitter never reorders: a packet never leaves before the one ahead of it', () => {
    // random() = 0 → jitter −jitterMs; 1 → +jitterMs (just below).
    const seq = [0.999, 0];
    let i = 0;
    const line = new DelayLine({ delayMs: 10, jitterMs: 5 });
    const r1 = line.arrive(1, 0, () => seq[i++]!) as number;
    const r2 = line.arrive(2, 1, () => seq[i++]!) as number;
    assert.ok(Math.abs(r1 - 14.99) < 0.01);
    assert.equal(r2, r1, 'second packet would have left at 6 ms: held behind the first');
  });

  test('loss: random() * 100 < lossPct drops; dropped packets are not held', () => {
    const line = new DelayLine({ delayMs: 1, lossPct: 30 });
    assert.equal(
      line.arrive(1, 0, () => 0.29),
      'drop',
    );
    assert.equal(
      line.arrive(2, 0, () => 0.3),
      1,
    );
    assert.equal(line.size, 1);
  });

  test('overflow beyond maxHeld; popAll empties and returns the last id', () => {
    const line = new DelayLine({ delayMs: 1 }, 2);
    line.arrive(10, 0, never);
    line.arrive(11, 0, never);
    assert.equal(line.arrive(12, 0, never), 'overflow');
    assert.equal(line.popAll(), 11);
    assert.equal(line.popAll(), undefined);
    assert.equal(line.arrive(13, 0, never), 1);
  });

  test('setDelay applies to later arrivals; bad settings are refused', () => {
    const line = new DelayLine({ delayMs: 50 });
    line.arrive(1, 0, never);
    line.setDelay(10);
    assert.equal(line.arrive(2, 1, never), 50, 'still behind the 50 ms packet');
    assert.equal(line.arrive(3, 100, never), 110);
    assert.throws(() => line.setDelay(-1), DelayLineError);
    assert.throws(() => new DelayLine({ delayMs: 1, lossPct: 101 }), DelayLineError);
    assert.throws(() => new DelayLine({ delayMs: 1, jitterMs: Number.NaN }), DelayLineError);
  });

  test('property: release times are monotonic, within [arrival + delay − jitter, max(prev, arrival + delay + jitter)], ids leave in order', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 0, max: 20, noNaN: true }),
        fc.array(
          fc.tuple(
            fc.double({ min: 0, max: 5, noNaN: true }),
            fc.double({ min: 0, max: 0.999999, noNaN: true }),
          ),
          {
            maxLength: 200,
          },
        ),
        (delay, jitter, arrivals) => {
          const line = new DelayLine({ delayMs: delay, jitterMs: jitter });
          let now = 0;
          let prev = Number.NEGATIVE_INFINITY;
          const released: number[] = [];
          arrivals.forEach(([gap, r], id) => {
            now += gap;
            const at = line.arrive(id, now, () => r) as number;
            assert.ok(at >= prev);
            assert.ok(at >= now + Math.max(0, delay - jitter) - 1e-9);
            assert.ok(at <= Math.max(prev, now + delay + jitter) + 1e-9);
            prev = at;
            const last = line.popDue(now);
            if (last !== undefined) released.push(last);
          });
          const last = line.popAll();
          if (last !== undefined) released.push(last);
          for (let i = 1; i < released.length; i++) assert.ok(released[i]! > released[i - 1]!);
          if (arrivals.length > 0) assert.equal(released.at(-1), arrivals.length - 1);
        },
      ),
    );
  });

  test('iptables rule spec: PREROUTING for ingress, FORWARD for forward, bypass when unbound', () => {
    assert.deepEqual(
      nfqueueRuleSpec({ iface: 'srv0', queueNum: 3, direction: 'ingress', family: 'both' }, 'tag'),
      [
        'PREROUTING',
        '-i',
        'srv0',
        '-m',
        'comment',
        '--comment',
        'tag',
        '-j',
        'NFQUEUE',
        '--queue-num',
        '3',
        '--queue-bypass',
      ],
    );
    assert.equal(
      nfqueueRuleSpec({ iface: 'r1', queueNum: 0, direction: 'forward', family: 'ipv4' }, 't')[0],
      'FORWARD',
    );
    assert.throws(
      () => nfqueueRuleSpec({ iface: 'a b', queueNum: 0, direction: 'ingress', family: 'both' }, 't'),
      NfqueueRuleError,
    );
    assert.throws(
      () => nfqueueRuleSpec({ iface: 'a', queueNum: 70000, direction: 'ingress', family: 'both' }, 't'),
      NfqueueRuleError,
    );
  });
});
