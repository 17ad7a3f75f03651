/**
 * `mptcp lab run <scenario> [--out DIR] [--json] [--size ci|full] [--mode userspace|kernel]`: runs
 * one of the seed experiments (scenarios/<name>.json), shows a progress bar on stderr (TTY only),
 * writes <out>/<name>/report.md, its SVG figures and result.json, and prints a summary (or, with
 * --json, the numbers and the figures' data as JSON). Exit status 1 when a check failed, 0 when it
 * passed or was skipped (the reason is printed). Unknown names and bad flags are UsageErrors that
 * list the valid scenario names.
 */
import { join, resolve } from 'node:path';
import { progressBar } from '../../lab/scenarios/progress.js';
import { parseCommandArgs, stringOption } from '../args.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: mptcp lab run <scenario> [options]
  --out DIR        where to write <scenario>/report.md and figures (default ./mptcp-lab)
  --json           print the numbers and the figures' data as JSON
  --size ci|full   ci: small and quick (default); full: the paper's sizes
  --mode M         userspace (default) or kernel`;

const OPTIONS = {
  out: { type: 'string' },
  json: { type: 'boolean' },
  size: { type: 'string' },
  mode: { type: 'string' },
} as const;

export interface LabRunArgs {
  name: string;
  out: string;
  json: boolean;
  size: 'ci' | 'full';
  mode: 'userspace' | 'kernel' | undefined;
}

export async function parseLabRunArgs(argv: string[]): Promise<LabRunArgs> {
  const { listScenarios } = await import('../../lab/scenarios/spec.js');
  const known = () => `valid scenarios: ${listScenarios().join(', ')}`;
  let parsed: ReturnType<typeof parseCommandArgs>;
  try {
    parsed = parseCommandArgs(argv, OPTIONS, 1);
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (${known()})`);
  }
  const { values, positionals } = parsed;
  const name = positionals[0];
  if (name === undefined) throw new UsageError(`missing scenario name (${known()})`);
  if (!name.endsWith('.json') && !listScenarios().includes(name))
    throw new UsageError(`unknown scenario '${name}' (${known()})`);
  const size = stringOption(values, 'size') ?? 'ci';
  if (size !== 'ci' && size !== 'full') throw new UsageError(`--size must be ci or full, got '${size}'`);
  const mode = stringOption(values, 'mode');
  if (mode !== undefined && mode !== 'userspace' && mode !== 'kernel')
    throw new UsageError(`--mode must be userspace or kernel, got '${mode}'`);
  return { name, out: stringOption(values, 'out') ?? 'mptcp-lab', json: values.json === true, size, mode };
}

export async function runLabRun(argv: string[]): Promise<number> {
  const args = await parseLabRunArgs(argv);
  const { runScenario, ScenarioError } = await import('../../lab/scenarios/index.js');
  const { resultJson, writeReport } = await import('../../lab/report.js');
  const { loadScenario } = await import('../../lab/scenarios/spec.js');
  const spec = loadScenario(args.name);
  const bar = progressBar();
  let result: Awaited<ReturnType<typeof runScenario>>;
  try {
    result = await runScenario(args.name, {
      size: args.size,
      ...(args.mode ? { mode: args.mode } : {}),
      onProgress: (f, label) => bar.update(f, `${spec.name}: ${label}`),
    });
  } catch (err) {
    if (err instanceof ScenarioError) throw new UsageError(err.message);
    throw err;
  } finally {
    bar.done();
  }
  const dir = resolve(args.out, spec.name);
  const command = ['mptcp lab run', ...argv].join(' ');
  writeReport(result, spec, dir, command);
  if (args.json) {
    console.log(JSON.stringify(resultJson(result)));
  } else {
    console.log(`${spec.name} (${result.mode}, ${result.size}): ${spec.description}`);
    if (result.skipped) console.log(`skipped: ${result.skipped}`);
    for (const n of result.numbers)
      console.log(`  ${n.label}: ${n.ours}${n.paper ? `   [paper: ${n.paper}]` : ''}`);
    for (const c of result.checks) console.log(`  ${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
    console.log(`report: ${join(dir, 'report.md')}`);
  }
  return result.checks.every((c) => c.ok) ? 0 : 1;
}
