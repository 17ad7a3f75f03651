/**
 * `runScenario(name, options)`: loads `scenarios/<name>.json`, picks its runner and runs it in the
 * requested mode and size. Returns the ScenarioResult (report writing is src/lab/report.ts).
 *
 * Contract: an unknown scenario or runner, or a mode the scenario does not list, throws
 * ScenarioError (the CLI turns it into a UsageError). Scenarios that cannot run here (no root for a
 * packet-level scenario) return a result with `skipped` set, never a silent pass.
 */
import { performance } from 'node:perf_hooks';
import { deadlineStreamingRunner } from './deadline-streaming.js';
import { failoverRunner } from './failover.js';
import { loadBalancingRunner } from './load-balancing.js';
import { pmLatencyRunner } from './pm-latency.js';
import { smarterBackupRunner } from './smarter-backup.js';
import {
  loadScenario,
  ScenarioError,
  type ScenarioMode,
  type ScenarioSize,
  type SizeParams,
} from './spec.js';
import type { ScenarioResult, ScenarioRunner } from './types.js';

export * from './spec.js';
export * from './types.js';

export const RUNNERS: Record<string, ScenarioRunner> = {
  failover: failoverRunner,
  'smarter-backup': smarterBackupRunner,
  'deadline-streaming': deadlineStreamingRunner,
  'load-balancing': loadBalancingRunner,
  'pm-latency': pmLatencyRunner,
};

export interface RunScenarioOptions {
  mode?: ScenarioMode;
  size?: ScenarioSize;
  /** Overrides of the size parameters (tests use it to run a subset). */
  params?: SizeParams;
  onProgress?: (fraction: number, label: string) => void;
  /** Folder of scenario files (default: the package's scenarios/). */
  dir?: string;
}

export async function runScenario(name: string, options: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const spec = options.dir === undefined ? loadScenario(name) : loadScenario(name, options.dir);
  const runner = RUNNERS[spec.runner];
  if (!runner)
    throw new ScenarioError(
      `scenario ${spec.name}: unknown runner '${spec.runner}' (known: ${Object.keys(RUNNERS).join(', ')})`,
    );
  const mode = options.mode ?? spec.modes[0]!;
  const size = options.size ?? 'ci';
  const t0 = performance.now();
  const base = { scenario: spec.name, mode, size };
  if (!spec.modes.includes(mode)) {
    return {
      ...base,
      skipped: `scenario ${spec.name} has no ${mode} mode yet (modes: ${spec.modes.join(', ')})`,
      numbers: [],
      figures: [],
      checks: [],
      notes: [],
      data: null,
      elapsedMs: 0,
    };
  }
  const r = await runner({
    spec,
    mode,
    size,
    params: { ...spec.sizes[size], ...options.params },
    progress: (f, label) => options.onProgress?.(f, label),
  });
  options.onProgress?.(1, 'done');
  return { ...base, ...r, elapsedMs: performance.now() - t0 };
}
