/**
 * Shared pieces of the packet schedulers: the optional connection-level context some schedulers
 * need (BLEST, ECF), and small pure helpers over subflow views. No I/O, no clock.
 *
 * State: a scheduler object may be shared by many connections (the Node adapter hands one object to
 * every connection a listener accepts). Schedulers with memory therefore key it by the subflow view
 * object (a WeakMap), never by subflow id, which is only unique within one connection.
 */
import type { Scheduler, SchedulerContext, SubflowView } from '../scheduler.js';

export type { SchedulerContext } from '../scheduler.js';

/** A scheduler that uses the connection-level context when the core passes it. */
export interface ContextScheduler extends Scheduler {
  select(subflows: readonly SubflowView[], context?: SchedulerContext): readonly number[];
}

export const NONE: readonly number[] = [];

const rttOf = (s: SubflowView): number => s.srttMs ?? Number.POSITIVE_INFINITY;

/** The subflow with the lowest smoothed RTT, window open or not (ties: lowest id); undefined if none has one. */
export function fastestSubflow(subflows: readonly SubflowView[]): SubflowView | undefined {
  let best: SubflowView | undefined;
  for (const s of subflows) {
    if (s.srttMs === undefined) continue;
    if (!best || rttOf(s) < rttOf(best) || (rttOf(s) === rttOf(best) && s.id < best.id)) best = s;
  }
  return best;
}

/** The subflow with an open window and the lowest smoothed RTT (unmeasured last; ties: lowest id). */
export function fastestOpenSubflow(subflows: readonly SubflowView[]): SubflowView | undefined {
  let best: SubflowView | undefined;
  for (const s of subflows) {
    if (!s.windowOpen) continue;
    if (!best || rttOf(s) < rttOf(best) || (rttOf(s) === rttOf(best) && s.id < best.id)) best = s;
  }
  return best;
}

/** Bytes per ms a subflow moves: its measured delivery rate, else one window per smoothed RTT. */
export function bytesPerMs(s: SubflowView): number {
  if (s.deliveryRateBps > 0) return s.deliveryRateBps / 1000;
  return s.windowBytes / Math.max(1, s.srttMs ?? 1);
}
