/**
 * Per-subflow state of the userspace MPTCP core: handshake progress, the data mapped onto the subflow
 * and not yet DATA_ACKed (what is reinjected if it fails), RTT, delivery rate and liveness. Pure data
 * plus small bookkeeping methods; the Connection drives it.
 */
import { FrameDecoder } from './frame.js';
import { RttEstimator } from './rtt.js';
import type { SubflowView } from './scheduler.js';

export type SubflowState =
  /** Client initial subflow: MP_CAPABLE sent, waiting for the server's key. */
  | 'capable-sent'
  /** Server initial subflow: our key sent, waiting for the client's third ACK with both keys. */
  | 'capable-received'
  /** Joining subflow (client): MP_JOIN SYN sent, waiting for the SYN/ACK HMAC. */
  | 'join-sent'
  /** Joining subflow (client): third ACK sent, waiting for the server's acknowledgement. */
  | 'join-ack-sent'
  /** Joining subflow (server): SYN/ACK sent, waiting for the third ACK HMAC. */
  | 'join-received'
  | 'established'
  | 'closed';

/** The smallest in-flight cap of a subflow (bytes): enough for one full frame and the next. */
export const MIN_SUBFLOW_WINDOW_BYTES = 128 * 1024;
/** A receiver acknowledges received data at most this late (ms), unless ACK_EVERY_BYTES come first. */
export const DELAYED_ACK_MS = 2;
/** How many RTTs of delivery rate a subflow may have in flight. */
const WINDOW_RTTS = 2;
/** Shortest interval over which acknowledged bytes become a delivery-rate sample (ms; else one SRTT). */
const MIN_RATE_INTERVAL_MS = 2;

interface MappedRange {
  start: number;
  end: number;
  /** Already queued for reinjection elsewhere while this subflow was suspect (copyOutstanding). */
  copied?: boolean;
}

export class Subflow implements SubflowView {
  state: SubflowState;
  readonly decoder: FrameDecoder;
  readonly rtt = new RttEstimator();
  backup: boolean;
  localAddressId = 0;
  remoteAddressId = 0;
  localNonce = 0;
  remoteNonce = 0;
  /** The adapter's socket refused more (write returned false) until it drains. */
  blocked = false;

  /** Relative subflow sequence number of the next payload byte we send / expect (RFC 8684 §3.3.1). */
  ssnNext = 1;
  ssnExpected = 1;
  /** The peer has received every payload byte below this on this subflow (its subflowAck). */
  ssnAcked = 1;
  /** Payload bytes received on this subflow and not yet acknowledged back on it. */
  ackPendingBytes = 0;

  bytesSent = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  reinjectedBytes = 0;

  /** Data ranges mapped on this subflow, oldest first, not yet DATA_ACKed (reinjected if it fails). */
  private mapped: MappedRange[] = [];
  private mappedHead = 0;
  /** Bytes mapped here and not yet DATA_ACKed. */
  unackedDataBytes = 0;
  /** Bytes of this subflow queued for reinjection elsewhere while it was suspect (copyOutstanding). */
  copiedBytes = 0;
  /** Whether the DATA_FIN was sent on this subflow and is not yet acknowledged. */
  carriesFin = false;

  /** TSval of the last frame received (echoed in TSecr), µs mod 2^32. */
  tsRecent = 0;
  lastHeardAtMs: number;
  /** When the oldest outstanding data was sent (the subflow went from idle to busy). */
  busySinceMs: number | undefined;
  /** The peer has acknowledged progress since the subflow last went from idle to busy. */
  answeredSinceBusy = false;
  probeSentAtMs: number | undefined;
  /** When we last acknowledged on this subflow that a frame is still arriving (a slow path). */
  progressAckAtMs = Number.NEGATIVE_INFINITY;
  readonly createdAtMs: number;
  establishedAtMs: number | undefined;
  /** Last rto value reported in a 'subflow-timeout' event. */
  reportedRtoMs = 0;

  deliveryRateBps = 0;
  private rateIntervalStartMs: number;
  /** When the subflow last had nothing in flight (its idle time is left out of rate samples). */
  private idleSinceMs: number;
  private rateIntervalBytes = 0;
  /** MP_TCPRST reason code received from the peer, if any. */
  peerResetReason: number | undefined;

  constructor(
    readonly id: number,
    readonly initial: boolean,
    state: SubflowState,
    backup: boolean,
    nowMs: number,
    decoder: FrameDecoder = new FrameDecoder(true),
  ) {
    this.state = state;
    this.backup = backup;
    this.decoder = decoder;
    this.lastHeardAtMs = nowMs;
    this.createdAtMs = nowMs;
    this.rateIntervalStartMs = nowMs;
    this.idleSinceMs = nowMs;
  }

  get usable(): boolean {
    return this.state === 'established';
  }

  get srttMs(): number | undefined {
    return this.rtt.srttMs;
  }

  get rttVarMs(): number {
    return this.rtt.rttVarMs;
  }

  /**
   * In-flight cap: two path RTTs of measured delivery rate (2 × the bandwidth-delay product, as BBR's
   * cwnd), never below MIN_SUBFLOW_WINDOW_BYTES. The path RTT leaves out the queue: a window from
   * SRTT would grow with the queue it builds (SRTT = window ÷ rate once the path is full), so data
   * would pile up in the socket and the bottleneck, where reinjected bytes wait behind it.
   */
  get windowBytes(): number {
    // The peer acknowledges up to DELAYED_ACK_MS late; the window covers that too, or a window-limited
    // subflow would be ack-clocked by the peer's timer and shrink (rate = window ÷ (RTT + delay)).
    const rtt = (this.rtt.pathRttMs ?? this.rtt.srttMs ?? 0) + DELAYED_ACK_MS;
    return Math.max(MIN_SUBFLOW_WINDOW_BYTES, (WINDOW_RTTS * this.deliveryRateBps * rtt) / 1000);
  }

  /** Payload bytes sent on this subflow that the peer has not acknowledged on it (subflow level). */
  get inFlightBytes(): number {
    return this.ssnNext - this.ssnAcked;
  }

  /**
   * Room for more data: established, not blocked, under its window, and not suspect (a liveness
   * probe pending while data is outstanding: more data would only follow the rest into a dead path).
   */
  get windowOpen(): boolean {
    const inFlight = this.inFlightBytes;
    return (
      this.state === 'established' &&
      !this.blocked &&
      (this.probeSentAtMs === undefined || inFlight === 0) &&
      inFlight < this.windowBytes
    );
  }

  /** Records `start..end` as mapped on this subflow and sent as its next payload bytes. */
  map(start: number, end: number, nowMs: number): void {
    const last = this.mapped[this.mapped.length - 1];
    if (last && last.end === start && !last.copied && this.mapped.length > this.mappedHead) last.end = end;
    else this.mapped.push({ start, end });
    if (this.inFlightBytes === 0) {
      this.busySinceMs = nowMs;
      this.answeredSinceBusy = false;
      // Idle time is no measure of the path: the rate interval leaves it out.
      this.rateIntervalStartMs += nowMs - Math.max(this.idleSinceMs, this.rateIntervalStartMs);
    }
    this.unackedDataBytes += end - start;
    this.ssnNext += end - start;
    this.bytesSent += end - start;
  }

  /**
   * The peer's subflow-level acknowledgement. Returns the bytes newly acknowledged, or -1 when it
   * acknowledges bytes never sent (a protocol violation).
   */
  onSubflowAck(ack: number, nowMs: number): number {
    // Relative SSNs are 32-bit on the wire; expand around what we have sent.
    const expanded = this.ssnNext - ((this.ssnNext - ack) >>> 0);
    if (expanded > this.ssnNext || expanded < this.ssnAcked - 2 ** 31) return -1;
    if (expanded <= this.ssnAcked) return 0;
    const delivered = expanded - this.ssnAcked;
    this.ssnAcked = expanded;
    this.answeredSinceBusy = true;
    this.busySinceMs = this.inFlightBytes > 0 ? nowMs : undefined;
    this.rateIntervalBytes += delivered;
    this.updateRate(nowMs);
    if (this.inFlightBytes === 0) this.idleSinceMs = nowMs;
    return delivered;
  }

  /** Releases everything below the cumulative DATA_ACK `ack`; returns the bytes newly acknowledged here. */
  ack(ack: number): number {
    let released = 0;
    while (this.mappedHead < this.mapped.length) {
      const r = this.mapped[this.mappedHead]!;
      if (r.start >= ack) break;
      if (r.end <= ack) {
        released += r.end - r.start;
        this.mappedHead++;
      } else {
        released += ack - r.start;
        r.start = ack;
        break;
      }
    }
    if (this.mappedHead > 64 && this.mappedHead * 2 > this.mapped.length) {
      this.mapped = this.mapped.slice(this.mappedHead);
      this.mappedHead = 0;
    }
    if (released > 0) {
      this.unackedDataBytes -= released;
      this.bytesAcked += released;
    }
    return released;
  }

  /**
   * Copies of the outstanding ranges not copied before, which are marked copied (for reinjection on
   * other subflows while this one is suspect; it keeps them until acknowledged or failed).
   */
  copyOutstanding(): MappedRange[] {
    const out: MappedRange[] = [];
    for (let i = this.mappedHead; i < this.mapped.length; i++) {
      const r = this.mapped[i]!;
      if (r.copied) continue;
      r.copied = true;
      out.push({ start: r.start, end: r.end });
    }
    return out;
  }


  /**
   * Removes and returns every outstanding range (for reinjection when the subflow fails); those
   * marked `copied` are queued elsewhere already.
   */
  takeOutstanding(): MappedRange[] {
    const out = this.mapped.slice(this.mappedHead);
    this.mapped = [];
    this.mappedHead = 0;
    this.unackedDataBytes = 0;
    this.ssnAcked = this.ssnNext;
    this.busySinceMs = undefined;
    return out;
  }

  private updateRate(nowMs: number): void {
    const elapsed = nowMs - this.rateIntervalStartMs;
    const interval = Math.max(MIN_RATE_INTERVAL_MS, this.rtt.srttMs ?? 0);
    if (elapsed < interval) return;
    // Idle time (nothing in flight) is not a measure of the path: skip such intervals.
    if (this.rateIntervalBytes > 0) {
      const sample = (this.rateIntervalBytes * 1000) / elapsed;
      // Increases are taken at once (a window-limited subflow then doubles its rate per interval,
      // like slow start); decreases are smoothed, so one short interval does not shrink the window.
      this.deliveryRateBps =
        sample > this.deliveryRateBps ? sample : 0.75 * this.deliveryRateBps + 0.25 * sample;
    }
    this.rateIntervalStartMs = nowMs;
    this.rateIntervalBytes = 0;
  }
}
