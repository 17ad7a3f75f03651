/**
 * Scenario reports: `writeReport(result, spec, dir)` writes `<dir>/report.md` (our numbers beside
 * the paper's, the checks, the notes, links to the figures), every figure's SVG and `result.json`
 * (the numbers and the figures' data). `renderReport` is the markdown alone (pure), and
 * `resultJson` the JSON printed by `mptcp lab run --json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioSpec } from './scenarios/spec.js';
import type { ScenarioResult } from './scenarios/types.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderReport(r: ScenarioResult, spec: ScenarioSpec, command?: string): string {
  const out: string[] = [`# ${spec.name}`, '', spec.description, ''];
  out.push(`- paper: ${spec.paper.source}`);
  out.push(`- mode: ${r.mode}, size: ${r.size}, run time ${(r.elapsedMs / 1000).toFixed(1)} s`);
  if (command) out.push(`- command: \`${command}\``);
  out.push('');
  if (r.skipped) {
    out.push(`**Skipped:** ${r.skipped}`, '');
    return out.join('\n');
  }
  out.push('## Numbers', '', '| quantity | this run | paper |', '| --- | --- | --- |');
  for (const n of r.numbers) out.push(`| ${cell(n.label)} | ${cell(n.ours)} | ${cell(n.paper ?? '')} |`);
  const used = new Set(r.numbers.map((n) => n.paper).filter((p) => p !== undefined));
  const rest = spec.paper.numbers.filter((p) => !used.has(p.value));
  if (rest.length > 0) {
    out.push('', 'Other numbers the paper gives:', '');
    for (const p of rest) out.push(`- ${p.label}: ${p.value}`);
  }
  if (r.checks.length > 0) {
    out.push('', '## Checks', '');
    for (const c of r.checks) out.push(`- ${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
  }
  if (r.figures.length > 0) {
    out.push('', '## Figures', '');
    for (const f of r.figures) out.push(`![${f.title}](${f.file})`, '');
  }
  if (r.notes.length > 0) {
    out.push('', '## How this run differs from the paper', '');
    for (const n of r.notes) out.push(`- ${n}`);
  }
  out.push('');
  return out.join('\n');
}

export function resultJson(r: ScenarioResult): unknown {
  return {
    scenario: r.scenario,
    mode: r.mode,
    size: r.size,
    ...(r.skipped ? { skipped: r.skipped } : {}),
    elapsedMs: Math.round(r.elapsedMs),
    numbers: r.numbers,
    checks: r.checks,
    notes: r.notes,
    figures: r.figures.map((f) => ({ file: f.file, title: f.title, data: f.data })),
    data: r.data,
  };
}

/** Writes report.md, the SVGs and result.json into `dir` (created); returns the files written. */
export function writeReport(r: ScenarioResult, spec: ScenarioSpec, dir: string, command?: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    files.push(p);
  };
  put('report.md', renderReport(r, spec, command));
  for (const f of r.figures) put(f.file, f.svg);
  put('result.json', `${JSON.stringify(resultJson(r), null, 2)}\n`);
  return files;
}
