/**
 * Very slow paths: the subflow's window floor and frame size follow its measured rate (src/core/subflow.ts),
 * so a 4 Mbit/s path neither keeps a standing queue of 128 KiB (260 ms) nor sends 64 KiB frames (131 ms
 * of airtime each), while fast paths keep their sizes and every path is still used at its full rate.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { MAX_MAPPED_BYTES } from '../../src/core/frame.js';
import {
  INITIAL_FRAME_BYTES,
  LARGE_FRAME_BYTES,
  MIN_FRAME_BYTES,
  MIN_SUBFLOW_WINDOW_BYTES,
  SLOW_FRAME_AIRTIME_MS,
  Subflow,
} from '../../src/core/subflow.js';
import { SimPair } from '../../src/sim/pair.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** From this virtual time on the transfer is in its steady state (the start's 128 KiB has drained). */
const STEADY_FROM_MS = 2000;
const RUN_UNTIL_MS = 8000;

interface BulkResult {
  /** Bytes delivered to the server application per ms in the steady state ÷ the path's rate. */
  utilisation: number;
  /** Largest SRTT − path RTT (2 × the one-way delay) sampled every 10 ms in the steady state. */
  maxQueueMs: number;
  /** Longest time from a frame's send to its arrival, complete, at the receiver (steady state). */
  maxFrameLatencyMs: number;
  /** Payload sizes of the frames sent in the steady state. */
  frames: number[];
}

/** One path of `rateBytesPerMs` and `delayMs` one way, carrying more than it can in RUN_UNTIL_MS. */
function bulk(rateBytesPerMs: number, delayMs: number): BulkResult {
  const sentAt = new Map<number, number>();
  const frames: number[] = [];
  let maxFrameLatencyMs = 0;
  const sim = new SimPair(
    { delayMs, rateBytesPerMs },
    {
      client: {
        trace: (e) => {
          if (e.type !== 'send') return;
          sentAt.set(e.offset, e.nowMs);
          if (e.nowMs >= STEADY_FROM_MS) frames.push(e.length);
        },
      },
      server: {
        trace: (e) => {
          const at = sentAt.get(e.offset);
          if (e.type === 'receive' && e.nowMs >= STEADY_FROM_MS && at !== undefined) {
            maxFrameLatencyMs = Math.max(maxFrameLatencyMs, e.nowMs - at);
          }
        },
      },
    },
  );
  assert.ok(sim.waitEstablished());
  sim.write(new Uint8Array(rateBytesPerMs * RUN_UNTIL_MS * 1.2));
  sim.runUntil(() => false, STEADY_FROM_MS);
  const before = sim.serverReceivedBytes;
  let maxQueueMs = 0;
  while (sim.now < RUN_UNTIL_MS) {
    sim.runUntil(() => false, sim.now + 10);
    maxQueueMs = Math.max(maxQueueMs, sim.client.subflowInfo()[0]!.srttMs! - 2 * delayMs);
  }
  const utilisation = (sim.serverReceivedBytes - before) / (sim.now - STEADY_FROM_MS) / rateBytesPerMs;
  return { utilisation, maxQueueMs, maxFrameLatencyMs, frames };
}

test('a 4 Mbit/s path with 20 ms RTT: a bounded queue, small whole frames, and its full rate', () => {
  const r = bulk(500, 10);
  // The window is 2 × rate × (path RTT + 2 ms) = 22 KB, one BDP (24 ms) of queue beyond the path's
  // own 11 KB; whole frames may pass it by less than a frame (5 KB, 10 ms), and an RTT sample counts
  // its frame's airtime (10 ms): about 45 ms. With the fixed 128 KiB floor it was 237 ms.
  assert.ok(r.maxQueueMs <= 60, `SRTT − path RTT up to ${r.maxQueueMs.toFixed(1)} ms`);
  assert.ok(r.utilisation >= 0.9, `utilisation ${r.utilisation.toFixed(3)}`);
  // One-way 10 ms + the queue + the frame's airtime: bytes are not held for 250 ms as before.
  assert.ok(r.maxFrameLatencyMs <= 80, `frame latency up to ${r.maxFrameLatencyMs.toFixed(1)} ms`);
  // Frames of about SLOW_FRAME_AIRTIME_MS at the rate (5 KB), none a sliver of the window's remainder.
  const largest = Math.max(...r.frames);
  assert.ok(largest <= 1.25 * 500 * SLOW_FRAME_AIRTIME_MS, `largest frame ${largest}`);
  assert.equal(r.frames.filter((n) => n < MIN_FRAME_BYTES).length, 0, 'frames below MIN_FRAME_BYTES');
});

test('a 16 Mbit/s path keeps its full rate, with frames of about 10 ms instead of 64 KiB', () => {
  for (const delayMs of [10, 1]) {
    const r = bulk(2000, delayMs);
    assert.ok(r.utilisation >= 0.9, `${delayMs} ms: utilisation ${r.utilisation.toFixed(3)}`);
    assert.ok(r.maxQueueMs <= 60, `${delayMs} ms: SRTT − path RTT up to ${r.maxQueueMs.toFixed(1)} ms`);
    const largest = Math.max(...r.frames);
    assert.ok(largest <= 1.25 * 2000 * SLOW_FRAME_AIRTIME_MS, `${delayMs} ms: largest frame ${largest}`);
  }
});

test('slow paths of other shapes are used at ≥ 90 % of their rate', () => {
  // [B/ms, one-way ms]: short RTT (the two-frame floor covers it), a 2 Mbit/s path whose window is
  // not a whole number of frames, 1 Mbit/s (MIN_FRAME_BYTES frames of 33 ms), a long RTT.
  for (const [rate, delay] of [
    [500, 1],
    [250, 10],
    [125, 10],
    [500, 50],
  ] as const) {
    const r = bulk(rate, delay);
    assert.ok(r.utilisation >= 0.9, `${rate} B/ms, ${delay} ms: utilisation ${r.utilisation.toFixed(3)}`);
  }
});

test('failover onto a 4 Mbit/s path: the delivery gap is the detection plus a short queue', () => {
  for (const fastRate of [2500, 12500]) {
    const sim = new SimPair({ delayMs: 10, rateBytesPerMs: fastRate });
    assert.ok(sim.waitEstablished());
    sim.join({ delayMs: 10, rateBytesPerMs: 500 });
    sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), 1000);
    const data = randomBytes((fastRate + 500) * 1500 + 500 * 2000);
    sim.write(data);
    sim.runUntil(() => false, sim.now + 1500);
    const cutAt = sim.now;
    sim.cut(1);
    let last = sim.now;
    let seen = sim.serverReceivedBytes;
    let longest = 0;
    while (sim.serverReceivedBytes < data.length && sim.now < cutAt + 30_000) {
      sim.runUntil(() => false, sim.now + 1);
      if (sim.serverReceivedBytes > seen) {
        longest = Math.max(longest, sim.now - last);
        last = sim.now;
        seen = sim.serverReceivedBytes;
      }
    }
    assert.equal(sha(sim.serverBytes()), sha(data), 'nothing lost, nothing duplicated');
    // PTO/2 (100 ms) until the reinjection, then the slow path's queue (≤ 60 ms, as above), its
    // one-way delay (10 ms) and one small frame (10 ms). With 128 KiB and 64 KiB frames it was 263 ms.
    assert.ok(longest <= 180, `fast ${fastRate} B/ms: longest delivery gap after the cut ${longest} ms`);
  }
});

test('failover onto an idle 4 Mbit/s backup: its unmeasured start sends 16 KiB frames, not 64 KiB', () => {
  const sim = new SimPair({ delayMs: 10, rateBytesPerMs: 2500 });
  assert.ok(sim.waitEstablished());
  sim.join({ delayMs: 10, rateBytesPerMs: 500, backup: true });
  sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), 1000);
  const data = randomBytes(2500 * 1000 + 500 * 2000);
  sim.write(data);
  sim.runUntil(() => false, sim.now + 1000);
  assert.equal(sim.client.subflowInfo()[1]!.bytesSent, 0, 'the backup carried nothing before');
  const cutAt = sim.now;
  sim.cut(1);
  // In-order progress at the server after the backup took over: the first wait is the detection (the
  // full probe timeout: a backup is not used while the primary is only suspect), the duplicates of
  // bytes already received, and the first frame; after it every frame is new data, so progress comes
  // once per frame: 16 KiB (33 ms at 500 B/ms) until the backup's rate is measured, then ~10 ms.
  // With 64 KiB initial frames those steps were 131 ms.
  const steps: number[] = [];
  let last = sim.now;
  let seen = sim.serverReceivedBytes;
  while (sim.serverReceivedBytes < data.length && sim.now < cutAt + 30_000) {
    sim.runUntil(() => false, sim.now + 1);
    if (sim.serverReceivedBytes > seen) {
      steps.push(sim.now - last);
      last = sim.now;
      seen = sim.serverReceivedBytes;
    }
  }
  assert.equal(sha(sim.serverBytes()), sha(data), 'nothing lost, nothing duplicated');
  const afterFirst = Math.max(...steps.slice(1));
  assert.ok(afterFirst <= 45, `longest wait between deliveries after the first: ${afterFirst} ms`);
});

test('a trickle does not shrink the window a later burst starts with', () => {
  // 100 Mbit/s, 20 ms RTT: 1000 bytes every 200 ms, then 1 MB at once. The trickle's rate samples
  // measure the application (45 KB/s), not the path: taken as the path's rate they made the frames
  // 4 KiB and the window 8 KiB, and the burst took 213 ms; from the initial 128 KiB it takes 142 ms
  // (80 ms on the link, 10 ms of delay, and the window's growth).
  const sim = new SimPair({ delayMs: 10, rateBytesPerMs: 12_500 });
  assert.ok(sim.waitEstablished());
  for (let i = 0; i < 10; i++) {
    sim.write(new Uint8Array(1000));
    sim.runUntil(() => false, sim.now + 200);
  }
  const start = sim.now;
  const target = sim.serverReceivedBytes + 1_000_000;
  sim.write(randomBytes(1_000_000));
  assert.ok(sim.runUntil(() => sim.serverReceivedBytes >= target, start + 10_000));
  assert.ok(sim.now - start <= 160, `the burst took ${(sim.now - start).toFixed(1)} ms`);
});

test('window and frame size: initial sizes until a window-limited rate sample, then the rate rule', () => {
  const sf = new Subflow(1, true, 'established', false, 0);
  sf.rtt.sample(20, 0);
  assert.equal(sf.windowBytes, MIN_SUBFLOW_WINDOW_BYTES);
  assert.equal(sf.frameLimitBytes, INITIAL_FRAME_BYTES);
  // An application-limited interval (1000 bytes in 30 ms) measured the application, not the path:
  // the sizes stay (a trickle must not shrink the window a later burst starts with).
  sf.map(0, 1000, 0);
  assert.equal(sf.onSubflowAck(1 + 1000, 30), 1000);
  assert.ok(sf.deliveryRateBps > 0);
  assert.equal(sf.pathRateBps, 0);
  assert.equal(sf.windowBytes, MIN_SUBFLOW_WINDOW_BYTES);
  assert.equal(sf.frameLimitBytes, INITIAL_FRAME_BYTES);
  // A full window delivered at 500 KB/s (4 Mbit/s): frames of 10 ms, window 2 × rate × (20 + 2) ms.
  sf.map(1000, 1000 + MIN_SUBFLOW_WINDOW_BYTES, 30);
  assert.equal(sf.windowOpen, false);
  const ackAt = 30 + (MIN_SUBFLOW_WINDOW_BYTES / 500_000) * 1000;
  sf.onSubflowAck(1 + 1000 + MIN_SUBFLOW_WINDOW_BYTES, ackAt);
  assert.ok(Math.abs(sf.pathRateBps - 500_000) < 1, `path rate ${sf.pathRateBps}`);
  assert.equal(sf.frameLimitBytes, 5000);
  assert.ok(Math.abs(sf.windowBytes - 22_000) < 1, `window ${sf.windowBytes}`);
});

test('a full socket (blocked) makes a rate sample the path’s, as a full window does', () => {
  const sf = new Subflow(1, true, 'established', false, 0);
  sf.rtt.sample(20, 0);
  sf.map(0, 10_000, 0);
  sf.blocked = true; // the adapter's write returned false: 10 KB fill the socket
  sf.blocked = false;
  sf.onSubflowAck(1 + 10_000, 40);
  assert.equal(sf.pathRateBps, 250_000);
  // 10 ms of 250 KB/s is 2500 bytes: frames keep MIN_FRAME_BYTES; the window its two-frame floor.
  assert.equal(sf.frameLimitBytes, MIN_FRAME_BYTES);
  assert.equal(sf.windowBytes, Math.max(2 * MIN_FRAME_BYTES, 2 * 250 * 22));
});

test('window floor and frame size by rate: small on slow paths, unchanged from 52 Mbit/s up', () => {
  const at = (rateBps: number) => {
    const sf = new Subflow(1, true, 'established', false, 0);
    sf.rtt.sample(0.1, 0); // a path RTT so short that the floor decides the window
    sf.pathRateBps = rateBps;
    sf.deliveryRateBps = rateBps;
    return { frame: sf.frameLimitBytes, window: sf.windowBytes };
  };
  assert.deepEqual(at(50_000), { frame: MIN_FRAME_BYTES, window: 2 * MIN_FRAME_BYTES });
  assert.deepEqual(at(2_000_000), { frame: 20_000, window: 40_000 });
  // Up to 31 MB/s the rate term (2 × rate × (0.1 + 2) ms) is below the floor.
  for (const rate of [6_600_000, 10e6, 30e6]) {
    assert.deepEqual(at(rate), { frame: MAX_MAPPED_BYTES, window: MIN_SUBFLOW_WINDOW_BYTES }, `${rate}`);
  }
  assert.equal(at(1e9).frame, LARGE_FRAME_BYTES);
  assert.ok(at(1e9).window > MIN_SUBFLOW_WINDOW_BYTES);
});
