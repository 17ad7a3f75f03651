/**
 * Smoothed RTT estimator (RFC 6298 §2), in milliseconds. Samples come from the timestamps option
 * echoed on each subflow (RFC 7323 §4.1). Pure: no clock of its own.
 */
export const MIN_RTO_MS = 200;
export const MAX_RTO_MS = 60_000;
const ALPHA = 1 / 8;
const BETA = 1 / 4;

export class RttEstimator {
  /** Smoothed RTT (ms); undefined before the first sample. */
  srttMs: number | undefined;
  rttVarMs = 0;
  minRttMs = Number.POSITIVE_INFINITY;
  latestRttMs: number | undefined;
  samples = 0;

  sample(rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    this.samples++;
    this.latestRttMs = rttMs;
    if (rttMs < this.minRttMs) this.minRttMs = rttMs;
    if (this.srttMs === undefined) {
      this.srttMs = rttMs;
      this.rttVarMs = rttMs / 2;
    } else {
      this.rttVarMs = (1 - BETA) * this.rttVarMs + BETA * Math.abs(this.srttMs - rttMs);
      this.srttMs = (1 - ALPHA) * this.srttMs + ALPHA * rttMs;
    }
  }

  /** The retransmission-timeout-like value controllers look at: srtt + 4·rttvar, clamped. */
  get rtoMs(): number {
    if (this.srttMs === undefined) return 1000; // RFC 6298 §2.1 initial RTO
    return Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, this.srttMs + 4 * this.rttVarMs));
  }
}
