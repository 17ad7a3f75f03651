/**
 * `npm run bench [-- --json] [--only NAME] [--scale X]`: runs every benchmark in BENCHMARKS and prints a
 * table (or JSON with --json). Each benchmark measures its cases side by side in the same run.
 * A benchmark that cannot run on this machine returns a row with a note saying why.
 */
import { parseArgs } from 'node:util';
import type { Benchmark, BenchRow } from './types.js';

/** Add one entry per benchmark module. */
const BENCHMARKS: Array<() => Promise<Benchmark>> = [
  () => import('./kernel-loopback.js').then((m) => m.default),
  () => import('./userspace-throughput.js').then((m) => m.default),
  () => import('./pm-latency.js').then((m) => m.default),
  () => import('./lab-paths.js').then((m) => m.default),
];

function formatTable(rows: BenchRow[]): string {
  const header = ['bench', 'case', 'value', 'unit', 'ratio', 'note'];
  const cells = rows.map((r) => [
    r.bench,
    r.case,
    Number.isFinite(r.value) ? (Math.abs(r.value) >= 100 ? r.value.toFixed(0) : r.value.toPrecision(4)) : '-',
    r.unit,
    r.ratio === undefined ? '' : r.ratio.toFixed(3),
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((s, i) => s.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      scale: { type: 'string', default: '1' },
    },
  });
  const scale = Number(values.scale);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error('--scale must be a positive number');
  const rows: BenchRow[] = [];
  for (const load of BENCHMARKS) {
    const bench = await load();
    if (values.only && !bench.name.includes(values.only)) continue;
    if (!values.json) console.error(`running ${bench.name}: ${bench.description}`);
    try {
      rows.push(...(await bench.run({ scale })));
    } catch (err) {
      rows.push({ bench: bench.name, case: 'error', value: Number.NaN, unit: '', note: String(err) });
    }
  }
  if (values.json) console.log(JSON.stringify({ rows }, null, 2));
  else console.log(formatTable(rows));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
