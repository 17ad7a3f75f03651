/**
 * An in-memory, virtual-clock harness for the sans-IO core: one client Connection and one server
 * Listener joined by emulated subflows (reliable in-order byte pipes with a one-way delay, an optional
 * rate, and faults: silent cut, restore, kill). Deterministic given its inputs; used by the tests,
 * and usable by simulations of schedulers and path managers.
 */
import { Connection, type ConnectionOptions } from '../core/connection.js';
import type { ConnectionEvent } from '../core/events.js';
import { Listener } from '../core/listener.js';

export interface SimPathOptions {
  /** One-way delay, ms. */
  delayMs: number;
  /** Bytes per ms (undefined: unlimited). */
  rateBytesPerMs?: number;
  backup?: boolean;
}

interface Delivery {
  at: number;
  bytes: Uint8Array;
  /** The sender closed its socket after these bytes (an orderly FIN, or a reset). */
  close?: 'closed' | 'reset';
}

class Pipe {
  queue: Delivery[] = [];
  private lastAt = 0;
  private linkFreeAt = 0;
  held = false;

  constructor(
    public delayMs: number,
    public rateBytesPerMs: number | undefined,
  ) {}

  send(now: number, bytes: Uint8Array): void {
    if (!this.rateBytesPerMs) {
      const at = Math.max(this.lastAt, now + this.delayMs);
      this.lastAt = at;
      this.queue.push({ at, bytes });
      return;
    }
    // A rate-limited link delivers segment by segment, as TCP does: a large frame trickles in.
    for (let i = 0; i < bytes.length || i === 0; i += SEGMENT_BYTES) {
      const segment = bytes.subarray(i, i + SEGMENT_BYTES);
      this.linkFreeAt = Math.max(now, this.linkFreeAt) + segment.length / this.rateBytesPerMs;
      const at = Math.max(this.lastAt, this.linkFreeAt + this.delayMs);
      this.lastAt = at;
      this.queue.push({ at, bytes: segment });
    }
  }

  /** The sender's FIN (or RST): it arrives after every byte sent before it. */
  sendClose(now: number, reason: 'closed' | 'reset'): void {
    const at = Math.max(this.lastAt, now + this.delayMs);
    this.lastAt = at;
    this.queue.push({ at, bytes: EMPTY, close: reason });
  }

  nextAt(): number | undefined {
    if (this.held || this.queue.length === 0) return undefined;
    return this.queue[0]!.at;
  }
}

export interface SimSubflow {
  id: number;
  path: SimPathOptions;
  toServer: Pipe;
  toClient: Pipe;
  /** 'open' | 'cut' (silent blackhole) | 'closed'. */
  status: 'open' | 'cut' | 'closed';
  /** The server side has classified this subflow (it belongs to the server connection). */
  attached: boolean;
  /** Each side has closed its socket (its FIN or RST is on the way or delivered). */
  clientClosed: boolean;
  serverClosed: boolean;
}

const EMPTY = new Uint8Array(0);
/** Segment size of a rate-limited link (a few MSS: segments arrive one by one). */
const SEGMENT_BYTES = 4096;

export interface SimOptions {
  client?: ConnectionOptions;
  server?: ConnectionOptions;
  /** The server application reads at most this many bytes per ms (undefined: reads everything at once). */
  serverReadBytesPerMs?: number;
  /** The client application reads at most this many bytes per ms (undefined: reads everything at once). */
  clientReadBytesPerMs?: number;
}

/** A slow application reader: at most `rate` bytes per ms of virtual time, with a bounded burst. */
class Reader {
  private credit = 0;
  private lastAt = 0;
  constructor(readonly rateBytesPerMs: number | undefined) {}

  /** Reads what the rate allows from `conn` into `out`; returns the bytes read. */
  drain(conn: Connection, now: number, out: Uint8Array[]): number {
    const rate = this.rateBytesPerMs;
    if (rate !== undefined) {
      this.credit = Math.min(this.credit + (now - this.lastAt) * rate, 1 << 20);
      this.lastAt = now;
    }
    let total = 0;
    while (rate === undefined || this.credit > 0) {
      const c = conn.read(now);
      if (!c) break;
      out.push(c);
      total += c.length;
      if (rate !== undefined) this.credit -= c.length;
    }
    return total;
  }
}

export class SimPair {
  now = 0;
  readonly client: Connection;
  readonly listener: Listener;
  server: Connection | undefined;
  readonly subflows = new Map<number, SimSubflow>();
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  readonly serverReceived: Uint8Array[] = [];
  serverReceivedBytes = 0;
  readonly clientReceived: Uint8Array[] = [];
  clientReceivedBytes = 0;
  serverEnded = false;
  clientEnded = false;
  private nextId = 1;
  private readonly options: SimOptions;
  private readonly serverReader: Reader;
  private readonly clientReader: Reader;

  constructor(initialPath: SimPathOptions, options: SimOptions = {}) {
    this.options = options;
    this.serverReader = new Reader(options.serverReadBytesPerMs);
    this.clientReader = new Reader(options.clientReadBytesPerMs);
    this.listener = new Listener(() => options.server ?? {});
    const id = this.newSubflow(initialPath);
    this.client = Connection.connect(id, this.now, options.client);
    this.pump();
  }

  private newSubflow(path: SimPathOptions): number {
    const id = this.nextId++;
    this.subflows.set(id, {
      id,
      path,
      toServer: new Pipe(path.delayMs, path.rateBytesPerMs),
      toClient: new Pipe(path.delayMs, path.rateBytesPerMs),
      status: 'open',
      attached: false,
      clientClosed: false,
      serverClosed: false,
    });
    return id;
  }

  /** Runs until the client has seen the 'established' event (both ends hold both keys). */
  waitEstablished(limitMs = 10_000): boolean {
    return this.runUntil(() => this.clientEvents.some((e) => e.type === 'established'), this.now + limitMs);
  }

  /** Opens a joining subflow over a new path (the client must be established). Returns its id. */
  join(path: SimPathOptions): number {
    const id = this.newSubflow(path);
    this.client.openJoin(id, this.now, { backup: path.backup ?? false, localAddressId: id });
    this.pump();
    return id;
  }

  /** Silent blackhole: bytes stay queued, nothing is delivered, nobody is told. */
  cut(id: number): void {
    const sf = this.subflows.get(id)!;
    sf.status = 'cut';
    sf.toServer.held = true;
    sf.toClient.held = true;
  }

  restore(id: number): void {
    const sf = this.subflows.get(id)!;
    if (sf.status !== 'cut') return;
    sf.status = 'open';
    sf.toServer.held = false;
    sf.toClient.held = false;
    for (const p of [sf.toServer, sf.toClient]) for (const d of p.queue) d.at = Math.max(d.at, this.now);
  }

  /** Both ends see the subflow reset (as a TCP RST would tell them). */
  kill(id: number): void {
    const sf = this.subflows.get(id)!;
    if (sf.status === 'closed') return;
    sf.status = 'closed';
    sf.toServer.queue = [];
    sf.toClient.queue = [];
    this.client.handleSubflowClosed(id, 'reset', this.now, 'killed');
    if (sf.attached) this.server?.handleSubflowClosed(id, 'reset', this.now, 'killed');
    this.pump();
  }

  write(bytes: Uint8Array): boolean {
    const ok = this.client.write(bytes, this.now);
    this.pump();
    return ok;
  }

  end(): void {
    this.client.end(this.now);
    this.pump();
  }

  /** The server application writes (the server connection must exist). */
  serverWrite(bytes: Uint8Array): boolean {
    const ok = this.server!.write(bytes, this.now);
    this.pump();
    return ok;
  }

  serverEnd(): void {
    this.server!.end(this.now);
    this.pump();
  }

  /**
   * Hands raw subflow bytes to one end as if they came from the peer on subflow `id` (an adversary on
   * the path). Call it between frames (e.g. when the pipes are idle), or the framing breaks.
   */
  inject(id: number, to: 'client' | 'server', bytes: Uint8Array): void {
    if (to === 'client') this.client.handleBytes(id, bytes, this.now);
    else this.server!.handleBytes(id, bytes, this.now);
    this.pump();
  }

  /** Moves every pending output of both ends into the pipes, and drains events. */
  pump(): void {
    for (let guard = 0; guard < 1000; guard++) {
      let moved = false;
      for (let a = this.client.pollTransmit(); a; a = this.client.pollTransmit()) {
        moved = true;
        const sf = this.subflows.get(a.subflowId);
        if (!sf || sf.status === 'closed' || sf.clientClosed) continue;
        if (a.type === 'write') for (const b of a.buffers) sf.toServer.send(this.now, Uint8Array.from(b));
        else this.closeFrom('client', sf, a.reset);
      }
      if (this.server) {
        for (let a = this.server.pollTransmit(); a; a = this.server.pollTransmit()) {
          moved = true;
          const sf = this.subflows.get(a.subflowId);
          if (!sf || sf.status === 'closed' || sf.serverClosed) continue;
          if (a.type === 'write') for (const b of a.buffers) sf.toClient.send(this.now, Uint8Array.from(b));
          else this.closeFrom('server', sf, a.reset);
        }
      }
      for (let e = this.client.pollEvent(); e; e = this.client.pollEvent()) {
        moved = true;
        this.clientEvents.push(e);
        if (e.type === 'end') this.clientEnded = true;
      }
      // A read may open the receive window (a window update to send): go round again.
      const clientRead = this.clientReader.drain(this.client, this.now, this.clientReceived);
      this.clientReceivedBytes += clientRead;
      if (clientRead > 0) moved = true;
      if (this.server) {
        for (let e = this.server.pollEvent(); e; e = this.server.pollEvent()) {
          moved = true;
          this.serverEvents.push(e);
          if (e.type === 'end') this.serverEnded = true;
        }
        const serverRead = this.serverReader.drain(this.server, this.now, this.serverReceived);
        this.serverReceivedBytes += serverRead;
        if (serverRead > 0) moved = true;
      }
      if (!moved) return;
    }
    throw new Error('pump did not settle');
  }

  /**
   * One side closed its socket: its FIN (or RST) travels behind the bytes it sent before, and the other
   * side is told when it arrives. The subflow is gone once both sides have closed and the pipes are empty.
   */
  private closeFrom(side: 'client' | 'server', sf: SimSubflow, reset: boolean): void {
    if (side === 'client') {
      sf.clientClosed = true;
      sf.toServer.sendClose(this.now, reset ? 'reset' : 'closed');
    } else {
      sf.serverClosed = true;
      sf.toClient.sendClose(this.now, reset ? 'reset' : 'closed');
    }
    this.maybeGone(sf);
  }

  private maybeGone(sf: SimSubflow): void {
    if (
      sf.clientClosed &&
      sf.serverClosed &&
      sf.toServer.queue.length === 0 &&
      sf.toClient.queue.length === 0
    ) {
      sf.status = 'closed';
    }
  }

  /** The peer's FIN or RST reached `to`. */
  private deliverClose(sf: SimSubflow, to: 'client' | 'server', reason: 'closed' | 'reset'): void {
    const detail = reason === 'reset' ? 'peer reset' : 'peer closed';
    if (to === 'client') {
      this.client.handleSubflowClosed(sf.id, reason, this.now, detail);
      // The client's socket is done too (a reset, or its own close answering the FIN).
      if (!sf.clientClosed && reason === 'reset') sf.clientClosed = true;
    } else if (sf.attached) {
      this.server!.handleSubflowClosed(sf.id, reason, this.now, detail);
      if (!sf.serverClosed && reason === 'reset') sf.serverClosed = true;
    } else {
      this.listener.forgetSubflow(sf.id);
      sf.serverClosed = true;
    }
    this.pump();
    this.maybeGone(sf);
  }

  /** The time of the next thing that will happen, or undefined when nothing will. */
  nextEventAt(): number | undefined {
    let t = Number.POSITIVE_INFINITY;
    for (const sf of this.subflows.values()) {
      if (sf.status === 'closed') continue;
      for (const p of [sf.toServer, sf.toClient]) {
        const at = p.nextAt();
        if (at !== undefined && at < t) t = at;
      }
    }
    const cd = this.client.nextDeadline();
    if (cd !== undefined && cd < t) t = cd;
    const sd = this.server?.nextDeadline();
    if (sd !== undefined && sd < t) t = sd;
    if (this.options.serverReadBytesPerMs !== undefined && (this.server?.readableBytes ?? 0) > 0) {
      t = Math.min(t, this.now + 1);
    }
    if (this.options.clientReadBytesPerMs !== undefined && this.client.readableBytes > 0) {
      t = Math.min(t, this.now + 1);
    }
    return Number.isFinite(t) ? t : undefined;
  }

  /** Advances the clock to the next event and processes everything due then. Returns false when idle. */
  step(limitMs = Number.POSITIVE_INFINITY): boolean {
    const at = this.nextEventAt();
    if (at === undefined || at > limitMs) {
      if (limitMs !== Number.POSITIVE_INFINITY && limitMs > this.now) this.now = limitMs;
      return false;
    }
    this.now = Math.max(this.now, at);
    for (const sf of this.subflows.values()) {
      if (sf.status === 'closed') continue;
      this.deliver(sf, sf.toServer, 'server');
      if ((sf.status as SimSubflow['status']) === 'closed') continue;
      this.deliver(sf, sf.toClient, 'client');
    }
    this.client.handleTimeout(this.now);
    this.server?.handleTimeout(this.now);
    this.pump();
    return true;
  }

  private deliver(sf: SimSubflow, pipe: Pipe, to: 'client' | 'server'): void {
    while (!pipe.held && pipe.queue.length > 0 && pipe.queue[0]!.at <= this.now) {
      const { bytes, close } = pipe.queue.shift()!;
      if (close) {
        this.deliverClose(sf, to, close);
        continue;
      }
      if (to === 'client') {
        this.client.handleBytes(sf.id, bytes, this.now);
        continue;
      }
      if (sf.attached) {
        this.server!.handleBytes(sf.id, bytes, this.now);
        continue;
      }
      const outcome = this.listener.handleBytes(sf.id, bytes, this.now);
      if (outcome.type === 'connection') {
        this.server = outcome.connection;
        sf.attached = true;
      } else if (outcome.type === 'joined') {
        sf.attached = true;
      } else if (outcome.type === 'refused') {
        if (process.env.SIM_DEBUG) console.error('refused', outcome.reason);
        sf.status = 'closed';
        sf.toServer.queue = [];
        this.client.handleBytes(sf.id, Buffer.concat(outcome.bytes), this.now);
        this.client.handleSubflowClosed(sf.id, 'reset', this.now, outcome.reason);
        return;
      } else if (outcome.type === 'plain') {
        throw new Error('the simulated server only speaks MPTCP');
      }
      this.pump();
    }
  }

  /** Runs until `done()` or until the virtual clock passes `untilMs`. Returns whether done() held. */
  runUntil(done: () => boolean, untilMs: number): boolean {
    this.pump();
    while (!done()) {
      if (this.now >= untilMs) return false;
      if (!this.step(untilMs)) return done();
    }
    return true;
  }

  serverBytes(): Buffer {
    return Buffer.concat(this.serverReceived);
  }

  clientBytes(): Buffer {
    return Buffer.concat(this.clientReceived);
  }

  /** Subflows whose pipes still deliver (not cut, not closed). */
  openSubflows(): SimSubflow[] {
    return [...this.subflows.values()].filter(
      (s) => s.status === 'open' && !s.clientClosed && !s.serverClosed,
    );
  }
}
