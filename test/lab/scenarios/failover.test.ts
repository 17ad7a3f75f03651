import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario } from '../../../src/lab/scenarios/index.js';

test('scenario failover (CI): all 20 messages arrive in order, and after the cut every one goes over the secondary', {
  timeout: 30_000,
}, async () => {
  const r = await runScenario('failover', { size: 'ci' });
  assert.equal(r.skipped, undefined);
  for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
  assert.equal(r.checks.length, 2);
  const messages = r.figures.find((f) => f.file === 'path-usage.svg')!.data as Array<{
    index: number;
    path: string;
  }>;
  assert.equal(messages.length, 20);
  for (const m of messages.filter((m) => m.index > 10))
    assert.equal(m.path, 'secondary', `message ${m.index}`);
  assert.ok(
    messages.some((m) => m.path === 'primary'),
    'the primary carried messages before the cut',
  );
  assert.match(r.figures[1]!.svg, /^<svg/);
});
