/**
 * Per-subflow state of the userspace MPTCP core: handshake progress, the data mapped onto the subflow
 * and not yet DATA_ACKed (what is reinjected if it fails), RTT, delivery rate and liveness, and the two
 * sizes the sender takes from them: the in-flight cap (`windowBytes`) and the largest frame payload
 * (`frameLimitBytes`). Pure data plus small bookkeeping methods; the Connection drives it.
 *
 * Sizing rule. Both sizes follow `pathRateBps`, the delivery rate measured while the subflow was
 * window- or socket-limited (so the path, not the application, set the pace); 0 until then.
 * - frame: INITIAL_FRAME_BYTES (16 KiB) until the rate is known; then about 1 ms of the rate within
 *   [64 KiB, 256 KiB] (fewer, larger frames cost less per byte on fast paths), but at most 10 ms of the
 *   rate (SLOW_FRAME_AIRTIME_MS) and at least 4 KiB (MIN_FRAME_BYTES). A frame reaches the peer's
 *   application, and is acknowledged, only once complete: its airtime is latency for every byte in it
 *   and part of every RTT sample (a 64 KiB frame is 131 ms at 4 Mbit/s).
 * - window: max(floor, 2 × deliveryRate × (path RTT + 2 ms)); floor = 128 KiB until the rate is known,
 *   then 2 frames where frames are below 64 KiB (rates under 6.5 MB/s = 52 Mbit/s), else 128 KiB as
 *   before. A fixed 128 KiB on a 4 Mbit/s path is a standing queue of 260 ms that reinjected bytes
 *   wait behind after a failover, that delays every byte sent there, and that inflates the SRTT the
 *   schedulers compare. Two frames keep the link busy while the first one's acknowledgement returns.
 * - a subflow with room takes a whole frame, so it may pass its window by less than one frame.
 */
import { FrameDecoder, MAX_MAPPED_BYTES } from './frame.js';
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

/**
 * The in-flight cap of a subflow until its rate is measured, and its floor afterwards unless frames
 * are smaller than a DSS mapping (bytes): a start for the rate to grow from (doubling per interval).
 */
export const MIN_SUBFLOW_WINDOW_BYTES = 128 * 1024;
/**
 * Frame payload until the rate is measured (bytes): about TCP's initial window (10 segments). 4 Mbit/s
 * carries it in 33 ms, where a 64 KiB frame took 131 ms to reach the receiver (the first bytes onto
 * an unmeasured backup subflow after a failover wait for the whole frame); fast paths measure their
 * rate within milliseconds and leave it.
 */
export const INITIAL_FRAME_BYTES = 16 * 1024;
/**
 * Once the rate is measured and makes frames smaller than a DSS mapping, the window's floor is this
 * many frames: acknowledgements cover whole frames, so with one frame in flight the link would idle
 * while its acknowledgement comes back; with two it carries the second meanwhile.
 */
export const MIN_WINDOW_FRAMES = 2;
/** A large frame takes at most about this long to arrive at its subflow's rate (ms)... */
export const FRAME_AIRTIME_MS = 1;
/** ...and carries at most this payload (bytes; MAX_PAYLOAD_BYTES is what a receiver accepts). */
export const LARGE_FRAME_BYTES = 256 * 1024;
/**
 * A frame smaller than a DSS mapping's 64 KiB takes at most this long at the subflow's rate (ms): its
 * airtime is latency for every byte in it (the receiver delivers and acknowledges whole frames).
 */
export const SLOW_FRAME_AIRTIME_MS = 10;
/** ...but carries at least this payload (bytes): below it the ~50 bytes of framing per frame cost > 1 %. */
export const MIN_FRAME_BYTES = 4 * 1024;
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
  private blockedValue = false;

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
  /**
   * The path's rate (bytes/s) as far as it is known: samples of intervals in which the subflow filled
   * its window or its socket (so the path, not the application or the scheduler, set the pace;
   * decreases smoothed), and higher samples of any interval once there is one. 0 until the first such
   * sample: a subflow that only ever carried a trickle has not measured its path, and keeps the
   * initial sizes (a trickle's rate as the path's would shrink the window a later burst starts with).
   */
  pathRateBps = 0;
  /** The subflow filled its window, or its socket refused more, during the current rate interval. */
  private rateIntervalPathLimited = false;
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

  /** The adapter's socket refused more (write returned false) until it drains. */
  get blocked(): boolean {
    return this.blockedValue;
  }

  set blocked(blocked: boolean) {
    this.blockedValue = blocked;
    // A full socket means the path, not the application, sets the pace: a rate sample of the path.
    if (blocked) this.rateIntervalPathLimited = true;
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
   * cwnd), never below a floor: MIN_SUBFLOW_WINDOW_BYTES, or MIN_WINDOW_FRAMES frames once the path's
   * measured rate makes frames smaller than a DSS mapping (below 6.5 MB/s). The path RTT leaves out
   * the queue: a window from SRTT would grow with the queue it builds (SRTT = window ÷ rate once the
   * path is full), so data would pile up in the socket and the bottleneck, where reinjected bytes wait
   * behind it. The floor follows the rate for the same reason: a fixed 128 KiB is 260 ms of queue at
   * 4 Mbit/s. Two frames (≤ 2 × SLOW_FRAME_AIRTIME_MS of airtime) still fill a path whose
   * bandwidth-delay product is smaller; a larger one is covered by the rate term.
   */
  get windowBytes(): number {
    // The peer acknowledges up to DELAYED_ACK_MS late; the window covers that too, or a window-limited
    // subflow would be ack-clocked by the peer's timer and shrink (rate = window ÷ (RTT + delay)).
    const rtt = (this.rtt.pathRttMs ?? this.rtt.srttMs ?? 0) + DELAYED_ACK_MS;
    const frame = this.frameLimitBytes;
    // Measured frames below a DSS mapping's size (< 6.5 MB/s): 2 of them are less than
    // MIN_SUBFLOW_WINDOW_BYTES, which stays the floor of every other subflow.
    const floor =
      this.pathRateBps > 0 && frame < MAX_MAPPED_BYTES ? MIN_WINDOW_FRAMES * frame : MIN_SUBFLOW_WINDOW_BYTES;
    return Math.max(floor, (WINDOW_RTTS * this.deliveryRateBps * rtt) / 1000);
  }

  /**
   * The largest frame payload for this subflow (bytes). Until the path's rate is measured,
   * INITIAL_FRAME_BYTES. Then about FRAME_AIRTIME_MS of the rate between MAX_MAPPED_BYTES
   * and LARGE_FRAME_BYTES (a fast subflow saves per-frame work with large frames), but on a subflow
   * slower than that makes sensible (below 6.5 MB/s) at most SLOW_FRAME_AIRTIME_MS of its rate, and at
   * least MIN_FRAME_BYTES: a frame reaches the receiver's application and is acknowledged only once
   * complete, so its airtime is added to the latency of its bytes and to the RTT samples.
   */
  get frameLimitBytes(): number {
    const rate = this.pathRateBps;
    if (rate <= 0) return INITIAL_FRAME_BYTES;
    const large = Math.min(
      LARGE_FRAME_BYTES,
      Math.max(MAX_MAPPED_BYTES, Math.floor((rate * FRAME_AIRTIME_MS) / 1000)),
    );
    const bounded = Math.max(MIN_FRAME_BYTES, Math.floor((rate * SLOW_FRAME_AIRTIME_MS) / 1000));
    return Math.min(large, bounded);
  }

  /** Payload bytes sent on this subflow that the peer has not acknowledged on it (subflow level). */
  get inFlightBytes(): number {
    return this.ssnNext - this.ssnAcked;
  }

  /**
   * Room for more data: established, not blocked, under its window, and not suspect (a liveness
   * probe pending while data is outstanding: more data would only follow the rest into a dead path).
   * A subflow with room takes a whole frame (up to frameLimitBytes), so its in-flight bytes may pass
   * the window by less than one frame: acknowledgements free whole frames, and capping a frame at the
   * room left sent a sliver after every frame (each with ~50 bytes of framing, and one more RTT
   * sample), while stopping short of the window instead left a slow path idle when its window is not
   * a whole number of frames (85 % of a 2 Mbit/s path with 20 ms RTT).
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
    if (this.inFlightBytes >= this.windowBytes) this.rateIntervalPathLimited = true;
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
      // An interval in which the window never filled measured the application (or the scheduler's
      // choices), not the path: it is only a lower bound, so it may raise a known path rate, no more.
      if (this.rateIntervalPathLimited) {
        this.pathRateBps = sample > this.pathRateBps ? sample : 0.75 * this.pathRateBps + 0.25 * sample;
      } else if (this.pathRateBps > 0 && sample > this.pathRateBps) {
        this.pathRateBps = sample;
      }
    }
    this.rateIntervalStartMs = nowMs;
    this.rateIntervalBytes = 0;
    // Bytes still in flight from a full window keep the next interval window-limited.
    this.rateIntervalPathLimited =
      this.inFlightBytes > 0 && (this.blockedValue || this.inFlightBytes >= this.windowBytes);
  }
}
