/**
 * `controllerByName(spec)`: builds a controller from a command-line spec (`--controller`).
 *
 * Grammar: `NAME` or `NAME:ARGS`, ARGS a comma-separated list of `key=value` (or, for ndiffports, a
 * bare count). Examples:
 *   fullmesh                          fullmesh:reset=200,unreachable=2000,max=30000
 *   ndiffports:4                      ndiffports:n=4
 *   backup-on-rto:threshold=1000,backup=10.0.2.2,local=10.0.2.1,port=80
 *   deadline-streaming:deadline=1000,block=65536,period=1000,other=10.0.2.2+10.0.3.2,local=10.0.2.1
 *   refresh-slowest:period=2500,subflows=5
 *
 * Contract: throws ControllerSpecError (with the offending part and the accepted keys) on an
 * unknown name, an unknown key, a missing required key or a malformed number or address.
 * `registerController` adds user-written controllers to the same table.
 */
import { isIP } from 'node:net';
import { backupOnRto } from './controllers/backup-on-rto.js';
import { deadlineStreaming, type StreamingPath } from './controllers/deadline-streaming.js';
import { fullmesh } from './controllers/fullmesh.js';
import { ndiffports } from './controllers/ndiffports.js';
import { refreshSlowest } from './controllers/refresh-slowest.js';
import type { Controller, PmCloseReason } from './types.js';

export class ControllerSpecError extends Error {
  override readonly name = 'ControllerSpecError';
}

/** Parsed arguments of a spec; `get*` consume keys so leftovers can be reported. */
export class SpecArgs {
  private readonly used = new Set<string>();

  constructor(
    readonly controller: string,
    readonly values: ReadonlyMap<string, string>,
    readonly bare: string | undefined,
  ) {}

  string(key: string): string | undefined {
    this.used.add(key);
    return this.values.get(key);
  }

  number(key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const raw = this.string(key);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new ControllerSpecError(
        `${this.controller}: ${key} must be a number in ${min}..${max}, got '${raw}'`,
      );
    return n;
  }

  address(key: string): string | undefined {
    const raw = this.string(key);
    if (raw !== undefined && isIP(raw) === 0)
      throw new ControllerSpecError(`${this.controller}: ${key} must be an IP address, got '${raw}'`);
    return raw;
  }

  /** Throws on keys nobody read. */
  finish(accepted: readonly string[]): void {
    for (const k of this.values.keys())
      if (!this.used.has(k))
        throw new ControllerSpecError(
          `${this.controller}: unknown option '${k}' (accepted: ${accepted.join(', ') || 'none'})`,
        );
    if (this.bare !== undefined && !this.used.has('<bare>'))
      throw new ControllerSpecError(`${this.controller}: unexpected argument '${this.bare}'`);
  }

  useBare(): string | undefined {
    this.used.add('<bare>');
    return this.bare;
  }
}

export interface ControllerFactory {
  summary: string;
  keys: readonly string[];
  create(args: SpecArgs): Controller;
}

const REASONS: readonly PmCloseReason[] = ['reset', 'timeout', 'unreachable', 'refused', 'closed', 'error'];

const registry = new Map<string, ControllerFactory>([
  [
    'fullmesh',
    {
      summary: 'a subflow per local×remote address pair; failed subflows re-established with backoff',
      keys: [...REASONS, 'max'],
      create(a) {
        const retryDelayMs: Partial<Record<PmCloseReason, number>> = {};
        for (const r of REASONS) {
          const v = a.number(r);
          if (v !== undefined) retryDelayMs[r] = v;
        }
        const max = a.number('max', 1);
        return fullmesh(max === undefined ? { retryDelayMs } : { retryDelayMs, maxRetryDelayMs: max });
      },
    },
  ],
  [
    'ndiffports',
    {
      summary: 'n subflows over the initial address pair (ndiffports:N)',
      keys: ['n'],
      create(a) {
        const bare = a.useBare();
        const n = bare !== undefined ? Number(bare) : a.number('n', 1, 64);
        if (n === undefined || !Number.isInteger(n) || n < 1 || n > 64)
          throw new ControllerSpecError(
            `ndiffports: needs a subflow count 1..64 (ndiffports:4), got '${bare ?? ''}'`,
          );
        return ndiffports(n);
      },
    },
  ],
  [
    'backup-on-rto',
    {
      summary: 'switch to the backup path when the primary rto exceeds a threshold (seed §4.2)',
      keys: ['threshold', 'backup', 'local', 'port'],
      create(a) {
        const thresholdMs = a.number('threshold', 1);
        const address = a.address('backup');
        const localAddress = a.address('local');
        const port = a.number('port', 1, 65535);
        if (address === undefined && localAddress === undefined)
          throw new ControllerSpecError('backup-on-rto: needs backup=REMOTE_ADDR and/or local=LOCAL_ADDR');
        const backup = { address, localAddress, port };
        return backupOnRto(thresholdMs === undefined ? { backup } : { thresholdMs, backup });
      },
    },
  ],
  [
    'deadline-streaming',
    {
      summary:
        'open another path when a block is late at half its deadline; close subflows with rto > deadline (§4.3)',
      keys: ['deadline', 'block', 'period', 'other', 'local', 'port'],
      create(a) {
        const others = a.string('other');
        const local = a.address('local');
        const port = a.number('port', 1, 65535);
        if (others === undefined && local === undefined)
          throw new ControllerSpecError(
            'deadline-streaming: needs other=ADDR[+ADDR…] and/or local=LOCAL_ADDR',
          );
        const otherPaths: StreamingPath[] = (others === undefined ? [undefined] : others.split('+')).map(
          (addr) => {
            if (addr !== undefined && isIP(addr) === 0)
              throw new ControllerSpecError(
                `deadline-streaming: other must list IP addresses, got '${addr}'`,
              );
            return { address: addr, localAddress: local, port };
          },
        );
        return deadlineStreaming({
          deadlineMs: a.number('deadline', 1),
          blockBytes: a.number('block', 1),
          periodMs: a.number('period', 1),
          otherPaths,
        });
      },
    },
  ],
  [
    'refresh-slowest',
    {
      summary: 'every period, replace the subflow with the lowest delivery rate (§4.4)',
      keys: ['period', 'subflows', 'min'],
      create(a) {
        return refreshSlowest({
          periodMs: a.number('period', 1),
          subflows: a.number('subflows', 1, 64),
          minSubflows: a.number('min', 1, 64),
        });
      },
    },
  ],
]);

/** Adds (or replaces) a named controller factory. */
export function registerController(name: string, factory: ControllerFactory): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new ControllerSpecError(`bad controller name '${name}'`);
  registry.set(name, factory);
}

/** Names and summaries of every known controller. */
export function controllerNames(): Array<{ name: string; summary: string; keys: readonly string[] }> {
  return [...registry.entries()].map(([name, f]) => ({ name, summary: f.summary, keys: f.keys }));
}

export function parseSpec(spec: string): SpecArgs {
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const rest = colon < 0 ? '' : spec.slice(colon + 1).trim();
  const values = new Map<string, string>();
  let bare: string | undefined;
  if (rest !== '') {
    for (const part of rest.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) {
        if (bare !== undefined || values.size > 0)
          throw new ControllerSpecError(`${name}: '${part}' is not key=value`);
        bare = part.trim();
        continue;
      }
      const key = part.slice(0, eq).trim();
      if (key === '' || values.has(key))
        throw new ControllerSpecError(`${name}: bad or repeated key in '${part}'`);
      values.set(key, part.slice(eq + 1).trim());
    }
  }
  return new SpecArgs(name, values, bare);
}

/** Builds the controller a spec names (see the module header for the grammar). */
export function controllerByName(spec: string): Controller {
  const args = parseSpec(spec);
  const factory = registry.get(args.controller);
  if (!factory) {
    throw new ControllerSpecError(
      `unknown controller '${args.controller}' (known: ${[...registry.keys()].join(', ')})`,
    );
  }
  let controller: Controller;
  try {
    controller = factory.create(args);
  } catch (err) {
    if (err instanceof ControllerSpecError) throw err;
    throw new ControllerSpecError(`${args.controller}: ${(err as Error).message}`);
  }
  args.finish(factory.keys);
  return controller;
}
