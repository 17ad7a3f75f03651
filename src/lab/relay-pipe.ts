/**
 * One direction of an emulated path: bytes read from `source` are written to `sink` after a
 * serialization (rate) stage and a propagation (delay + jitter) stage, in order, never dropped.
 *
 * Contract:
 * - Stage 1, the bottleneck link: chunks wait in arrival order; the link sends at most one slice
 *   at a time, each slice of n bytes occupying it for n*8/rate (virtual time, so a late timer
 *   catches up and the long-run rate is exact). Without a rate the link is instantaneous. The
 *   link (SharedLink) is shared by all pipes of the same path direction: they split the rate,
 *   each with its own queue (per-connection queueing, like fq).
 * - Stage 2, propagation: a slice leaving the link at time t is released to the sink at
 *   max(previous release, t + delay + uniform[0, jitter]) — byte order is kept, and the one-way
 *   delay is never below the configured delay.
 * - Bound: bytes held in both stages stay ≤ limit plus one socket read (≤ 64 KiB), where
 *   limit = queueLimitBytes + the bytes in flight on a full link (rate × (delay + jitter), capped at
 *   MAX_IN_FLIGHT_BYTES; 0 without a rate). When the bound is reached the source is paused, and it
 *   is resumed once half of queueLimitBytes has drained. Without a rate, queueLimitBytes thus acts as a
 *   window: throughput ≤ queueLimitBytes / delay.
 *   The sink's own backpressure (write() → false) stops releases until 'drain'.
 * - One timer per direction, armed for the earliest pending event. Slices are subarrays of the
 *   Buffers received from the socket: no copies.
 * - With no delay, no jitter, no rate and an empty queue, chunks are written straight through.
 * - `frozen` (cut/stall): nothing is read or released; held bytes stay held.
 * - When the source ends and everything held was written, the sink is ended (half-close).
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** Largest slice the link sends in one piece, and the smallest (to keep per-slice work bounded). */
const MAX_SLICE_BYTES = 65_536;
const MIN_SLICE_BYTES = 1_024;
/** Target duration of one slice on the link: smaller means smoother delivery, more work. */
const SLICE_TARGET_MS = 1;
/** Cap on the in-flight allowance added to the queue bound on rate-limited paths. */
export const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

export interface PathTiming {
  delayMs: number;
  jitterMs: number;
  /** 0 or less: unlimited. */
  rateMbps: number;
}

/**
 * The link of one direction of a path, shared by every connection relayed over it: the time at
 * which it finishes sending what was committed so far. Sharing it makes the rate a path property
 * (connections split it), as on a real bottleneck.
 */
export interface SharedLink {
  freeAtMs: number;
}

interface LinkEntry {
  buf: Buffer;
  arrivalMs: number;
}

interface FlightEntry {
  buf: Buffer;
  releaseAtMs: number;
}

/** A FIFO over an array with a moving head, compacted now and then: O(1) amortized, no shift(). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class RelayPipe {
  /** Bytes written to the sink so far. */
  forwardedBytes = 0;
  /** Bytes currently held in the link and propagation stages. */
  heldBytes = 0;
  /** Highest heldBytes seen. */
  maxHeldBytes = 0;
  private readonly linkQueue = new Fifo<LinkEntry>();
  private linkHeadOffset = 0;
  private readonly flight = new Fifo<FlightEntry>();
  private lastReleaseMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Infinity;
  private reading = true;
  private sinkBlocked = false;
  private sourceEnded = false;
  private sinkEnded = false;
  private frozen = false;
  private closed = false;

  constructor(
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly timing: PathTiming,
    private readonly link: SharedLink,
    private readonly queueLimitBytes: number,
    private readonly random: () => number = Math.random,
  ) {
    source.on('data', (buf: Buffer) => this.onData(buf));
    source.on('end', () => {
      this.sourceEnded = true;
      this.pump();
    });
    sink.on('drain', () => {
      this.sinkBlocked = false;
      this.pump();
    });
  }

  /** Starts reading (the source is expected to be paused until then). */
  start(): void {
    this.updateReading();
    if (this.reading) this.source.resume();
  }

  /** True once the source ended and every byte was handed to the sink. */
  get done(): boolean {
    return this.sinkEnded;
  }

  freeze(): void {
    this.frozen = true;
    this.clearTimer();
    this.updateReading();
  }

  thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    const now = performance.now();
    if (this.link.freeAtMs < now) this.link.freeAtMs = now;
    this.pump();
  }

  /** Drops everything held and stops all activity; the sockets are the owner's to destroy. */
  close(): void {
    this.closed = true;
    this.clearTimer();
    this.linkQueue.clear();
    this.flight.clear();
    this.heldBytes = 0;
  }

  /** Re-examines the queues after a timing change (a rate change affects the slice in progress). */
  retime(): void {
    this.clearTimer();
    this.pump();
  }

  private get fastPath(): boolean {
    return (
      this.timing.delayMs <= 0 &&
      this.timing.jitterMs <= 0 &&
      this.timing.rateMbps <= 0 &&
      this.heldBytes === 0 &&
      !this.frozen &&
      !this.sinkBlocked
    );
  }

  private onData(buf: Buffer): void {
    if (this.closed) return;
    if (this.fastPath) {
      this.forwardedBytes += buf.length;
      if (!this.sink.write(buf)) {
        this.sinkBlocked = true;
        this.updateReading();
      }
      return;
    }
    this.linkQueue.push({ buf, arrivalMs: performance.now() });
    this.heldBytes += buf.length;
    if (this.heldBytes > this.maxHeldBytes) this.maxHeldBytes = this.heldBytes;
    this.updateReading();
    this.pump();
  }

  /** The current bound on held bytes (see the header). */
  limitBytes(): number {
    const t = this.timing;
    if (t.rateMbps <= 0) return this.queueLimitBytes;
    const inFlight = t.rateMbps * 125 * (Math.max(0, t.delayMs) + Math.max(0, t.jitterMs));
    return this.queueLimitBytes + Math.min(MAX_IN_FLIGHT_BYTES, Math.ceil(inFlight));
  }

  private sliceBytes(): number {
    const rate = this.timing.rateMbps;
    if (rate <= 0) return Number.POSITIVE_INFINITY;
    const perTarget = Math.round(rate * 125 * SLICE_TARGET_MS); // Mbit/s → bytes per ms = rate * 125
    return Math.min(MAX_SLICE_BYTES, Math.max(MIN_SLICE_BYTES, perTarget));
  }

  private pump(): void {
    if (this.closed || this.frozen) return;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;

    // Stage 1: the link.
    const rate = this.timing.rateMbps;
    const maxSlice = this.sliceBytes();
    for (let head = this.linkQueue.peek(); head !== undefined; head = this.linkQueue.peek()) {
      const remaining = head.buf.length - this.linkHeadOffset;
      const n = Math.min(remaining, maxSlice);
      const start = Math.max(this.link.freeAtMs, head.arrivalMs);
      const end = rate > 0 ? start + (n * 8) / (rate * 1000) : start;
      if (end > now) {
        next = end;
        break;
      }
      const slice =
        n === head.buf.length ? head.buf : head.buf.subarray(this.linkHeadOffset, this.linkHeadOffset + n);
      this.linkHeadOffset += n;
      if (this.linkHeadOffset >= head.buf.length) {
        this.linkQueue.shift();
        this.linkHeadOffset = 0;
      }
      this.link.freeAtMs = end;
      const jitter = this.timing.jitterMs > 0 ? this.random() * this.timing.jitterMs : 0;
      const releaseAt = Math.max(this.lastReleaseMs, end + Math.max(0, this.timing.delayMs) + jitter);
      this.lastReleaseMs = releaseAt;
      this.flight.push({ buf: slice, releaseAtMs: releaseAt });
    }

    // Stage 2: propagation, then the sink.
    if (!this.sinkBlocked) {
      let corked = false;
      for (let head = this.flight.peek(); head !== undefined; head = this.flight.peek()) {
        if (head.releaseAtMs > now) {
          if (head.releaseAtMs < next) next = head.releaseAtMs;
          break;
        }
        this.flight.shift();
        this.heldBytes -= head.buf.length;
        this.forwardedBytes += head.buf.length;
        if (!corked && this.flight.length > 0) {
          this.sink.cork();
          corked = true;
        }
        if (!this.sink.write(head.buf)) {
          this.sinkBlocked = true;
          break;
        }
      }
      if (corked) this.sink.uncork();
    }

    this.updateReading();
    if (this.sourceEnded && this.heldBytes === 0 && !this.sinkEnded && !this.sinkBlocked) {
      this.sinkEnded = true;
      this.sink.end();
    }
    this.arm(next, now);
  }

  private arm(at: number, now: number): void {
    if (at === Number.POSITIVE_INFINITY || this.sinkBlocked) {
      this.clearTimer();
      return;
    }
    if (this.timer !== undefined && this.timerAtMs <= at) return;
    this.clearTimer();
    this.timerAtMs = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAtMs = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, Math.ceil(at - now)),
    );
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
  }

  private updateReading(): void {
    let want: boolean;
    if (this.frozen || this.closed || this.sourceEnded) want = false;
    else if (this.sinkBlocked && this.heldBytes === 0)
      want = false; // fast path waiting for 'drain'
    else if (this.reading) want = this.heldBytes < this.limitBytes();
    else want = this.heldBytes <= this.limitBytes() - this.queueLimitBytes / 2;
    if (want === this.reading) return;
    this.reading = want;
    if (want) this.source.resume();
    else this.source.pause();
  }
}
