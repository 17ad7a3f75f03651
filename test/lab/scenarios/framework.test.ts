import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseLabRunArgs } from '../../../src/cli/commands/lab-run.js';
import { UsageError } from '../../../src/cli/usage-error.js';
import { renderReport, resultJson, writeReport } from '../../../src/lab/report.js';
import { flowHash } from '../../../src/lab/scenarios/hash-balancer.js';
import { progressBar } from '../../../src/lab/scenarios/progress.js';
import { RUNNERS } from '../../../src/lab/scenarios/index.js';
import {
  listScenarios,
  loadScenario,
  parseScenario,
  ScenarioError,
} from '../../../src/lab/scenarios/spec.js';
import type { ScenarioResult } from '../../../src/lab/scenarios/types.js';

const execFileP = promisify(execFile);

test('the four seed scenarios exist, parse, and name a known runner', () => {
  const names = listScenarios();
  for (const n of ['failover', 'smarter-backup', 'deadline-streaming', 'load-balancing'])
    assert.ok(names.includes(n), n);
  for (const n of names) {
    const spec = loadScenario(n);
    assert.equal(spec.name, n);
    assert.ok(RUNNERS[spec.runner], `${n}: runner ${spec.runner}`);
    assert.ok(Object.keys(spec.sizes.ci).length > 0 && Object.keys(spec.sizes.full).length > 0, n);
  }
});

test('parseScenario rejects bad documents, naming the field', () => {
  const good = {
    name: 'x',
    description: 'd',
    runner: 'failover',
    paths: [{ name: 'a' }],
    sizes: { ci: {}, full: {} },
  };
  assert.equal(parseScenario(good).modes[0], 'userspace');
  const bad: Array<[unknown, RegExp]> = [
    [null, /object/],
    [{ ...good, name: 'Bad Name' }, /name/],
    [{ ...good, modes: ['cloud'] }, /modes\[0\]/],
    [{ ...good, paths: [{ name: 'a' }, { name: 'a' }] }, /unique/],
    [{ ...good, paths: [{ name: 'a', rateMbps: -1 }] }, /paths\[0\]\.rateMbps/],
    [{ ...good, events: [{ atMs: 0, path: 'zz', action: 'cut' }] }, /not one of the paths/],
    [{ ...good, events: [{ atMs: 0, path: 'a', action: 'explode' }] }, /action/],
    [{ ...good, sizes: { ci: { n: 'x' }, full: {} } }, /sizes\.ci\.n/],
    [{ ...good, sizes: undefined }, /sizes/],
  ];
  for (const [doc, re] of bad)
    assert.throws(
      () => parseScenario(doc),
      (e: Error) => e instanceof ScenarioError && re.test(e.message),
      JSON.stringify(doc),
    );
  assert.throws(
    () => loadScenario('no-such-scenario'),
    /unknown scenario 'no-such-scenario' \(known: .*failover/,
  );
});

test('lab run arguments: unknown names and bad flags are UsageErrors listing the valid names', async () => {
  const ok = await parseLabRunArgs(['failover', '--size', 'full', '--json', '--out', '/tmp/x']);
  assert.deepEqual(ok, { name: 'failover', out: '/tmp/x', json: true, size: 'full', mode: undefined });
  const cases: Array<[string[], RegExp]> = [
    [[], /missing scenario name \(valid scenarios: .*failover/],
    [['nope'], /unknown scenario 'nope' \(valid scenarios: .*load-balancing/],
    [['failover', '--size', 'huge'], /--size must be ci or full/],
    [['failover', '--mode', 'cloud'], /--mode must be userspace or kernel/],
    [['failover', '--bogus'], /valid scenarios/],
    [['failover', 'extra'], /unexpected argument/],
  ];
  for (const [argv, re] of cases)
    await assert.rejects(
      parseLabRunArgs(argv),
      (e: Error) => e instanceof UsageError && re.test(e.message),
      argv.join(' '),
    );
});

test('mptcp lab run with an unknown scenario exits 2 and lists the valid names', async () => {
  const r = await execFileP(process.execPath, ['bin/mptcp.js', 'lab', 'run', 'nope']).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(r.code, 2);
  // Every scenario file, in order (the four seed scenarios among them: see the first test).
  assert.ok(
    r.stderr.includes(`unknown scenario 'nope' (valid scenarios: ${listScenarios().join(', ')})`),
    r.stderr,
  );
});

test("report.md puts our numbers beside the paper's and links every figure; writeReport writes them", () => {
  const spec = loadScenario('load-balancing');
  const r: ScenarioResult = {
    scenario: spec.name,
    mode: 'userspace',
    size: 'ci',
    numbers: [{ label: 'best | time', ours: '1.2 s', paper: '27.8 s' }],
    figures: [{ file: 'cdf.svg', title: 'CDF', svg: '<svg/>', data: [1, 2] }],
    checks: [{ name: 'works', ok: false, detail: 'no' }],
    notes: ['relays'],
    data: { x: 1 },
    elapsedMs: 1234,
  };
  const md = renderReport(r, spec, 'mptcp lab run load-balancing');
  assert.match(md, /\| best \\\| time \| 1\.2 s \| 27\.8 s \|/);
  assert.match(md, /!\[CDF\]\(cdf\.svg\)/);
  assert.match(md, /FAIL works: no/);
  assert.match(md, /111\.7 s/, 'paper numbers not in the table are listed too');
  assert.deepEqual((resultJson(r) as { figures: unknown[] }).figures, [
    { file: 'cdf.svg', title: 'CDF', data: [1, 2] },
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'mptcp-report-'));
  try {
    writeReport(r, spec, dir);
    for (const f of ['report.md', 'cdf.svg', 'result.json']) assert.ok(existsSync(join(dir, f)), f);
    assert.equal(readFileSync(join(dir, 'cdf.svg'), 'utf8'), '<svg/>');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const skipped = renderReport({ ...r, skipped: 'needs root' }, spec);
  assert.match(skipped, /\*\*Skipped:\*\* needs root/);
  assert.doesNotMatch(skipped, /## Numbers/);
});

test('flowHash: deterministic per key, spread over the buckets, different keys give different maps', () => {
  const k1 = Buffer.alloc(16, 1);
  const k2 = Buffer.alloc(16, 2);
  const counts = [0, 0, 0, 0];
  let differ = 0;
  for (let port = 40000; port < 44000; port++) {
    const b = flowHash(k1, '127.0.0.1', port, 4);
    assert.equal(b, flowHash(k1, '127.0.0.1', port, 4));
    counts[b]!++;
    if (b !== flowHash(k2, '127.0.0.1', port, 4)) differ++;
  }
  for (const c of counts) assert.ok(c > 850 && c < 1150, `bucket counts ${counts}`);
  assert.ok(differ > 2500, `${differ} of 4000 ports moved with the key`);
});

test('progress bar: draws in place on a TTY, prints nothing elsewhere', () => {
  const out: string[] = [];
  const tty = { isTTY: true, columns: 0, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar(tty);
  bar.update(0.5, 'half way');
  bar.update(1, 'done');
  bar.done();
  assert.match(out[0]!, /^\r\x1b\[2K\[#{12}-{12}\] {2}50% half way$/);
  assert.match(out[1]!, /100% done$/);
  assert.equal(out.at(-1), '\r\x1b[2K');
  const quiet: string[] = [];
  const pipe = { isTTY: false, write: (s: string) => quiet.push(s) } as unknown as NodeJS.WriteStream;
  const b2 = progressBar(pipe);
  b2.update(0.5, 'x');
  b2.done();
  assert.deepEqual(quiet, []);
});
