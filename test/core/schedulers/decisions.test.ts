/**
 * The schedulers' decisions on hand-made subflow views: registry, backup semantics, rotation,
 * redundancy, and the BLEST / ECF inequalities (with and without a SchedulerContext).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SubflowView } from '../../../src/core/scheduler.js';
import {
  createBlestScheduler,
  createEcfScheduler,
  createRoundRobinScheduler,
  minRttScheduler,
  redundantScheduler,
  SCHEDULER_NAMES,
  type SchedulerName,
  schedulerByName,
  UnknownSchedulerError,
} from '../../../src/core/schedulers/index.js';
import { minRttScheduler as coreMinRtt } from '../../../src/core/scheduler.js';

type View = { -readonly [K in keyof SubflowView]: SubflowView[K] };

function view(id: number, over: Partial<View> = {}): View {
  return {
    id,
    backup: false,
    usable: true,
    windowOpen: true,
    srttMs: 10,
    rttVarMs: 0,
    inFlightBytes: 0,
    windowBytes: 128 * 1024,
    deliveryRateBps: 0,
    ...over,
  };
}

test('registry: every name resolves to a scheduler of that name; unknown names list the valid ones', () => {
  assert.deepEqual([...SCHEDULER_NAMES], ['minrtt', 'roundrobin', 'redundant', 'blest', 'ecf']);
  for (const name of SCHEDULER_NAMES) assert.equal(schedulerByName(name).name, name);
  assert.equal(schedulerByName('minrtt'), coreMinRtt);
  // Stateful schedulers: a fresh instance per call.
  assert.notEqual(schedulerByName('roundrobin'), schedulerByName('roundrobin'));
  assert.throws(
    () => schedulerByName('fastest' as SchedulerName),
    (err: unknown) =>
      err instanceof UnknownSchedulerError &&
      err.message.includes("'fastest'") &&
      SCHEDULER_NAMES.every((n) => err.message.includes(n)),
  );
});

test('every scheduler: nothing when no subflow is usable or every window is closed', () => {
  for (const name of SCHEDULER_NAMES) {
    const s = schedulerByName(name);
    assert.deepEqual(s.select([]), [], name);
    assert.deepEqual(s.select([view(1, { usable: false, windowOpen: false })]), [], name);
    assert.deepEqual(s.select([view(1, { windowOpen: false }), view(2, { windowOpen: false })]), [], name);
  }
});

test('every scheduler: a backup is not used while a primary is usable, even a busy one; used when none is', () => {
  for (const name of SCHEDULER_NAMES) {
    const s = schedulerByName(name);
    const busyPrimary = view(1, { windowOpen: false, srttMs: 50 });
    const backup = view(2, { backup: true, srttMs: 1 });
    assert.deepEqual(s.select([busyPrimary, backup]), [], `${name}: busy primary`);
    assert.deepEqual(s.select([view(1, { srttMs: 50 }), backup]), [1], `${name}: open primary`);
    assert.deepEqual(s.select([view(1, { usable: false }), backup]), [2], `${name}: primary gone`);
  }
});

test('minrtt: lowest smoothed RTT among open windows; unmeasured subflows last', () => {
  const a = view(1, { srttMs: 30 });
  const b = view(2, { srttMs: 10 });
  const c = view(3, { srttMs: undefined });
  assert.deepEqual(minRttScheduler.select([a, b, c]), [2]);
  b.windowOpen = false;
  assert.deepEqual(minRttScheduler.select([a, b, c]), [1]);
  a.windowOpen = false;
  assert.deepEqual(minRttScheduler.select([a, b, c]), [3]);
});

test('roundrobin: rotates over open subflows, skipping closed windows', () => {
  const rr = createRoundRobinScheduler();
  const views = [view(1), view(2), view(3)];
  const picks = Array.from({ length: 6 }, () => rr.select(views)[0]);
  assert.deepEqual(picks, [1, 2, 3, 1, 2, 3]);
  views[1]!.windowOpen = false;
  assert.deepEqual([rr.select(views)[0], rr.select(views)[0], rr.select(views)[0]], [1, 3, 1]);
  // Two connections sharing one instance each get their own rotation (state is per subflow object).
  const other = [view(1), view(2)];
  assert.deepEqual([rr.select(other)[0], rr.select(other)[0]], [1, 2]);
});

test('redundant: every open eligible subflow', () => {
  assert.deepEqual(redundantScheduler.select([view(1), view(2), view(3, { windowOpen: false })]), [1, 2]);
  assert.deepEqual(redundantScheduler.select([view(1), view(2, { backup: true }), view(3)]), [1, 3]);
  assert.deepEqual(
    redundantScheduler.select([
      view(1, { usable: false }),
      view(2, { backup: true }),
      view(3, { backup: true }),
    ]),
    [2, 3],
  );
});

/** A fast subflow (10 ms, 2000 B/ms) with its window full and a slow one (200 ms) with room. */
function heterogeneous(): [View, View] {
  return [
    view(1, { srttMs: 10, windowOpen: false, inFlightBytes: 128 * 1024, deliveryRateBps: 2_000_000 }),
    view(2, { srttMs: 200, windowBytes: 200_000, deliveryRateBps: 500_000 }),
  ];
}

test('blest: skips the slow subflow when the fast one would need the window meanwhile', () => {
  const [fast, slow] = heterogeneous();
  // During ~200 ms the fast subflow moves 1.2 × 400 kB: a 256 KiB window cannot hold that too.
  assert.deepEqual(
    createBlestScheduler().select([fast, slow], { sendWindowBytes: 256 * 1024, unsentBytes: 1e7 }),
    [],
  );
  assert.deepEqual(
    createBlestScheduler().select([fast, slow], { sendWindowBytes: 8 << 20, unsentBytes: 1e7 }),
    [2],
  );
  // Without a context: the configured window, else the core's default receive buffer (4 MiB).
  assert.deepEqual(createBlestScheduler({ sendWindowBytes: 256 * 1024 }).select([fast, slow]), []);
  assert.deepEqual(createBlestScheduler().select([fast, slow]), [2]);
  // λ scales the estimate: 1.2 × 400 kB = 480 kB > 2 MB − 65 kB? no; λ = 5 → 2 MB > 1.9 MB: wait.
  const ctx = { sendWindowBytes: 2_000_000, unsentBytes: 1e7 };
  assert.deepEqual(createBlestScheduler().select([fast, slow], ctx), [2]);
  assert.deepEqual(createBlestScheduler({ lambda: 5 }).select([fast, slow], ctx), []);
  // The fast subflow open: always taken, whatever the window.
  fast.windowOpen = true;
  assert.deepEqual(createBlestScheduler().select([fast, slow], { sendWindowBytes: 1, unsentBytes: 1 }), [1]);
});

test("blest: the segment it weighs is the slow subflow's next frame (64 KiB when the view does not say)", () => {
  // fast: window full, 10 000 B/ms by window/SRTT; slow: 50 ms. Meanwhile fast would need 1.2 ×
  // 500 kB = 600 kB of the 630 kB window: a 64 KiB segment on slow leaves too little, 5 kB does not.
  const fast = view(1, { windowOpen: false, srttMs: 10, windowBytes: 100_000 });
  const ctx = { sendWindowBytes: 630_000, unsentBytes: 1e7 };
  assert.deepEqual(createBlestScheduler().select([fast, view(2, { srttMs: 50 })], ctx), []);
  assert.deepEqual(
    createBlestScheduler().select([fast, view(2, { srttMs: 50, frameLimitBytes: 65_536 })], ctx),
    [],
  );
  assert.deepEqual(
    createBlestScheduler().select([fast, view(2, { srttMs: 50, frameLimitBytes: 5000 })], ctx),
    [2],
  );
});

test('blest: a slow subflow whose RTT grew with its queue lingers longer', () => {
  const [fast, slow] = heterogeneous();
  const blest = createBlestScheduler();
  const ctx = { sendWindowBytes: 1_300_000, unsentBytes: 1e7 };
  // 200 ms: 1.2 × 2000 × 200 = 480 kB ≤ 1.3 MB − 65 kB → send on the slow subflow.
  assert.deepEqual(blest.select([fast, slow], ctx), [2]);
  // Its RTT rose to 600 ms once (queue), and is back at 200 ms but with a full window: the
  // linger estimate is the largest RTT seen, 600 ms → 1.44 MB > 1.3 MB − 265 kB → wait.
  slow.srttMs = 600;
  blest.select([fast, slow], ctx);
  slow.srttMs = 200;
  slow.inFlightBytes = 200_000;
  assert.deepEqual(blest.select([fast, slow], ctx), []);
});

test('ecf: waits for the fast subflow unless the backlog is large enough for both; hysteresis β', () => {
  const [fast, slow] = heterogeneous();
  const ctx = (unsentBytes: number) => ({ sendWindowBytes: 1e9, unsentBytes });
  // k = 10 MB: the fast subflow alone needs ~80 rounds (800 ms) > one slow RTT: use both.
  assert.deepEqual(createEcfScheduler().select([fast, slow], ctx(10_000_000)), [2]);
  // k = 1 MB: ~9 fast rounds (90 ms) < 200 ms, and the slow one would need ≥ 2 fast RTTs: wait.
  assert.deepEqual(createEcfScheduler().select([fast, slow], ctx(1_000_000)), []);
  // k = 2.9 MB: srtt_f·(k + cwnd_f) = 30.3e6 is above cwnd_f·srtt_s = 26.2e6 but below 1.25× that:
  // a fresh ECF sends on the slow subflow; one that was waiting keeps waiting (β = 0.25).
  assert.deepEqual(createEcfScheduler().select([fast, slow], ctx(2_900_000)), [2]);
  const ecf = createEcfScheduler();
  assert.deepEqual(ecf.select([fast, slow], ctx(1_000_000)), []);
  assert.deepEqual(ecf.select([fast, slow], ctx(2_900_000)), []);
  // Beyond the margin the waiting flag clears, and the plain threshold applies again.
  assert.deepEqual(ecf.select([fast, slow], ctx(10_000_000)), [2]);
  assert.deepEqual(ecf.select([fast, slow], ctx(2_900_000)), [2]);
  // k is bounded by what the window lets us send: 10 MB unsent behind a 256 KiB window waits.
  assert.deepEqual(
    createEcfScheduler().select([fast, slow], { sendWindowBytes: 256 * 1024, unsentBytes: 1e7 }),
    [],
  );
  // Paths of similar RTT: never waits.
  slow.srttMs = 15;
  assert.deepEqual(createEcfScheduler().select([fast, slow], ctx(1_000_000)), [2]);
});
