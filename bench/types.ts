/**
 * A benchmark is a named async function that measures things side by side in one run and returns rows.
 * Ratios are what matter: absolute numbers on a shared machine are noise.
 */
export interface BenchRow {
  /** Benchmark group, e.g. "userspace-throughput". */
  bench: string;
  /** What was measured, e.g. "userspace MPTCP, 2 subflows". */
  case: string;
  value: number;
  unit: string;
  /** value divided by the group's baseline, where the group has one. */
  ratio?: number;
  note?: string;
}

export interface BenchOptions {
  /** Scale factor for transfer sizes (1 = the documented size). */
  scale: number;
}

export interface Benchmark {
  name: string;
  description: string;
  run(options: BenchOptions): Promise<BenchRow[]>;
}
