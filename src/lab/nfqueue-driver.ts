/**
 * One event loop for every delay queue of the process: a single ppoll(2) over all their sockets,
 * with a timeout that ends at the earliest release time among them.
 *
 * Why shared: each waiting ppoll occupies a libuv thread-pool thread (koffi `.async`), and the
 * pool has 4 threads by default. One loop per queue would starve the pool (and with it fs, dns and
 * every other async native call) as soon as a lab has 4 delayed directions.
 *
 * Contract:
 * - `driver.add(member)` starts servicing `member` right away; the loop runs while there are
 *   members and stops by itself when the last one leaves.
 * - Each round calls every member's `service(nowMs)` (read packets, send verdicts; it must not
 *   throw) and waits until a socket is readable or until the earliest returned release time
 *   minus WAKE_AHEAD_MS, at most MAX_WAIT_MS.
 * - `await driver.remove(member)` resolves once the loop no longer uses the member's fd (after the
 *   round in progress, so within about MAX_WAIT_MS): only then may the caller close it.
 */
import { waitReadableAny } from './nfqueue-socket.js';

/** Longest single wait: bounds how long remove() waits. */
export const MAX_WAIT_MS = 20;
/**
 * Wake this much before a release time, and release packets due within it: ppoll's wake-up is
 * late by about this much (timer slack + worker→main hop, measured ~0.1 ms median), so releases
 * are centred on time instead of always late.
 */
export const WAKE_AHEAD_MS = 0.1;
/** Wait after a round in which a member reported an error, so a broken socket cannot spin. */
const ERROR_BACKOFF_MS = 1;

export interface DriverMember {
  readonly fd: number;
  /** Services the queue at `nowMs` (performance.now()); returns its next release time, if any. */
  service(nowMs: number): { next: number | undefined; failed: boolean };
}

class Driver {
  private readonly members = new Set<DriverMember>();
  private running: Promise<void> | undefined;
  private roundWaiters: Array<() => void> = [];

  add(m: DriverMember): void {
    this.members.add(m);
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      this.flushWaiters();
      if (this.members.size > 0) this.add([...this.members][0]!);
    });
  }

  remove(m: DriverMember): Promise<void> {
    this.members.delete(m);
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.roundWaiters.push(resolve));
  }

  private flushWaiters(): void {
    const w = this.roundWaiters;
    this.roundWaiters = [];
    for (const f of w) f();
  }

  private async loop(): Promise<void> {
    while (this.members.size > 0) {
      let next = Number.POSITIVE_INFINITY;
      let failed = false;
      const now = performance.now();
      const fds: number[] = [];
      for (const m of this.members) {
        const r = m.service(now);
        if (r.next !== undefined && r.next < next) next = r.next;
        failed ||= r.failed;
        fds.push(m.fd);
      }
      const wait = failed
        ? ERROR_BACKOFF_MS
        : Math.min(MAX_WAIT_MS, next - performance.now() - WAKE_AHEAD_MS);
      if (wait > 0) await waitReadableAny(fds, wait);
      else await new Promise<void>((r) => setImmediate(r));
      this.flushWaiters();
    }
  }
}

/** The process-wide driver. */
export const nfqueueDriver = new Driver();
