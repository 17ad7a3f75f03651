import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanupAll } from '../../../src/lab/netns.js';
import type { StreamingRun } from '../../../src/lab/scenarios/deadline-streaming.js';
import { hostPathsUnavailable } from '../../../src/lab/scenarios/host-paths.js';
import { runScenario } from '../../../src/lab/scenarios/index.js';
import type { BackupRun } from '../../../src/lab/scenarios/smarter-backup.js';

const why = hostPathsUnavailable();
const skip = why ? `needs root, network namespaces and nftables: ${why}` : false;

test('scenario smarter-backup (CI): backup-on-rto moves the transfer to the backup path and loses nothing', {
  skip,
  timeout: 90_000,
}, async (t) => {
  t.after(cleanupAll);
  const r = await runScenario('smarter-backup', { size: 'ci' });
  assert.equal(r.skipped, undefined);
  for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
  const [, ctl] = r.data as BackupRun[];
  assert.equal(ctl!.variant, 'backup-on-rto');
  assert.ok(
    ctl!.firstBackupSendMs! > ctl!.lossAtMs,
    'the backup is opened only after the loss rises (break-before-make)',
  );
  assert.ok(ctl!.lossCounters.dropped > 0, 'the primary really dropped packets');
  // The primary is closed (by the controller when its rto passes the threshold, or by the userspace
  // MPTCP's own probe timeout when it goes silent first) and the controller opens the backup.
  assert.ok(
    ctl!.events.some((e) => /controller: create-subflow/.test(e.event) && e.tMs > ctl!.lossAtMs),
    JSON.stringify(ctl!.events),
  );
});

test('scenario deadline-streaming (CI): with the controller every block meets its deadline at 10% loss', {
  skip,
  timeout: 90_000,
}, async (t) => {
  t.after(cleanupAll);
  const r = await runScenario('deadline-streaming', { size: 'ci', params: { losses: [10] } });
  assert.equal(r.skipped, undefined);
  const runs = r.data as StreamingRun[];
  const ctl = runs.find((x) => x.variant === 'deadline-streaming' && x.lossPct === 10)!;
  assert.ok(ctl.delaysMs.length >= 5);
  for (const [i, d] of ctl.delaysMs.entries()) assert.ok(d !== undefined && d <= 1000, `block ${i}: ${d} ms`);
  assert.equal(r.checks.length, 1);
  assert.ok(r.checks[0]!.ok, r.checks[0]!.detail);
});

test('scenario smarter-backup, kernel mode (CI): kernel MPTCP by default keeps sending on the lossy primary', {
  skip,
  timeout: 90_000,
}, async (t) => {
  t.after(cleanupAll);
  const r = await runScenario('smarter-backup', { size: 'ci', mode: 'kernel' });
  if (r.skipped) {
    t.skip(r.skipped);
    return;
  }
  for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
  const [d] = r.data as Array<{
    variant: string;
    primaryAckedAfterLoss: number;
    lossCounters: { dropped: number };
  }>;
  assert.equal(d?.variant, 'default');
  assert.ok(d.lossCounters.dropped > 0, 'the primary really dropped packets');
  assert.ok(
    d.primaryAckedAfterLoss > 0,
    'the primary still carried data after the loss rose (no controller)',
  );
});
