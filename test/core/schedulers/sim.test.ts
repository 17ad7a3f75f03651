/**
 * The schedulers driving a real Connection pair on the virtual clock (src/sim/pair.ts): byte-exact
 * delivery, round-robin balance, redundancy under a silent path cut, backup semantics, and the
 * head-of-line test of heterogeneous paths (BLEST / ECF against minRTT). Deterministic: virtual time.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { ConnectionOptions } from '../../../src/core/connection.js';
import { minRttScheduler, type Scheduler, type SubflowView } from '../../../src/core/scheduler.js';
import {
  createBlestScheduler,
  createEcfScheduler,
  SCHEDULER_NAMES,
  type SchedulerName,
  schedulerByName,
} from '../../../src/core/schedulers/index.js';
import { SimPair, type SimPathOptions } from '../../../src/sim/pair.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A pair with two established subflows (ids 1 and 2), idle for a moment so both have RTT samples. */
function twoPaths(
  scheduler: Scheduler,
  a: SimPathOptions,
  b: SimPathOptions,
  server: ConnectionOptions = {},
): SimPair {
  const sim = new SimPair(a, { client: { scheduler }, server });
  assert.ok(sim.waitEstablished(), 'established');
  const id = sim.join(b);
  assert.equal(id, 2);
  assert.ok(
    sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), sim.now + 5000),
  );
  sim.runUntil(() => false, sim.now + 50);
  return sim;
}

const sentOn = (sim: SimPair, id: number) => sim.client.subflowInfo().find((s) => s.id === id)!.bytesSent;

for (const name of SCHEDULER_NAMES) {
  test(`${name}: delivers byte-exact data over two unequal paths`, () => {
    const sim = twoPaths(
      schedulerByName(name),
      { delayMs: 5, rateBytesPerMs: 1000 },
      { delayMs: 20, rateBytesPerMs: 700 },
    );
    const data = randomBytes(1_500_000);
    sim.write(data);
    sim.end();
    assert.ok(
      sim.runUntil(() => sim.serverEnded, sim.now + 60_000),
      'the server saw the DATA_FIN',
    );
    assert.equal(sim.serverBytes().length, data.length);
    assert.equal(sha(sim.serverBytes()), sha(data));
    const dup = sim.server!.getStats().duplicateBytesReceived;
    if (name === 'redundant') assert.ok(dup > 0, 'redundant copies reach the receiver');
    else assert.equal(dup, 0, `${name} sends each byte once`);
  });

  test(`${name}: a backup subflow carries nothing while the primary is usable, everything after it fails`, () => {
    // The backup path is the faster one: only backup semantics keep data off it.
    const sim = twoPaths(
      schedulerByName(name),
      { delayMs: 5, rateBytesPerMs: 1000 },
      { delayMs: 2, rateBytesPerMs: 4000, backup: true },
    );
    assert.equal(sim.client.subflowInfo().find((s) => s.id === 2)!.backup, true);
    const first = randomBytes(400_000);
    sim.write(first);
    assert.ok(sim.runUntil(() => sim.serverReceivedBytes === first.length, sim.now + 10_000));
    assert.equal(sentOn(sim, 2), 0, 'backup idle');
    assert.equal(sentOn(sim, 1), first.length);
    sim.kill(1);
    const more = randomBytes(200_000);
    sim.write(more);
    sim.end();
    assert.ok(sim.runUntil(() => sim.serverEnded, sim.now + 10_000));
    assert.equal(sha(sim.serverBytes()), sha(Buffer.concat([first, more])));
    assert.ok(sentOn(sim, 2) >= more.length, 'the backup took over');
  });
}

test('roundrobin: equal paths carry about equal shares, also with application-limited writes', () => {
  for (const paced of [false, true]) {
    const sim = twoPaths(
      schedulerByName('roundrobin'),
      { delayMs: 5, rateBytesPerMs: 1000 },
      { delayMs: 5, rateBytesPerMs: 1000 },
    );
    const chunks: Buffer[] = [];
    for (let i = 0; i < (paced ? 100 : 1); i++) {
      const c = randomBytes(paced ? 8000 : 1_000_000);
      chunks.push(c);
      sim.write(c);
      if (paced) sim.runUntil(() => false, sim.now + 10);
    }
    sim.end();
    assert.ok(sim.runUntil(() => sim.serverEnded, sim.now + 30_000));
    assert.equal(sha(sim.serverBytes()), sha(Buffer.concat(chunks)));
    const [a, b] = [sentOn(sim, 1), sentOn(sim, 2)];
    assert.equal(a + b, 800_000 + (paced ? 0 : 200_000));
    assert.ok(Math.abs(a - b) <= 0.1 * (a + b), `paced=${paced}: shares ${a} / ${b}`);
  }
});

test('roundrobin alternates where minrtt keeps to the faster path (5 ms vs 10 ms, paced writes)', () => {
  const shares: Record<string, [number, number]> = {};
  for (const name of ['roundrobin', 'minrtt'] as SchedulerName[]) {
    const sim = twoPaths(
      schedulerByName(name),
      { delayMs: 5, rateBytesPerMs: 1000 },
      { delayMs: 10, rateBytesPerMs: 1000 },
    );
    for (let i = 0; i < 50; i++) {
      sim.write(randomBytes(4000));
      sim.runUntil(() => false, sim.now + 30);
    }
    assert.ok(sim.runUntil(() => sim.serverReceivedBytes === 200_000, sim.now + 5000));
    shares[name] = [sentOn(sim, 1), sentOn(sim, 2)];
  }
  assert.deepEqual(shares.roundrobin, [100_000, 100_000]);
  assert.deepEqual(shares.minrtt, [200_000, 0]);
});

/**
 * 100 kB written on two equal paths (5 ms one-way, 1000 B/ms); 20 ms later path 1 is cut silently.
 * Returns the virtual time until the server has every byte, and the duplicate bytes it received.
 */
function cutRun(name: SchedulerName, cut: boolean): { ms: number; duplicates: number } {
  const sim = twoPaths(
    schedulerByName(name),
    { delayMs: 5, rateBytesPerMs: 1000 },
    { delayMs: 5, rateBytesPerMs: 1000 },
  );
  const data = randomBytes(100_000);
  const t0 = sim.now;
  sim.write(data);
  sim.runUntil(() => false, t0 + 20);
  if (cut) sim.cut(1);
  assert.ok(
    sim.runUntil(() => sim.serverReceivedBytes === data.length, t0 + 10_000),
    `${name} cut=${cut}`,
  );
  const ms = sim.now - t0;
  sim.end();
  assert.ok(sim.runUntil(() => sim.serverEnded, sim.now + 10_000));
  assert.equal(sha(sim.serverBytes()), sha(data));
  return { ms, duplicates: sim.server!.getStats().duplicateBytesReceived };
}

test('redundant: a silently cut path costs no detection delay; minrtt waits for the probe timeout', () => {
  const intact = cutRun('redundant', false);
  const cut = cutRun('redundant', true);
  assert.ok(intact.duplicates > 0, 'the receiver drops the second copies');
  assert.ok(cut.ms <= intact.ms * 1.05 + 1, `redundant: ${intact.ms} ms intact, ${cut.ms} ms cut`);
  // The same cut under minrtt: the data on path 1 waits until the subflow is suspect (silent for half
  // the 200 ms probe timeout), when it is reinjected on path 2.
  const minIntact = cutRun('minrtt', false);
  const minCut = cutRun('minrtt', true);
  assert.ok(minCut.ms >= minIntact.ms + 80, `minrtt: ${minIntact.ms} ms intact, ${minCut.ms} ms cut`);
  assert.ok(cut.ms + 80 <= minCut.ms);
});

test('redundant: the DATA_FIN goes on both subflows, so a path cut after end() does not delay the close', () => {
  const finishMs = (name: SchedulerName): number => {
    const sim = twoPaths(
      schedulerByName(name),
      { delayMs: 5, rateBytesPerMs: 1000 },
      { delayMs: 6, rateBytesPerMs: 1000 },
    );
    const data = randomBytes(10_000);
    sim.write(data);
    assert.ok(sim.runUntil(() => sim.serverReceivedBytes === data.length, sim.now + 5000));
    sim.end();
    sim.cut(1); // the faster path, which a single DATA_FIN takes, breaks as it is sent
    const t0 = sim.now;
    assert.ok(
      sim.runUntil(() => sim.serverEnded, t0 + 10_000),
      `${name}: the server saw the DATA_FIN`,
    );
    assert.equal(sha(sim.serverBytes()), sha(data));
    return sim.now - t0;
  };
  // minrtt's single DATA_FIN is lost with path 1 and resent after the probe timeout (≥ 100 ms);
  // redundant's second copy, on path 2, arrives in one path delay.
  const redundant = finishMs('redundant');
  const minrtt = finishMs('minrtt');
  assert.ok(redundant < 50, `redundant: ${redundant} ms`);
  assert.ok(minrtt >= 100, `minrtt: ${minrtt} ms`);
});

/**
 * The head-of-line case of the issue: paths of 10 ms and 200 ms RTT (one-way 5 and 100 ms; 2000 and
 * 500 B/ms), a 256 KiB receive window at the server, a 3 MB bulk transfer. Returns the virtual ms.
 */
function holRun(scheduler: Scheduler): { ms: number; slowBytes: number } {
  const sim = twoPaths(
    scheduler,
    { delayMs: 5, rateBytesPerMs: 2000 },
    { delayMs: 100, rateBytesPerMs: 500 },
    { receiveBufferBytes: HOL_WINDOW },
  );
  const data = randomBytes(3_000_000);
  const t0 = sim.now;
  sim.write(data);
  sim.end();
  assert.ok(
    sim.runUntil(() => sim.serverEnded, t0 + 60_000),
    scheduler.name,
  );
  assert.equal(sha(sim.serverBytes()), sha(data));
  return { ms: sim.now - t0, slowBytes: sentOn(sim, 2) };
}
const HOL_WINDOW = 256 * 1024;

test('head-of-line: BLEST and ECF finish well before minrtt on a 10 ms + 200 ms path pair', (t) => {
  const minrtt = holRun(schedulerByName('minrtt'));
  // The core does not pass the connection-level window to schedulers yet: give it as a hint.
  const blest = holRun(createBlestScheduler({ sendWindowBytes: HOL_WINDOW }));
  const ecf = holRun(createEcfScheduler({ sendWindowBytes: HOL_WINDOW }));
  t.diagnostic(
    `3 MB, 256 KiB window: minrtt ${minrtt.ms.toFixed(1)} ms (slow path ${minrtt.slowBytes} B), ` +
      `blest ${blest.ms.toFixed(1)} ms (${blest.slowBytes} B), ecf ${ecf.ms.toFixed(1)} ms (${ecf.slowBytes} B)`,
  );
  // The fast path alone needs 3 MB / 2000 B/ms = 1.5 s; minrtt stalls behind the slow path (less since
  // a subflow silent for half its probe timeout has its data reinjected). BLEST stays within 10 % of
  // the fast path alone. ECF's model takes a subflow to move one window per SRTT: with the core's
  // BDP-sized windows (2 × rate × path RTT, at least 128 KiB) that overrates the 500 B/ms slow path
  // before its rate is measured, and ECF sends it two windows (262 KB): within 35 % of the fast path.
  assert.ok(blest.ms < 0.9 * minrtt.ms, `blest ${blest.ms} vs minrtt ${minrtt.ms}`);
  assert.ok(ecf.ms < 0.9 * minrtt.ms, `ecf ${ecf.ms} vs minrtt ${minrtt.ms}`);
  assert.ok(blest.ms < 1.1 * 1500 && ecf.ms < 1.35 * 1500, `blest ${blest.ms}, ecf ${ecf.ms} vs 1500 ms`);
  assert.ok(blest.slowBytes < minrtt.slowBytes / 4 && ecf.slowBytes < minrtt.slowBytes / 3);
});

/** Whether the Connection passes a SchedulerContext (the connection-level window) to select(). */
function corePassesContext(): boolean {
  let seen = false;
  const probe: Scheduler = {
    name: 'probe',
    select(views: readonly SubflowView[], ...rest: unknown[]) {
      if (rest[0] !== undefined) seen = true;
      return minRttScheduler.select(views);
    },
  };
  const sim = new SimPair({ delayMs: 5 }, { client: { scheduler: probe } });
  sim.write(randomBytes(10_000));
  sim.runUntil(() => sim.serverReceivedBytes === 10_000, 1000);
  return seen;
}

test('head-of-line with the window from the core: the registry BLEST and ECF need no hint', {
  skip: !corePassesContext()
    ? 'the core does not pass a SchedulerContext to Scheduler.select yet; the test above gives the window as a hint'
    : false,
}, (t) => {
  const minrtt = holRun(schedulerByName('minrtt'));
  const blest = holRun(schedulerByName('blest'));
  const ecf = holRun(schedulerByName('ecf'));
  t.diagnostic(
    `minrtt ${minrtt.ms.toFixed(1)} ms, blest ${blest.ms.toFixed(1)} ms, ecf ${ecf.ms.toFixed(1)} ms`,
  );
  assert.ok(blest.ms < 0.9 * minrtt.ms, `blest ${blest.ms} vs minrtt ${minrtt.ms}`);
  assert.ok(ecf.ms < 0.9 * minrtt.ms, `ecf ${ecf.ms} vs minrtt ${minrtt.ms}`);
  assert.ok(blest.ms < 1.1 * 1500 && ecf.ms < 1.35 * 1500, `blest ${blest.ms}, ecf ${ecf.ms} vs 1500 ms`);
});

test('BLEST and ECF still aggregate both paths when the window is large', () => {
  // 20 ms vs 40 ms RTT, 1000 B/ms each, 4 MiB window: the slow path is worth using.
  for (const make of [createBlestScheduler, createEcfScheduler]) {
    const sim = twoPaths(
      make(),
      { delayMs: 10, rateBytesPerMs: 1000 },
      { delayMs: 20, rateBytesPerMs: 1000 },
    );
    const data = randomBytes(2_000_000);
    const t0 = sim.now;
    sim.write(data);
    sim.end();
    assert.ok(sim.runUntil(() => sim.serverEnded, t0 + 60_000));
    assert.equal(sha(sim.serverBytes()), sha(data));
    assert.ok(sentOn(sim, 2) > 500_000, `slow path carried ${sentOn(sim, 2)}`);
    assert.ok(sim.now - t0 < 1500, `took ${sim.now - t0} ms (one path alone: 2000 ms)`);
  }
});
