/**
 * PathEmulator: a userspace emulated network path, as a loopback TCP relay. No root needed; used
 * by `mptcp demo`, by the userspace MPTCP tests and by CI.
 *
 * Contract:
 * - Listens on listenHost:listenPort; each accepted connection is relayed to targetHost:targetPort,
 *   both directions through a RelayPipe (./relay-pipe.ts): one-way delay + jitter (order kept,
 *   never below the configured delay), a rate limit modelled as link serialization (one link per
 *   direction, shared by all connections of the path), and a bounded
 *   queue per direction (queueLimitBytes, plus rate × delay in flight on a rate-limited path)
 *   enforced by pausing the source — bytes are never dropped and never buffered without bound.
 *   Without a rate, queueLimitBytes is a window: throughput ≤ queueLimitBytes / delayMs.
 * - cut(): a pulled cable. Nothing is forwarded or read in either direction, no socket is closed,
 *   queued bytes stay queued; connections accepted while cut hang (no onward connect) until
 *   restore(). stall(ms) is a cut that restores itself after ms (an explicit cut wins over it).
 * - reset(): every relayed connection is destroyed with RST on both sides.
 * - setRate / setDelay apply from now on (the slice on the link is re-timed).
 * - schedule: timed actions relative to start(), run in (atMs, list) order on one chained timer.
 * - stats() is a snapshot; 'event' (PathEvent records) reports state changes and connections.
 * - close() stops listening and destroys every connection; it is idempotent.
 * Packet-level effects (loss, reordering) are outside a TCP relay's reach: use the netns lab.
 */
import { EventEmitter } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type PathTiming, RelayPipe, type SharedLink } from './relay-pipe.js';

export const DEFAULT_QUEUE_LIMIT_BYTES = 256 * 1024;

export class PathEmulatorError extends Error {
  override readonly name = 'PathEmulatorError';
}

export type PathAction = 'cut' | 'restore' | 'reset' | 'stall' | 'rate' | 'delay';

/** A timed action. value: stall → ms; rate → Mbit/s (0 = unlimited); delay → ms. */
export interface PathScheduleEntry {
  atMs: number;
  action: PathAction;
  value?: number;
}

export type PathState = 'up' | 'cut' | 'stalled' | 'closed';

export interface PathEmulatorOptions {
  name: string;
  listenHost?: string;
  listenPort?: number;
  targetHost: string;
  targetPort: number;
  delayMs?: number;
  jitterMs?: number;
  /** Mbit/s; undefined or 0: unlimited. */
  rateMbps?: number;
  queueLimitBytes?: number;
  schedule?: PathScheduleEntry[];
  /** For deterministic jitter in tests. */
  random?: () => number;
}

/** What 'event' listeners receive. tMs is relative to start. */
export interface PathEvent {
  tMs: number;
  path: string;
  type: 'state' | 'connection' | 'connection-closed' | 'reset' | 'rate' | 'delay' | 'schedule' | 'error';
  state?: PathState;
  connectionId?: number;
  value?: number;
  detail?: string;
}

export interface DirectionStats {
  bytes: number;
  queuedBytes: number;
  maxQueuedBytes: number;
}

export interface PathStats {
  name: string;
  state: PathState;
  port: number;
  connectionsAccepted: number;
  connectionsActive: number;
  /** client → target */
  up: DirectionStats;
  /** target → client */
  down: DirectionStats;
  delayMs: number;
  jitterMs: number;
  rateMbps: number;
}

interface Relayed {
  id: number;
  client: Socket;
  upstream?: Socket;
  up?: RelayPipe;
  down?: RelayPipe;
}

function checkNonNegative(what: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
    throw new PathEmulatorError(`${what} must be a finite number ≥ 0, got ${v}`);
  }
}

export class PathEmulator extends EventEmitter {
  readonly name: string;
  private readonly server: Server;
  private readonly timing: PathTiming;
  private readonly queueLimitBytes: number;
  private readonly random: () => number;
  private readonly conns = new Map<number, Relayed>();
  /** One link per direction, shared by all connections: they split the rate. */
  private readonly upLink: SharedLink = { freeAtMs: 0 };
  private readonly downLink: SharedLink = { freeAtMs: 0 };
  private state: PathState = 'up';
  private nextId = 1;
  private accepted = 0;
  private startedAt = performance.now();
  private stallTimer: NodeJS.Timeout | undefined;
  private scheduleTimer: NodeJS.Timeout | undefined;
  /** Totals of finished connections, so stats() stays cumulative. */
  private readonly finished = { up: 0, down: 0, maxUp: 0, maxDown: 0 };
  private listenPort = 0;

  private constructor(private readonly opts: PathEmulatorOptions) {
    super();
    checkNonNegative('delayMs', opts.delayMs);
    checkNonNegative('jitterMs', opts.jitterMs);
    checkNonNegative('rateMbps', opts.rateMbps);
    if (opts.queueLimitBytes !== undefined && !(opts.queueLimitBytes >= 1024)) {
      throw new PathEmulatorError(`queueLimitBytes must be ≥ 1024, got ${opts.queueLimitBytes}`);
    }
    for (const e of opts.schedule ?? []) {
      checkNonNegative('schedule atMs', e.atMs);
      if (!['cut', 'restore', 'reset', 'stall', 'rate', 'delay'].includes(e.action)) {
        throw new PathEmulatorError(`unknown schedule action '${e.action}'`);
      }
      if ((e.action === 'stall' || e.action === 'rate' || e.action === 'delay') && e.value === undefined) {
        throw new PathEmulatorError(`schedule action '${e.action}' needs a value`);
      }
      checkNonNegative(`schedule ${e.action} value`, e.value);
    }
    this.name = opts.name;
    this.timing = { delayMs: opts.delayMs ?? 0, jitterMs: opts.jitterMs ?? 0, rateMbps: opts.rateMbps ?? 0 };
    this.queueLimitBytes = opts.queueLimitBytes ?? DEFAULT_QUEUE_LIMIT_BYTES;
    this.random = opts.random ?? Math.random;
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.onAccept(s));
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(opts: PathEmulatorOptions): Promise<PathEmulator> {
    const path = new PathEmulator(opts);
    await new Promise<void>((resolve, reject) => {
      path.server.once('error', reject);
      path.server.listen(opts.listenPort ?? 0, opts.listenHost ?? '127.0.0.1', () => {
        path.server.off('error', reject);
        resolve();
      });
    });
    path.server.on('error', (err) => path.emitEvent({ type: 'error', detail: err.message }));
    const addr = path.server.address();
    path.listenPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
    path.startedAt = performance.now();
    path.startSchedule();
    return path;
  }

  get port(): number {
    return this.listenPort;
  }

  stats(): PathStats {
    let up = this.finished.up;
    let down = this.finished.down;
    let qUp = 0;
    let qDown = 0;
    let maxUp = this.finished.maxUp;
    let maxDown = this.finished.maxDown;
    for (const c of this.conns.values()) {
      if (c.up) {
        up += c.up.forwardedBytes;
        qUp += c.up.heldBytes;
        maxUp = Math.max(maxUp, c.up.maxHeldBytes);
      }
      if (c.down) {
        down += c.down.forwardedBytes;
        qDown += c.down.heldBytes;
        maxDown = Math.max(maxDown, c.down.maxHeldBytes);
      }
    }
    return {
      name: this.name,
      state: this.state,
      port: this.listenPort,
      connectionsAccepted: this.accepted,
      connectionsActive: this.conns.size,
      up: { bytes: up, queuedBytes: qUp, maxQueuedBytes: maxUp },
      down: { bytes: down, queuedBytes: qDown, maxQueuedBytes: maxDown },
      ...this.timing,
    };
  }

  cut(): void {
    if (this.state === 'closed') return;
    this.clearStall();
    if (this.state === 'up') this.forEachPipe((p) => p.freeze());
    this.setState('cut');
  }

  restore(): void {
    if (this.state !== 'cut' && this.state !== 'stalled') return;
    this.clearStall();
    this.setState('up');
    for (const c of this.conns.values()) {
      if (c.upstream === undefined) this.connectOnward(c);
    }
    this.forEachPipe((p) => p.thaw());
  }

  /** Stops forwarding for ms, then resumes (unless cut() or restore() intervened). */
  stall(ms: number): void {
    checkNonNegative('stall ms', ms);
    if (this.state === 'closed' || this.state === 'cut') return;
    this.clearStall();
    if (this.state === 'up') this.forEachPipe((p) => p.freeze());
    this.setState('stalled');
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.state === 'stalled') this.restore();
    }, ms);
  }

  reset(): void {
    const n = this.conns.size;
    for (const c of [...this.conns.values()]) this.destroyConnection(c, true);
    this.emitEvent({ type: 'reset', value: n });
  }

  setRate(mbps: number): void {
    checkNonNegative('rateMbps', mbps);
    this.timing.rateMbps = mbps;
    this.forEachPipe((p) => p.retime());
    this.emitEvent({ type: 'rate', value: mbps });
  }

  setDelay(ms: number, jitterMs?: number): void {
    checkNonNegative('delayMs', ms);
    checkNonNegative('jitterMs', jitterMs);
    this.timing.delayMs = ms;
    if (jitterMs !== undefined) this.timing.jitterMs = jitterMs;
    this.forEachPipe((p) => p.retime()); // the queue bound may have changed
    this.emitEvent({ type: 'delay', value: ms });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.clearStall();
    if (this.scheduleTimer !== undefined) clearTimeout(this.scheduleTimer);
    this.setState('closed');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of [...this.conns.values()]) this.destroyConnection(c, false);
    await closed;
  }

  // ---- internals ----

  private onAccept(client: Socket): void {
    if (this.state === 'closed') {
      client.destroy();
      return;
    }
    const c: Relayed = { id: this.nextId++, client };
    this.accepted++;
    this.conns.set(c.id, c);
    client.setNoDelay(true);
    client.on('error', (err) => this.onSocketError(c, err));
    client.on('close', () => this.maybeFinished(c));
    this.emitEvent({ type: 'connection', connectionId: c.id });
    if (this.state !== 'cut') this.connectOnward(c); // while cut the client hangs until restore()
  }

  private connectOnward(c: Relayed): void {
    const upstream = connect({
      host: this.opts.targetHost,
      port: this.opts.targetPort,
      allowHalfOpen: true,
      noDelay: true,
    });
    c.upstream = upstream;
    upstream.pause();
    upstream.on('error', (err) => this.onSocketError(c, err));
    upstream.on('close', () => this.maybeFinished(c));
    upstream.once('connect', () => {
      if (!this.conns.has(c.id)) return;
      c.up = new RelayPipe(c.client, upstream, this.timing, this.upLink, this.queueLimitBytes, this.random);
      c.down = new RelayPipe(
        upstream,
        c.client,
        this.timing,
        this.downLink,
        this.queueLimitBytes,
        this.random,
      );
      if (this.state !== 'up') {
        c.up.freeze();
        c.down.freeze();
      }
      c.up.start();
      c.down.start();
    });
  }

  private onSocketError(c: Relayed, err: Error): void {
    this.emitEvent({ type: 'error', connectionId: c.id, detail: err.message });
    // Mirror the failure on the other side: a reset or refused connection resets the peer.
    this.destroyConnection(c, true);
  }

  private destroyConnection(c: Relayed, rst: boolean): void {
    for (const s of [c.client, c.upstream]) {
      if (s === undefined || s.destroyed) continue;
      if (rst) s.resetAndDestroy();
      else s.destroy();
    }
    this.finish(c);
  }

  private maybeFinished(c: Relayed): void {
    const upstreamGone = c.upstream === undefined || c.upstream.destroyed;
    if (c.client.destroyed && upstreamGone) this.finish(c);
  }

  private finish(c: Relayed): void {
    if (!this.conns.delete(c.id)) return;
    if (c.up) {
      c.up.close();
      this.finished.up += c.up.forwardedBytes;
      this.finished.maxUp = Math.max(this.finished.maxUp, c.up.maxHeldBytes);
    }
    if (c.down) {
      c.down.close();
      this.finished.down += c.down.forwardedBytes;
      this.finished.maxDown = Math.max(this.finished.maxDown, c.down.maxHeldBytes);
    }
    this.emitEvent({ type: 'connection-closed', connectionId: c.id });
  }

  private forEachPipe(fn: (p: RelayPipe) => void): void {
    for (const c of this.conns.values()) {
      if (c.up) fn(c.up);
      if (c.down) fn(c.down);
    }
  }

  private clearStall(): void {
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private setState(s: PathState): void {
    if (s === this.state) return;
    this.state = s;
    this.emitEvent({ type: 'state', state: s });
  }

  private emitEvent(e: Omit<PathEvent, 'tMs' | 'path'>): void {
    const ev: PathEvent = {
      tMs: Math.round((performance.now() - this.startedAt) * 1000) / 1000,
      path: this.name,
      ...e,
    };
    this.emit('event', ev);
  }

  private startSchedule(): void {
    const entries = [...(this.opts.schedule ?? [])]
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.atMs - b.e.atMs || a.i - b.i)
      .map((x) => x.e);
    let next = 0;
    const runDue = (): void => {
      this.scheduleTimer = undefined;
      const elapsed = performance.now() - this.startedAt;
      while (next < entries.length && entries[next]!.atMs <= elapsed + 0.5) {
        const e = entries[next++]!;
        if (this.state === 'closed') return;
        this.emitEvent({ type: 'schedule', detail: e.action, value: e.value });
        this.apply(e);
      }
      if (next < entries.length && this.state !== 'closed') {
        const wait = entries[next]!.atMs - (performance.now() - this.startedAt);
        this.scheduleTimer = setTimeout(runDue, Math.max(0, Math.ceil(wait)));
      }
    };
    // Even atMs 0 runs on a timer, after start() resolved and listeners could attach.
    if (entries.length > 0) this.scheduleTimer = setTimeout(runDue, Math.max(0, Math.ceil(entries[0]!.atMs)));
  }

  private apply(e: PathScheduleEntry): void {
    switch (e.action) {
      case 'cut':
        this.cut();
        break;
      case 'restore':
        this.restore();
        break;
      case 'reset':
        this.reset();
        break;
      case 'stall':
        this.stall(e.value ?? 0);
        break;
      case 'rate':
        this.setRate(e.value ?? 0);
        break;
      case 'delay':
        this.setDelay(e.value ?? 0);
        break;
    }
  }
}

/** Per-path settings for startPathEmulators (the target is common to all paths). */
export type PathSettings = Omit<PathEmulatorOptions, 'targetHost' | 'targetPort'>;

/**
 * Starts one PathEmulator per entry, all relaying to the same target (e.g. the paths of a
 * scenarios/topologies file: { name, rateMbps, delayMs, jitterMs }; a lossPct is not representable
 * in a TCP relay and must be dropped by the caller). If one fails to start, the ones already
 * started are closed and the error is rethrown.
 */
export async function startPathEmulators(
  target: { host: string; port: number },
  paths: readonly PathSettings[],
): Promise<PathEmulator[]> {
  const started: PathEmulator[] = [];
  try {
    for (const p of paths) {
      started.push(await PathEmulator.start({ ...p, targetHost: target.host, targetPort: target.port }));
    }
    return started;
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}
