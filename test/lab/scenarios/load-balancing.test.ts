import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario } from '../../../src/lab/scenarios/index.js';
import type { LbRun } from '../../../src/lab/scenarios/load-balancing.js';

test('scenario load-balancing (CI): every transfer completes, refresh-slowest spreads over several paths', {
  timeout: 120_000,
}, async () => {
  const r = await runScenario('load-balancing', { size: 'ci' });
  assert.equal(r.skipped, undefined);
  for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
  const runs = r.data as LbRun[];
  assert.equal(runs.length, 4);
  const bytes = runs[0]!.bytes;
  for (const run of runs) {
    assert.ok(run.transferMs !== undefined);
    // No run beats the sum of the four 8 Mbit/s paths.
    assert.ok(run.transferMs! >= ((bytes * 8) / 32_000) * 0.9, `${run.variant}: ${run.transferMs} ms`);
    assert.ok(run.subflowsOpened >= 5, `${run.variant} opened ${run.subflowsOpened} subflows`);
  }
  assert.ok(
    runs.filter((x) => x.variant === 'refresh-slowest').every((x) => x.subflowsOpened > 5),
    'refresh-slowest replaced subflows',
  );
  assert.match(r.figures[0]!.svg, /^<svg/);
});
