/**
 * Scenario pm-latency at CI size (root + netns + kernel MPTCP + tcpdump + python3; skipped with the
 * reason otherwise): every case's every connection gets its second subflow, and the delays are
 * plausible. The latency goal itself is not asserted (timing on shared CI machines is noise).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PM_LATENCY_LABELS, pmLatencySkipReason } from '../../../src/lab/pm-latency.js';
import { runScenario } from '../../../src/lab/scenarios/index.js';
import { MAX_SANE_DELAY_US } from '../../../src/lab/scenarios/pm-latency.js';

const skip = pmLatencySkipReason();

test('scenario pm-latency (CI): every connection joins in every case, delays positive and sane', {
  skip,
  timeout: 60_000,
}, async () => {
  const r = await runScenario('pm-latency', { size: 'ci' });
  assert.equal(r.skipped, undefined);
  assert.equal(r.mode, 'kernel');
  for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
  assert.equal(r.checks.length, 2);
  const run = (
    r.data as Array<{
      cpuStress: boolean;
      connectionsPerCase: number;
      cases: Array<{ id: string; delaysUs: number[]; label: string }>;
    }>
  )[0]!;
  assert.equal(run.cpuStress, false);
  assert.equal(run.connectionsPerCase, 20);
  const ids = run.cases.map((c) => c.id);
  for (const id of ['kernel', 'userspace', 'worker', 'fullmesh']) assert.ok(ids.includes(id), id);
  for (const c of run.cases) {
    assert.equal(c.label, PM_LATENCY_LABELS[c.id as keyof typeof PM_LATENCY_LABELS]);
    assert.equal(c.delaysUs.length, 20, c.id);
    for (const d of c.delaysUs) assert.ok(d > 0 && d < MAX_SANE_DELAY_US, `${c.id}: ${d} µs`);
  }
  // One "minus in-kernel" number per case of ours, each beside the paper's +23 µs.
  const diffs = r.numbers.filter((n) => n.label.includes('minus in-kernel'));
  assert.equal(diffs.length, run.cases.length - 1);
  for (const n of diffs) assert.match(n.paper ?? '', /\+23 µs/);
  assert.equal(r.figures.length, 1);
  assert.equal(r.figures[0]!.file, 'syn-to-join-cdf.svg');
  assert.match(r.figures[0]!.svg, /^<svg/);
});
