/**
 * Path-manager reaction time (seed 003 §4.5, issue #7): the delay between a connection's initial
 * SYN and its second subflow's SYN for the in-kernel PM, our userspace PM (event loop and worker
 * thread), `mptcp pm run fullmesh` (each of ours also with its reacting thread SCHED_FIFO, in
 * separate rows) and mptcpd. The measurement (topology, cases, capture analysis)
 * lives in src/lab/pm-latency.ts, shared with the lab scenario `pm-latency`; this file turns its
 * result into rows. Needs root and network namespaces (a row says why when it cannot run).
 * PM_LATENCY_STRESS=1 adds the CPU-stress run (one busy process per CPU); PM_LATENCY_KEEP=1 keeps
 * the captures.
 */
import { type DelaySummary, summarizeDelays } from '../src/lab/pm-latency-capture.js';
import {
  DEFAULT_PM_LATENCY_CASES,
  GOAL_EXTRA_US,
  measurePmLatency,
  PAPER_EXTRA_STRESSED_US,
  PAPER_EXTRA_US,
  type PmLatencyCaseResult,
  type PmLatencyRun,
  pmLatencySkipReason,
} from '../src/lab/pm-latency.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

const NAME = 'pm-latency';
/** Connections per case at scale 1 (and the minimum at any scale). */
const CONNECTIONS = 200;

const bench: Benchmark = {
  name: NAME,
  description:
    'delay between the initial SYN and the second subflow SYN: in-kernel PM vs our userspace PM vs mptcpd',
  async run(options: BenchOptions): Promise<BenchRow[]> {
    const skip = pmLatencySkipReason();
    if (skip) return [{ bench: NAME, case: 'unavailable', value: Number.NaN, unit: 'µs', note: skip }];
    const perCase = Math.max(CONNECTIONS, Math.round(CONNECTIONS * options.scale));
    const keepCaptures = Boolean(process.env.PM_LATENCY_KEEP);
    const rows: BenchRow[] = [];
    const idle = await measurePmLatency({
      connectionsPerCase: perCase,
      cases: [...DEFAULT_PM_LATENCY_CASES, 'mptcpd'],
      keepCaptures,
    });
    rows.push(...rowsFrom(idle, ''));
    if (process.env.PM_LATENCY_STRESS) {
      const stressed = await measurePmLatency({ connectionsPerCase: perCase, cpuStress: true, keepCaptures });
      rows.push(...rowsFrom(stressed, ' [CPU stress]'));
    }
    return rows;
  },
};

function rowsFrom(run: PmLatencyRun, suffix: string): BenchRow[] {
  const rows: BenchRow[] = [];
  const paperExtra = run.cpuStress ? PAPER_EXTRA_STRESSED_US : PAPER_EXTRA_US;
  const kernelRes = run.cases.find((c) => c.id === 'kernel');
  const kernel = kernelRes
    ? { syn: summarizeDelays(kernelRes.delaysUs), react: summarizeDelays(kernelRes.reactionUs) }
    : undefined;
  for (const r of run.cases) {
    const label = `${r.label}${suffix}`;
    const syn = summarizeDelays(r.delaysUs);
    const react = summarizeDelays(r.reactionUs);
    const note = caseNote(r, syn);
    if (r.delaysUs.length === 0) {
      rows.push({ bench: NAME, case: `${label}: not run`, value: Number.NaN, unit: 'µs', note });
      continue;
    }
    const ratio = (v: number, k: number | undefined) => (k ? v / k : undefined);
    rows.push({
      bench: NAME,
      case: `${label}: SYN→join SYN median`,
      value: syn.median,
      unit: 'µs',
      ratio: ratio(syn.median, kernel?.syn.median),
      note,
    });
    rows.push({ bench: NAME, case: `${label}: SYN→join SYN p99`, value: syn.p99, unit: 'µs' });
    rows.push({
      bench: NAME,
      case: `${label}: reaction median`,
      value: react.median,
      unit: 'µs',
      ratio: ratio(react.median, kernel?.react.median),
      note: `from the segment that fully establishes the connection to the join SYN; n=${react.n}, mean ${react.mean.toFixed(1)} µs`,
    });
    rows.push({ bench: NAME, case: `${label}: reaction p99`, value: react.p99, unit: 'µs' });
    if (kernel && r.id !== 'kernel') {
      const diff = syn.median - kernel.syn.median;
      rows.push({
        bench: NAME,
        case: `${label}: SYN→join SYN median − in-kernel`,
        value: diff,
        unit: 'µs',
        note: `mean difference ${(syn.mean - kernel.syn.mean).toFixed(1)} µs (paper: +${paperExtra} µs mean); p99 difference ${(syn.p99 - kernel.syn.p99).toFixed(0)} µs${
          r.id === 'mptcpd'
            ? ''
            : `; goal ≤ +${GOAL_EXTRA_US} µs: ${diff <= GOAL_EXTRA_US ? 'met' : 'NOT met'}`
        }`,
      });
      rows.push({
        bench: NAME,
        case: `${label}: reaction median − in-kernel`,
        value: react.median - kernel.react.median,
        unit: 'µs',
        note: `mean difference ${(react.mean - kernel.react.mean).toFixed(1)} µs`,
      });
    }
  }
  return rows;
}

function caseNote(r: PmLatencyCaseResult, syn: DelaySummary): string {
  const base = `n=${syn.n}, mean ${syn.mean.toFixed(1)} µs; server saw ${r.joinedByServer} joins, ${r.notJoined} without; ${r.unmatched} initial SYNs without join in capture`;
  return r.notes.length > 0 ? `${base}; ${r.notes.join('; ')}` : base;
}

export default bench;
