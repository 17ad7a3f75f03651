import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadScenario, paramNumber, runScenario } from '../../../src/lab/scenarios/index.js';
import { loadBalancingKernelResult } from '../../../src/lab/scenarios/load-balancing-kernel.js';
import { KernelLab, kernelLabUnavailable } from '../../../src/lab/scenarios/shared-kernel.js';
import { listLabNamespaces } from '../../../src/lab/topology.js';

/** Why kernel-mode scenarios cannot run here (root, netns, tools, kernel MPTCP), or undefined. */
function skipReason(): string | undefined {
  const why = kernelLabUnavailable();
  if (why) return why;
  try {
    if (readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() !== '1')
      return 'kernel MPTCP is disabled (net.mptcp.enabled=0)';
  } catch {
    return 'the kernel has no MPTCP (no /proc/sys/net/mptcp)';
  }
  return undefined;
}

const skip = skipReason();

/** Namespaces this process left behind under `prefix`. */
function leftovers(prefix: string): string[] {
  return listLabNamespaces(prefix).filter((n) => n.includes(`-${process.pid}-`));
}

test('kernel lab: a run that fails halfway removes its namespaces', { skip, timeout: 30_000 }, async () => {
  await assert.rejects(
    KernelLab.open({
      name: 'broken',
      prefix: 'mptcp-sckt',
      paths: [{ name: 'a' }, { name: 'b' }],
      endpoints: [{ path: 5, flags: ['subflow'] }],
    }),
    /no path 5/,
  );
  assert.deepEqual(leftovers('mptcp-sckt'), []);
});

test('failover, kernel mode (CI): 20/20 messages in order, nothing lost, after the cut all over the secondary', {
  skip,
  timeout: 40_000,
}, async () => {
  try {
    const r = await runScenario('failover', { mode: 'kernel', size: 'ci' });
    assert.equal(r.skipped, undefined);
    assert.equal(r.checks.length, 4, 'two checks per variant (subflow, backup)');
    for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
    for (const variant of ['subflow', 'backup']) {
      const fig = r.figures.find((f) => f.file === `path-usage-kernel-${variant}.svg`);
      assert.ok(fig, variant);
      const messages = fig.data as Array<{ index: number; path: string }>;
      assert.deepEqual(
        messages.map((m) => m.index),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      for (const m of messages.filter((m) => m.index > 10))
        assert.equal(m.path, 'secondary', `${variant}: message ${m.index}`);
      assert.ok(
        messages.some((m) => m.path === 'primary'),
        `${variant}: the primary carried messages before the cut`,
      );
      assert.match(fig.svg, /^<svg/);
    }
    const data = r.data as Array<{ lostBytes: number; subflowsAtStart: number; variant: string }>;
    for (const d of data) {
      assert.equal(d.lostBytes, 0, d.variant);
      assert.equal(d.subflowsAtStart, 2, `${d.variant}: both subflows up before the first message`);
    }
  } finally {
    assert.deepEqual(leftovers('mptcp-scfk'), []);
  }
});

// Not asserted: "with the controller every block meets its deadline at 10% loss". It held in 5 CI
// runs here but not at full size (29/30 blocks on time once): a flaky assertion is no test.
test('deadline-streaming, kernel mode (CI, 10% loss): every block delivered, the median on time, both variants', {
  skip,
  timeout: 40_000,
}, async () => {
  try {
    const r = await runScenario('deadline-streaming', { mode: 'kernel', size: 'ci' });
    assert.equal(r.skipped, undefined);
    assert.equal(r.checks.length, 4, 'delivered + median on time, per variant');
    for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
    const runs = r.data as Array<{
      variant: string;
      lossPct: number;
      delaysMs: Array<number | undefined>;
      subflowsAtStart: number;
    }>;
    assert.deepEqual(
      runs.map((x) => [x.variant, x.subflowsAtStart]),
      [
        ['in-kernel', 2],
        ['deadline-streaming', 1],
      ],
      'the in-kernel PM joins both paths at start; the controller starts with the initial path only',
    );
    for (const run of runs) {
      assert.equal(run.lossPct, 10);
      assert.equal(run.delaysMs.length, 5);
      assert.ok(
        run.delaysMs.every((d) => d !== undefined && d > 0),
        `${run.variant}: every block delivered (${run.delaysMs.join(', ')})`,
      );
    }
    const fig = r.figures.find((f) => f.file === 'block-delays-cdf-kernel.svg');
    assert.ok(fig);
    assert.match(fig.svg, /^<svg/);
  } finally {
    assert.deepEqual(leftovers('mptcp-scdk'), []);
  }
});

interface BackupData {
  variant: string;
  lossAtMs: number;
  durationMs: number;
  backupAckedAfterLoss: number;
  primaryAckedAfterLoss: number;
  controllerSwitchMs: number | undefined;
  events: Array<{ tMs: number; event: string }>;
}

/** [tMs, path, bytesAcked, rtoMs] samples of a variant's figure. */
function samplesOf(
  r: Awaited<ReturnType<typeof runScenario>>,
  variant: string,
): Array<[number, string, number]> {
  const fig = r.figures.find((f) => f.file === `acked-kernel-${variant}.svg`);
  assert.ok(fig, variant);
  assert.match(fig.svg, /^<svg/);
  return fig.data as Array<[number, string, number]>;
}

test('smarter-backup, kernel mode (CI, 30% loss): default joins the backup at start, the controller only the primary', {
  skip,
  timeout: 40_000,
}, async () => {
  try {
    const r = await runScenario('smarter-backup', { mode: 'kernel', size: 'ci' });
    assert.equal(r.skipped, undefined);
    for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
    const [def, ctl] = r.data as [BackupData, BackupData];
    assert.deepEqual([def.variant, ctl.variant], ['default', 'backup-on-rto']);
    // Make-before-break against break-before-make, seen in the client's subflows before the onset.
    const before = (v: string, at: number) =>
      new Set(
        samplesOf(r, v)
          .filter((s) => s[0] < at)
          .map((s) => s[1]),
      );
    assert.deepEqual([...before('default', def.lossAtMs)].sort(), ['backup', 'primary']);
    assert.deepEqual([...before('backup-on-rto', ctl.lossAtMs)], ['primary']);
    for (const d of [def, ctl]) assert.ok(d.primaryAckedAfterLoss + d.backupAckedAfterLoss > 0, d.variant);
    // At 30% loss the rto passes 1 s only sometimes within a CI run (measured): when the
    // controller did switch, it was after the onset, and the backup took over.
    if (ctl.controllerSwitchMs !== undefined) {
      assert.ok(ctl.controllerSwitchMs > ctl.lossAtMs);
      // A switch in the last second (or during the drain) leaves the backup no time to be seen.
      if (ctl.controllerSwitchMs <= ctl.durationMs - 1000) assert.ok(ctl.backupAckedAfterLoss > 0);
    }
  } finally {
    assert.deepEqual(leftovers('mptcp-scnk'), []);
  }
});

test('smarter-backup, kernel mode (CI, primary blackholed): the controller closes the primary and the backup takes over', {
  skip,
  timeout: 40_000,
}, async () => {
  // 100% loss makes the primary's rto back off deterministically (past 1 s about 1.6 s after the
  // onset), so the switch is certain within the CI run; 30% loss is not (see above).
  try {
    const r = await runScenario('smarter-backup', { mode: 'kernel', size: 'ci', params: { lossPct: 100 } });
    assert.equal(r.skipped, undefined);
    for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
    const [def, ctl] = r.data as [BackupData, BackupData];
    assert.ok(ctl.controllerSwitchMs !== undefined, `no switch: ${JSON.stringify(ctl.events)}`);
    assert.ok(ctl.controllerSwitchMs > ctl.lossAtMs, 'the switch follows the onset');
    assert.ok(
      ctl.events.some(
        (e) => e.event === 'subflow-established on backup' && e.tMs >= ctl.controllerSwitchMs! - 1,
      ),
      `the backup subflow is opened by the switch: ${JSON.stringify(ctl.events)}`,
    );
    assert.ok(ctl.backupAckedAfterLoss > 0, 'the backup carries data after the switch');
    assert.ok(def.backupAckedAfterLoss > 0, 'the kernel default moves to the backup too (stale subflow)');
  } finally {
    assert.deepEqual(leftovers('mptcp-scnk'), []);
  }
});

test('load-balancing, kernel mode (CI size, one repetition): transfers complete through the hashing router, refresh-slowest spreads', {
  skip,
  timeout: 60_000,
}, async () => {
  // The runner in load-balancing.ts does not dispatch to the kernel mode yet: call it directly.
  const spec = loadScenario('load-balancing');
  const ci = spec.sizes.ci;
  try {
    const r = await loadBalancingKernelResult(
      spec.paths,
      {
        bytes: paramNumber(ci, 'bytes', 6e6),
        subflows: paramNumber(ci, 'subflows', 5),
        periodMs: paramNumber(ci, 'periodMs', 500),
        timeoutMs: paramNumber(ci, 'timeoutMs', 20_000),
      },
      1,
      () => {},
    );
    assert.equal(r.skipped, undefined);
    for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
    const runs = r.data as Array<{
      variant: string;
      subflowsOpened: number;
      pathsUsed: number;
      driverErrors: string[];
    }>;
    assert.deepEqual(
      runs.map((x) => x.variant),
      ['refresh-slowest', 'ndiffports'],
    );
    for (const run of runs) {
      assert.ok(run.subflowsOpened >= 5, `${run.variant}: ${run.subflowsOpened} subflows opened`);
      assert.deepEqual(run.driverErrors, [], run.variant);
    }
    assert.ok(
      runs[0]!.subflowsOpened > runs[1]!.subflowsOpened,
      'refresh-slowest opens replacements, ndiffports keeps its subflows',
    );
  } finally {
    assert.deepEqual(leftovers('mptcp-sclk'), []);
  }
});
