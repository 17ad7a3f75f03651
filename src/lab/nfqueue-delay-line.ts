/**
 * The delay line behind the NFQUEUE delay emulator: a FIFO of queued packet ids with their release
 * times. Pure logic (time and randomness are passed in), no I/O.
 *
 * Contract:
 * - `arrive(id, nowMs, random)` decides a packet's fate: dropped with probability lossPct/100
 *   (returns 'drop', the packet is not held), or held until
 *   releaseAt = max(previous releaseAt, nowMs + max(0, delayMs + jitter)), jitter uniform in
 *   [-jitterMs, +jitterMs]. Release times never decrease, so packets leave in arrival order (per
 *   queue, hence per flow): no reordering, and one batch verdict "everything up to id X" is exact.
 * - `popDue(nowMs)` removes every held packet whose releaseAt ≤ nowMs and returns the id of the
 *   last one (undefined when none is due); `popAll()` does the same for every held packet.
 * - At most `maxHeld` packets are held; an arrival beyond that is reported as 'overflow' (the
 *   caller drops it), which also bounds memory.
 * - `setDelay` affects packets that arrive afterwards; packets already held keep their times.
 */

export const DEFAULT_MAX_HELD_PACKETS = 65_536;

export interface DelayConfig {
  /** Mean one-way delay added to each packet, ms (≥ 0). */
  delayMs: number;
  /** Uniform jitter amplitude, ms: each packet gets delayMs ± jitterMs (clamped at 0). */
  jitterMs?: number;
  /** Random loss, percent of packets (0..100). */
  lossPct?: number;
}

export class DelayLineError extends Error {
  override readonly name = 'DelayLineError';
}

export function checkDelayConfig(c: DelayConfig): Required<DelayConfig> {
  const jitterMs = c.jitterMs ?? 0;
  const lossPct = c.lossPct ?? 0;
  if (!(Number.isFinite(c.delayMs) && c.delayMs >= 0))
    throw new DelayLineError(`delayMs must be ≥ 0, got ${c.delayMs}`);
  if (!(Number.isFinite(jitterMs) && jitterMs >= 0))
    throw new DelayLineError(`jitterMs must be ≥ 0, got ${jitterMs}`);
  if (!(Number.isFinite(lossPct) && lossPct >= 0 && lossPct <= 100))
    throw new DelayLineError(`lossPct must be in [0, 100], got ${lossPct}`);
  return { delayMs: c.delayMs, jitterMs, lossPct };
}

export type Arrival = number | 'drop' | 'overflow';

export class DelayLine {
  private config: Required<DelayConfig>;
  private ids: number[] = [];
  private times: number[] = [];
  private head = 0;
  private lastRelease = Number.NEGATIVE_INFINITY;

  constructor(
    config: DelayConfig,
    readonly maxHeld = DEFAULT_MAX_HELD_PACKETS,
  ) {
    this.config = checkDelayConfig(config);
  }

  get size(): number {
    return this.ids.length - this.head;
  }

  get settings(): Readonly<Required<DelayConfig>> {
    return this.config;
  }

  setDelay(delayMs: number, jitterMs = this.config.jitterMs, lossPct = this.config.lossPct): void {
    this.config = checkDelayConfig({ delayMs, jitterMs, lossPct });
  }

  /** Holds (returns its release time) or drops packet `id` arriving at `nowMs`. */
  arrive(id: number, nowMs: number, random: () => number): Arrival {
    const { delayMs, jitterMs, lossPct } = this.config;
    if (lossPct > 0 && random() * 100 < lossPct) return 'drop';
    if (this.size >= this.maxHeld) return 'overflow';
    const jitter = jitterMs > 0 ? (random() * 2 - 1) * jitterMs : 0;
    const releaseAt = Math.max(this.lastRelease, nowMs + Math.max(0, delayMs + jitter));
    this.lastRelease = releaseAt;
    this.ids.push(id);
    this.times.push(releaseAt);
    return releaseAt;
  }

  /** Release time of the oldest held packet, or undefined when none is held. */
  nextReleaseAt(): number | undefined {
    return this.head < this.times.length ? this.times[this.head] : undefined;
  }

  /** Removes every packet due at `nowMs`; returns the last one's id, or undefined. */
  popDue(nowMs: number): number | undefined {
    let last: number | undefined;
    while (this.head < this.times.length && this.times[this.head]! <= nowMs) {
      last = this.ids[this.head];
      this.head++;
    }
    this.compact();
    return last;
  }

  /** Removes every held packet; returns the last one's id, or undefined when none was held. */
  popAll(): number | undefined {
    const last = this.size > 0 ? this.ids[this.ids.length - 1] : undefined;
    this.ids = [];
    this.times = [];
    this.head = 0;
    return last;
  }

  private compact(): void {
    if (this.head === this.ids.length) {
      this.ids.length = 0;
      this.times.length = 0;
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }
}
