/**
 * What a scenario run produces: numbers (ours beside the paper's), figures (SVG plus the data they
 * were drawn from), qualitative checks, and notes on how the run differs from the paper's setup.
 * Runners return a ScenarioResult; src/lab/report.ts turns it into report.md and files.
 */
import type { ScenarioMode, ScenarioSize, ScenarioSpec, SizeParams } from './spec.js';

export interface ResultNumber {
  label: string;
  /** Our measurement, formatted (units included). */
  ours: string;
  /** The paper's value for the same quantity, when it gives one. */
  paper?: string;
}

export interface Figure {
  /** File name under the run's folder, ending in .svg. */
  file: string;
  title: string;
  svg: string;
  /** The data the figure was drawn from (printed by --json). */
  data: unknown;
}

/** A qualitative result the scenario asserts (the tests check `ok`). */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: string;
  mode: ScenarioMode;
  size: ScenarioSize;
  /** Set when the scenario could not run here (no root…): the reason. */
  skipped?: string;
  numbers: ResultNumber[];
  figures: Figure[];
  checks: Check[];
  /** How this run emulates the paper's setup, and where it differs. */
  notes: string[];
  /** Raw per-run measurements (JSON-able). */
  data: unknown;
  elapsedMs: number;
}

export interface RunContext {
  spec: ScenarioSpec;
  mode: ScenarioMode;
  size: ScenarioSize;
  params: SizeParams;
  /** Reports progress in [0, 1] with a short label. */
  progress(fraction: number, label: string): void;
}

export type ScenarioRunner = (
  ctx: RunContext,
) => Promise<Omit<ScenarioResult, 'scenario' | 'mode' | 'size' | 'elapsedMs'>>;

/** Formats a duration in ms as seconds with 3 decimals, or '—' when unknown. */
export function seconds(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? '—' : `${(ms / 1000).toFixed(3)} s`;
}

export function mbps(bytes: number, ms: number): string {
  return ms > 0 ? `${((bytes * 8) / ms / 1000).toFixed(2)} Mbit/s` : '—';
}

/** q-quantile (0..1) of values, nearest-rank; undefined when empty. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))];
}

export function skippedResult(
  reason: string,
): Omit<ScenarioResult, 'scenario' | 'mode' | 'size' | 'elapsedMs'> {
  return { skipped: reason, numbers: [], figures: [], checks: [], notes: [], data: null };
}
