import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { LARGE_FRAME_BYTES } from '../../src/core/connection.js';
import { SimPair } from '../../src/sim/pair.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('MP_CAPABLE handshake establishes both ends with matching tokens', () => {
  const sim = new SimPair({ delayMs: 10 });
  assert.ok(sim.waitEstablished());
  assert.equal(sim.server?.state, 'established');
  assert.equal(sim.client.remoteToken, sim.server!.localToken);
  assert.equal(sim.server!.remoteToken, sim.client.localToken);
  // RTT measured from the handshake timestamps: about 2 × 10 ms.
  const rtt = sim.client.subflowInfo()[0]!.srttMs!;
  assert.ok(rtt >= 19 && rtt <= 25, `srtt ${rtt}`);
});

test('data flows client → server over one subflow and DATA_FIN ends it', () => {
  const sim = new SimPair({ delayMs: 5 });
  const data = randomBytes(300_000);
  sim.write(data);
  sim.end();
  assert.ok(
    sim.runUntil(() => sim.serverEnded, 10_000),
    'server saw the end',
  );
  assert.equal(sha(sim.serverBytes()), sha(data));
});

test('two subflows: data is spread and reassembled in order', () => {
  const sim = new SimPair({ delayMs: 5, rateBytesPerMs: 1000 });
  sim.waitEstablished();
  const id2 = sim.join({ delayMs: 8, rateBytesPerMs: 1000 });
  sim.runUntil(
    () => sim.clientEvents.some((e) => e.type === 'subflow-established' && e.subflowId === id2),
    1000,
  );
  const data = randomBytes(2_000_000);
  sim.write(data);
  sim.end();
  assert.ok(sim.runUntil(() => sim.serverEnded, 60_000));
  assert.equal(sha(sim.serverBytes()), sha(data));
  const info = sim.client.subflowInfo();
  assert.equal(info.length, 2);
  for (const sf of info) assert.ok(sf.bytesSent > 300_000, `subflow ${sf.id} sent ${sf.bytesSent}`);
  // Aggregation: two 1000 B/ms links move 2 MB in about 1 s, not 2 s.
  assert.ok(sim.now < 1500, `took ${sim.now} ms`);
});

test('a silently cut subflow is detected and its data reinjected: nothing lost, nothing duplicated', () => {
  const sim = new SimPair({ delayMs: 5, rateBytesPerMs: 1000 });
  sim.waitEstablished();
  const id2 = sim.join({ delayMs: 5, rateBytesPerMs: 1000 });
  sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), 1000);
  const data = randomBytes(1_000_000);
  sim.write(data);
  sim.runUntil(() => false, sim.now + 100);
  sim.cut(1);
  sim.end();
  assert.ok(
    sim.runUntil(() => sim.serverEnded, 30_000),
    'transfer completed after the cut',
  );
  assert.equal(sha(sim.serverBytes()), sha(data));
  const closed = sim.clientEvents.find((e) => e.type === 'subflow-closed');
  assert.ok(
    closed && closed.type === 'subflow-closed' && closed.subflowId === 1 && closed.reason === 'timeout',
  );
  assert.ok(closed.reinjectedBytes > 0);
  assert.ok(sim.client.getStats().reinjectedBytes > 0);
  assert.ok(id2 > 1);
});

test('backup subflow carries nothing until the primary fails', () => {
  const sim = new SimPair({ delayMs: 5, rateBytesPerMs: 1000 });
  sim.waitEstablished();
  const backup = sim.join({ delayMs: 2, backup: true });
  sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), 1000);
  sim.write(randomBytes(200_000));
  sim.runUntil(() => sim.serverReceivedBytes === 200_000, 10_000);
  assert.equal(sim.client.subflowInfo().find((s) => s.id === backup)!.bytesSent, 0);
  sim.kill(1);
  const more = randomBytes(100_000);
  sim.write(more);
  assert.ok(sim.runUntil(() => sim.serverReceivedBytes === 300_000, 10_000));
  assert.ok(sim.client.subflowInfo().find((s) => s.id === backup)!.bytesSent >= 100_000);
});

test('a cut under load is detected after max(200 ms, 3 × path RTT), not 3 × the queue-inflated SRTT', () => {
  // 50 B/ms (400 kbit/s) links with 10 ms one-way delay: even the smallest window a bulk transfer keeps
  // on them (two 4 KiB frames, 82 ms each) makes the SRTT several times the 20 ms path RTT.
  const sim = new SimPair({ delayMs: 10, rateBytesPerMs: 50 });
  sim.waitEstablished();
  const id2 = sim.join({ delayMs: 10, rateBytesPerMs: 50 });
  sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), 1000);
  const data = randomBytes(1_000_000);
  sim.write(data);
  // Past the start (the initial 128 KiB window, 2.6 s at this rate): the steady state's SRTT.
  sim.runUntil(() => false, sim.now + 8000);
  const before = sim.client.subflowInfo().find((s) => s.id === 1)!;
  assert.ok(before.srttMs! > 150, `the queue inflates SRTT (${before.srttMs} ms): 3 × SRTT would be slow`);
  const cutAt = sim.now;
  sim.cut(1);
  const closed = () =>
    sim.clientEvents.some((e) => e.type === 'subflow-closed' && e.subflowId === 1 && e.reason === 'timeout');
  assert.ok(sim.runUntil(closed, cutAt + 5000), 'the cut subflow is declared failed');
  const detectMs = sim.now - cutAt;
  // Path RTT 20 ms: the timeout is 200 ms from the last frame heard (a few ms before the cut).
  assert.ok(detectMs <= 260, `failure declared ${detectMs.toFixed(0)} ms after the cut`);
  assert.ok(detectMs >= 150, `not before the probe timeout (${detectMs.toFixed(0)} ms)`);
  sim.end();
  assert.ok(
    sim.runUntil(() => sim.serverEnded, 60_000),
    'transfer completed after the cut',
  );
  assert.equal(sha(sim.serverBytes()), sha(data));
  assert.ok(id2 > 1);
});

test('the delivery rate is measured across idle gaps: a subflow that often drains still opens its window', () => {
  // A fast path (1 ms one-way, 50 MB/s) and an application that writes 128 KiB at a time, each time
  // the previous write is acknowledged: the subflow goes idle between writes.
  const sim = new SimPair({ delayMs: 1, rateBytesPerMs: 50_000 });
  sim.waitEstablished();
  const chunk = randomBytes(128 * 1024);
  for (let i = 0; i < 100; i++) {
    sim.write(chunk);
    const target = (i + 1) * chunk.length;
    assert.ok(sim.runUntil(() => sim.serverReceivedBytes === target, sim.now + 1000));
    sim.runUntil(() => sim.client.subflowInfo()[0]!.bytesAcked >= target, sim.now + 100);
    sim.runUntil(() => false, sim.now + 5); // idle
  }
  const rate = sim.client.subflowInfo()[0]!.deliveryRateBps;
  // 128 KiB per busy period of about 5 ms (2.6 ms on the link, the RTT, the delayed ack) is about
  // 25 MB/s; counting the 5 ms idle gaps too would give about half that.
  assert.ok(rate > 18e6, `delivery rate ${(rate / 1e6).toFixed(2)} MB/s`);
});

test('a fast subflow sends frames larger than a DSS mapping can say (length 0 = the whole payload)', () => {
  const sent: number[] = [];
  const sim = new SimPair(
    { delayMs: 1 },
    { client: { trace: (e) => (e.type === 'send' ? sent.push(e.length) : undefined) } },
  );
  sim.waitEstablished();
  const data = randomBytes(8_000_000);
  sim.write(data);
  sim.end();
  assert.ok(sim.runUntil(() => sim.serverEnded, 10_000));
  assert.equal(sha(sim.serverBytes()), sha(data));
  const largest = Math.max(...sent);
  assert.ok(largest > 65_535, `largest frame payload ${largest}`);
  assert.ok(largest <= LARGE_FRAME_BYTES);
});

test('a slow subflow keeps frames within one DSS mapping (64 KiB)', () => {
  const sent: number[] = [];
  const sim = new SimPair(
    { delayMs: 5, rateBytesPerMs: 2000 },
    { client: { trace: (e) => (e.type === 'send' ? sent.push(e.length) : undefined) } },
  );
  sim.waitEstablished();
  sim.write(randomBytes(2_000_000));
  assert.ok(sim.runUntil(() => sim.serverReceivedBytes === 2_000_000, 10_000));
  assert.ok(Math.max(...sent) <= 65_535, `largest ${Math.max(...sent)}`);
});

test('a cut path costs about half the probe timeout: the suspect subflow’s data is reinjected with the probe', () => {
  // Two 20 Mbit/s paths (2500 B/ms) with 10 ms one-way delay, as in the lab's failover benchmark.
  const sim = new SimPair({ delayMs: 10, rateBytesPerMs: 2500 });
  sim.waitEstablished();
  sim.join({ delayMs: 10, rateBytesPerMs: 2500 });
  sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), 1000);
  const data = randomBytes(6_000_000);
  sim.write(data);
  sim.runUntil(() => false, sim.now + 500);
  sim.cut(1);
  // The longest stretch without in-order delivery at the server after the cut.
  let last = sim.now;
  let seen = sim.serverReceivedBytes;
  let longest = 0;
  while (sim.serverReceivedBytes < data.length && sim.now < 30_000) {
    sim.runUntil(() => false, sim.now + 1);
    if (sim.serverReceivedBytes > seen) {
      longest = Math.max(longest, sim.now - last);
      last = sim.now;
      seen = sim.serverReceivedBytes;
    }
  }
  assert.equal(sim.serverReceivedBytes, data.length);
  // Silent 100 ms (PTO/2) → probe + reinjection, which then crosses the path behind at most the
  // surviving subflow's window and a frame (2 × 2500 B/ms × 22 ms + 25 KB, 54 ms) and 10 ms of delay;
  // without the early reinjection the gap is the whole PTO (200 ms) plus the same.
  assert.ok(longest < 190, `longest delivery gap after the cut: ${longest.toFixed(0)} ms`);
  const closed = sim.clientEvents.find((e) => e.type === 'subflow-closed' && e.subflowId === 1);
  assert.ok(closed?.type === 'subflow-closed' && closed.reinjectedBytes > 0, 'reported as reinjected');
  sim.end();
  assert.ok(sim.runUntil(() => sim.serverEnded, sim.now + 30_000));
  assert.equal(sha(sim.serverBytes()), sha(data));
});
