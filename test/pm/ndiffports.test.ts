import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ndiffports } from '../../src/pm/controllers/ndiffports.js';
import { Harness, only } from './harness.js';

describe('pm/ndiffports', () => {
  test('opens n − 1 subflows over the initial address pair', () => {
    const h = new Harness(ndiffports(4), ['10.0.1.1', '10.0.2.1']);
    const cmds = only(h.establish('10.0.1.1:40000', '10.0.1.2:80'), 'create-subflow');
    assert.equal(cmds.length, 3);
    for (const c of cmds) {
      assert.equal(c.localAddress, '10.0.1.1');
      assert.equal(c.remoteAddress, '10.0.1.2');
      assert.equal(c.remotePort, 80);
    }
    // Established ones count; nothing more is asked for.
    for (const p of [40001, 40002, 40003])
      assert.deepEqual(h.subflowUp(`10.0.1.1:${p}`, '10.0.1.2:80')[1], []);
    assert.equal(h.view().connections()[0]!.subflows.length, 4);
  });

  test('n = 1 opens nothing; server side opens nothing; bad n throws', () => {
    assert.deepEqual(new Harness(ndiffports(1)).establish('10.0.1.1:40000', '10.0.1.2:80'), []);
    assert.deepEqual(new Harness(ndiffports(3)).establish('10.0.1.2:80', '10.0.1.1:40000', true), []);
    assert.throws(() => ndiffports(0), RangeError);
    assert.throws(() => ndiffports(2.5), RangeError);
  });

  test('tops back up to n after a failure, with backoff', () => {
    const h = new Harness(ndiffports(3));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    h.subflowUp('10.0.1.1:40001', '10.0.1.2:80');
    h.subflowUp('10.0.1.1:40002', '10.0.1.2:80');
    const t1 = only(h.subflowDown('10.0.1.1:40001', '10.0.1.2:80', 'reset'), 'set-timer');
    assert.equal(t1[0]!.atMs, 200);
    const fired = h.advance(200).flatMap((f) => f.commands);
    assert.equal(only(fired, 'create-subflow').length, 1);
    // The attempt fails before being established (refused): next delay doubles from the refused base.
    const t2 = only(h.subflowDown('10.0.1.1:40009', '10.0.1.2:80', 'refused'), 'set-timer');
    assert.equal(t2[0]!.atMs - h.nowMs, 2000);
    const again = h.advance(h.nowMs + 2000).flatMap((f) => f.commands);
    assert.equal(only(again, 'create-subflow').length, 1, 'exactly one subflow missing');
  });
});
