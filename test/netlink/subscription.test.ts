import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_QUEUED_EVENTS, PmEventSubscription } from '../../src/netlink/mptcp-pm-client.js';
import type { KernelPmEvent } from '../../src/netlink/mptcp-pm-events.js';

const closed = (token: number): KernelPmEvent => ({ type: 'closed', token });

describe('netlink/PmEventSubscription', () => {
  test('async iteration yields pushed events in order and ends on close()', async () => {
    let onCloseCalls = 0;
    const sub = new PmEventSubscription(() => onCloseCalls++);
    const got: number[] = [];
    const done = (async () => {
      for await (const ev of sub) if (ev.type === 'closed') got.push(ev.token);
    })();
    await new Promise((r) => setImmediate(r));
    sub.push(closed(1));
    sub.push(closed(2));
    await new Promise((r) => setImmediate(r));
    sub.push(closed(3));
    sub.close();
    sub.close();
    await done;
    assert.deepEqual(got, [1, 2, 3]);
    assert.equal(onCloseCalls, 1);
  });

  test('an unconsumed iterator queue is bounded; the oldest events are dropped and counted', async () => {
    const sub = new PmEventSubscription(() => {});
    const it = sub[Symbol.asyncIterator]();
    const first = it.next(); // starts iterating, waits
    sub.push(closed(0));
    assert.deepEqual((await first).value, closed(0));
    for (let i = 1; i <= MAX_QUEUED_EVENTS + 10; i++) sub.push(closed(i));
    assert.equal(sub.dropped, 10);
    assert.deepEqual((await it.next()).value, closed(11));
    sub.close();
  });

  test('waitFor resolves on a match, rejects on timeout and on close', async () => {
    const sub = new PmEventSubscription(() => {});
    const p = sub.waitFor((ev) => ev.type === 'closed' && ev.token === 5, 1000);
    sub.push(closed(4));
    sub.push(closed(5));
    assert.deepEqual(await p, closed(5));
    await assert.rejects(
      sub.waitFor(() => false, 20),
      /no matching MPTCP PM event within 20 ms/,
    );
    const pending = sub.waitFor(() => false, 1000);
    sub.close();
    await assert.rejects(pending, /subscription closed/);
  });

  test('error events are only emitted to listeners (no unhandled error without one)', () => {
    const sub = new PmEventSubscription(() => {});
    sub.fail(new Error('lost'));
    let seen = '';
    sub.on('error', (e: Error) => {
      seen = e.message;
    });
    sub.fail(new Error('lost again'));
    assert.equal(seen, 'lost again');
  });
});
