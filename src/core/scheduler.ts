/**
 * Packet schedulers: a pure choice, over read-only views of the subflows, of where the next segment of
 * data goes. No I/O, no clock. RFC 8684 §3.3.8 backup semantics: a backup subflow carries data only
 * when no non-backup subflow is usable (established and not failed); a busy subflow is still usable.
 */
export interface SubflowView {
  readonly id: number;
  readonly backup: boolean;
  /** Established, not failed or closing: the subflow can carry data. */
  readonly usable: boolean;
  /** The subflow can take another segment now (its window is open and its socket is not full). */
  readonly windowOpen: boolean;
  /** Smoothed RTT in ms (undefined before the first sample). */
  readonly srttMs: number | undefined;
  /** RTT variation in ms (RFC 6298 RTTVAR; 0 before the first sample). ECF's δ uses it. */
  readonly rttVarMs: number;
  /** Bytes mapped to this subflow and not yet DATA_ACKed. */
  readonly inFlightBytes: number;
  /** The current in-flight cap for this subflow. */
  readonly windowBytes: number;
  /** Data-level delivery rate in bytes per second (0 until measured). */
  readonly deliveryRateBps: number;
  /**
   * The size of the next frame this subflow sends (bytes; it follows the path's rate, see
   * Subflow.frameLimitBytes). Absent in views that do not know it: schedulers assume 64 KiB.
   */
  readonly frameLimitBytes?: number;
}

/** Connection-level inputs the subflow views cannot carry (BLEST and ECF need them). */
export interface SchedulerContext {
  /**
   * The MPTCP-level send window: the peer's right edge (DATA_ACK + advertised window, RFC 8684
   * §3.3.4) minus the oldest unacknowledged data offset.
   */
  readonly sendWindowBytes: number;
  /** Bytes written by the application and not yet sent on any subflow (the send queue). */
  readonly unsentBytes: number;
}

export interface Scheduler {
  readonly name: string;
  /**
   * The subflows (ids) the next segment should be sent on; empty when none can take it now.
   * Most schedulers return one id; a redundant scheduler returns several.
   */
  select(subflows: readonly SubflowView[], context?: SchedulerContext): readonly number[];
}

/** The subflows data may go on under backup semantics: the usable non-backup ones, else the usable backups. */
export function eligibleSubflows(subflows: readonly SubflowView[]): SubflowView[] {
  const primary = subflows.filter((s) => s.usable && !s.backup);
  return primary.length > 0 ? primary : subflows.filter((s) => s.usable && s.backup);
}

const NONE: readonly number[] = [];

/** Lowest smoothed RTT among eligible subflows with an open window (Linux's default scheduler). */
export const minRttScheduler: Scheduler = {
  name: 'minrtt',
  select(subflows) {
    let best: SubflowView | undefined;
    for (const s of eligibleSubflows(subflows)) {
      if (!s.windowOpen) continue;
      if (!best || (s.srttMs ?? Number.POSITIVE_INFINITY) < (best.srttMs ?? Number.POSITIVE_INFINITY))
        best = s;
    }
    return best ? [best.id] : NONE;
  },
};
