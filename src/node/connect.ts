/**
 * The client side of userspace MPTCP: `connect({ paths })` opens the initial subflow on the first path
 * that answers, joins the other paths once the connection is established, and keeps paths alive:
 * - make-before-break: paths marked `backup` are joined in advance and carry data only when no other
 *   subflow is usable (RFC 8684 backup semantics);
 * - break-before-make: paths with `when: 'on-failure'` are opened only once no non-backup subflow is
 *   left; a failed path is re-established after a delay chosen by the kind of failure, with backoff.
 * When the server does not speak MPTCP, the client falls back to plain TCP on the first path and
 * replays what the application had written (nothing was sent as MPTCP data before the handshake).
 */
import net from 'node:net';
import { Connection, type ConnectionOptions } from '../core/connection.js';
import type { ConnectionEvent, SubflowCloseReason } from '../core/events.js';
import type { Scheduler } from '../core/scheduler.js';
import { MptcpSocket, nowMs } from './mptcp-socket.js';
import { resolveScheduler } from './scheduler-option.js';
import { checkCongestionControl } from './tcp-congestion.js';

export interface PathSpec {
  host?: string;
  port: number;
  localAddress?: string;
  /** A name for tools and charts (default "host:port"). */
  name?: string;
  backup?: boolean;
  /** 'start' (default): joined as soon as the connection is established; 'on-failure': break-before-make. */
  when?: 'start' | 'on-failure';
}

export interface ConnectOptions extends Omit<ConnectionOptions, 'scheduler' | 'localKey'> {
  paths?: PathSpec[];
  host?: string;
  port?: number;
  localAddress?: string;
  scheduler?: Scheduler | string;
  /** Re-establish failed paths (default true). */
  reconnect?: boolean;
  /** Join addresses the server announces with ADD_ADDR (default true). */
  joinAnnounced?: boolean;
  /** Fail the connect when no path answers within this many ms. */
  timeout?: number;
  allowHalfOpen?: boolean;
  /**
   * TCP congestion control of every subflow (Linux TCP_CONGESTION, e.g. 'cubic'); default: the
   * system's. An algorithm the kernel lacks throws CongestionControlError from connect().
   */
  congestionControl?: string;
}

/** Delay before re-establishing a path, by the reason its subflow ended (ms); doubled per failure. */
const RECONNECT_DELAY_MS: Record<SubflowCloseReason, number> = {
  closed: 200,
  reset: 200,
  protocol: 1000,
  refused: 1000,
  error: 1000,
  timeout: 1000,
};
const MAX_RECONNECT_DELAY_MS = 10_000;

interface PathState {
  spec: PathSpec;
  index: number;
  name: string;
  /** Live subflow ids on this path. */
  subflows: Set<number>;
  failures: number;
  retryTimer?: NodeJS.Timeout;
}

export class MptcpClientSocket extends MptcpSocket {
  private readonly options: ConnectOptions;
  private readonly paths: PathState[];
  private nextSubflowId = 1;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly subflowPath = new Map<number, PathState>();

  constructor(options: ConnectOptions) {
    super(options.allowHalfOpen === undefined ? {} : { allowHalfOpen: options.allowHalfOpen });
    this.options = options;
    if (options.congestionControl !== undefined) {
      checkCongestionControl(options.congestionControl);
      this.congestionControl = options.congestionControl;
    }
    const specs =
      options.paths && options.paths.length > 0
        ? options.paths
        : [
            {
              host: options.host ?? 'localhost',
              port: options.port ?? 0,
              ...(options.localAddress ? { localAddress: options.localAddress } : {}),
            },
          ];
    this.paths = specs.map((spec, index) => ({
      spec,
      index,
      name: spec.name ?? `${spec.host ?? 'localhost'}:${spec.port}`,
      subflows: new Set(),
      failures: 0,
    }));
    if (options.timeout !== undefined) {
      this.connectTimer = setTimeout(() => {
        if (this.connecting) this.destroy(new Error(`connect timed out after ${options.timeout} ms`));
      }, options.timeout);
    }
    this.on('mptcp', (e: ConnectionEvent) => this.onPathEvent(e));
    this.once('connect', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
    });
    this.connectInitial(0);
  }

  private tcpConnect(spec: PathSpec): net.Socket {
    return net.connect({
      host: spec.host ?? 'localhost',
      port: spec.port,
      ...(spec.localAddress ? { localAddress: spec.localAddress } : {}),
    });
  }

  /** Tries the paths in order for the initial subflow. */
  private connectInitial(index: number): void {
    const path = this.paths[index];
    if (!path || this.destroyed) return;
    const socket = this.tcpConnect(path.spec);
    const onError = (err: Error) => {
      socket.destroy();
      if (index + 1 < this.paths.length) this.connectInitial(index + 1);
      else this.destroy(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      if (this.destroyed) {
        socket.destroy();
        return;
      }
      const id = this.nextSubflowId++;
      this.subflowPath.set(id, path);
      path.subflows.add(id);
      this.attachSubflow(id, socket, path.name);
      const {
        paths: _p,
        host: _h,
        port: _port,
        localAddress: _l,
        scheduler,
        congestionControl: _cc,
        ...rest
      } = this.options;
      this.attachConnection(
        Connection.connect(id, nowMs(), { ...rest, scheduler: resolveScheduler(scheduler) }),
      );
    });
  }

  /**
   * Opens a new subflow to `host:port` (a path-manager command). Returns its subflow id, or undefined
   * when the connection cannot take joins (not established, or ended).
   */
  openSubflow(spec: PathSpec): number | undefined {
    let path = this.paths.find(
      (p) =>
        p.spec.host === spec.host && p.spec.port === spec.port && p.spec.localAddress === spec.localAddress,
    );
    if (!path) {
      path = {
        spec,
        index: this.paths.length,
        name: spec.name ?? `${spec.host}:${spec.port}`,
        subflows: new Set(),
        failures: 0,
      };
      this.paths.push(path);
    }
    return this.join(path);
  }

  /**
   * Opens a subflow on `path`. Before the server has confirmed the keys (the core's 'established'
   * event) joins are not allowed: the path is kept and joined on that event.
   */
  private join(path: PathState): number | undefined {
    const conn = this.conn;
    if (!conn?.canJoin || this.destroyed) return undefined;
    const id = this.nextSubflowId++;
    const socket = this.tcpConnect(path.spec);
    this.subflowPath.set(id, path);
    path.subflows.add(id);
    const onError = () => {
      socket.destroy();
      path.subflows.delete(id);
      this.pathFailed(path, 'refused');
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      if (this.destroyed || !this.conn?.canJoin) {
        socket.destroy();
        path.subflows.delete(id);
        return;
      }
      this.attachSubflow(id, socket, path.name);
      this.conn.openJoin(id, nowMs(), { backup: path.spec.backup ?? false, localAddressId: path.index });
      this.pump();
    });
    return id;
  }

  private onPathEvent(e: ConnectionEvent): void {
    switch (e.type) {
      case 'established':
        for (const p of this.paths) {
          if (p.subflows.size === 0 && (p.spec.when ?? 'start') === 'start') this.join(p);
        }
        return;
      case 'subflow-established': {
        const path = this.subflowPath.get(e.subflowId);
        if (path) path.failures = 0;
        return;
      }
      case 'subflow-closed': {
        const path = this.subflowPath.get(e.subflowId);
        this.subflowPath.delete(e.subflowId);
        if (!path) return;
        path.subflows.delete(e.subflowId);
        if (e.detail === 'closed locally') return; // a path-manager decision: do not undo it
        this.pathFailed(path, e.reason);
        return;
      }
      case 'add-addr': {
        if (!e.hmacValid || this.options.joinAnnounced === false || e.port === undefined) return;
        if (!this.paths.some((p) => p.spec.host === e.address && p.spec.port === e.port)) {
          this.openSubflow({ host: e.address, port: e.port, name: `announced-${e.addressId}` });
        }
        return;
      }
      case 'fallback':
        this.fallBackToPlain();
        return;
      default:
        return;
    }
  }

  /** Break-before-make, and re-establishing failed paths with backoff. */
  private pathFailed(path: PathState, reason: SubflowCloseReason): void {
    const conn = this.conn;
    if (this.destroyed || !conn || conn.state !== 'established' || conn.finished) return;
    const usablePrimary = this.subflows.some((s) => s.state === 'established' && !s.backup);
    if (!usablePrimary) {
      for (const p of this.paths) {
        if (p !== path && p.subflows.size === 0 && p.spec.when === 'on-failure') this.join(p);
      }
    }
    if (this.options.reconnect === false || (path.spec.when === 'on-failure' && usablePrimary)) return;
    if (path.retryTimer) return;
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, RECONNECT_DELAY_MS[reason] * 2 ** path.failures);
    path.failures++;
    path.retryTimer = setTimeout(() => {
      path.retryTimer = undefined;
      if (path.subflows.size === 0) this.join(path);
    }, delay);
    path.retryTimer.unref();
  }

  /** The server did not answer MPTCP: reconnect in plain TCP on the first path and replay the writes. */
  private fallBackToPlain(): void {
    for (const id of [...this.subflowSockets.keys()]) this.subflowSocket(id)?.destroy();
    const path = this.paths[0]!;
    const socket = this.tcpConnect(path.spec);
    socket.once('error', (err) => this.destroy(err));
    socket.once('connect', () => {
      const conn = this.conn;
      const pending = conn?.takeFallbackData() ?? { chunks: [], ended: false };
      this.conn = undefined;
      this.attachPlain(socket);
      for (const chunk of pending.chunks) socket.write(chunk);
      if (pending.ended) socket.end();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    for (const p of this.paths) if (p.retryTimer) clearTimeout(p.retryTimer);
    super._destroy(error, callback);
  }
}

/**
 * Opens a userspace MPTCP connection. `connect({ paths: [{host, port}, …] })`, or `connect(port, host)`
 * like `net.connect`. `listener` is added as a 'connect' listener.
 */
export function connect(
  options: ConnectOptions | number,
  host?: string | (() => void),
  listener?: () => void,
): MptcpClientSocket {
  const opts: ConnectOptions =
    typeof options === 'number' ? { port: options, ...(typeof host === 'string' ? { host } : {}) } : options;
  const socket = new MptcpClientSocket(opts);
  const cb = typeof host === 'function' ? host : listener;
  if (cb) socket.once('connect', cb);
  return socket;
}

/** Alias for http.Agent's `createConnection`. */
export const createConnection = connect;
