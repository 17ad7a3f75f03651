import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fullmesh } from '../../src/pm/controllers/fullmesh.js';
import { Harness, only, TOKEN } from './harness.js';

const L1 = '10.0.1.1';
const L2 = '10.0.2.1';
const creates = (cmds: Parameters<typeof only>[0]) =>
  only(cmds, 'create-subflow').map((c) => `${c.localAddress}>${c.remoteAddress}:${c.remotePort}`);

describe('pm/fullmesh', () => {
  test('on established: one subflow per missing local×remote pair, none for the initial pair', () => {
    const h = new Harness(fullmesh(), [L1, L2, 'fd00::1']);
    const cmds = h.establish(`${L1}:40000`, '10.0.1.2:80');
    assert.deepEqual(creates(cmds), [`${L2}>10.0.1.2:80`]);
    assert.equal(cmds[0]!.connection, TOKEN);
    // A repeated trigger while the attempt is pending does not open a duplicate.
    assert.deepEqual(h.feed({ type: 'add-addr', addressId: 9, address: '10.0.1.2' }), []);
  });

  test('add-addr and local-addr-added extend the mesh; an announced port is used', () => {
    const h = new Harness(fullmesh(), [L1, L2]);
    h.establish(`${L1}:40000`, '10.0.1.2:80');
    h.subflowUp(`${L2}:40001`, '10.0.1.2:80');
    const a = h.feed({ type: 'add-addr', addressId: 1, address: '10.0.2.2' });
    assert.deepEqual(creates(a), [`${L1}>10.0.2.2:80`, `${L2}>10.0.2.2:80`]);
    const b = h.feed({ type: 'add-addr', addressId: 2, address: '10.0.3.2', port: 8080 });
    assert.deepEqual(creates(b), [`${L1}>10.0.3.2:8080`, `${L2}>10.0.3.2:8080`]);
    (h.locals as string[]).push('10.0.4.1');
    const c = h.feed({ type: 'local-addr-added', connection: '*', address: '10.0.4.1' });
    assert.deepEqual(creates(c), ['10.0.4.1>10.0.1.2:80', '10.0.4.1>10.0.2.2:80', '10.0.4.1>10.0.3.2:8080']);
  });

  test('re-establishes a failed subflow after a delay chosen by the reason, with capped backoff', () => {
    const h = new Harness(fullmesh({ maxRetryDelayMs: 10_000 }), [L1, L2]);
    h.establish(`${L1}:40000`, '10.0.1.2:80');
    h.subflowUp(`${L2}:40001`, '10.0.1.2:80');
    const fires: Array<[number, number]> = [];
    const fail = (reason: 'reset' | 'timeout' | 'unreachable') => {
      const at = h.nowMs;
      const cmds = h.subflowDown(`${L2}:40001`, '10.0.1.2:80', reason);
      const timer = only(cmds, 'set-timer');
      assert.equal(timer.length, 1, reason);
      assert.equal(creates(cmds).length, 0, 'no immediate retry');
      const fired = h.advance(timer[0]!.atMs);
      assert.deepEqual(creates(fired.flatMap((f) => f.commands)), [`${L2}>10.0.1.2:80`]);
      fires.push([at, timer[0]!.atMs - at]);
    };
    fail('reset'); // 200
    fail('reset'); // 400
    fail('timeout'); // 2000 × 4
    fail('unreachable'); // 2000 × 8 → capped 10 000
    assert.deepEqual(
      fires.map(([, d]) => d),
      [200, 400, 8000, 10_000],
    );
    // Once the pair is up again, the backoff starts over.
    h.subflowUp(`${L2}:40002`, '10.0.1.2:80');
    const again = only(h.subflowDown(`${L2}:40002`, '10.0.1.2:80', 'unreachable'), 'set-timer');
    assert.equal(again[0]!.atMs - h.nowMs, 2000);
  });

  test('an orderly close is not retried; a refused create is (errno → reason)', () => {
    const h = new Harness(fullmesh(), [L1, L2]);
    const [cmd] = only(h.establish(`${L1}:40000`, '10.0.1.2:80'), 'create-subflow');
    h.subflowUp(`${L2}:40001`, '10.0.1.2:80');
    assert.deepEqual(h.subflowDown(`${L2}:40001`, '10.0.1.2:80', 'closed'), []);
    const failed = h.feed({ type: 'command-failed', command: cmd!, error: 'EHOSTUNREACH', errno: 113 }, 50);
    assert.deepEqual(
      only(failed, 'set-timer').map((t) => t.atMs),
      [2050],
    );
  });

  test('no retry for a pair that is no longer wanted, nor after connection-closed', () => {
    const h = new Harness(fullmesh(), [L1, L2]);
    h.establish(`${L1}:40000`, '10.0.1.2:80');
    h.feed({ type: 'add-addr', addressId: 1, address: '10.0.2.2' });
    h.subflowUp(`${L1}:40003`, '10.0.2.2:80');
    h.feed({ type: 'rem-addr', addressId: 1 });
    assert.deepEqual(h.subflowDown(`${L1}:40003`, '10.0.2.2:80', 'reset'), []);
    const t = only(h.subflowDown(`${L1}:40000`, '10.0.1.2:80', 'reset'), 'set-timer');
    assert.equal(t.length, 1);
    h.feed({ type: 'connection-closed' });
    assert.deepEqual(
      h.advance(10_000).flatMap((f) => f.commands),
      [],
    );
  });

  test('server side: announces the other local addresses once, opens nothing', () => {
    const h = new Harness(fullmesh(), [L1, L2, '10.0.3.1', 'fd00::1']);
    const cmds = h.establish(`${L1}:80`, '10.9.0.1:5555', true);
    assert.deepEqual(cmds, [
      { type: 'announce', connection: TOKEN, addressId: 1, address: L2 },
      { type: 'announce', connection: TOKEN, addressId: 2, address: '10.0.3.1' },
    ]);
    assert.deepEqual(h.feed({ type: 'add-addr', addressId: 1, address: '10.9.0.2' }), []);
  });

  test('never pairs IPv4 with IPv6', () => {
    const h = new Harness(fullmesh(), ['fd00::1', 'fd00:2::1', L1]);
    const cmds = h.establish('fd00::1:40000', 'fd00::2:80');
    assert.deepEqual(creates(cmds), ['fd00:2::1>fd00::2:80']);
  });
});
