import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backupOnRto } from '../../src/pm/controllers/backup-on-rto.js';
import { subflowKey } from '../../src/pm/kernel-events.js';
import { ep, Harness, TOKEN } from './harness.js';

const PRIMARY = subflowKey(ep('10.0.1.1:40000'), ep('10.0.1.2:80'));

describe('pm/backup-on-rto (seed §4.2)', () => {
  test('does not open the backup path in advance', () => {
    const h = new Harness(backupOnRto({ backup: { address: '10.0.2.2', localAddress: '10.0.2.1' } }));
    assert.deepEqual(h.establish('10.0.1.1:40000', '10.0.1.2:80'), []);
    assert.deepEqual(h.feed({ type: 'subflow-timeout', subflow: PRIMARY, rtoMs: 400 }), []);
    assert.deepEqual(
      h.feed({ type: 'subflow-timeout', subflow: PRIMARY, rtoMs: 1000 }),
      [],
      'threshold is exclusive',
    );
  });

  test('rto above the threshold: opens the backup path, then closes the primary, once', () => {
    const h = new Harness(
      backupOnRto({ thresholdMs: 1000, backup: { address: '10.0.2.2', localAddress: '10.0.2.1' } }),
    );
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    const cmds = h.feed({ type: 'subflow-timeout', subflow: PRIMARY, rtoMs: 1600 }, 3000);
    assert.deepEqual(cmds, [
      {
        type: 'create-subflow',
        connection: TOKEN,
        remoteAddress: '10.0.2.2',
        remotePort: 80,
        localAddress: '10.0.2.1',
      },
      { type: 'remove-subflow', connection: TOKEN, subflow: PRIMARY },
    ]);
    assert.deepEqual(h.feed({ type: 'subflow-timeout', subflow: PRIMARY, rtoMs: 3200 }), []);
  });

  test('a polling driver: the view alone (rto in tcp_info) triggers the switch on a tick', () => {
    const h = new Harness(backupOnRto({ backup: { address: '10.0.2.2', port: 8080 } }));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    h.metrics.set(PRIMARY, { rtoMs: 204 });
    assert.deepEqual(h.feed({ type: 'tick', connection: '*' }), []);
    h.metrics.set(PRIMARY, { rtoMs: 1632 });
    const cmds = h.feed({ type: 'tick', connection: '*' });
    assert.equal(cmds.length, 2);
    assert.deepEqual(cmds[0], {
      type: 'create-subflow',
      connection: TOKEN,
      remoteAddress: '10.0.2.2',
      remotePort: 8080,
    });
  });

  test('a slow subflow already on the backup path, or a backup subflow, is not a primary', () => {
    const h = new Harness(backupOnRto({ backup: { localAddress: '10.0.2.1' } }));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    const [bk] = h.subflowUp('10.0.2.1:40001', '10.0.1.2:80');
    assert.deepEqual(h.feed({ type: 'subflow-timeout', subflow: bk, rtoMs: 5000 }), []);
    const [flagged] = h.subflowUp('10.0.3.1:40002', '10.0.1.2:80', true);
    assert.deepEqual(h.feed({ type: 'subflow-timeout', subflow: flagged, rtoMs: 5000 }), []);
    assert.throws(() => backupOnRto({ backup: {} }), RangeError);
  });
});

describe('pm/backup-on-rto when the OS kills the primary first', () => {
  test('the last primary closed by a reset: the backup path is opened', () => {
    const h = new Harness(backupOnRto({ backup: { address: '10.0.2.2' } }));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    const cmds = h.subflowDown('10.0.1.1:40000', '10.0.1.2:80', 'reset', 104);
    assert.deepEqual(cmds, [
      { type: 'create-subflow', connection: TOKEN, remoteAddress: '10.0.2.2', remotePort: 80 },
    ]);
  });

  test('a closed subflow while another primary remains: nothing', () => {
    const h = new Harness(backupOnRto({ backup: { address: '10.0.2.2' } }));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    h.subflowUp('10.0.3.1:40001', '10.0.1.2:80');
    assert.deepEqual(h.subflowDown('10.0.1.1:40000', '10.0.1.2:80', 'reset'), []);
  });
});
