/**
 * RelaySampler: samples the byte counters of a set of PathEmulators at a fixed interval and turns
 * them into per-path throughput time series (Mbit/s) ready for ./svg.ts charts, plus the paths'
 * state changes as chart annotations. For `mptcp demo` and lab reports.
 *
 * Contract: one timer for all paths; memory bounded by MAX_SAMPLES per path (older samples are
 * dropped, oldest first); stop() is idempotent and returns the collected series.
 */
import { performance } from 'node:perf_hooks';
import type { PathEmulator, PathEvent } from './relay.js';
import type { Annotation, XYSeries } from './svg.js';

export const DEFAULT_SAMPLE_INTERVAL_MS = 100;
export const MAX_SAMPLES = 100_000;

export type SampledDirection = 'up' | 'down' | 'both';

export interface SamplerResult {
  /** One series per path: x = seconds since start, y = Mbit/s over the preceding interval. */
  throughput: XYSeries[];
  /** State changes (cut, restore, stall, reset) as annotations, x in seconds since start. */
  annotations: Annotation[];
}

interface Track {
  path: PathEmulator;
  lastBytes: number;
  points: Array<[number, number]>;
  onEvent: (e: PathEvent) => void;
}

export class RelaySampler {
  private readonly tracks: Track[];
  private readonly annotations: Annotation[] = [];
  private readonly t0 = performance.now();
  private lastT: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    paths: PathEmulator[],
    private readonly direction: SampledDirection = 'both',
    intervalMs = DEFAULT_SAMPLE_INTERVAL_MS,
  ) {
    if (!(intervalMs >= 1)) throw new RangeError(`intervalMs must be ≥ 1, got ${intervalMs}`);
    this.lastT = this.t0;
    this.tracks = paths.map((path) => {
      const track: Track = {
        path,
        lastBytes: this.bytesOf(path),
        points: [[0, 0]],
        onEvent: (e) => this.onEvent(path, e),
      };
      path.on('event', track.onEvent);
      return track;
    });
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private bytesOf(path: PathEmulator): number {
    const s = path.stats();
    return this.direction === 'up'
      ? s.up.bytes
      : this.direction === 'down'
        ? s.down.bytes
        : s.up.bytes + s.down.bytes;
  }

  private onEvent(path: PathEmulator, e: PathEvent): void {
    if (this.annotations.length >= MAX_SAMPLES) return;
    const x = (performance.now() - this.t0) / 1000;
    if (e.type === 'state' && e.state !== 'closed')
      this.annotations.push({ x, label: `${path.name} ${e.state}` });
    else if (e.type === 'reset') this.annotations.push({ x, label: `${path.name} reset` });
  }

  /** Takes a sample now (also called by the timer). */
  sample(): void {
    const now = performance.now();
    const dt = (now - this.lastT) / 1000;
    if (dt <= 0) return;
    this.lastT = now;
    const x = Math.round(((now - this.t0) / 1000) * 1000) / 1000;
    for (const t of this.tracks) {
      const bytes = this.bytesOf(t.path);
      const mbps = ((bytes - t.lastBytes) * 8) / dt / 1e6;
      t.lastBytes = bytes;
      if (t.points.length >= MAX_SAMPLES) t.points.shift();
      t.points.push([x, Math.round(mbps * 1000) / 1000]);
    }
  }

  stop(): SamplerResult {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.sample();
      for (const t of this.tracks) t.path.off('event', t.onEvent);
    }
    return {
      throughput: this.tracks.map((t) => ({ name: t.path.name, points: t.points })),
      annotations: [...this.annotations],
    };
  }
}
