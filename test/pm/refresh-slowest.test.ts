import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refreshSlowest } from '../../src/pm/controllers/refresh-slowest.js';
import { Harness, only, TOKEN } from './harness.js';

describe('pm/refresh-slowest (seed §4.4)', () => {
  test('opens subflows − 1 more, then every period replaces the lowest delivery rate', () => {
    const h = new Harness(refreshSlowest({ periodMs: 2500, subflows: 3 }));
    const cmds = h.establish('10.0.1.1:40000', '10.0.1.2:80');
    assert.equal(only(cmds, 'create-subflow').length, 2);
    assert.deepEqual(only(cmds, 'set-timer'), [
      { type: 'set-timer', connection: TOKEN, atMs: 2500, timer: 'refresh-slowest:period' },
    ]);
    const [a] = h.subflowUp('10.0.1.1:40001', '10.0.1.2:80');
    const [b] = h.subflowUp('10.0.1.1:40002', '10.0.1.2:80');
    const initial = h
      .view()
      .connections()[0]!
      .subflows.find((s) => s.local.port === 40000)!.key;
    h.metrics.set(initial, { deliveryRateBytesPerSec: 900_000 });
    h.metrics.set(a, { deliveryRateBytesPerSec: 300_000 });
    h.metrics.set(b, { deliveryRateBytesPerSec: 1_000_000 });
    const fired = h.advance(2500);
    assert.equal(fired.length, 1);
    assert.deepEqual(fired[0]!.commands, [
      { type: 'set-timer', connection: TOKEN, atMs: 5000, timer: 'refresh-slowest:period' },
      { type: 'remove-subflow', connection: TOKEN, subflow: a },
      {
        type: 'create-subflow',
        connection: TOKEN,
        localAddress: '10.0.1.1',
        remoteAddress: '10.0.1.2',
        remotePort: 80,
        backup: false,
      },
    ]);
  });

  test('fewer than two rated subflows: only re-arms; stops after connection-closed', () => {
    const h = new Harness(refreshSlowest({ periodMs: 1000 }));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    const fired = h.advance(1000);
    assert.deepEqual(
      fired[0]!.commands.map((c) => c.type),
      ['set-timer'],
    );
    h.feed({ type: 'connection-closed' });
    assert.deepEqual(
      h.advance(5000).flatMap((f) => f.commands),
      [],
    );
  });
});
