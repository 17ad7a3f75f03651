/**
 * BLEST: BLocking ESTimation-based scheduler. S. Ferlin, Ö. Alay, O. Mehani, R. Boreli, "BLEST:
 * Blocking Estimation-based MPTCP Scheduler for Heterogeneous Networks", IFIP Networking 2016.
 * Reference implementation: multipath-tcp.org kernel, `net/mptcp/mptcp_blest.c`.
 *
 * Problem: with paths of very different RTT, data sent on the slow path occupies the connection-level
 * send window (the peer's receive window) until it is acknowledged, a slow RTT later; meanwhile the
 * fast path may run out of window and stall: head-of-line blocking.
 *
 * Algorithm, per segment (like minRTT, plus one check):
 * 1. xf = the eligible subflow with the lowest SRTT, window open or not; xs = the eligible subflow
 *    with an open window and the lowest SRTT (minRTT's choice). If xs is xf, send on it.
 * 2. Otherwise xs is slower. Estimate how long the segment lingers in the window if sent on xs:
 *    t = max(srtt_s, rttMin_s + (rttMax_s − rttMin_s)·(inflight_s + seg)/window_s), rttMin/Max being
 *    the smallest and largest SRTT seen on xs (an RTT that grows with the subflow's queue).
 * 3. Estimate what xf could send meanwhile: X = λ · max(window_f, rate_f · t), where rate_f is xf's
 *    delivery rate (else window_f per SRTT). The paper and Linux model Reno growth over t/srtt_f rounds;
 *    this core has no congestion window, only a rate-derived in-flight cap, so the rate is the honest
 *    model.
 * 4. If X > W − (inflight_s + seg), with W the MPTCP send window, sending on xs would leave xf short
 *    of window: send nothing now (wait for xf's window). Otherwise send on xs.
 * λ is fixed (default 1.2, Linux's initial value); Linux adapts it on meta-level retransmissions,
 * which this core does not make.
 *
 * Inputs: srttMs, windowOpen, windowBytes, inFlightBytes, deliveryRateBps of the views, and W. W is
 * connection-level: taken from the `SchedulerContext` when the core passes it, else from the
 * `sendWindowBytes` option, else DEFAULT_RECEIVE_BUFFER_BYTES (the core's default receive buffer).
 * The segment is the slow subflow's next frame (`frameLimitBytes`: small on a slow path, see
 * Subflow), or MAX_MAPPED_BYTES (64 KiB) for a view that does not say.
 * Backup semantics: only `eligibleSubflows` are considered. Memory (rttMin/Max) is keyed by subflow
 * object: one instance may serve several connections.
 */
import { DEFAULT_RECEIVE_BUFFER_BYTES } from '../connection.js';
import { MAX_MAPPED_BYTES } from '../frame.js';
import { eligibleSubflows, type SubflowView } from '../scheduler.js';
import {
  bytesPerMs,
  type ContextScheduler,
  fastestOpenSubflow,
  fastestSubflow,
  NONE,
  type SchedulerContext,
} from './common.js';

export const BLEST_DEFAULT_LAMBDA = 1.2;

export interface BlestOptions {
  /** Safety factor on the fast subflow's estimated bytes (the paper's λ). */
  lambda?: number;
  /** The MPTCP send window to assume when the core passes no SchedulerContext (bytes). */
  sendWindowBytes?: number;
}

interface RttRange {
  min: number;
  max: number;
}

export function createBlestScheduler(options: BlestOptions = {}): ContextScheduler {
  const lambda = options.lambda ?? BLEST_DEFAULT_LAMBDA;
  const windowHint = options.sendWindowBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
  const ranges = new WeakMap<SubflowView, RttRange>();

  const track = (s: SubflowView): void => {
    if (s.srttMs === undefined) return;
    let r = ranges.get(s);
    if (!r) {
      r = { min: s.srttMs, max: s.srttMs };
      ranges.set(s, r);
    }
    r.min = Math.min(r.min, s.srttMs);
    r.max = Math.max(r.max, s.srttMs);
  };

  return {
    name: 'blest',
    select(subflows, context?: SchedulerContext) {
      const eligible = eligibleSubflows(subflows);
      for (const s of eligible) track(s);
      const slow = fastestOpenSubflow(eligible);
      if (!slow) return NONE;
      const fast = fastestSubflow(eligible);
      if (!fast || fast === slow || slow.srttMs === undefined) return [slow.id];
      const slowBytes = slow.inFlightBytes + (slow.frameLimitBytes ?? MAX_MAPPED_BYTES);
      const linger = lingerTimeMs(slow, ranges.get(slow)!, slowBytes);
      const fastBytes = lambda * Math.max(fast.windowBytes, bytesPerMs(fast) * linger);
      const window = context?.sendWindowBytes ?? windowHint;
      const available = Math.max(0, window - slowBytes);
      return fastBytes > available ? NONE : [slow.id];
    },
  };
}

/** How long a segment sent now on `s` stays unacknowledged (ms), BLEST's linger-time estimate. */
function lingerTimeMs(s: SubflowView, range: RttRange, inFlightAfter: number): number {
  const srtt = s.srttMs ?? range.max;
  const estimate =
    inFlightAfter >= s.windowBytes
      ? range.max
      : range.min + ((range.max - range.min) * inFlightAfter) / Math.max(1, s.windowBytes);
  return Math.max(srtt, estimate);
}
