/**
 * The userspace MPTCP connection: a sans-IO state machine (no sockets, timers or clock of its own).
 *
 * Inputs: `handleBytes(subflowId, bytes, now)` for bytes read from a subflow socket,
 * `handleSubflowClosed(...)`, `handleTimeout(now)`, and the API calls (`write`, `end`, `read`,
 * `openJoin`, `setBackup`, `announce`, `destroy`). Outputs, pulled by the adapter:
 * `pollTransmit()` (bytes to write, sockets to close), `pollEvent()` and `nextDeadline()`.
 *
 * Protocol (docs/protocol.md): RFC 8684 semantics carried in-band by the framing of frame.ts.
 * - MP_CAPABLE (§3.1): client → server SYN form (no key), server → client its key, client → server
 *   both keys. Tokens and IDSNs from the keys.
 * - MP_JOIN (§3.2): token + nonce, truncated HMACs both ways, then an acknowledgement from the listener
 *   before the joining side sends data (the RFC's fourth ACK).
 * - DSS (§3.3): every data frame carries a 64-bit DSN mapping and the cumulative DATA_ACK; the frame
 *   header carries the receive window relative to the DATA_ACK (§3.3.4). DATA_FIN takes one DSN.
 * - ADD_ADDR/REMOVE_ADDR (§3.4), MP_PRIO (§3.3.8), MP_FASTCLOSE (§3.5), MP_TCPRST (§3.6).
 *
 * Differences from Linux, and why: the subflows are reliable TCP connections, so there is no
 * subflow-level retransmission here; a subflow is declared failed when it errors, closes, is reset, or
 * is silent for a probe timeout while it has data outstanding (max(200 ms, 3×SRTT), with a probe at
 * half of it), and everything mapped to it and not DATA_ACKed is reinjected on the others.
 */
import {
  addAddrHmac,
  idsnOfKey,
  joinAckHmac,
  joinSynAckHmac,
  randomKey,
  randomNonce,
  timingSafeEqualBytes,
} from '../crypto/index.js';
import type { AddAddrOption, DssOption, MptcpOption } from '../wire/types.js';
import { MpCapableFlag, TcpRstReason } from '../wire/types.js';
import { tokenOfKey } from '../crypto/index.js';
import { ConnectionAborted, JoinRefused, ProtocolViolation, WriteAfterEnd } from './errors.js';
import type { ConnectionEvent, SubflowAction, SubflowCloseReason } from './events.js';
import {
  encodeFrameHeader,
  type Frame,
  type FrameDecoder,
  FrameError,
  FrameFlag,
  MAX_MAPPED_BYTES,
  PREAMBLE,
} from './frame.js';
import { Reassembly } from './reassembly.js';
import { minRttScheduler, type Scheduler } from './scheduler.js';
import { SendBuffer } from './send-buffer.js';
import { DELAYED_ACK_MS, Subflow } from './subflow.js';

const MASK64 = (1n << 64n) - 1n;
const MPTCP_VERSION = 1;

export const DEFAULT_SEND_BUFFER_BYTES = 4 * 1024 * 1024;
export const DEFAULT_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_SUBFLOWS = 8;
/** Client: how long to wait for the server's MP_CAPABLE answer before falling back to plain TCP. */
export const DEFAULT_FALLBACK_TIMEOUT_MS = 1000;
/** How long a connection survives with no subflow at all, waiting for a new one. */
export const DEFAULT_ORPHAN_TIMEOUT_MS = 15_000;
/** Lower bound of the probe timeout (RFC 6298's minimum RTO). */
export const MIN_PROBE_TIMEOUT_MS = 200;
/** At most one acknowledgement per this interval while a frame is still arriving (see handleBytes). */
export const PROGRESS_ACK_INTERVAL_MS = MIN_PROBE_TIMEOUT_MS / 4;
/** Acknowledge at once after this many received bytes; otherwise after DELAYED_ACK_MS. */
export const ACK_EVERY_BYTES = 1024 * 1024;
/** Frame sizes: see Subflow.frameLimitBytes. */
export {
  DELAYED_ACK_MS,
  FRAME_AIRTIME_MS,
  INITIAL_FRAME_BYTES,
  LARGE_FRAME_BYTES,
  MIN_FRAME_BYTES,
  SLOW_FRAME_AIRTIME_MS,
} from './subflow.js';
/** Handshakes (joins, the server's wait for the third ACK) must finish within this. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ConnectionOptions {
  /** Our 64-bit key; random when absent (the listener draws until the token is unique). */
  localKey?: bigint;
  scheduler?: Scheduler;
  /** write() returns false while more than this is buffered (written and not DATA_ACKed). */
  sendBufferBytes?: number;
  /** The connection-level receive window: bytes received and not yet read by the application. */
  receiveBufferBytes?: number;
  /** Most subflows at once (joins beyond it are refused). */
  maxSubflows?: number;
  fallbackTimeoutMs?: number;
  orphanTimeoutMs?: number;
  /** Called for every data segment sent or received (for charts and tools); undefined costs nothing. */
  trace?: (event: DataTraceEvent) => void;
}

/** One data segment, as seen by `trace`: data-level offset (from IDSN + 1) and length. */
export interface DataTraceEvent {
  type: 'send' | 'receive';
  subflowId: number;
  offset: number;
  length: number;
  /** A resend of bytes first mapped to a subflow that failed. */
  reinjection: boolean;
  nowMs: number;
}

/** What the application and tools see of a subflow. */
export interface SubflowInfo {
  id: number;
  state: string;
  initial: boolean;
  backup: boolean;
  localAddressId: number;
  remoteAddressId: number;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  reinjectedBytes: number;
  inFlightBytes: number;
  srttMs: number | undefined;
  rttVarMs: number;
  rtoMs: number;
  deliveryRateBps: number;
}

export interface ConnectionStats {
  bytesWritten: number;
  bytesRead: number;
  reinjectedBytes: number;
  duplicateBytesReceived: number;
}

type ConnectionState = 'handshake' | 'established' | 'fallback' | 'closed';

export class Connection {
  readonly role: 'client' | 'server';
  state: ConnectionState = 'handshake';
  readonly localKey: bigint;
  readonly localToken: number;
  remoteKey: bigint | undefined;
  remoteToken: number | undefined;
  private readonly localIdsn: bigint;
  private remoteIdsn = 0n;

  readonly scheduler: Scheduler;
  private readonly sendBufferBytes: number;
  private readonly receiveBufferBytes: number;
  private readonly maxSubflows: number;
  private readonly fallbackTimeoutMs: number;
  private readonly orphanTimeoutMs: number;
  private readonly trace: ((event: DataTraceEvent) => void) | undefined;

  private readonly subflows = new Map<number, Subflow>();
  private readonly events: ConnectionEvent[] = [];
  private readonly actions: SubflowAction[] = [];

  // Send side.
  private readonly snd = new SendBuffer();
  /** Next data offset never mapped before. */
  private sndNext = 0;
  /** Ranges to send again because their subflow failed (sorted, merged lazily). */
  private reinjectQueue: Array<{ start: number; end: number }> = [];
  /** Highest offset the peer allows us to send below (DATA_ACK + window). */
  private peerRightEdge = 0;
  private writeBlocked = false;
  private finOffset: number | undefined;
  private finSent = false;
  /** The DATA_FIN went out at least once: the peer may acknowledge it while its resend is pending. */
  private finEverSent = false;
  private finAcked = false;

  // Receive side.
  private readonly rcv = new Reassembly();
  private advertisedRightEdge = 0;
  private peerFinOffset: number | undefined;
  private peerFinReached = false;
  /** When the delayed acknowledgement of the subflows with ackPendingBytes is due. */
  private ackDeadlineMs: number | undefined;
  private ackSubflowId: number | undefined;
  private readonly stats: ConnectionStats = {
    bytesWritten: 0,
    bytesRead: 0,
    reinjectedBytes: 0,
    duplicateBytesReceived: 0,
  };

  private handshakeDeadlineMs: number | undefined;
  /** Both ends hold both keys: the client has seen the server's first DATA_ACK. Joins need it. */
  private confirmed = false;
  private orphanSinceMs: number | undefined;
  /**
   * Since when data has waited on the peer's receive window with nothing to send it (zero-window
   * persist, RFC 9293 §3.8.6.1): every subflow is probed then, or a window update lost with a failed
   * or silently cut subflow would stall the connection for good.
   */
  private persistSinceMs: number | undefined;
  private closedEmitted = false;

  private constructor(role: 'client' | 'server', options: ConnectionOptions) {
    this.role = role;
    this.localKey = options.localKey ?? randomKey();
    this.localToken = tokenOfKey(this.localKey);
    this.localIdsn = idsnOfKey(this.localKey);
    this.scheduler = options.scheduler ?? minRttScheduler;
    this.sendBufferBytes = options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES;
    this.receiveBufferBytes = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
    this.maxSubflows = options.maxSubflows ?? DEFAULT_MAX_SUBFLOWS;
    this.fallbackTimeoutMs = options.fallbackTimeoutMs ?? DEFAULT_FALLBACK_TIMEOUT_MS;
    this.orphanTimeoutMs = options.orphanTimeoutMs ?? DEFAULT_ORPHAN_TIMEOUT_MS;
    this.trace = options.trace;
  }

  // ---------------------------------------------------------------------------------------------
  // Construction

  /** A client connection whose initial subflow (`subflowId`, already TCP-connected) starts MP_CAPABLE. */
  static connect(subflowId: number, nowMs: number, options: ConnectionOptions = {}): Connection {
    const conn = new Connection('client', options);
    const sf = new Subflow(subflowId, true, 'capable-sent', false, nowMs);
    conn.subflows.set(subflowId, sf);
    conn.handshakeDeadlineMs = nowMs + conn.fallbackTimeoutMs;
    const capable: MptcpOption = {
      kind: 'mp_capable',
      version: MPTCP_VERSION,
      flags: MpCapableFlag.HMAC_SHA256,
    };
    conn.sendControl(sf, [capable], nowMs, 0, PREAMBLE);
    return conn;
  }

  /**
   * A server connection from the first frame of a new subflow, which must be an MP_CAPABLE SYN form.
   * `decoder` is the subflow's decoder (it has consumed the preamble); `rest` the frames after the first.
   * Throws ProtocolViolation otherwise (the listener then treats the peer as plain TCP or resets it).
   */
  static accept(
    subflowId: number,
    decoder: FrameDecoder,
    first: Frame,
    rest: Frame[],
    nowMs: number,
    options: ConnectionOptions = {},
  ): Connection {
    const capable = first.options.find((o) => o.kind === 'mp_capable');
    if (capable?.kind !== 'mp_capable' || capable.senderKey !== undefined) {
      throw new ProtocolViolation('first frame is not an MP_CAPABLE SYN');
    }
    if (capable.version !== MPTCP_VERSION)
      throw new ProtocolViolation(`unsupported MPTCP version ${capable.version}`);
    const conn = new Connection('server', options);
    const sf = new Subflow(subflowId, true, 'capable-received', false, nowMs, decoder);
    conn.subflows.set(subflowId, sf);
    sf.tsRecent = first.tsVal ?? 0;
    conn.peerRightEdge = first.window;
    conn.handshakeDeadlineMs = nowMs + HANDSHAKE_TIMEOUT_MS;
    const reply: MptcpOption = {
      kind: 'mp_capable',
      version: MPTCP_VERSION,
      flags: MpCapableFlag.HMAC_SHA256,
      senderKey: conn.localKey,
    };
    conn.sendControl(sf, [reply], nowMs, 0, PREAMBLE);
    conn.handleFrames(sf, rest, nowMs);
    return conn;
  }

  /**
   * A joining subflow (client side), TCP-connected: sends MP_JOIN SYN. Throws if the connection is not
   * established yet or already has maxSubflows subflows.
   */
  openJoin(subflowId: number, nowMs: number, opts: { backup?: boolean; localAddressId?: number } = {}): void {
    if (this.state !== 'established' || !this.confirmed || this.remoteToken === undefined) {
      throw new Error('cannot join: the connection is not established');
    }
    if (this.subflows.has(subflowId)) throw new Error(`subflow id ${subflowId} in use`);
    const sf = new Subflow(subflowId, false, 'join-sent', opts.backup ?? false, nowMs);
    sf.localAddressId = opts.localAddressId ?? 0;
    sf.localNonce = randomNonce();
    this.subflows.set(subflowId, sf);
    this.orphanSinceMs = undefined;
    const syn: MptcpOption = {
      kind: 'mp_join',
      form: 'syn',
      backup: sf.backup,
      addressId: sf.localAddressId,
      token: this.remoteToken,
      nonce: sf.localNonce,
    };
    this.sendControl(sf, [syn], nowMs, 0, PREAMBLE);
  }

  /**
   * A joining subflow (server side) whose first frame is an MP_JOIN SYN carrying our token. Answers
   * with the SYN/ACK HMAC, or refuses (JoinRefused: the caller sends the reset frame and closes).
   */
  acceptJoin(subflowId: number, decoder: FrameDecoder, first: Frame, rest: Frame[], nowMs: number): void {
    const syn = first.options.find((o) => o.kind === 'mp_join');
    if (syn?.kind !== 'mp_join' || syn.form !== 'syn')
      throw new ProtocolViolation('first frame is not an MP_JOIN SYN');
    if (syn.token !== this.localToken) throw new JoinRefused('unknown token', TcpRstReason.MPTCP_SPECIFIC);
    if (this.state !== 'established' || this.remoteKey === undefined) {
      throw new JoinRefused('connection not established', TcpRstReason.MPTCP_SPECIFIC);
    }
    if (this.liveSubflowCount() >= this.maxSubflows) {
      throw new JoinRefused(
        `subflow limit of ${this.maxSubflows} reached`,
        TcpRstReason.ADMINISTRATIVELY_PROHIBITED,
      );
    }
    if (this.subflows.has(subflowId)) throw new Error(`subflow id ${subflowId} in use`);
    const sf = new Subflow(subflowId, false, 'join-received', syn.backup, nowMs, decoder);
    sf.remoteAddressId = syn.addressId;
    sf.remoteNonce = syn.nonce;
    sf.localNonce = randomNonce();
    sf.tsRecent = first.tsVal ?? 0;
    this.subflows.set(subflowId, sf);
    this.orphanSinceMs = undefined;
    const hmac = joinSynAckHmac(this.localKey, this.remoteKey, sf.localNonce, sf.remoteNonce);
    const synAck: MptcpOption = {
      kind: 'mp_join',
      form: 'synack',
      backup: sf.backup,
      addressId: sf.localAddressId,
      hmac,
      nonce: sf.localNonce,
    };
    this.sendControl(sf, [synAck], nowMs, 0, PREAMBLE);
    this.handleFrames(sf, rest, nowMs);
  }

  /** The bytes a listener sends on a subflow it refuses (preamble, MP_TCPRST), before closing it. */
  static refusalBytes(reason: number): Uint8Array[] {
    const head = encodeFrameHeader({
      flags: 0,
      window: 0,
      subflowAck: 0,
      options: [{ kind: 'mp_tcprst', flags: 0, reason }],
      payloadLength: 0,
    });
    return [PREAMBLE, head];
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  pollTransmit(): SubflowAction | undefined {
    return this.actions.shift();
  }

  pollEvent(): ConnectionEvent | undefined {
    return this.events.shift();
  }

  /** The earliest time handleTimeout must be called, or undefined when nothing is timed. */
  nextDeadline(): number | undefined {
    if (this.state === 'closed' || this.state === 'fallback') return undefined;
    let deadline = this.handshakeDeadlineMs ?? Number.POSITIVE_INFINITY;
    if (this.ackDeadlineMs !== undefined) deadline = Math.min(deadline, this.ackDeadlineMs);
    if (this.orphanSinceMs !== undefined)
      deadline = Math.min(deadline, this.orphanSinceMs + this.orphanTimeoutMs);
    for (const sf of this.subflows.values()) {
      const d = this.subflowDeadline(sf);
      if (d !== undefined && d < deadline) deadline = d;
    }
    return Number.isFinite(deadline) ? deadline : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** Bytes read from a subflow's socket. */
  handleBytes(subflowId: number, bytes: Uint8Array, nowMs: number): void {
    const sf = this.subflows.get(subflowId);
    if (!sf || sf.state === 'closed' || this.state === 'closed' || this.state === 'fallback') return;
    let frames: Frame[];
    try {
      frames = sf.decoder.push(bytes);
    } catch (err) {
      if (err instanceof FrameError && sf.initial && sf.state === 'capable-sent') {
        this.fallback(`the server did not answer with MPTCP (${err.message})`);
        return;
      }
      this.resetSubflow(sf, 'protocol', (err as Error).message, TcpRstReason.MPTCP_SPECIFIC, nowMs);
      this.flush(nowMs);
      return;
    }
    // Bytes of a frame still arriving (a slow path: a 64 KiB frame takes 650 ms at 100 KB/s). The peer
    // is alive (our acknowledgements may queue behind its data), and the sender must learn that its
    // bytes flow, or its probe timeout takes the queueing for a dead path (its probe waits behind the
    // same bytes) and it fails a working subflow again and again.
    if (frames.length === 0 && sf.state === 'established') {
      sf.lastHeardAtMs = nowMs;
      if (nowMs - sf.progressAckAtMs >= PROGRESS_ACK_INTERVAL_MS) {
        sf.progressAckAtMs = nowMs;
        this.sendPureAck(sf, nowMs, 0);
      }
    }
    this.handleFrames(sf, frames, nowMs);
  }

  /** The adapter saw the subflow's socket end, error or reset. */
  handleSubflowClosed(subflowId: number, reason: SubflowCloseReason, nowMs: number, detail?: string): void {
    const sf = this.subflows.get(subflowId);
    if (!sf || sf.state === 'closed') return;
    if (sf.initial && sf.state === 'capable-sent') {
      this.fallback(`the initial subflow closed during the MPTCP handshake (${detail ?? reason})`);
      return;
    }
    this.failSubflow(sf, reason, nowMs, detail);
    this.flush(nowMs);
  }

  /** The adapter's socket for `subflowId` is full (write returned false) or drained again. */
  setSubflowBlocked(subflowId: number, blocked: boolean, nowMs: number): void {
    const sf = this.subflows.get(subflowId);
    if (!sf) return;
    sf.blocked = blocked;
    if (!blocked) this.flush(nowMs);
  }

  handleTimeout(nowMs: number): void {
    if (this.state === 'closed' || this.state === 'fallback') return;
    if (this.handshakeDeadlineMs !== undefined && nowMs >= this.handshakeDeadlineMs) {
      this.handshakeDeadlineMs = undefined;
      const initial = [...this.subflows.values()].find((s) => s.initial);
      if (this.role === 'client' && initial?.state === 'capable-sent') {
        this.fallback(`no MPTCP answer within ${this.fallbackTimeoutMs} ms`);
        return;
      }
      if (this.state === 'handshake') {
        this.abort(new ConnectionAborted('the MPTCP handshake did not complete'), nowMs);
        return;
      }
    }
    for (const sf of this.subflows.values()) this.checkSubflowTimers(sf, nowMs);
    if (this.ackDeadlineMs !== undefined && nowMs >= this.ackDeadlineMs) {
      this.ackDeadlineMs = undefined;
      for (const sf of this.subflows.values()) {
        if (sf.state === 'established' && sf.ackPendingBytes > 0) this.sendPureAck(sf, nowMs, 0);
      }
    }
    if (this.orphanSinceMs !== undefined && nowMs >= this.orphanSinceMs + this.orphanTimeoutMs) {
      if (this.onlyFinAckMissing()) {
        // Everything we sent was acknowledged and the peer's DATA_FIN was received: only the
        // acknowledgement of our DATA_FIN is missing (lost with the last subflow, like a lost last
        // TCP ACK). Nothing of ours can be lost any more: close without an error. Not sooner: until
        // the orphan timeout, a new subflow may still carry the DATA_FIN to a peer that lacks it.
        this.finishConnection(nowMs);
        return;
      }
      this.abort(new ConnectionAborted('every subflow was lost'), nowMs);
      return;
    }
    this.flush(nowMs);
  }

  // ---------------------------------------------------------------------------------------------
  // Application API

  /** Queues data; returns false when the send buffer is over its limit ('drain' follows). */
  write(data: Uint8Array, nowMs: number): boolean {
    if (this.finOffset !== undefined) throw new WriteAfterEnd('write after end');
    if (this.state === 'closed') throw new ConnectionAborted('the connection is closed');
    this.snd.append(data);
    this.stats.bytesWritten += data.length;
    this.flush(nowMs);
    const ok = this.snd.retainedBytes < this.sendBufferBytes;
    if (!ok) this.writeBlocked = true;
    return ok;
  }

  /** Ends our direction: DATA_FIN after the last byte written (half-close; the peer may go on sending). */
  end(nowMs: number): void {
    if (this.finOffset !== undefined || this.state === 'closed') return;
    this.finOffset = this.snd.writeEnd;
    this.flush(nowMs);
  }

  /** Takes the next chunk of in-order data, or undefined. Opens the receive window as it goes. */
  read(nowMs: number): Uint8Array | undefined {
    const chunk = this.rcv.read();
    if (chunk) {
      this.stats.bytesRead += chunk.length;
      this.maybeWindowUpdate(nowMs);
    }
    return chunk;
  }

  get readableBytes(): number {
    return this.rcv.readyBytes;
  }

  /** Received bytes held (in order and unread, plus out of order): bounded by receiveBufferBytes. */
  get receiveBufferedBytes(): number {
    return this.rcv.bufferedBytes;
  }

  /** Aborts the connection: MP_FASTCLOSE on every subflow (RFC 8684 §3.5), then closes them. */
  destroy(nowMs: number): void {
    if (this.state === 'closed') return;
    if (this.state === 'established' && this.remoteKey !== undefined) {
      for (const sf of this.subflows.values()) {
        if (sf.state !== 'established') continue;
        this.sendControl(sf, [{ kind: 'mp_fastclose', receiverKey: this.remoteKey }], nowMs);
      }
    }
    this.closeAll(false);
    this.emitClosed(undefined);
  }

  /** Flips the backup flag of a subflow and tells the peer (MP_PRIO). */
  setBackup(subflowId: number, backup: boolean, nowMs: number): void {
    const sf = this.subflows.get(subflowId);
    if (sf?.state !== 'established') throw new Error(`no established subflow ${subflowId}`);
    if (sf.backup === backup) return;
    sf.backup = backup;
    this.sendControl(sf, [{ kind: 'mp_prio', backup }], nowMs);
    this.events.push({ type: 'subflow-priority', subflowId, backup });
    this.flush(nowMs);
  }

  /** Advertises one of our addresses (ADD_ADDR with HMAC) on the best established subflow. */
  announce(addressId: number, address: string, port: number | undefined, nowMs: number): void {
    const sf = this.bestControlSubflow();
    if (!sf || this.remoteKey === undefined) throw new Error('cannot announce: no established subflow');
    const family = address.includes(':') ? 6 : 4;
    const opt: AddAddrOption = {
      kind: 'add_addr',
      echo: false,
      addressId,
      family,
      address,
      ...(port !== undefined ? { port } : {}),
      hmac: addAddrHmac(this.localKey, this.remoteKey, addressId, address, port),
    };
    this.sendControl(sf, [opt], nowMs);
  }

  /** Withdraws addresses (REMOVE_ADDR). */
  removeAddresses(addressIds: number[], nowMs: number): void {
    const sf = this.bestControlSubflow();
    if (!sf) throw new Error('cannot remove addresses: no established subflow');
    this.sendControl(sf, [{ kind: 'remove_addr', addressIds }], nowMs);
  }

  /** Closes one subflow in an orderly way (a path-manager decision); its data is reinjected. */
  closeSubflow(subflowId: number, nowMs: number): void {
    const sf = this.subflows.get(subflowId);
    if (!sf || sf.state === 'closed') return;
    this.failSubflow(sf, 'closed', nowMs, 'closed locally');
    this.flush(nowMs);
  }

  subflowInfo(): SubflowInfo[] {
    return [...this.subflows.values()].map((sf) => ({
      id: sf.id,
      state: sf.state,
      initial: sf.initial,
      backup: sf.backup,
      localAddressId: sf.localAddressId,
      remoteAddressId: sf.remoteAddressId,
      bytesSent: sf.bytesSent,
      bytesAcked: sf.bytesAcked,
      bytesReceived: sf.bytesReceived,
      reinjectedBytes: sf.reinjectedBytes,
      inFlightBytes: sf.inFlightBytes,
      srttMs: sf.rtt.srttMs,
      rttVarMs: sf.rtt.rttVarMs,
      rtoMs: sf.rtt.rtoMs,
      deliveryRateBps: sf.deliveryRateBps,
    }));
  }

  getStats(): ConnectionStats {
    return { ...this.stats, duplicateBytesReceived: this.rcv.duplicateBytes };
  }

  /** Subflows that are not closed (handshaking ones included). */
  liveSubflowCount(): number {
    let n = 0;
    for (const sf of this.subflows.values()) if (sf.state !== 'closed') n++;
    return n;
  }

  /**
   * After a 'fallback' event: everything the application wrote (none of it was sent as MPTCP data:
   * data only flows once the server has answered MP_CAPABLE), and whether it called end().
   */
  takeFallbackData(): { chunks: Uint8Array[]; ended: boolean } {
    const chunks: Uint8Array[] = [];
    for (let offset = this.snd.acked; offset < this.snd.writeEnd; ) {
      const chunk = this.snd.read(offset, Number.MAX_SAFE_INTEGER);
      chunks.push(chunk);
      offset += chunk.length;
    }
    this.snd.ack(this.snd.writeEnd);
    return { chunks, ended: this.finOffset !== undefined };
  }

  /** Data written and not yet DATA_ACKed (bytes). */
  get unackedBytes(): number {
    return this.snd.retainedBytes;
  }

  /** The peer's DATA_FIN is reached and all our data is acknowledged; only our DATA_FIN's ack is missing. */
  private onlyFinAckMissing(): boolean {
    return (
      this.peerFinReached &&
      this.finOffset !== undefined &&
      this.finEverSent &&
      this.snd.acked >= this.finOffset
    );
  }

  /** Joins may be opened: established, and the server has confirmed it holds both keys. */
  get canJoin(): boolean {
    return this.state === 'established' && this.confirmed && this.remoteToken !== undefined;
  }

  /** Both directions are finished (our DATA_FIN acknowledged, the peer's reached). */
  get finished(): boolean {
    return this.finAcked && this.peerFinReached;
  }

  // ---------------------------------------------------------------------------------------------
  // Frame processing

  private handleFrames(sf: Subflow, frames: Frame[], nowMs: number): void {
    try {
      for (const frame of frames) {
        if (sf.state === 'closed' || this.state === 'closed') break;
        this.handleFrame(sf, frame, nowMs);
      }
    } catch (err) {
      if (
        sf.initial &&
        sf.state === 'capable-sent' &&
        (err instanceof ProtocolViolation || err instanceof JoinRefused)
      ) {
        // Whatever answered is not an MPTCP server (an echo server sends our own SYN form back).
        this.fallback(`the server did not answer MP_CAPABLE (${err.message})`);
      } else if (err instanceof JoinRefused) {
        this.refuseSubflow(sf, err.message, err.resetReason, nowMs);
      } else if (err instanceof ProtocolViolation) {
        this.resetSubflow(sf, 'protocol', err.message, TcpRstReason.MPTCP_SPECIFIC, nowMs);
      } else {
        throw err;
      }
    }
    this.flush(nowMs);
  }

  private handleFrame(sf: Subflow, frame: Frame, nowMs: number): void {
    sf.lastHeardAtMs = nowMs;
    sf.probeSentAtMs = undefined;
    if (frame.tsVal !== undefined) sf.tsRecent = frame.tsVal;
    switch (sf.state) {
      case 'capable-sent':
        this.onCapableReply(sf, frame, nowMs);
        return;
      case 'capable-received':
        this.onCapableAck(sf, frame, nowMs);
        return;
      case 'join-sent':
        this.onJoinSynAck(sf, frame, nowMs);
        return;
      case 'join-received':
        this.onJoinAck(sf, frame, nowMs);
        return;
      case 'join-ack-sent':
        this.establishSubflow(sf, nowMs);
        this.onEstablishedFrame(sf, frame, nowMs);
        return;
      case 'established':
        this.onEstablishedFrame(sf, frame, nowMs);
        return;
      case 'closed':
        return;
    }
  }

  private onCapableReply(sf: Subflow, frame: Frame, nowMs: number): void {
    const capable = findOption(frame, 'mp_capable');
    const reset = findOption(frame, 'mp_tcprst');
    if (reset) {
      this.fallback(`the server refused MPTCP (reset reason ${reset.reason})`);
      return;
    }
    if (!capable || capable.senderKey === undefined)
      throw new ProtocolViolation('expected the server key (MP_CAPABLE)');
    if (capable.version !== MPTCP_VERSION) {
      this.fallback(`the server speaks MPTCP version ${capable.version}`);
      return;
    }
    this.setRemoteKey(capable.senderKey);
    this.sampleRtt(sf, frame, nowMs);
    this.peerRightEdge = frame.window;
    this.handshakeDeadlineMs = undefined;
    // Third ACK: both keys (RFC 8684 §3.1). Data frames may follow at once.
    const ack: MptcpOption = {
      kind: 'mp_capable',
      version: MPTCP_VERSION,
      flags: MpCapableFlag.HMAC_SHA256,
      senderKey: this.localKey,
      receiverKey: capable.senderKey,
    };
    this.sendControl(sf, [ack], nowMs, 0);
    // Data may flow now; joins wait until the server confirms it has the keys (its first DATA_ACK),
    // or a join could overtake the third ACK (RFC 8684 §3.1: the MP_CAPABLE ACK is not reliable).
    this.state = 'established';
    this.establishSubflow(sf, nowMs);
  }

  private onCapableAck(sf: Subflow, frame: Frame, nowMs: number): void {
    const capable = findOption(frame, 'mp_capable');
    if (!capable || capable.senderKey === undefined || capable.receiverKey === undefined) {
      throw new ProtocolViolation('expected the MP_CAPABLE third ACK with both keys');
    }
    if (capable.receiverKey !== this.localKey) throw new ProtocolViolation('MP_CAPABLE echoed a wrong key');
    this.setRemoteKey(capable.senderKey);
    this.sampleRtt(sf, frame, nowMs);
    this.handshakeDeadlineMs = undefined;
    this.state = 'established';
    this.confirmed = true;
    this.events.push({ type: 'established', localToken: this.localToken, remoteToken: this.remoteToken! });
    this.establishSubflow(sf, nowMs);
    this.onEstablishedFrame(sf, frame, nowMs);
    // Confirms the keys to the client, which may then open joins.
    this.sendPureAck(sf, nowMs, 0);
  }

  private onJoinSynAck(sf: Subflow, frame: Frame, nowMs: number): void {
    const reset = findOption(frame, 'mp_tcprst');
    if (reset) {
      sf.peerResetReason = reset.reason;
      this.failSubflow(sf, 'refused', nowMs, `join refused (reset reason ${reset.reason})`);
      return;
    }
    const join = findOption(frame, 'mp_join');
    if (join?.form !== 'synack') throw new ProtocolViolation('expected MP_JOIN SYN/ACK');
    const expected = joinSynAckHmac(this.remoteKey!, this.localKey, join.nonce, sf.localNonce);
    if (!timingSafeEqualBytes(expected, join.hmac)) {
      throw new JoinRefused('MP_JOIN SYN/ACK HMAC does not verify', TcpRstReason.MPTCP_SPECIFIC);
    }
    sf.remoteNonce = join.nonce;
    sf.remoteAddressId = join.addressId;
    if (join.backup) sf.backup = true;
    this.sampleRtt(sf, frame, nowMs);
    const hmac = joinAckHmac(this.localKey, this.remoteKey!, sf.localNonce, sf.remoteNonce);
    this.sendControl(sf, [{ kind: 'mp_join', form: 'ack', hmac }], nowMs);
    sf.state = 'join-ack-sent';
  }

  private onJoinAck(sf: Subflow, frame: Frame, nowMs: number): void {
    const join = findOption(frame, 'mp_join');
    if (join?.form !== 'ack') throw new ProtocolViolation('expected MP_JOIN third ACK');
    const expected = joinAckHmac(this.remoteKey!, this.localKey, sf.remoteNonce, sf.localNonce);
    if (!timingSafeEqualBytes(expected, join.hmac)) {
      throw new JoinRefused('MP_JOIN third-ACK HMAC does not verify', TcpRstReason.MPTCP_SPECIFIC);
    }
    this.sampleRtt(sf, frame, nowMs);
    this.establishSubflow(sf, nowMs);
    // The RFC's fourth ACK: tells the joining side it may send data.
    this.sendPureAck(sf, nowMs, 0);
    this.onEstablishedFrame(sf, frame, nowMs);
  }

  private onEstablishedFrame(sf: Subflow, frame: Frame, nowMs: number): void {
    const delivered = sf.onSubflowAck(frame.subflowAck, nowMs);
    if (delivered < 0) throw new ProtocolViolation(`subflow ACK ${frame.subflowAck} beyond data sent`);
    if (delivered > 0) this.sampleRtt(sf, frame, nowMs);
    if (!this.confirmed && frame.options.some((o) => o.kind === 'dss')) {
      this.confirmed = true;
      this.events.push({ type: 'established', localToken: this.localToken, remoteToken: this.remoteToken! });
    }
    let mapped = false;
    for (const opt of frame.options) {
      switch (opt.kind) {
        case 'dss':
          if (this.onDss(sf, frame, opt, nowMs)) mapped = true;
          break;
        case 'add_addr':
          this.onAddAddr(sf, opt, nowMs);
          break;
        case 'remove_addr':
          this.onRemoveAddr(opt.addressIds, nowMs);
          break;
        case 'mp_prio':
          if (sf.backup !== opt.backup) {
            sf.backup = opt.backup;
            this.events.push({ type: 'subflow-priority', subflowId: sf.id, backup: opt.backup });
          }
          break;
        case 'mp_fastclose':
          if (opt.receiverKey === this.localKey) {
            this.abort(new ConnectionAborted('the peer aborted the connection (MP_FASTCLOSE)'), nowMs);
            return;
          }
          break; // a forged key: ignore (RFC 8684 §3.5)
        case 'mp_tcprst':
          sf.peerResetReason = opt.reason;
          this.failSubflow(sf, 'reset', nowMs, `peer reset the subflow (reason ${opt.reason})`);
          return;
        case 'mp_capable':
        case 'mp_join':
          break; // late handshake options: nothing to do
        case 'mp_fail':
          throw new ProtocolViolation('MP_FAIL received but checksums are not in use');
        case 'unknown':
          break; // RFC 8684 §3: unknown subtypes are ignored
      }
    }
    if (frame.payload.length > 0 && !mapped) throw new ProtocolViolation('payload without a DSS mapping');
    if (frame.flags & FrameFlag.ACK_NOW) this.sendPureAck(sf, nowMs, 0);
  }

  /** Returns true when the option mapped the frame's payload. */
  private onDss(sf: Subflow, frame: Frame, dss: DssOption, nowMs: number): boolean {
    if (dss.dataAck !== undefined) {
      const ack = this.localOffset(dss.dataAck, dss.ack64 ?? true, this.sndNext);
      this.onDataAck(sf, frame, ack, nowMs);
    }
    if (!dss.mapping) {
      if (frame.payloadLength > 0) throw new ProtocolViolation('payload without a DSS mapping');
      return false;
    }
    const m = dss.mapping;
    const start = this.remoteOffset(m.dsn, m.dsn64);
    // Length 0 maps a payload too long for the 16-bit field, and only such a payload (framing v2).
    const wholePayload = m.length === 0 && frame.payloadLength > MAX_MAPPED_BYTES && !dss.dataFin;
    const dataLength = wholePayload ? frame.payloadLength : dss.dataFin ? m.length - 1 : m.length;
    if (dataLength !== frame.payloadLength || dataLength < 0) {
      throw new ProtocolViolation(
        `DSS mapping of ${m.length} bytes on a ${frame.payloadLength}-byte payload`,
      );
    }
    if (dataLength > 0) {
      if (m.ssn !== sf.ssnExpected) {
        throw new ProtocolViolation(`subflow sequence ${m.ssn}, expected ${sf.ssnExpected}`);
      }
      sf.ssnExpected += dataLength;
      sf.bytesReceived += dataLength;
      if (start + dataLength > this.advertisedRightEdge) {
        throw new ProtocolViolation('data beyond the advertised receive window');
      }
      const before = this.rcv.readyBytes;
      this.trace?.({
        type: 'receive',
        subflowId: sf.id,
        offset: start,
        length: dataLength,
        reinjection: false,
        nowMs,
      });
      if (frame.payloadParts === undefined) this.rcv.insert(start, frame.payload);
      else {
        let at = start;
        for (const part of frame.payloadParts) {
          this.rcv.insert(at, part);
          at += part.length;
        }
      }
      if (this.rcv.readyBytes > before) this.events.push({ type: 'readable' });
      sf.ackPendingBytes += dataLength;
      this.ackSubflowId = sf.id;
    }
    if (dss.dataFin) {
      const fin = start + dataLength;
      if (this.peerFinOffset !== undefined && this.peerFinOffset !== fin) {
        throw new ProtocolViolation('DATA_FIN moved');
      }
      this.peerFinOffset = fin;
      this.ackSubflowId = sf.id;
      sf.ackPendingBytes += 1;
    }
    this.checkPeerFin();
    if (sf.ackPendingBytes >= ACK_EVERY_BYTES || (this.peerFinReached && sf.ackPendingBytes > 0)) {
      this.sendPureAck(sf, nowMs, 0);
    } else if (sf.ackPendingBytes > 0 && this.ackDeadlineMs === undefined) {
      this.ackDeadlineMs = nowMs + DELAYED_ACK_MS;
    }
    if (this.finished) this.finishConnection(nowMs);
    return true;
  }

  private onDataAck(sf: Subflow, frame: Frame, ack: number, nowMs: number): void {
    const limit = this.sndNext + (this.finEverSent ? 1 : 0);
    if (ack > limit) throw new ProtocolViolation(`DATA_ACK ${ack} beyond data sent (${limit})`);
    if (ack > this.snd.acked) {
      for (const other of this.subflows.values()) other.ack(ack);
      if (sf.carriesFin && ack > (this.finOffset ?? Number.POSITIVE_INFINITY))
        this.sampleRtt(sf, frame, nowMs);
      this.snd.ack(Math.min(ack, this.snd.writeEnd));
      if (this.finOffset !== undefined && this.finEverSent && !this.finAcked && ack > this.finOffset) {
        this.finAcked = true;
        for (const other of this.subflows.values()) other.carriesFin = false;
        this.events.push({ type: 'send-finished' });
      }
      if (this.writeBlocked && this.snd.retainedBytes <= this.sendBufferBytes / 2) {
        this.writeBlocked = false;
        this.events.push({ type: 'drain' });
      }
    }
    if (ack + frame.window > this.peerRightEdge) this.peerRightEdge = ack + frame.window;
    if (this.finished) this.finishConnection(nowMs);
  }

  private onAddAddr(sf: Subflow, opt: AddAddrOption, nowMs: number): void {
    if (opt.echo) return; // the peer acknowledging our announcement
    const expected = addAddrHmac(this.remoteKey!, this.localKey, opt.addressId, opt.address, opt.port);
    const hmacValid = opt.hmac !== undefined && timingSafeEqualBytes(expected, opt.hmac);
    this.events.push({
      type: 'add-addr',
      addressId: opt.addressId,
      address: opt.address,
      ...(opt.port !== undefined ? { port: opt.port } : {}),
      hmacValid,
    });
    if (hmacValid) {
      const { hmac: _hmac, ...rest } = opt;
      this.sendControl(sf, [{ ...rest, echo: true }], nowMs);
    }
  }

  private onRemoveAddr(addressIds: number[], nowMs: number): void {
    this.events.push({ type: 'remove-addr', addressIds });
    for (const sf of this.subflows.values()) {
      if (sf.state !== 'closed' && addressIds.includes(sf.remoteAddressId) && !sf.initial) {
        this.failSubflow(sf, 'closed', nowMs, 'address removed by the peer');
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  /** Sends whatever the scheduler, the windows and the subflows allow; then the DATA_FIN. */
  private flush(nowMs: number): void {
    if (this.state !== 'established') return;
    // Sending changes no subflow's membership: one view list serves every segment of this flush.
    let views: Subflow[] | undefined;
    for (;;) {
      const next = this.nextRange();
      if (!next) break;
      views ??= [...this.subflows.values()];
      const chosen = this.scheduler.select(views, {
        sendWindowBytes: Math.max(0, this.peerRightEdge - this.snd.acked),
        unsentBytes: this.snd.writeEnd - this.sndNext,
      });
      if (chosen.length === 0) break;
      let sent = 0;
      for (const id of chosen) {
        const sf = this.subflows.get(id);
        if (!sf?.windowOpen) continue;
        // A whole frame, even past the window (by less than a frame): see Subflow.windowOpen.
        const len = Math.min(next.end - next.start, sf.frameLimitBytes);
        const parts: Uint8Array[] = [];
        const length = this.snd.readParts(next.start, len, parts);
        this.sendData(sf, next.start, parts, length, nowMs, next.reinjection);
        sent = Math.max(sent, length);
      }
      if (sent === 0) break;
      this.consumeRange(next, sent);
    }
    this.maybeSendFin(nowMs);
    this.updatePersist(nowMs);
  }

  private updatePersist(nowMs: number): void {
    const blocked =
      this.state === 'established' &&
      this.reinjectQueue.length === 0 &&
      this.sndNext < this.snd.writeEnd &&
      this.sndNext >= this.peerRightEdge;
    if (!blocked) this.persistSinceMs = undefined;
    else if (this.persistSinceMs === undefined) this.persistSinceMs = nowMs;
  }

  /** The next range to send: reinjections first, then new data within the peer's window. */
  private nextRange(): { start: number; end: number; reinjection: boolean } | undefined {
    while (this.reinjectQueue.length > 0) {
      const r = this.reinjectQueue[0]!;
      if (r.start < this.snd.acked) r.start = this.snd.acked;
      if (r.start >= r.end) {
        this.reinjectQueue.shift();
        continue;
      }
      return { start: r.start, end: r.end, reinjection: true };
    }
    const end = Math.min(this.snd.writeEnd, this.peerRightEdge);
    if (this.sndNext >= end) return undefined;
    return { start: this.sndNext, end, reinjection: false };
  }

  private consumeRange(range: { start: number; reinjection: boolean }, sent: number): void {
    if (range.reinjection) {
      const r = this.reinjectQueue[0]!;
      r.start += sent;
      if (r.start >= r.end) this.reinjectQueue.shift();
      this.stats.reinjectedBytes += sent;
    } else {
      this.sndNext += sent;
    }
  }

  /** One data frame: `parts` (views of the send buffer, `length` bytes in all) mapped at `offset`. */
  private sendData(
    sf: Subflow,
    offset: number,
    parts: Uint8Array[],
    length: number,
    nowMs: number,
    reinjection: boolean,
  ): void {
    const dss: DssOption = {
      kind: 'dss',
      dataAck: this.wireAck(),
      ack64: true,
      // A payload beyond the 16-bit data-level length is mapped as a whole with length 0 (framing v2).
      mapping: {
        dsn: this.localDsn(offset),
        dsn64: true,
        ssn: sf.ssnNext >>> 0,
        length: length > MAX_MAPPED_BYTES ? 0 : length,
      },
      dataFin: false,
    };
    if (reinjection) sf.reinjectedBytes += length;
    this.trace?.({ type: 'send', subflowId: sf.id, offset, length, reinjection, nowMs });
    this.emitFrame(sf, [dss], parts, nowMs, 0);
    sf.map(offset, offset + length, nowMs);
  }

  private maybeSendFin(nowMs: number): void {
    if (this.finOffset === undefined || this.finSent || this.finAcked) return;
    if (this.sndNext < this.finOffset || this.reinjectQueue.length > 0) return;
    const all = [...this.subflows.values()];
    // A scheduler that sends each segment on several subflows (redundant) gets the DATA_FIN on each
    // of them too, so that losing a path does not delay the close; otherwise it goes on the
    // lowest-SRTT usable subflow (primary first), window or not: it carries no payload.
    const chosen = this.scheduler.select(all, { sendWindowBytes: 1, unsentBytes: 0 });
    let carriers: Subflow[] = [];
    if (chosen.length > 1)
      for (const id of chosen) {
        const sf = this.subflows.get(id);
        if (sf?.usable) carriers.push(sf);
      }
    if (carriers.length === 0) {
      const candidates = all.filter((s) => s.usable);
      const primary = candidates.filter((s) => !s.backup);
      const pool = primary.length > 0 ? primary : candidates;
      const sf = pool.sort((a, b) => (a.srttMs ?? 1e9) - (b.srttMs ?? 1e9))[0];
      if (!sf) return;
      carriers = [sf];
    }
    this.finSent = true;
    this.finEverSent = true;
    for (const sf of carriers) {
      const dss: DssOption = {
        kind: 'dss',
        dataAck: this.wireAck(),
        ack64: true,
        mapping: { dsn: this.localDsn(this.finOffset), dsn64: true, ssn: 0, length: 1 },
        dataFin: true,
      };
      sf.carriesFin = true;
      if (sf.busySinceMs === undefined) sf.busySinceMs = nowMs;
      this.emitFrame(sf, [dss], EMPTY, nowMs, 0);
    }
  }

  private sendPureAck(sf: Subflow, nowMs: number, flags: number): void {
    const dss: DssOption = { kind: 'dss', dataAck: this.wireAck(), ack64: true, dataFin: false };
    this.emitFrame(sf, [dss], EMPTY, nowMs, flags);
  }

  /** A control frame (handshake options, ADD_ADDR, MP_PRIO…), with the DATA_ACK once established. */
  private sendControl(
    sf: Subflow,
    options: MptcpOption[],
    nowMs: number,
    flags = 0,
    prefix?: Uint8Array,
  ): void {
    const all =
      this.state === 'established' && sf.state === 'established'
        ? [
            ...options,
            { kind: 'dss', dataAck: this.wireAck(), ack64: true, dataFin: false } satisfies DssOption,
          ]
        : options;
    this.emitFrame(sf, all, EMPTY, nowMs, flags, prefix);
  }

  /** Queues one frame; `payload` is one buffer or its pieces in order (written with writev, not copied). */
  private emitFrame(
    sf: Subflow,
    options: MptcpOption[],
    payload: Uint8Array | readonly Uint8Array[],
    nowMs: number,
    flags: number,
    prefix?: Uint8Array,
  ): void {
    const window = this.advertiseWindow();
    let payloadLength = 0;
    if (payload instanceof Uint8Array) payloadLength = payload.length;
    else for (const part of payload) payloadLength += part.length;
    const head = encodeFrameHeader({
      flags,
      window,
      options,
      tsVal: usTimestamp(nowMs),
      tsEcr: sf.tsRecent,
      subflowAck: sf.ssnExpected,
      payloadLength,
    });
    sf.ackPendingBytes = 0;
    // Coalesce with a pending write to the same subflow (one writev per flush).
    const last = this.actions[this.actions.length - 1];
    let buffers: Uint8Array[];
    if (last && last.type === 'write' && last.subflowId === sf.id) buffers = last.buffers;
    else {
      buffers = [];
      this.actions.push({ type: 'write', subflowId: sf.id, buffers });
    }
    if (prefix) buffers.push(prefix);
    buffers.push(head);
    if (payload instanceof Uint8Array) {
      if (payloadLength > 0) buffers.push(payload);
    } else for (const part of payload) if (part.length > 0) buffers.push(part);
  }

  // ---------------------------------------------------------------------------------------------
  // Windows, sequence numbers, RTT

  private advertiseWindow(): number {
    const window = Math.max(0, this.receiveBufferBytes - this.rcv.bufferedBytes);
    const edge = this.rcv.next + window;
    if (edge > this.advertisedRightEdge) this.advertisedRightEdge = edge;
    // Never shrink the right edge we promised (RFC 8684 §3.3.4).
    return this.advertisedRightEdge - this.rcv.next;
  }

  private maybeWindowUpdate(nowMs: number): void {
    const window = Math.max(0, this.receiveBufferBytes - this.rcv.bufferedBytes);
    if (this.rcv.next + window - this.advertisedRightEdge >= this.receiveBufferBytes / 4) {
      const sf = this.ackSubflow();
      if (sf) {
        this.sendPureAck(sf, nowMs, 0);
        this.flush(nowMs);
      }
    }
  }

  private ackSubflow(): Subflow | undefined {
    const preferred = this.ackSubflowId === undefined ? undefined : this.subflows.get(this.ackSubflowId);
    if (preferred?.state === 'established') return preferred;
    return this.bestControlSubflow();
  }

  private bestControlSubflow(): Subflow | undefined {
    let best: Subflow | undefined;
    for (const sf of this.subflows.values()) {
      if (sf.state !== 'established') continue;
      if (!best || (best.backup && !sf.backup) || (sf.srttMs ?? 1e9) < (best.srttMs ?? 1e9)) best = sf;
    }
    return best;
  }

  private setRemoteKey(key: bigint): void {
    this.remoteKey = key;
    this.remoteToken = tokenOfKey(key);
    this.remoteIdsn = idsnOfKey(key);
  }

  /** Our data offset → wire DSN (IDSN + 1 + offset, mod 2^64). */
  private localDsn(offset: number): bigint {
    return (this.localIdsn + 1n + BigInt(offset)) & MASK64;
  }

  private wireAck(): bigint {
    const ack = this.rcv.next + (this.peerFinReached ? 1 : 0);
    return (this.remoteIdsn + 1n + BigInt(ack)) & MASK64;
  }

  /** Wire DSN of the peer → its data offset. A 32-bit DSN is expanded around what we expect next. */
  private remoteOffset(dsn: bigint, wide: boolean): number {
    return this.toOffset(dsn, wide, this.remoteIdsn, this.rcv.next);
  }

  /** A wire DATA_ACK (of our data) → our data offset. */
  private localOffset(ack: bigint, wide: boolean, near: number): number {
    return this.toOffset(ack, wide, this.localIdsn, near);
  }

  private toOffset(value: bigint, wide: boolean, idsn: bigint, near: number): number {
    const base = idsn + 1n;
    if (wide) {
      const rel = (value - base) & MASK64;
      if (rel > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolViolation('sequence number out of range');
      return Number(rel);
    }
    const expected = (base + BigInt(near)) & MASK64;
    const low = Number(value & 0xffffffffn);
    const diff = ((low - Number(expected & 0xffffffffn) + 2 ** 31) % 2 ** 32) - 2 ** 31;
    const offset = near + (diff < -(2 ** 31) ? diff + 2 ** 32 : diff);
    if (offset < 0) throw new ProtocolViolation('sequence number before the start of the connection');
    return offset;
  }

  private sampleRtt(sf: Subflow, frame: Frame, nowMs: number): void {
    if (!frame.tsEcr) return;
    const rttMs = ((usTimestamp(nowMs) - frame.tsEcr) >>> 0) / 1000;
    if (rttMs < 60_000) sf.rtt.sample(rttMs, nowMs);
  }

  /** Notes that the peer's DATA_FIN is reached; the caller acknowledges it, then finishes if both are done. */
  private checkPeerFin(): void {
    if (!this.peerFinReached && this.peerFinOffset !== undefined && this.rcv.next >= this.peerFinOffset) {
      this.peerFinReached = true;
      this.events.push({ type: 'end' });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Subflow life

  private establishSubflow(sf: Subflow, nowMs: number): void {
    sf.state = 'established';
    sf.establishedAtMs = nowMs;
    this.orphanSinceMs = undefined;
    this.events.push({ type: 'subflow-established', subflowId: sf.id, backup: sf.backup });
  }

  private subflowDeadline(sf: Subflow): number | undefined {
    if (sf.state === 'closed') return undefined;
    if (sf.state !== 'established') return sf.createdAtMs + HANDSHAKE_TIMEOUT_MS;
    return this.probeDeadline(sf);
  }

  /**
   * When a subflow with data outstanding has been silent too long: at half the probe timeout a probe
   * (ACK_NOW) is sent; at the full probe timeout the subflow has failed. Undefined when nothing is due.
   */
  private probeDeadline(sf: Subflow): number | undefined {
    const persist = this.persistSinceMs !== undefined && sf.state === 'established';
    if (sf.inFlightBytes === 0 && !sf.carriesFin && !persist) return undefined;
    let quietSince = Math.max(sf.lastHeardAtMs, sf.busySinceMs ?? sf.lastHeardAtMs);
    if (persist) quietSince = Math.max(quietSince, this.persistSinceMs!);
    const pto = this.probeTimeout(sf, sf.answeredSinceBusy);
    return sf.probeSentAtMs === undefined ? quietSince + pto / 2 : quietSince + pto;
  }

  /**
   * How long a subflow with data outstanding may stay silent.
   * - While its peer is answering (`answering`: it acknowledged progress since the subflow went busy), frames
   *   keep coming every few ms however deep the path's queue is (the peer acknowledges whatever
   *   reaches it within DELAYED_ACK_MS), so silence means the path broke: max(200 ms, 3 × path RTT),
   *   the path RTT being the windowed least sample, queue excluded.
   * - Waiting for the first answer after going busy, the data may sit behind a queue it did not build
   *   (another subflow's, on a shared bottleneck): max(200 ms, 3 × SRTT), queue included.
   * The kernel instead waits for TCP's RTO to back off (its subflow-level retransmissions); that is
   * several RTOs, seconds on a loaded path. Ours probes at half the timeout (ACK_NOW), so a live but
   * slow path answers before it is declared failed.
   */
  probeTimeout(sf: Subflow, answering = false): number {
    const rtt = answering ? (sf.rtt.pathRttMs ?? sf.rtt.srttMs) : sf.rtt.srttMs;
    return Math.max(MIN_PROBE_TIMEOUT_MS, 3 * (rtt ?? 0));
  }

  private checkSubflowTimers(sf: Subflow, nowMs: number): void {
    if (sf.state === 'closed') return;
    if (sf.state !== 'established') {
      if (nowMs >= sf.createdAtMs + HANDSHAKE_TIMEOUT_MS)
        this.failSubflow(sf, 'timeout', nowMs, 'handshake timed out');
      return;
    }
    const rto = sf.rtt.rtoMs;
    if (Math.abs(rto - sf.reportedRtoMs) > 0.25 * Math.max(sf.reportedRtoMs, 1)) {
      sf.reportedRtoMs = rto;
      this.events.push({ type: 'subflow-timeout', subflowId: sf.id, rtoMs: rto });
    }
    const probeAt = this.probeDeadline(sf);
    if (probeAt === undefined || nowMs < probeAt) return;
    if (sf.probeSentAtMs === undefined) {
      sf.probeSentAtMs = nowMs;
      this.sendPureAck(sf, nowMs, FrameFlag.ACK_NOW);
      this.reinjectSuspect(sf);
      return;
    }
    const quiet = nowMs - Math.max(sf.lastHeardAtMs, sf.busySinceMs ?? sf.lastHeardAtMs);
    this.failSubflow(sf, 'timeout', nowMs, `silent for ${Math.round(quiet)} ms with data outstanding`);
  }

  /**
   * A subflow silent for half its probe timeout is suspect: besides the probe, its outstanding data is
   * queued for reinjection on the other subflows now (the receiver drops whichever copy comes second),
   * so a dead path costs PTO/2 + one trip on a live one instead of PTO + that trip; new data avoids
   * the suspect meanwhile (windowOpen). RFC 8684 §3.3.6 lets a sender retransmit data on another
   * subflow at any time; Linux's MPTCP v0.9x did the same on RTO ("opportunistic reinjection").
   * Nothing is copied when no other subflow could take it: only the suspect would be there to send it.
   */
  private reinjectSuspect(sf: Subflow): void {
    const another = [...this.subflows.values()].some((o) => o !== sf && o.state === 'established');
    if (!another) return;
    let queued = false;
    for (const r of sf.copyOutstanding()) {
      const start = Math.max(r.start, this.snd.acked);
      if (start >= r.end) continue;
      this.reinjectQueue.push({ start, end: r.end });
      sf.copiedBytes += r.end - start;
      queued = true;
    }
    if (queued) this.reinjectQueue.sort((a, b) => a.start - b.start);
  }

  /** Sends MP_TCPRST on the subflow, then closes it (the peer reads the reason before the FIN). */
  private resetSubflow(
    sf: Subflow,
    reason: SubflowCloseReason,
    detail: string,
    rstReason: number,
    nowMs: number,
  ): void {
    if (sf.state === 'closed') return;
    this.emitFrame(sf, [{ kind: 'mp_tcprst', flags: 0, reason: rstReason }], EMPTY, nowMs, 0);
    this.failSubflow(sf, reason, nowMs, detail);
  }

  private refuseSubflow(sf: Subflow, detail: string, rstReason: number, nowMs: number): void {
    this.resetSubflow(sf, 'refused', detail, rstReason, nowMs);
  }

  private failSubflow(sf: Subflow, reason: SubflowCloseReason, nowMs: number, detail?: string): void {
    if (sf.state === 'closed') return;
    const wasEstablished = sf.state === 'established';
    sf.state = 'closed';
    // Reported: what was queued while the subflow was suspect, and what is queued now.
    let reinjected = sf.copiedBytes;
    for (const r of sf.takeOutstanding()) {
      const start = Math.max(r.start, this.snd.acked);
      if (start >= r.end || r.copied) continue; // copied: queued while suspect
      this.reinjectQueue.push({ start, end: r.end });
      reinjected += r.end - start;
    }
    this.reinjectQueue.sort((a, b) => a.start - b.start);
    if (sf.carriesFin) {
      sf.carriesFin = false;
      // Resent elsewhere unless another subflow carries it too (redundant scheduling).
      let carried = false;
      for (const other of this.subflows.values()) if (other !== sf && other.carriesFin) carried = true;
      if (!this.finAcked && !carried) this.finSent = false;
    }
    this.actions.push({ type: 'close', subflowId: sf.id, reset: reason !== 'closed' });
    this.events.push({
      type: 'subflow-closed',
      subflowId: sf.id,
      reason,
      reinjectedBytes: reinjected,
      ...(detail !== undefined ? { detail } : {}),
      ...(sf.peerResetReason !== undefined ? { resetReason: sf.peerResetReason } : {}),
    });
    if (this.ackSubflowId === sf.id) this.ackSubflowId = undefined;
    if (wasEstablished || this.state === 'established') {
      // Orphaned: wait for a new subflow (break-before-make), which may still carry our DATA_FIN.
      if (this.liveSubflowCount() === 0 && !this.finished) this.orphanSinceMs = nowMs;
    }
    if (this.state === 'handshake' && sf.initial) {
      this.abort(
        new ConnectionAborted(`the initial subflow failed during the handshake: ${detail ?? reason}`),
        nowMs,
      );
    }
  }

  private fallback(reason: string): void {
    if (this.state === 'fallback') return;
    this.state = 'fallback';
    this.events.push({ type: 'fallback', reason });
  }

  private finishConnection(nowMs: number): void {
    if (this.state === 'closed') return;
    // The peer may still wait for our DATA_ACK of its DATA_FIN, sent on one subflow only: repeat it on
    // every subflow before their FINs, so that losing that path now does not leave the peer orphaned.
    for (const sf of this.subflows.values()) if (sf.state === 'established') this.sendPureAck(sf, nowMs, 0);
    this.closeAll(false);
    this.emitClosed(undefined);
  }

  private abort(error: Error, _nowMs: number): void {
    if (this.state === 'closed') return;
    this.closeAll(true);
    this.emitClosed(error);
  }

  private closeAll(reset: boolean): void {
    for (const sf of this.subflows.values()) {
      if (sf.state === 'closed') continue;
      sf.state = 'closed';
      this.actions.push({ type: 'close', subflowId: sf.id, reset });
    }
    this.state = 'closed';
    this.orphanSinceMs = undefined;
  }

  private emitClosed(error: Error | undefined): void {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    this.events.push(error ? { type: 'closed', error } : { type: 'closed' });
  }
}

const EMPTY = new Uint8Array(0);

function usTimestamp(nowMs: number): number {
  return Math.floor(nowMs * 1000) >>> 0 || 1;
}

function findOption<K extends MptcpOption['kind']>(
  frame: Frame,
  kind: K,
): Extract<MptcpOption, { kind: K }> | undefined {
  for (const o of frame.options) if (o.kind === kind) return o as Extract<MptcpOption, { kind: K }>;
  return undefined;
}
