/**
 * Smoothed RTT estimator (RFC 6298 §2), in milliseconds. Samples come from the timestamps option
 * echoed on each subflow (RFC 7323 §4.1). Pure: no clock of its own.
 */
export const MIN_RTO_MS = 200;
export const MAX_RTO_MS = 60_000;
const ALPHA = 1 / 8;
const BETA = 1 / 4;
/**
 * The path RTT is the least sample of the last 10 to 20 s (two 10 s buckets), as BBR keeps min_rtt
 * over 10 s: it leaves out the queue a busy subflow builds, and still follows a path that got longer.
 */
export const PATH_RTT_WINDOW_MS = 10_000;

export class RttEstimator {
  /** Smoothed RTT (ms); undefined before the first sample. */
  srttMs: number | undefined;
  rttVarMs = 0;
  /** Least sample ever (ms). */
  minRttMs = Number.POSITIVE_INFINITY;
  latestRttMs: number | undefined;
  samples = 0;
  private bucketStartMs = Number.NEGATIVE_INFINITY;
  private bucketMinMs = Number.POSITIVE_INFINITY;
  private previousBucketMinMs = Number.POSITIVE_INFINITY;

  /** `rttMs` measured at `nowMs`. */
  sample(rttMs: number, nowMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    this.samples++;
    this.latestRttMs = rttMs;
    if (rttMs < this.minRttMs) this.minRttMs = rttMs;
    if (nowMs - this.bucketStartMs >= PATH_RTT_WINDOW_MS) {
      this.previousBucketMinMs = this.bucketMinMs;
      this.bucketMinMs = Number.POSITIVE_INFINITY;
      this.bucketStartMs = nowMs;
    }
    if (rttMs < this.bucketMinMs) this.bucketMinMs = rttMs;
    if (this.srttMs === undefined) {
      this.srttMs = rttMs;
      this.rttVarMs = rttMs / 2;
    } else {
      this.rttVarMs = (1 - BETA) * this.rttVarMs + BETA * Math.abs(this.srttMs - rttMs);
      this.srttMs = (1 - ALPHA) * this.srttMs + ALPHA * rttMs;
    }
  }

  /** The path's RTT without the queue (least sample of the last PATH_RTT_WINDOW_MS or two); undefined before any. */
  get pathRttMs(): number | undefined {
    const m = Math.min(this.bucketMinMs, this.previousBucketMinMs);
    return Number.isFinite(m) ? m : undefined;
  }

  /** The retransmission-timeout-like value controllers look at: srtt + 4·rttvar, clamped. */
  get rtoMs(): number {
    if (this.srttMs === undefined) return 1000; // RFC 6298 §2.1 initial RTO
    return Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, this.srttMs + 4 * this.rttVarMs));
  }
}
