/**
 * ECF: Earliest Completion First. Y. Lim, E. M. Nahum, D. Towsley, R. J. Gibbens, "ECF: An MPTCP
 * Path Scheduler to Manage Heterogeneous Paths", ACM CoNEXT 2017 (Algorithm 1). Reference
 * implementation: multipath-tcp.org kernel, `net/mptcp/mptcp_ecf.c`.
 *
 * Idea: when the fastest subflow's window is full, sending on a slower one is only worth it if the
 * data would complete sooner there than by waiting for the fast subflow's window to open.
 *
 * Algorithm, per segment, with β = 0.25 and a per-connection `waiting` flag (hysteresis):
 * 1. xf = the eligible subflow with the lowest SRTT, window open or not; xs = the eligible subflow
 *    with an open window and the lowest SRTT (minRTT's choice). If xs is xf, send on it.
 * 2. k = the bytes left to send, δ = max(rttvar_f, rttvar_s), cwnd = each subflow's windowBytes.
 *    With x_f = max(k, cwnd_f): if srtt_f·(x_f + cwnd_f) < cwnd_f·(srtt_s + δ)·(1 + waiting·β)
 *    (waiting one fast round and sending everything on xf beats one slow RTT), then, with
 *    x_s = max(k, cwnd_s): if srtt_s·x_s ≥ cwnd_s·(2·srtt_f + δ) (xs would not finish within two fast
 *    rounds), set waiting and send nothing now. Otherwise clear waiting (in the else branch) and
 *    send on xs. The inequalities are those of `mptcp_ecf.c`.
 *
 * Inputs: srttMs, rttVarMs, windowOpen, windowBytes, inFlightBytes of the views, and k. k is
 * connection-level: with a `SchedulerContext`, k = min(unsentBytes, sendWindowBytes − Σ inFlight)
 * (bytes beyond the peer's window cannot be scheduled now; Linux counts the whole send queue, whose
 * size it bounds by autotuning). Without it, k = sendWindowBytes option (default
 * DEFAULT_RECEIVE_BUFFER_BYTES) − Σ inFlight, the most a bulk sender could have ready.
 * Backup semantics: only `eligibleSubflows` are considered. The waiting flag is keyed by the fast
 * subflow's object, so one instance may serve several connections.
 */
import { DEFAULT_RECEIVE_BUFFER_BYTES } from '../connection.js';
import { eligibleSubflows, type SubflowView } from '../scheduler.js';
import {
  type ContextScheduler,
  fastestOpenSubflow,
  fastestSubflow,
  NONE,
  type SchedulerContext,
} from './common.js';

/** ECF's hysteresis factor β (mptcp_ecf.c: 1 / mptcp_ecf_r_beta = 1/4). */
export const ECF_BETA = 0.25;

export interface EcfOptions {
  /** The MPTCP send window to assume when the core passes no SchedulerContext (bytes). */
  sendWindowBytes?: number;
}

export function createEcfScheduler(options: EcfOptions = {}): ContextScheduler {
  const windowHint = options.sendWindowBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
  const waiting = new WeakMap<SubflowView, boolean>();
  return {
    name: 'ecf',
    select(subflows, context?: SchedulerContext) {
      const eligible = eligibleSubflows(subflows);
      const slow = fastestOpenSubflow(eligible);
      if (!slow) return NONE;
      const fast = fastestSubflow(eligible);
      if (!fast || fast === slow || slow.srttMs === undefined || fast.srttMs === undefined) return [slow.id];
      let inFlight = 0;
      for (const s of eligible) inFlight += s.inFlightBytes;
      const sendable = Math.max(0, (context?.sendWindowBytes ?? windowHint) - inFlight);
      const k = context ? Math.min(context.unsentBytes, sendable) : sendable;
      const wait = ecfShouldWait(fast, slow, k, waiting.get(fast) ?? false);
      if (wait !== undefined) waiting.set(fast, wait);
      return wait ? NONE : [slow.id];
    },
  };
}

/**
 * ECF's decision between waiting for `fast` and sending on `slow` with `k` bytes left to send:
 * true (wait), false (send on slow, clear waiting), or undefined (send on slow, waiting unchanged).
 */
export function ecfShouldWait(
  fast: SubflowView,
  slow: SubflowView,
  k: number,
  waiting: boolean,
): boolean | undefined {
  const srttF = fast.srttMs!;
  const srttS = slow.srttMs!;
  const cwndF = fast.windowBytes;
  const cwndS = slow.windowBytes;
  const delta = Math.max(fast.rttVarMs, slow.rttVarMs);
  const xF = Math.max(k, cwndF);
  if (srttF * (xF + cwndF) < cwndF * (srttS + delta) * (1 + (waiting ? ECF_BETA : 0))) {
    const xS = Math.max(k, cwndS);
    if (srttS * xS >= cwndS * (2 * srttF + delta)) return true;
    return undefined;
  }
  return false;
}
