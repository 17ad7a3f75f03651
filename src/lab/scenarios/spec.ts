/**
 * Scenario files: the seed experiments as data, under `scenarios/<name>.json` (package root).
 *
 * A scenario file is JSON:
 *   { "name": "smarter-backup", "description": "…", "runner": "smarter-backup",
 *     "modes": ["userspace"], "paper": { "source": "seed 003 §4.2, Fig. 2a", "numbers": [{…}] },
 *     "paths": [{ "name": "primary", "rateMbps": 10, "delayMs": 10 }, …],
 *     "events": [{ "atMs": 1000, "path": "primary", "action": "loss", "value": 30 }],
 *     "sizes": { "ci": { … }, "full": { … } } }
 * `runner` names the code that runs it (src/lab/scenarios/runners.ts); `sizes.ci` / `sizes.full`
 * are runner parameters (numbers, or arrays of numbers) for a quick run and for the paper's size.
 *
 * Contract: parseScenario validates a parsed document and throws ScenarioError naming the field;
 * loadScenario(name) reads `scenarios/<name>.json` (or a path ending in .json); listScenarios()
 * lists the names found there, sorted.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

export type ScenarioMode = 'userspace' | 'kernel';
export type ScenarioSize = 'ci' | 'full';
export const SCENARIO_MODES: readonly ScenarioMode[] = ['userspace', 'kernel'];
export const SCENARIO_SIZES: readonly ScenarioSize[] = ['ci', 'full'];

export interface ScenarioPath {
  name: string;
  rateMbps?: number;
  delayMs?: number;
  lossPct?: number;
}

export interface ScenarioEvent {
  atMs: number;
  path: string;
  action: 'cut' | 'restore' | 'loss' | 'rate' | 'delay';
  value?: number;
}

export interface PaperNumber {
  label: string;
  value: string;
}

export type SizeParams = Record<string, number | number[]>;

export interface ScenarioSpec {
  name: string;
  description: string;
  runner: string;
  modes: ScenarioMode[];
  paper: { source: string; numbers: PaperNumber[] };
  paths: ScenarioPath[];
  events: ScenarioEvent[];
  sizes: Record<ScenarioSize, SizeParams>;
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,40}$/;
const ACTIONS = new Set(['cut', 'restore', 'loss', 'rate', 'delay']);

/** The `scenarios/` folder of the package (from build/src/lab/scenarios/ or src/lab/scenarios/). */
export function scenariosDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../../../../scenarios', '../../../scenarios']) {
    const dir = join(here, up);
    if (existsSync(dir)) return dir;
  }
  return join(here, '../../../../scenarios');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(where: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new ScenarioError(`${where} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

function str(where: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '')
    throw new ScenarioError(`${where} must be a non-empty string`);
  return v;
}

function sizeParams(where: string, v: unknown): SizeParams {
  if (!isObject(v)) throw new ScenarioError(`${where} must be an object of numbers`);
  const out: SizeParams = {};
  for (const [k, x] of Object.entries(v)) {
    if (Array.isArray(x)) {
      out[k] = x.map((e, i) => num(`${where}.${k}[${i}]`, e, -1e12, 1e12)!);
    } else {
      const n = num(`${where}.${k}`, x, -1e12, 1e12);
      if (n === undefined) throw new ScenarioError(`${where}.${k} must be a number`);
      out[k] = n;
    }
  }
  return out;
}

/** Validates a parsed scenario document. */
export function parseScenario(doc: unknown): ScenarioSpec {
  if (!isObject(doc)) throw new ScenarioError('a scenario must be a JSON object');
  const name = str('name', doc.name);
  if (!NAME_RE.test(name)) throw new ScenarioError(`name must match ${NAME_RE}, got '${name}'`);
  const modesRaw = doc.modes ?? ['userspace'];
  if (!Array.isArray(modesRaw) || modesRaw.length === 0)
    throw new ScenarioError('modes must be a non-empty array');
  const modes = modesRaw.map((m, i) => {
    if (m !== 'userspace' && m !== 'kernel')
      throw new ScenarioError(`modes[${i}] must be 'userspace' or 'kernel', got ${JSON.stringify(m)}`);
    return m as ScenarioMode;
  });
  const paperRaw = doc.paper ?? { source: 'none', numbers: [] };
  if (!isObject(paperRaw) || !Array.isArray(paperRaw.numbers))
    throw new ScenarioError('paper must be { source, numbers: [{label, value}] }');
  const paper = {
    source: str('paper.source', paperRaw.source),
    numbers: paperRaw.numbers.map((n, i) => {
      if (!isObject(n)) throw new ScenarioError(`paper.numbers[${i}] must be {label, value}`);
      return {
        label: str(`paper.numbers[${i}].label`, n.label),
        value: str(`paper.numbers[${i}].value`, n.value),
      };
    }),
  };
  const pathsRaw = doc.paths ?? [];
  if (!Array.isArray(pathsRaw)) throw new ScenarioError('paths must be an array');
  const paths = pathsRaw.map((p, i): ScenarioPath => {
    if (!isObject(p)) throw new ScenarioError(`paths[${i}] must be an object`);
    const out: ScenarioPath = { name: str(`paths[${i}].name`, p.name) };
    const rate = num(`paths[${i}].rateMbps`, p.rateMbps, 0, 100_000);
    const delay = num(`paths[${i}].delayMs`, p.delayMs, 0, 60_000);
    const loss = num(`paths[${i}].lossPct`, p.lossPct, 0, 100);
    if (rate !== undefined) out.rateMbps = rate;
    if (delay !== undefined) out.delayMs = delay;
    if (loss !== undefined) out.lossPct = loss;
    return out;
  });
  const names = new Set(paths.map((p) => p.name));
  if (names.size !== paths.length) throw new ScenarioError('path names must be unique');
  const eventsRaw = doc.events ?? [];
  if (!Array.isArray(eventsRaw)) throw new ScenarioError('events must be an array');
  const events = eventsRaw.map((e, i): ScenarioEvent => {
    if (!isObject(e)) throw new ScenarioError(`events[${i}] must be an object`);
    const path = str(`events[${i}].path`, e.path);
    if (!names.has(path)) throw new ScenarioError(`events[${i}].path '${path}' is not one of the paths`);
    const action = str(`events[${i}].action`, e.action);
    if (!ACTIONS.has(action))
      throw new ScenarioError(
        `events[${i}].action must be one of ${[...ACTIONS].join(', ')}, got '${action}'`,
      );
    const out: ScenarioEvent = {
      atMs: num(`events[${i}].atMs`, e.atMs, 0, 86_400_000) ?? 0,
      path,
      action: action as ScenarioEvent['action'],
    };
    const value = num(`events[${i}].value`, e.value, 0, 1e9);
    if (value !== undefined) out.value = value;
    return out;
  });
  if (!isObject(doc.sizes)) throw new ScenarioError('sizes must be { "ci": {…}, "full": {…} }');
  const sizes = { ci: sizeParams('sizes.ci', doc.sizes.ci), full: sizeParams('sizes.full', doc.sizes.full) };
  return {
    name,
    description: str('description', doc.description),
    runner: str('runner', doc.runner),
    modes,
    paper,
    paths,
    events,
    sizes,
  };
}

/** Names of the scenario files in `dir` (default scenariosDir()), sorted. */
export function listScenarios(dir = scenariosDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** Reads and validates `scenarios/<name>.json`, or the file `name` when it ends in .json. */
export function loadScenario(name: string, dir = scenariosDir()): ScenarioSpec {
  const file = name.endsWith('.json') ? name : join(dir, `${name}.json`);
  if (!name.endsWith('.json') && !NAME_RE.test(name))
    throw new ScenarioError(`unknown scenario '${name}' (known: ${listScenarios(dir).join(', ') || 'none'})`);
  if (!existsSync(file))
    throw new ScenarioError(`unknown scenario '${name}' (known: ${listScenarios(dir).join(', ') || 'none'})`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ScenarioError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseScenario(doc);
  } catch (err) {
    if (err instanceof ScenarioError) throw new ScenarioError(`${file}: ${err.message}`);
    throw err;
  }
}

/** A size parameter as a number (the first element of an array), or `fallback`. */
export function paramNumber(p: SizeParams, key: string, fallback: number): number {
  const v = p[key];
  if (v === undefined) return fallback;
  return Array.isArray(v) ? (v[0] ?? fallback) : v;
}

/** A size parameter as a list of numbers, or `fallback`. */
export function paramList(p: SizeParams, key: string, fallback: number[]): number[] {
  const v = p[key];
  if (v === undefined) return fallback;
  return Array.isArray(v) ? v : [v];
}
