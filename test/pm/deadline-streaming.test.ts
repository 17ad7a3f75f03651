import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deadlineStreaming } from '../../src/pm/controllers/deadline-streaming.js';
import { subflowKey } from '../../src/pm/kernel-events.js';
import { ep, Harness, only, TOKEN } from './harness.js';

const PRIMARY = subflowKey(ep('10.0.1.1:40000'), ep('10.0.1.2:80'));
const opts = {
  deadlineMs: 1000,
  blockBytes: 65536,
  otherPaths: [{ address: '10.0.2.2', localAddress: '10.0.2.1' }],
};

describe('pm/deadline-streaming (seed §4.3)', () => {
  test('at half the deadline, a block less than half acknowledged opens the other path', () => {
    const h = new Harness(deadlineStreaming(opts));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    h.bytesAcked = 1000;
    const cmds = h.feed({ type: 'block-sent', bytes: 65536 }, 100);
    assert.deepEqual(cmds, [{ type: 'set-timer', connection: TOKEN, atMs: 600, timer: 'deadline:check:0' }]);
    h.bytesAcked = 1000 + 32767; // just under half
    const fired = h.advance(600);
    assert.equal(fired.length, 1);
    assert.deepEqual(fired[0]!.commands, [
      {
        type: 'create-subflow',
        connection: TOKEN,
        remoteAddress: '10.0.2.2',
        remotePort: 80,
        localAddress: '10.0.2.1',
      },
    ]);
    // A second late block does not ask for the same path again while it is being opened.
    h.feed({ type: 'block-sent', bytes: 65536 }, 1100);
    assert.deepEqual(h.advance(1600)[0]!.commands, []);
  });

  test('a block at least half acknowledged at half its deadline opens nothing', () => {
    const h = new Harness(deadlineStreaming(opts));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    h.bytesAcked = 0;
    h.feed({ type: 'block-sent', bytes: 65536, deadlineMs: 400 }, 0);
    h.bytesAcked = 32768;
    const fired = h.advance(200);
    assert.equal(fired[0]!.atMs, 200, 'the block deadline overrides the default');
    assert.deepEqual(fired[0]!.commands, []);
  });

  test('progress of a block counts from the end of the previous one', () => {
    const h = new Harness(deadlineStreaming(opts));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    h.bytesAcked = 0;
    h.feed({ type: 'block-sent', bytes: 65536 }, 0);
    h.feed({ type: 'block-sent', bytes: 65536 }, 10);
    h.bytesAcked = 65536 + 20000; // block 0 complete, block 1 less than half
    const fired = h.advance(510);
    assert.deepEqual(fired[0]!.commands, []);
    assert.equal(only(fired[1]!.commands, 'create-subflow').length, 1);
  });

  test('with periodMs, blocks are assumed every period from establishment', () => {
    const h = new Harness(deadlineStreaming({ ...opts, periodMs: 1000 }));
    h.bytesAcked = 0;
    const cmds = h.establish('10.0.1.1:40000', '10.0.1.2:80');
    assert.deepEqual(
      only(cmds, 'set-timer').map((t) => [t.atMs, t.timer]),
      [
        [500, 'deadline:check:0'],
        [1000, 'deadline:period'],
      ],
    );
    h.bytesAcked = 65536;
    const fired = h.advance(1500);
    assert.deepEqual(
      fired.map((f) => f.timer),
      ['deadline:check:0', 'deadline:period', 'deadline:check:1'],
    );
    assert.equal(only(fired[2]!.commands, 'create-subflow').length, 1, 'block 1 got no progress');
  });

  test('a subflow whose rto exceeds the deadline is closed (after opening another path if it was the last)', () => {
    const h = new Harness(deadlineStreaming(opts));
    h.establish('10.0.1.1:40000', '10.0.1.2:80');
    h.metrics.set(PRIMARY, { rtoMs: 1000 });
    assert.deepEqual(h.feed({ type: 'tick', connection: '*' }), [], 'rto equal to the deadline is kept');
    h.metrics.set(PRIMARY, { rtoMs: 1200 });
    const cmds = h.feed({ type: 'subflow-timeout', subflow: PRIMARY, rtoMs: 1200 });
    assert.deepEqual(
      cmds.map((c) => c.type),
      ['create-subflow', 'remove-subflow'],
    );
    assert.deepEqual(h.feed({ type: 'tick', connection: '*' }), [], 'closed only once');
  });

  test('options are validated', () => {
    assert.throws(() => deadlineStreaming({ otherPaths: [] }), RangeError);
    assert.throws(() => deadlineStreaming({ ...opts, deadlineMs: 0 }), RangeError);
  });
});
