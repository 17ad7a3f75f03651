/**
 * What the load-balancing scenario reports in both modes (userspace and kernel MPTCP): the checks
 * and the rows beside the paper's numbers (seed §4.4). Pure. Labels carry the mode when one is
 * given ("kernel: …" checks, "kernel, …" rows), so that both modes' reports read alike.
 */
import { cdfChart } from '../svg.js';
import type { LbOptions, LbVariant } from './load-balancing.js';
import { type Check, quantile, type ResultNumber, seconds } from './types.js';

export const LB_VARIANTS: readonly LbVariant[] = ['refresh-slowest', 'ndiffports'];

/** What a run must tell the report. */
export interface LbRunSummary {
  variant: LbVariant;
  transferMs?: number | undefined;
  pathsUsed: number;
}

export interface LbReport {
  checks: Check[];
  /** Size, transfer times per controller, the ideal, paths used per run (the caller adds its own). */
  numbers: ResultNumber[];
  /** The CDF of transfer times. */
  cdfSvg(title: string): string;
}

export function lbReport(
  runs: readonly LbRunSummary[],
  pathRatesMbps: readonly number[],
  o: LbOptions,
  mode?: string,
): LbReport {
  const checkName = (s: string) => (mode ? `${mode}: ${s}` : s);
  const rowLabel = (s: string) => (mode ? `${mode}, ${s}` : s);
  const of = (v: LbVariant) => runs.filter((r) => r.variant === v);
  const times = (v: LbVariant) => of(v).flatMap((r) => (r.transferMs === undefined ? [] : [r.transferMs]));
  const summary = (v: LbVariant) => {
    const t = times(v);
    return `${seconds(quantile(t, 0))} / ${seconds(quantile(t, 0.5))} / ${seconds(quantile(t, 1))}`;
  };
  const bestMs = (o.bytes * 8) / (pathRatesMbps.reduce((a, b) => a + b, 0) * 1000);
  const worstMs = (o.bytes * 8) / (Math.min(...pathRatesMbps) * 1000);
  const scale = o.bytes / 100e6;
  const done = runs.filter((r) => r.transferMs !== undefined).length;
  return {
    checks: [
      {
        name: checkName('every transfer completes'),
        ok: done === runs.length,
        detail: `${done}/${runs.length} transfers of ${o.bytes} B completed`,
      },
      {
        name: checkName('refresh-slowest ends up using more than one path'),
        ok: of('refresh-slowest').every((r) => r.pathsUsed >= 2),
        detail: `paths carrying ≥ 5% of the bytes: ${of('refresh-slowest')
          .map((r) => r.pathsUsed)
          .join(', ')}`,
      },
    ],
    numbers: [
      { label: 'transfer size', ours: `${(o.bytes / 1e6).toFixed(1)} MB`, paper: '100 MB' },
      {
        label: rowLabel('refresh-slowest: transfer time min / median / max'),
        ours: summary('refresh-slowest'),
        paper: `best 27.8 s (×${scale.toFixed(3)} = ${(27.8 * scale).toFixed(2)} s at this size)`,
      },
      {
        label: rowLabel('ndiffports: transfer time min / median / max'),
        ours: summary('ndiffports'),
        paper: `clusters at 28 / 37 / 55 s (×${scale.toFixed(3)} = ${(28 * scale).toFixed(2)} / ${(37 * scale).toFixed(2)} / ${(55 * scale).toFixed(2)} s)`,
      },
      {
        label: 'ideal: all paths / one path',
        ours: `${seconds(bestMs)} / ${seconds(worstMs)}`,
        paper: `27.8 s / 111.7 s (×${scale.toFixed(3)} = ${(27.8 * scale).toFixed(2)} / ${(111.7 * scale).toFixed(2)} s)`,
      },
      ...LB_VARIANTS.map((v) => ({
        label: rowLabel(`paths carrying ≥ 5% of the bytes, per run (${v})`),
        ours: of(v)
          .map((r) => r.pathsUsed)
          .join(', '),
      })),
    ],
    cdfSvg: (title) =>
      cdfChart({
        title,
        xLabel: 'transfer time (s)',
        series: LB_VARIANTS.map((v) => ({ name: v, values: times(v).map((t) => t / 1000) })),
      }),
  };
}
