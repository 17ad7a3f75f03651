/**
 * Userspace driver: runs a Controller against userspace MPTCP sockets (src/node/ MptcpSocket and
 * MptcpClientSocket). The same controllers as the kernel driver, unchanged.
 *
 * Contract:
 * - `attach(socket)` follows the socket's `'mptcp'` events (src/core/events.ts ConnectionEvent) and
 *   maps them to PmEvents: established → connection-created + connection-established,
 *   subflow-established (not for the initial subflow, as in the kernel)/-closed/-timeout/-priority, add-addr (valid HMAC only), remove-addr → one
 *   rem-addr per id, closed / fallback / the socket's 'close' → connection-closed (once).
 * - The connection id is the local token in 8 hex digits; a subflow key is the subflow id in decimal.
 * - Events are handled asynchronously (next tick, in order) so that commands never re-enter the
 *   socket from inside its own event; the view is read live from `socket.subflows` at that moment.
 * - Commands: create-subflow → `openSubflow` (client sockets only; a server socket or a refused join
 *   yields command-failed), remove-subflow → `closeSubflow`, set-backup → `setBackup`, announce →
 *   `announce`, withdraw → `removeAddress`, set-timer → a timer that delivers a tick.
 * - A tick with ANY_CONNECTION every `tickIntervalMs` (default 500; 0 = none) while any socket is
 *   attached. Clients driven by a controller should be created with `reconnect: false` so that the
 *   socket's own path keeping does not compete with the controller.
 */
import { armTickTimer, askController, commandFailed } from './driver-common.js';
import type { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ConnectionEvent } from '../core/events.js';
import { connectionIdFromToken } from './kernel-events.js';
import { DEFAULT_TICK_INTERVAL_MS, type DriverLogEntry, usableLocalAddresses } from './kernel-driver.js';
import {
  ANY_CONNECTION,
  type ConnectionId,
  type ConnectionView,
  type Controller,
  type LocalAddress,
  type PmCloseReason,
  type PmCommand,
  type PmEndpoint,
  type PmEvent,
  type PmView,
  type RemoteAddress,
  type SubflowView,
} from './types.js';

/** What the driver needs of a subflow snapshot (src/node SubflowSnapshot). */
export interface UserspaceSubflowSnapshot {
  id: number;
  /** The connection's first subflow (covered by connection-established, like the kernel's). */
  initial?: boolean;
  state: string;
  backup: boolean;
  srttMs: number | undefined;
  rtoMs: number;
  /** Bytes per second. */
  deliveryRateBps: number;
  bytesSent: number;
  bytesAcked: number;
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  /** The subflow socket's TCP_INFO, where it can be read (src/node enableKernelTcpInfo). */
  kernel?: { rtoUs: number };
}

/** What the driver needs of a userspace MPTCP socket (src/node MptcpSocket / MptcpClientSocket). */
export interface UserspaceMptcpSocket extends EventEmitter {
  readonly subflows: UserspaceSubflowSnapshot[];
  readonly tokens: { local: number; remote: number | undefined } | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  closeSubflow(subflowId: number): void;
  setBackup(subflowId: number, backup: boolean): void;
  announce(addressId: number, address: string, port?: number): void;
  removeAddress(addressIds: number[]): void;
  /** Client sockets only. */
  openSubflow?(spec: {
    host?: string;
    port: number;
    localAddress?: string;
    backup?: boolean;
    name?: string;
  }): number | undefined;
}

export interface UserspaceDriverOptions {
  tickIntervalMs?: number;
  log?: (entry: DriverLogEntry) => void;
  /** Local addresses for the view (default: os.networkInterfaces()). */
  localAddresses?: () => LocalAddress[];
}

interface Attached {
  id: ConnectionId;
  socket: UserspaceMptcpSocket;
  serverSide: boolean;
  established: boolean;
  closed: boolean;
  remoteAddresses: Map<number, RemoteAddress>;
  /** Subflows reported established (the core may report it before its state string says so). */
  up: Set<number>;
  /** Last known endpoints of each subflow (a closed subflow leaves the snapshot list). */
  endpoints: Map<number, { local: PmEndpoint; remote: PmEndpoint }>;
  onMptcp: (e: ConnectionEvent) => void;
  onClose: () => void;
}

const endpointOf = (address: string | undefined, port: number | undefined): PmEndpoint => ({
  address: address ?? '',
  port: port ?? 0,
});

function closeReason(r: string): PmCloseReason {
  return r === 'reset' || r === 'timeout' || r === 'refused' || r === 'closed' || r === 'unreachable'
    ? r
    : 'error';
}

export class UserspacePmDriver {
  private readonly conns = new Map<ConnectionId, Attached>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private interval: NodeJS.Timeout | undefined;
  private readonly queue: Array<() => void> = [];
  private scheduled = false;
  private counter = 0;
  private stopped = false;
  private readonly t0 = performance.now();

  constructor(
    readonly controller: Controller,
    private readonly options: UserspaceDriverOptions = {},
  ) {}

  now(): number {
    return performance.now() - this.t0;
  }

  /** Starts following a socket; returns its connection id. */
  attach(socket: UserspaceMptcpSocket): ConnectionId {
    const token = socket.tokens?.local;
    const id = token !== undefined ? connectionIdFromToken(token) : `u${++this.counter}`;
    const a: Attached = {
      id,
      socket,
      serverSide: typeof socket.openSubflow !== 'function',
      established: false,
      closed: false,
      remoteAddresses: new Map(),
      up: new Set(),
      endpoints: new Map(),
      onMptcp: (e) => this.onCoreEvent(a, e),
      onClose: () => this.closeConnection(a),
    };
    this.conns.set(id, a);
    socket.on('mptcp', a.onMptcp);
    socket.once('close', a.onClose);
    this.ensureInterval();
    return id;
  }

  /** Hands an application event (block-sent…) to the controller. */
  inject(event: PmEvent): void {
    this.enqueue(() => this.dispatch({ ...event, timeMs: this.now() }));
  }

  view(): PmView {
    const locals = this.options.localAddresses?.() ?? usableLocalAddresses(networkInterfaces());
    const all = [...this.conns.values()].map((a) => this.connectionView(a));
    return {
      nowMs: this.now(),
      connections: () => all,
      connection: (id) => all.find((c) => c.id === id),
      localAddresses: () => locals,
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.interval) clearInterval(this.interval);
    this.interval = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const a of this.conns.values()) {
      a.socket.off('mptcp', a.onMptcp);
      a.socket.off('close', a.onClose);
    }
    this.conns.clear();
  }

  private log(entry: DriverLogEntry): void {
    try {
      this.options.log?.(entry);
    } catch {
      // never let logging break the driver
    }
  }

  private ensureInterval(): void {
    const ms = this.options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS;
    if (this.interval || ms <= 0) return;
    this.interval = setInterval(() => {
      if (this.conns.size === 0) {
        clearInterval(this.interval);
        this.interval = undefined;
        return;
      }
      this.enqueue(() => this.dispatch({ type: 'tick', connection: ANY_CONNECTION, timeMs: this.now() }));
    }, ms);
    this.interval.unref?.();
  }

  private connectionView(a: Attached): ConnectionView {
    const s = a.socket;
    const subflows: SubflowView[] = s.subflows
      .filter((sf) => sf.state !== 'closed')
      .map((sf) => {
        const local = endpointOf(sf.localAddress, sf.localPort);
        const remote = endpointOf(sf.remoteAddress, sf.remotePort);
        if (sf.localAddress !== undefined) a.endpoints.set(sf.id, { local, remote });
        const v: SubflowView = {
          key: String(sf.id),
          local,
          remote,
          backup: sf.backup,
          established: sf.state === 'established' || a.up.has(sf.id),
          // The paper's trigger is the subflow's TCP RTO: where TCP_INFO can be read (Linux, after
          // enableKernelTcpInfo) the socket's backed-off RTO counts too, not only the core's
          // frame-level estimate (which leaves out the time TCP spends retransmitting underneath).
          rtoMs: Math.max(sf.rtoMs, (sf.kernel?.rtoUs ?? 0) / 1000),
          deliveryRateBytesPerSec: sf.deliveryRateBps,
          bytesAcked: sf.bytesAcked,
          bytesSent: sf.bytesSent,
        };
        if (sf.srttMs !== undefined) v.srttMs = sf.srttMs;
        return v;
      });
    return {
      id: a.id,
      local: endpointOf(s.localAddress, s.localPort),
      remote: endpointOf(s.remoteAddress, s.remotePort),
      serverSide: a.serverSide,
      established: a.established,
      subflows,
      remoteAddresses: [...a.remoteAddresses.values()],
    };
  }

  private enqueue(task: () => void): void {
    if (this.stopped) return;
    this.queue.push(task);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => {
      this.scheduled = false;
      for (let t = this.queue.shift(); t; t = this.queue.shift()) {
        if (this.stopped) return;
        try {
          t();
        } catch (err) {
          this.log({ kind: 'error', timeMs: this.now(), message: (err as Error)?.message ?? String(err) });
        }
      }
    });
  }

  private onCoreEvent(a: Attached, e: ConnectionEvent): void {
    const base = { connection: a.id, timeMs: this.now() };
    const snap = (id: number) => a.socket.subflows.find((s) => s.id === id);
    const remember = (id: number) => {
      const s = snap(id);
      if (s?.localAddress !== undefined)
        a.endpoints.set(id, {
          local: endpointOf(s.localAddress, s.localPort),
          remote: endpointOf(s.remoteAddress, s.remotePort),
        });
      return a.endpoints.get(id) ?? { local: endpointOf(undefined, 0), remote: endpointOf(undefined, 0) };
    };
    switch (e.type) {
      case 'established': {
        a.established = true;
        const local = endpointOf(a.socket.localAddress, a.socket.localPort);
        const remote = endpointOf(a.socket.remoteAddress, a.socket.remotePort);
        for (const s of a.socket.subflows) remember(s.id);
        const info = { local, remote, serverSide: a.serverSide };
        this.enqueue(() => this.dispatch({ type: 'connection-created', ...base, ...info }));
        this.enqueue(() => this.dispatch({ type: 'connection-established', ...base, ...info }));
        return;
      }
      case 'subflow-established': {
        a.up.add(e.subflowId);
        const ends = remember(e.subflowId);
        if (snap(e.subflowId)?.initial) return;
        this.enqueue(() =>
          this.dispatch({
            type: 'subflow-established',
            ...base,
            subflow: String(e.subflowId),
            ...ends,
            backup: e.backup,
          }),
        );
        return;
      }
      case 'subflow-closed': {
        a.up.delete(e.subflowId);
        const ends = remember(e.subflowId);
        const ev: PmEvent = {
          type: 'subflow-closed',
          ...base,
          subflow: String(e.subflowId),
          ...ends,
          reason: closeReason(e.reason),
        };
        if (e.resetReason !== undefined) ev.resetReason = e.resetReason;
        this.enqueue(() => this.dispatch(ev));
        return;
      }
      case 'subflow-timeout':
        this.enqueue(() =>
          this.dispatch({ type: 'subflow-timeout', ...base, subflow: String(e.subflowId), rtoMs: e.rtoMs }),
        );
        return;
      case 'subflow-priority':
        this.enqueue(() =>
          this.dispatch({
            type: 'subflow-priority',
            ...base,
            subflow: String(e.subflowId),
            backup: e.backup,
          }),
        );
        return;
      case 'add-addr': {
        if (!e.hmacValid) return;
        const r: RemoteAddress = { addressId: e.addressId, address: e.address };
        if (e.port !== undefined) r.port = e.port;
        a.remoteAddresses.set(e.addressId, r);
        const ev: PmEvent = { type: 'add-addr', ...base, addressId: e.addressId, address: e.address };
        if (e.port !== undefined) ev.port = e.port;
        this.enqueue(() => this.dispatch(ev));
        return;
      }
      case 'remove-addr':
        for (const id of e.addressIds) {
          a.remoteAddresses.delete(id);
          this.enqueue(() => this.dispatch({ type: 'rem-addr', ...base, addressId: id }));
        }
        return;
      case 'closed':
      case 'fallback':
        this.closeConnection(a);
        return;
      default:
        return;
    }
  }

  private closeConnection(a: Attached): void {
    if (a.closed) return;
    a.closed = true;
    a.socket.off('mptcp', a.onMptcp);
    a.socket.off('close', a.onClose);
    this.enqueue(() => {
      this.dispatch({ type: 'connection-closed', connection: a.id, timeMs: this.now() });
      this.conns.delete(a.id);
    });
  }

  private dispatch(ev: PmEvent): void {
    this.log({ kind: 'event', timeMs: this.now(), event: ev });
    const commands = askController(this.controller, ev, this.view(), (message) =>
      this.log({ kind: 'error', timeMs: this.now(), message }),
    );
    for (const c of commands) this.execute(c);
  }

  private execute(cmd: PmCommand): void {
    this.log({ kind: 'command', timeMs: this.now(), command: cmd });
    if (cmd.type === 'set-timer') {
      armTickTimer(
        this.timers,
        cmd,
        () => this.now(),
        (tick) => this.enqueue(() => this.dispatch(tick)),
      );
      return;
    }
    try {
      this.run(cmd);
    } catch (err) {
      const failed = commandFailed(cmd, err, this.now());
      this.log({ kind: 'error', timeMs: this.now(), message: failed.error, command: cmd });
      this.enqueue(() => this.dispatch(failed));
    }
  }

  private run(cmd: Exclude<PmCommand, { type: 'set-timer' }>): void {
    const a = this.conns.get(cmd.connection);
    if (!a || a.closed) throw new Error(`unknown or closed connection ${cmd.connection}`);
    const s = a.socket;
    const subflowId = (key: string) => {
      const n = Number(key);
      if (!Number.isInteger(n) || n < 0) throw new Error(`not a userspace subflow key: ${key}`);
      return n;
    };
    switch (cmd.type) {
      case 'create-subflow': {
        if (typeof s.openSubflow !== 'function')
          throw new Error('this socket cannot open subflows (server side)');
        const spec: { host: string; port: number; localAddress?: string; backup?: boolean } = {
          host: cmd.remoteAddress,
          port: cmd.remotePort,
        };
        if (cmd.localAddress !== undefined) spec.localAddress = cmd.localAddress;
        if (cmd.backup !== undefined) spec.backup = cmd.backup;
        if (s.openSubflow(spec) === undefined)
          throw new Error('the connection cannot take a new subflow now');
        return;
      }
      case 'remove-subflow':
        s.closeSubflow(subflowId(cmd.subflow));
        return;
      case 'set-backup':
        s.setBackup(subflowId(cmd.subflow), cmd.backup);
        return;
      case 'announce':
        s.announce(cmd.addressId, cmd.address, cmd.port);
        return;
      case 'withdraw':
        s.removeAddress([cmd.addressId]);
        return;
    }
  }
}
