/**
 * The server side of userspace MPTCP: one `MptcpServer` listens on one or more addresses/ports (each a
 * plain `net.Server`) and classifies each accepted TCP connection with the sans-IO `Listener`:
 * a new MPTCP connection ('connection' event with an MptcpSocket), a join of an existing one, a refusal
 * (MP_TCPRST, then close), or a plain TCP client (also a 'connection', with `multipath === false`).
 * A client that sends nothing for `plainDetectMs` is taken as plain TCP (a server-speaks-first protocol).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Connection, ConnectionOptions } from '../core/connection.js';
import { Listener } from '../core/listener.js';
import type { Scheduler } from '../core/scheduler.js';
import { MptcpSocket, nowMs } from './mptcp-socket.js';
import { resolveScheduler } from './scheduler-option.js';
import { checkCongestionControl, setCongestionControl } from './tcp-congestion.js';

export interface ServerOptions
  extends Omit<ConnectionOptions, 'scheduler' | 'localKey' | 'fallbackTimeoutMs'> {
  scheduler?: Scheduler | string;
  /** A silent client is plain TCP after this long (ms). */
  plainDetectMs?: number;
  /** Addresses announced (ADD_ADDR) to every client once established. */
  announce?: Array<{ addressId: number; address: string; port?: number }>;
  allowHalfOpen?: boolean;
  /**
   * TCP congestion control of every accepted subflow (Linux TCP_CONGESTION on the listening sockets,
   * which accepted sockets inherit). An algorithm the kernel lacks throws from createServer().
   */
  congestionControl?: string;
}

export interface ListenAddress {
  port: number;
  host?: string;
}

export const DEFAULT_PLAIN_DETECT_MS = 1000;

export class MptcpServer extends EventEmitter {
  private readonly options: ServerOptions;
  private readonly listener: Listener;
  private readonly servers: net.Server[] = [];
  private readonly sockets = new WeakMap<Connection, MptcpSocket>();
  readonly connections = new Set<MptcpSocket>();
  private nextSubflowId = 1;

  constructor(options: ServerOptions = {}) {
    super();
    this.options = options;
    const {
      scheduler,
      plainDetectMs: _p,
      announce: _a,
      allowHalfOpen: _h,
      congestionControl,
      ...connOptions
    } = options;
    if (congestionControl !== undefined) checkCongestionControl(congestionControl);
    resolveScheduler(scheduler); // a bad name fails here, not at the first connection
    this.listener = new Listener(() => ({ ...connOptions, scheduler: resolveScheduler(scheduler) }));
  }

  /**
   * Listens on every address given: `listen(port, host?)`, `listen({port, host})`, or
   * `listen([{port, host}, …])`. 'listening' is emitted once all are bound.
   */
  listen(
    addresses: number | ListenAddress | ListenAddress[],
    host?: string | (() => void),
    cb?: () => void,
  ): this {
    const list: ListenAddress[] =
      typeof addresses === 'number'
        ? [{ port: addresses, ...(typeof host === 'string' ? { host } : {}) }]
        : Array.isArray(addresses)
          ? addresses
          : [addresses];
    const done = typeof host === 'function' ? host : cb;
    if (done) this.once('listening', done);
    let pending = list.length;
    for (const addr of list) {
      const server = net.createServer({ noDelay: true }, (socket) => this.onTcpConnection(socket));
      server.on('error', (err) => this.emit('error', err));
      server.listen(addr.port, addr.host, () => {
        if (this.options.congestionControl !== undefined) {
          const handle = (server as unknown as { _handle?: { fd?: number } | null })._handle;
          try {
            setCongestionControl(handle?.fd ?? -1, this.options.congestionControl);
          } catch (err) {
            this.emit('error', err);
            return;
          }
        }
        if (--pending === 0) this.emit('listening');
      });
      this.servers.push(server);
    }
    return this;
  }

  /** The first bound address (like net.Server#address). */
  address(): net.AddressInfo | null {
    return (this.servers[0]?.address() as net.AddressInfo | null) ?? null;
  }

  /** Every bound address. */
  addresses(): net.AddressInfo[] {
    return this.servers.map((s) => s.address() as net.AddressInfo).filter(Boolean);
  }

  close(cb?: (err?: Error) => void): this {
    let pending = this.servers.length;
    if (pending === 0) queueMicrotask(() => cb?.());
    for (const s of this.servers) {
      s.close(() => {
        if (--pending === 0) {
          this.emit('close');
          cb?.();
        }
      });
    }
    return this;
  }

  private onTcpConnection(raw: net.Socket): void {
    const subflowId = this.nextSubflowId++;
    const plainDetectMs = this.options.plainDetectMs ?? DEFAULT_PLAIN_DETECT_MS;
    /** Bytes read while undecided (bounded by the listener's own limit on a first frame). */
    const early: Buffer[] = [];
    let decided = false;
    const silent = setTimeout(() => {
      // After a stalled event loop this timer can run before the I/O callbacks of the same loop
      // iteration: decide in the check phase, once bytes already read have been handed over.
      setImmediate(() => {
        if (decided || raw.destroyed) return;
        cleanup();
        this.listener.forgetSubflow(subflowId);
        this.acceptPlain(raw, early.length > 0 ? Buffer.concat(early) : undefined);
      });
    }, plainDetectMs);
    const cleanup = () => {
      decided = true;
      clearTimeout(silent);
      raw.off('data', onData);
    };
    const onData = (chunk: Buffer) => {
      early.push(chunk);
      const outcome = this.listener.handleBytes(subflowId, chunk, nowMs());
      switch (outcome.type) {
        case 'need-more':
          return;
        case 'plain':
          cleanup();
          this.acceptPlain(raw, outcome.bytes);
          return;
        case 'refused':
          cleanup();
          this.emit('refused', {
            reason: outcome.reason,
            remoteAddress: raw.remoteAddress,
            remotePort: raw.remotePort,
          });
          raw.cork();
          for (const b of outcome.bytes) raw.write(b);
          raw.uncork();
          raw.end();
          setTimeout(() => raw.destroy(), 1000).unref();
          return;
        case 'connection': {
          cleanup();
          const socket = new MptcpSocket(
            this.options.allowHalfOpen === undefined ? {} : { allowHalfOpen: this.options.allowHalfOpen },
          );
          this.sockets.set(outcome.connection, socket);
          this.track(socket, outcome.connection);
          socket.attachSubflow(subflowId, raw);
          socket.attachConnection(outcome.connection);
          this.emit('connection', socket);
          return;
        }
        case 'joined': {
          cleanup();
          const socket = this.sockets.get(outcome.connection);
          if (!socket) {
            raw.destroy();
            return;
          }
          socket.attachSubflow(subflowId, raw);
          socket.attachConnection(outcome.connection); // pumps the join answer out
          return;
        }
      }
    };
    raw.on('data', onData);
    raw.on('error', () => {});
    raw.once('close', () => {
      clearTimeout(silent);
      this.listener.forgetSubflow(subflowId);
    });
  }

  private acceptPlain(raw: net.Socket, initial?: Uint8Array): void {
    if (raw.destroyed) return;
    const socket = new MptcpSocket(
      this.options.allowHalfOpen === undefined ? {} : { allowHalfOpen: this.options.allowHalfOpen },
    );
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
    socket.attachPlain(raw, initial);
    this.emit('connection', socket);
  }

  private track(socket: MptcpSocket, conn: Connection): void {
    this.connections.add(socket);
    socket.once('close', () => {
      this.connections.delete(socket);
      this.listener.forgetConnection(conn);
    });
    const announce = this.options.announce;
    if (announce && announce.length > 0) {
      socket.once('connect', () => {
        for (const a of announce) socket.announce(a.addressId, a.address, a.port);
      });
    }
  }
}

/** Creates a userspace MPTCP server (like net.createServer). */
export function createServer(
  options?: ServerOptions | ((socket: MptcpSocket) => void),
  onConnection?: (socket: MptcpSocket) => void,
): MptcpServer {
  const opts = typeof options === 'function' ? {} : (options ?? {});
  const listener = typeof options === 'function' ? options : onConnection;
  const server = new MptcpServer(opts);
  if (listener) server.on('connection', listener);
  return server;
}
