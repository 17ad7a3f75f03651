/**
 * The virtual-clock harness itself: the features the property tests rely on behave as documented.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimPair } from '../../src/sim/pair.js';

test('a rate-limited path delivers segment by segment at its rate', () => {
  const sim = new SimPair({ delayMs: 10, rateBytesPerMs: 100 });
  assert.ok(sim.waitEstablished());
  const start = sim.now;
  sim.write(new Uint8Array(20_000));
  // About 200 ms of serialisation plus the delay; the frame arrives progressively, not all at the end.
  const arrivals = sim.subflows.get(1)!.toServer.queue.map((d) => d.at - start);
  assert.ok(arrivals.length >= 5, `${arrivals.length} segments`);
  assert.ok(arrivals[0]! < 60, `first segment after ${arrivals[0]} ms`);
  assert.ok(arrivals.at(-1)! >= 200, `last segment after ${arrivals.at(-1)} ms`);
  sim.runUntil(() => sim.serverReceivedBytes === 20_000, start + 1000);
  assert.ok(sim.now - start >= 200, `all bytes after ${sim.now - start} ms`);
});

test('an orderly close reaches the peer after the bytes sent before it', () => {
  const sim = new SimPair({ delayMs: 20 });
  assert.ok(sim.waitEstablished());
  sim.write(Uint8Array.of(1, 2, 3));
  sim.end();
  sim.runUntil(() => sim.serverEnded, sim.now + 1000);
  sim.serverEnd();
  assert.ok(sim.runUntil(() => sim.clientEvents.some((e) => e.type === 'closed'), sim.now + 1000));
  assert.ok(sim.runUntil(() => sim.serverEvents.some((e) => e.type === 'closed'), sim.now + 1000));
  // Both closed cleanly: the final DATA_ACK was delivered before the subflow's FIN.
  for (const events of [sim.clientEvents, sim.serverEvents]) {
    const closed = events.find((e) => e.type === 'closed');
    assert.ok(closed?.type === 'closed' && closed.error === undefined);
  }
  assert.ok(
    sim.runUntil(() => sim.subflows.get(1)!.status === 'closed', sim.now + 1000),
    'both FINs delivered',
  );
});

test('server → client data with a slow client reader: the window bounds what the client holds', () => {
  const sim = new SimPair(
    { delayMs: 5 },
    { client: { receiveBufferBytes: 32_768 }, clientReadBytesPerMs: 50 },
  );
  assert.ok(sim.waitEstablished());
  sim.runUntil(() => sim.server !== undefined, sim.now + 100);
  const data = new Uint8Array(200_000).map((_, i) => (i * 13) & 0xff);
  sim.serverWrite(data);
  sim.serverEnd();
  let peak = 0;
  assert.ok(
    sim.runUntil(() => {
      peak = Math.max(peak, sim.client.receiveBufferedBytes);
      return sim.clientReceivedBytes === data.length;
    }, sim.now + 60_000),
  );
  assert.ok(peak <= 32_768 && peak > 16_000, `peak ${peak}`);
  assert.ok(sim.now > (0.9 * 200_000) / 50, `the reader set the pace (${sim.now} ms)`);
  assert.ok(Buffer.from(data).equals(sim.clientBytes()));
});

test('cut holds bytes silently; restore delivers them in order', () => {
  const sim = new SimPair({ delayMs: 5 });
  assert.ok(sim.waitEstablished());
  sim.cut(1);
  sim.write(Uint8Array.of(7, 8, 9));
  sim.runUntil(() => false, sim.now + 50);
  assert.equal(sim.serverReceivedBytes, 0);
  assert.equal(sim.openSubflows().length, 0);
  sim.restore(1);
  assert.ok(sim.runUntil(() => sim.serverReceivedBytes === 3, sim.now + 50));
  assert.deepEqual([...sim.serverBytes()], [7, 8, 9]);
});
