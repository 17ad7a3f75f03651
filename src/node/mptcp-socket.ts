/**
 * MptcpSocket: the Node adapter of one userspace MPTCP connection. A `Duplex` the application reads
 * and writes like a `net.Socket`; underneath, a sans-IO `Connection` (src/core/) driven over several
 * `net.Socket` subflows. The adapter only translates I/O: socket bytes and closes into
 * `handleBytes`/`handleSubflowClosed`, the core's actions into socket writes and closes, its deadline
 * into one timer, its events into stream calls and `'mptcp'` events.
 *
 * Plain mode: when the peer does not speak MPTCP (fallback), the same object passes bytes straight
 * through one plain `net.Socket`; `multipath` is then false.
 *
 * Events (besides the Duplex ones):
 * - `'connect'`: the connection is usable (MPTCP established, or plain TCP after fallback);
 * - `'mptcp'` (ConnectionEvent): every core event except readable/drain, e.g. subflow-established,
 *   subflow-closed {reason, reinjectedBytes}, subflow-timeout, add-addr, fallback;
 * - `'subflow'` (SubflowSnapshot) when a subflow is established, `'subflowClosed'` (event) when one ends.
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Duplex } from 'node:stream';
import type { Connection, SubflowInfo } from '../core/connection.js';
import type { ConnectionEvent, SubflowCloseReason } from '../core/events.js';
import { enableLargeReads } from './large-reads.js';
import { setCongestionControl } from './tcp-congestion.js';

/** The kernel's view of a subflow's TCP connection (Linux, struct tcp_info), where it can be read. */
export interface KernelTcpInfo {
  rttUs: number;
  rttVarUs: number;
  rtoUs: number;
  cwnd: number;
  pacingRateBps?: number;
  deliveryRateBps?: number;
  totalRetrans: number;
}

/** Reads TCP_INFO of a subflow socket on Linux (through koffi, loaded on first use). */
let tcpInfoReader: ((s: net.Socket) => KernelTcpInfo | undefined) | undefined | null;

/** Installs the TCP_INFO reader (src/kernel) on Linux; elsewhere snapshots carry no `kernel` field. */
export async function enableKernelTcpInfo(): Promise<boolean> {
  if (tcpInfoReader !== undefined) return tcpInfoReader !== null;
  if (process.platform !== 'linux') {
    tcpInfoReader = null;
    return false;
  }
  try {
    const { tcpInfo } = await import('../kernel/info.js');
    tcpInfoReader = (s) => {
      const t = tcpInfo(s);
      return (
        t && {
          rttUs: t.rttUs,
          rttVarUs: t.rttVarUs,
          rtoUs: t.rtoUs,
          cwnd: t.sndCwnd,
          totalRetrans: t.totalRetrans,
          ...(t.pacingRateBps !== undefined ? { pacingRateBps: t.pacingRateBps } : {}),
          ...(t.deliveryRateBps !== undefined ? { deliveryRateBps: t.deliveryRateBps } : {}),
        }
      );
    };
    return true;
  } catch {
    tcpInfoReader = null;
    return false;
  }
}

export interface SubflowSnapshot extends SubflowInfo {
  /** struct tcp_info of the subflow's socket (Linux, after enableKernelTcpInfo()). */
  kernel?: KernelTcpInfo;
  /** Bytes queued in the subflow socket's userspace write buffer. */
  socketQueuedBytes?: number;
  /** The path name given by the application (client side), if any. */
  path?: string;
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
}

interface SubflowSocket {
  socket: net.Socket;
  path?: string;
  error?: Error;
}

/** The Duplex's own buffers; the core's send and receive buffers are the real bounds. */
const WRITABLE_HIGH_WATER_MARK_BYTES = 256 * 1024;
const READABLE_HIGH_WATER_MARK_BYTES = 64 * 1024;
/** A subflow read this large (Node's default read size) switches the socket to large reads. */
const LARGE_READS_AFTER_READ_BYTES = 64 * 1024;

/** The clock of every adapter: monotonic milliseconds. */
export const nowMs = (): number => performance.now();

export class MptcpSocket extends Duplex {
  /** True once MPTCP is established, false after fallback to plain TCP, undefined before either. */
  multipath: boolean | undefined;
  connecting = true;
  protected conn: Connection | undefined;
  protected readonly subflowSockets = new Map<number, SubflowSocket>();
  private plain: net.Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private pendingWriteCallback: ((err?: Error | null) => void) | undefined;
  /** end()'s callback: called when our DATA_FIN is acknowledged ('finish' then means delivered). */
  private finalCallback: ((err?: Error | null) => void) | undefined;
  private wantRead = false;
  private pumping = false;
  private readEnded = false;
  private closedByCore = false;
  private idleTimeoutMs = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Writes and end() made before the connection exists (the TCP connect is still under way). */
  private deferred: Array<() => void> = [];
  /** Bytes reinjected after subflow failures, over the connection's life. */
  reinjectedBytes = 0;
  /** TCP_CONGESTION set on each subflow socket this side opens (the client's; a server sets its listeners). */
  protected congestionControl: string | undefined;

  constructor(options: { allowHalfOpen?: boolean } = {}) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      decodeStrings: true,
      writableHighWaterMark: WRITABLE_HIGH_WATER_MARK_BYTES,
      readableHighWaterMark: READABLE_HIGH_WATER_MARK_BYTES,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring (used by connect.ts and server.ts)

  /** Attaches the core connection (client: before the handshake; server: once accepted). */
  attachConnection(conn: Connection): void {
    this.conn = conn;
    this.runDeferred();
    this.pump();
  }

  private runDeferred(): void {
    const deferred = this.deferred;
    this.deferred = [];
    for (const run of deferred) run();
  }

  /** Adds a subflow socket; its bytes go to the core under `subflowId`. */
  attachSubflow(subflowId: number, socket: net.Socket, path?: string): void {
    const entry: SubflowSocket = path === undefined ? { socket } : { socket, path };
    this.subflowSockets.set(subflowId, entry);
    socket.setNoDelay(true);
    this.applyCongestionControl(socket);
    const onBytes = (chunk: Buffer): void => {
      this.conn?.handleBytes(subflowId, chunk, nowMs());
      this.pump();
    };
    let largeReads = false;
    socket.on('data', (chunk: Buffer) => {
      onBytes(chunk);
      // A full default read means bulk data: from now on read into large arenas (src/node/large-reads.ts).
      if (!largeReads && chunk.length >= LARGE_READS_AFTER_READ_BYTES && !socket.destroyed)
        largeReads = enableLargeReads(socket, onBytes);
    });
    socket.on('drain', () => {
      this.conn?.setSubflowBlocked(subflowId, false, nowMs());
      this.pump();
    });
    socket.on('error', (err) => {
      entry.error = err;
    });
    socket.on('close', () => {
      if (this.subflowSockets.get(subflowId)?.socket !== socket) return;
      this.subflowSockets.delete(subflowId);
      const reason: SubflowCloseReason = entry.error
        ? (entry.error as NodeJS.ErrnoException).code === 'ECONNRESET'
          ? 'reset'
          : 'error'
        : 'closed';
      this.conn?.handleSubflowClosed(subflowId, reason, nowMs(), entry.error?.message);
      this.pump();
    });
  }

  /** Switches to plain TCP over `socket` (fallback). `initial` bytes were already read from it. */
  attachPlain(socket: net.Socket, initial?: Uint8Array): void {
    this.plain = socket;
    this.multipath = false;
    this.connecting = false;
    this.clearTimer();
    socket.setNoDelay(true);
    this.applyCongestionControl(socket);
    if (initial && initial.length > 0) this.push(initial);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('drain', () => this.releaseWriteCallback());
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    this.runDeferred();
    this.emit('connect');
  }

  private applyCongestionControl(socket: net.Socket): void {
    if (this.congestionControl === undefined) return;
    try {
      setCongestionControl(socket, this.congestionControl);
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  /** The socket of a subflow (for introspection by adapters). */
  subflowSocket(subflowId: number): net.Socket | undefined {
    return this.subflowSockets.get(subflowId)?.socket;
  }

  // ---------------------------------------------------------------------------------------------
  // The pump: core outputs → sockets, events

  protected pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let round = 0; round < 64; round++) {
        const conn = this.conn;
        if (!conn) return;
        let progressed = false;
        for (let a = conn.pollTransmit(); a; a = conn.pollTransmit()) {
          progressed = true;
          const entry = this.subflowSockets.get(a.subflowId);
          if (!entry) continue;
          const { socket } = entry;
          if (a.type === 'write') {
            if (socket.destroyed || !socket.writable) continue;
            let ok = true;
            socket.cork();
            for (const b of a.buffers) ok = socket.write(b);
            socket.uncork();
            // write() answers false for any write above the socket's high-water mark, even one the kernel
            // took at once; the subflow is blocked only while bytes are still queued in the socket
            // ('drain' follows either way, since write() returned false).
            if (!ok && socket.writableLength > 0) conn.setSubflowBlocked(a.subflowId, true, nowMs());
          } else if (a.reset) {
            socket.resetAndDestroy();
          } else {
            socket.end();
            // A peer that never closes its side must not keep the socket forever.
            setTimeout(() => socket.destroy(), 2000).unref();
          }
        }
        for (let e = conn.pollEvent(); e; e = conn.pollEvent()) {
          progressed = true;
          this.onCoreEvent(e);
        }
        if (this.wantRead && conn.readableBytes > 0) {
          progressed = true;
          this.pullReadable();
        }
        if (!progressed) break;
      }
      this.armTimer();
    } finally {
      this.pumping = false;
    }
  }

  protected onCoreEvent(e: ConnectionEvent): void {
    switch (e.type) {
      case 'readable':
        return; // the pump pulls data while the reader wants it
      case 'drain':
        this.releaseWriteCallback();
        return;
      case 'send-finished': {
        const cb = this.finalCallback;
        this.finalCallback = undefined;
        cb?.();
        break;
      }
      case 'end':
        this.readEnded = true;
        if (this.conn?.readableBytes === 0) this.push(null);
        break;
      case 'established':
        this.multipath = true;
        this.connecting = false;
        this.emit('connect');
        break;
      case 'subflow-established':
        this.emit('subflow', this.snapshot(e.subflowId));
        break;
      case 'subflow-closed':
        this.reinjectedBytes += e.reinjectedBytes;
        this.emit('subflowClosed', e);
        break;
      case 'closed':
        this.closedByCore = true;
        this.clearTimer();
        if (e.error) this.destroy(e.error);
        else this.maybeFinishClose();
        break;
      default:
        break;
    }
    this.emit('mptcp', e);
  }

  private pullReadable(): void {
    const conn = this.conn!;
    for (let chunk = conn.read(nowMs()); chunk; chunk = conn.read(nowMs())) {
      this.touchIdle();
      if (!this.push(chunk)) {
        this.wantRead = false;
        break;
      }
    }
    if (this.readEnded && conn.readableBytes === 0) this.push(null);
  }

  private maybeFinishClose(): void {
    if (this.destroyed) return;
    // Both DATA_FINs are acknowledged: close once the application has read everything ('end').
    if (this.readableEnded) this.destroy();
    else this.once('end', () => queueMicrotask(() => this.destroy()));
  }

  private armTimer(): void {
    const deadline = this.conn?.nextDeadline();
    if (deadline === undefined) {
      this.clearTimer();
      return;
    }
    if (this.timer && deadline >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = deadline;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.conn?.handleTimeout(nowMs());
        this.pump();
      },
      Math.max(0, Math.ceil(deadline - nowMs())),
    );
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private releaseWriteCallback(): void {
    const cb = this.pendingWriteCallback;
    this.pendingWriteCallback = undefined;
    cb?.();
  }

  // ---------------------------------------------------------------------------------------------
  // Duplex implementation

  override _read(): void {
    if (this.plain) {
      this.plain.resume();
      return;
    }
    this.wantRead = true;
    if (this.conn && this.conn.readableBytes > 0)
      this.pump(); // reading opens the window: send the update
    else if (this.readEnded) this.push(null);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.touchIdle();
    if (this.plain) {
      if (this.plain.write(chunk)) callback();
      else this.pendingWriteCallback = callback;
      return;
    }
    if (!this.conn) {
      this.deferred.push(() => this._write(chunk, _encoding, callback));
      return;
    }
    let ok: boolean;
    try {
      ok = this.conn.write(chunk, nowMs());
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.pump();
    if (ok) callback();
    else this.pendingWriteCallback = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.plain) {
      this.plain.end(callback);
      return;
    }
    if (!this.conn) {
      this.deferred.push(() => this._final(callback));
      return;
    }
    this.finalCallback = callback;
    this.conn.end(nowMs());
    this.pump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.clearTimer();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.plain) {
      this.plain.destroy();
    } else if (this.conn && !this.closedByCore) {
      this.conn.destroy(nowMs());
      this.pump();
    }
    for (const { socket } of this.subflowSockets.values()) {
      if (!socket.destroyed) setTimeout(() => socket.destroy(), 1000).unref();
    }
    this.releaseWriteCallback();
    const final = this.finalCallback;
    this.finalCallback = undefined;
    final?.(error ?? new Error('destroyed before the peer acknowledged the end of the stream'));
    callback(error);
  }

  // ---------------------------------------------------------------------------------------------
  // Introspection and control

  /** Every subflow: addresses, backup flag, bytes sent and acknowledged, smoothed RTT, state. */
  get subflows(): SubflowSnapshot[] {
    if (!this.conn) return [];
    return this.conn.subflowInfo().map((info) => this.withAddresses(info));
  }

  private snapshot(subflowId: number): SubflowSnapshot | undefined {
    const info = this.conn?.subflowInfo().find((s) => s.id === subflowId);
    return info && this.withAddresses(info);
  }

  private withAddresses(info: SubflowInfo): SubflowSnapshot {
    const entry = this.subflowSockets.get(info.id);
    const s = entry?.socket;
    let kernel: KernelTcpInfo | undefined;
    if (tcpInfoReader && s && !s.destroyed) {
      try {
        kernel = tcpInfoReader(s);
      } catch {
        kernel = undefined;
      }
    }
    return {
      ...info,
      ...(kernel ? { kernel } : {}),
      ...(s ? { socketQueuedBytes: s.writableLength } : {}),
      ...(entry?.path !== undefined ? { path: entry.path } : {}),
      ...(s?.localAddress !== undefined ? { localAddress: s.localAddress } : {}),
      ...(s?.localPort !== undefined ? { localPort: s.localPort } : {}),
      ...(s?.remoteAddress !== undefined ? { remoteAddress: s.remoteAddress } : {}),
      ...(s?.remotePort !== undefined ? { remotePort: s.remotePort } : {}),
    };
  }

  /** Statistics of the connection (bytes written/read, reinjected, duplicates received). */
  get stats() {
    return this.conn?.getStats();
  }

  /** The local and remote tokens (MPTCP only). */
  get tokens(): { local: number; remote: number | undefined } | undefined {
    return this.conn ? { local: this.conn.localToken, remote: this.conn.remoteToken } : undefined;
  }

  /** Closes one subflow (its unacknowledged data is reinjected on the others). */
  closeSubflow(subflowId: number): void {
    this.conn?.closeSubflow(subflowId, nowMs());
    this.pump();
  }

  /** Marks a subflow as backup or not, and tells the peer (MP_PRIO). */
  setBackup(subflowId: number, backup: boolean): void {
    this.conn?.setBackup(subflowId, backup, nowMs());
    this.pump();
  }

  /** Advertises an address of ours to the peer (ADD_ADDR). */
  announce(addressId: number, address: string, port?: number): void {
    this.conn?.announce(addressId, address, port, nowMs());
    this.pump();
  }

  /** Withdraws addresses (REMOVE_ADDR). */
  removeAddress(addressIds: number[]): void {
    this.conn?.removeAddresses(addressIds, nowMs());
    this.pump();
  }

  // ---------------------------------------------------------------------------------------------
  // net.Socket compatibility (what http and friends call)

  get remoteAddress(): string | undefined {
    return this.plain?.remoteAddress ?? this.firstSocket()?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.plain?.remotePort ?? this.firstSocket()?.remotePort;
  }
  get localAddress(): string | undefined {
    return this.plain?.localAddress ?? this.firstSocket()?.localAddress;
  }
  get localPort(): number | undefined {
    return this.plain?.localPort ?? this.firstSocket()?.localPort;
  }
  get remoteFamily(): string | undefined {
    return this.plain?.remoteFamily ?? this.firstSocket()?.remoteFamily;
  }

  address(): net.AddressInfo | Record<string, never> {
    return this.plain?.address() ?? this.firstSocket()?.address() ?? {};
  }

  private firstSocket(): net.Socket | undefined {
    for (const { socket } of this.subflowSockets.values()) return socket;
    return undefined;
  }

  setNoDelay(_noDelay?: boolean): this {
    return this; // every subflow already runs with TCP_NODELAY; frames are batched by the core
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.plain?.setKeepAlive(enable, initialDelay);
    for (const { socket } of this.subflowSockets.values()) socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.idleTimeoutMs = ms;
    if (callback) this.once('timeout', callback);
    this.touchIdle();
    return this;
  }

  private touchIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.idleTimeoutMs > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), this.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  ref(): this {
    this.plain?.ref();
    for (const { socket } of this.subflowSockets.values()) socket.ref();
    return this;
  }

  unref(): this {
    this.plain?.unref();
    for (const { socket } of this.subflowSockets.values()) socket.unref();
    return this;
  }
}
