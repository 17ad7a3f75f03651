/**
 * The packet schedulers of the userspace MPTCP core, by name. Every scheduler is a pure choice over
 * read-only subflow views (see `../scheduler.ts`) and honours RFC 8684 §3.3.8 backup semantics.
 * `schedulerByName` returns a fresh instance for the stateful ones (roundrobin, blest, ecf).
 */
import type { Scheduler } from '../scheduler.js';
import { createBlestScheduler } from './blest.js';
import { createEcfScheduler } from './ecf.js';
import { minRttScheduler } from './minrtt.js';
import { redundantScheduler } from './redundant.js';
import { createRoundRobinScheduler } from './roundrobin.js';

export { type BlestOptions, createBlestScheduler } from './blest.js';
export type { ContextScheduler, SchedulerContext } from './common.js';
export { createEcfScheduler, type EcfOptions } from './ecf.js';
export { minRttScheduler } from './minrtt.js';
export { redundantScheduler } from './redundant.js';
export { createRoundRobinScheduler } from './roundrobin.js';

export const SCHEDULER_NAMES = ['minrtt', 'roundrobin', 'redundant', 'blest', 'ecf'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

export class UnknownSchedulerError extends Error {
  override name = 'UnknownSchedulerError';
}

export function isSchedulerName(name: string): name is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(name);
}

/** The scheduler called `name`; throws UnknownSchedulerError (listing the valid names) otherwise. */
export function schedulerByName(name: SchedulerName): Scheduler {
  switch (name) {
    case 'minrtt':
      return minRttScheduler;
    case 'roundrobin':
      return createRoundRobinScheduler();
    case 'redundant':
      return redundantScheduler;
    case 'blest':
      return createBlestScheduler();
    case 'ecf':
      return createEcfScheduler();
    default:
      throw new UnknownSchedulerError(
        `unknown scheduler '${String(name)}' (valid: ${SCHEDULER_NAMES.join(', ')})`,
      );
  }
}
