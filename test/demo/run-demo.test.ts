import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_DEMO_OPTIONS, runDemo } from '../../src/demo/run-demo.js';

const run = promisify(execFile);

test('seed 000 failover: after the cut every message goes over the secondary path and none is lost', async () => {
  const r = await runDemo({ ...DEFAULT_DEMO_OPTIONS, ports: [0, 0], intervalMs: 40 });
  assert.equal(r.sent, 20);
  assert.equal(r.delivered, 20);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
  assert.equal(r.sha256Match, true);
  // In order, each once.
  assert.deepEqual(
    r.messages.map((m) => m.index),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  for (const m of r.messages.filter((m) => m.index > 10))
    assert.equal(m.path, 'secondary', `message ${m.index}`);
  assert.ok(r.perPath.primary! >= 5, 'the primary (lower RTT) carried the messages before the cut');
  assert.ok(r.recoveryMs !== undefined && r.recoveryMs < 1000, `recovered in ${r.recoveryMs} ms`);
  assert.ok(r.reinjectedBytes > 0, 'the message in flight on the cut path was reinjected');
});

test('mptcp demo --json prints the summary and writes the charts', async () => {
  const out = mkdtempSync(join(tmpdir(), 'mptcp-demo-'));
  const { stdout } = await run(process.execPath, [
    'bin/mptcp.js',
    'demo',
    '--json',
    '--ports',
    '0,0',
    '--interval',
    '20',
    '--out',
    out,
  ]);
  const r = JSON.parse(stdout);
  assert.equal(r.sent, 20);
  assert.equal(r.delivered, 20);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
  assert.equal(r.sha256Match, true);
  assert.equal(r.cutAtMessage, 10);
  assert.equal(typeof r.recoveryMs, 'number');
  assert.equal(r.perPath.primary + r.perPath.secondary, 20);
  for (const f of ['path-usage.svg', 'dsn.svg']) {
    const svg = readFileSync(join(out, f), 'utf8');
    assert.ok(svg.startsWith('<svg') && svg.includes('primary') && svg.includes('secondary'), f);
  }
});

test('mptcp demo rejects bad arguments with a clear message and status 2', async () => {
  for (const args of [
    ['--messages', 'lots'],
    ['--ports', '8000'],
    ['--cut-at', '50'],
    ['--bogus'],
    ['--scheduler', 'fastest'],
  ]) {
    const r = await run(process.execPath, ['bin/mptcp.js', 'demo', ...args]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 2, `${args.join(' ')} exits 2`);
    assert.match(r.stderr, /mptcp demo: /);
  }
});

test('a bulk demo run: the cut mid-transfer loses nothing', async () => {
  const r = await runDemo({
    ...DEFAULT_DEMO_OPTIONS,
    ports: [0, 0],
    messages: 40,
    messageBytes: 64 * 1024,
    intervalMs: 0,
    cutAt: 20,
    paths: [
      { name: 'primary', delayMs: 5, rateMbps: 100 },
      { name: 'secondary', delayMs: 10, rateMbps: 100 },
    ],
  });
  assert.equal(r.bytesReceived, 40 * 64 * 1024);
  assert.equal(r.sha256Match, true);
  assert.equal(r.lost + r.duplicated, 0);
});
