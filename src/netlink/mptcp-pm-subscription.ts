/**
 * A subscription to kernel MPTCP path-manager events, fed by MptcpPmClient: an EventEmitter and an
 * AsyncIterable with a bounded queue. Contract: never throws from `push`; 'error' is only emitted
 * when someone listens; `close()` is idempotent and ends iteration and pending `waitFor`s.
 */
import { EventEmitter } from 'node:events';
import type { KernelPmEvent } from './mptcp-pm-events.js';

/** Bound on events queued for an async iterator that is not being consumed. */
export const MAX_QUEUED_EVENTS = 4096;

/**
 * A subscription to kernel PM events. Events:
 * - 'event' (KernelPmEvent): emitted when the kernel multicasts an mptcp_pm event.
 * - 'error' (Error): emitted when events were lost (ENOBUFS) or the socket failed; only emitted if
 *   someone listens.
 * - 'close': emitted once when the subscription ends.
 * It is also an AsyncIterable of events (queue bounded by MAX_QUEUED_EVENTS; oldest dropped,
 * counted in `dropped`).
 */
export class PmEventSubscription extends EventEmitter implements AsyncIterable<KernelPmEvent> {
  private closed = false;
  private readonly queue: KernelPmEvent[] = [];
  private waiter: (() => void) | undefined;
  private iterating = false;
  dropped = 0;

  constructor(private readonly onClose: () => void) {
    super();
  }

  /** @internal */
  push(ev: KernelPmEvent): void {
    if (this.closed) return;
    if (this.iterating) {
      if (this.queue.length >= MAX_QUEUED_EVENTS) {
        this.queue.shift();
        this.dropped++;
      }
      this.queue.push(ev);
      this.wake();
    }
    this.emit('event', ev);
  }

  /** @internal */
  fail(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Resolves with the first event (from now on) matching `predicate`; rejects after `timeoutMs`. */
  waitFor<T extends KernelPmEvent>(predicate: (ev: KernelPmEvent) => ev is T, timeoutMs: number): Promise<T>;
  waitFor(predicate: (ev: KernelPmEvent) => boolean, timeoutMs: number): Promise<KernelPmEvent>;
  waitFor<T extends KernelPmEvent>(predicate: (ev: KernelPmEvent) => boolean, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const onEvent = (ev: KernelPmEvent) => {
        if (!predicate(ev)) return;
        cleanup();
        resolve(ev as T);
      };
      const onClose = () => {
        cleanup();
        reject(new Error('subscription closed while waiting for an event'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching MPTCP PM event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.once('close', onClose);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.wake();
    this.emit('close');
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<KernelPmEvent> {
    this.iterating = true;
    try {
      for (;;) {
        const ev = this.queue.shift();
        if (ev) {
          yield ev;
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((r) => {
          this.waiter = r;
        });
      }
    } finally {
      this.iterating = false;
    }
  }
}
