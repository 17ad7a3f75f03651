/**
 * Round-robin: rotates among the eligible subflows (RFC 8684 §3.3.8 backup semantics) whose window
 * is open, one segment each. The rotation is "least recently chosen first": every choice is stamped,
 * and the open eligible subflow with the oldest stamp (never chosen: oldest; ties: lowest id) goes
 * next. A subflow whose window is closed is skipped, not waited for, so a slow path takes fewer
 * segments once it fills its window. Stamps are keyed by subflow object, so one instance may serve
 * several connections.
 */
import { eligibleSubflows, type Scheduler, type SubflowView } from '../scheduler.js';
import { NONE } from './common.js';

export function createRoundRobinScheduler(): Scheduler {
  const lastChosen = new WeakMap<SubflowView, number>();
  let clock = 0;
  return {
    name: 'roundrobin',
    select(subflows) {
      let best: SubflowView | undefined;
      let bestStamp = Number.POSITIVE_INFINITY;
      for (const s of eligibleSubflows(subflows)) {
        if (!s.windowOpen) continue;
        const stamp = lastChosen.get(s) ?? Number.NEGATIVE_INFINITY;
        if (!best || stamp < bestStamp || (stamp === bestStamp && s.id < best.id)) {
          best = s;
          bestStamp = stamp;
        }
      }
      if (!best) return NONE;
      lastChosen.set(best, ++clock);
      return [best.id];
    },
  };
}
