/**
 * Close reasons and retry delays shared by drivers and controllers.
 *
 * Contract: pure. `reasonFromErrno` maps the errno the OS attached to a closed subflow or a failed
 * command to a PmCloseReason (Linux errno numbers, include/uapi/asm-generic/errno.h); `Backoff`
 * computes exponential backoff per key, capped.
 */
import type { PmCloseReason } from './types.js';

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINVAL: 22,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
} as const;

/** Reason of a subflow close from its socket error (0 / absent: an orderly close). */
export function reasonFromErrno(errno: number | undefined): PmCloseReason {
  switch (errno) {
    case undefined:
    case 0:
      return 'closed';
    case ERRNO.ECONNRESET:
    case ERRNO.ECONNABORTED:
      return 'reset';
    case ERRNO.ETIMEDOUT:
      return 'timeout';
    case ERRNO.ECONNREFUSED:
      return 'refused';
    case ERRNO.ENETUNREACH:
    case ERRNO.EHOSTUNREACH:
    case ERRNO.EHOSTDOWN:
      return 'unreachable';
    default:
      return 'error';
  }
}

/** Base re-establishment delay per close reason (seed §4.1: short after a RST, long after ICMP unreachable). */
export const DEFAULT_RETRY_DELAY_MS: Readonly<Record<PmCloseReason, number>> = {
  reset: 200,
  closed: 1000,
  error: 1000,
  refused: 1000,
  timeout: 2000,
  unreachable: 2000,
};

/** Upper bound of a backed-off retry delay. */
export const DEFAULT_MAX_RETRY_DELAY_MS = 30_000;

/** Exponential backoff per key: base × 2^(failures so far), capped. */
export class Backoff {
  private readonly failures = new Map<string, number>();

  constructor(private readonly capMs = DEFAULT_MAX_RETRY_DELAY_MS) {}

  /** Records one more failure of `key` and returns the delay before the next attempt. */
  next(key: string, baseMs: number): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.capMs, baseMs * 2 ** Math.min(n, 30));
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  /** Forgets every key starting with `prefix`. */
  resetPrefix(prefix: string): void {
    for (const k of [...this.failures.keys()]) if (k.startsWith(prefix)) this.failures.delete(k);
  }
}
