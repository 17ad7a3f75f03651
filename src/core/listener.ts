/**
 * The listening side of userspace MPTCP, sans-IO: it looks at the first bytes of each accepted TCP
 * connection and decides what it is.
 * - Not the MPTCP preamble: a plain TCP client. The adapter hands the socket to the application as
 *   plain TCP, these bytes first (fallback, like a kernel listener whose SYN had no MP_CAPABLE).
 * - MP_CAPABLE: a new MPTCP connection; the listener keeps it by its token.
 * - MP_JOIN: a new subflow of the connection its token names; an unknown token, a join before the
 *   connection is established or beyond its subflow limit is refused with MP_TCPRST (RFC 8684 §3.2).
 * A client that sends nothing is the adapter's concern (a timer: plain TCP, server speaks first).
 */
import { randomKey, tokenOfKey } from '../crypto/index.js';
import { TcpRstReason } from '../wire/types.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { JoinRefused, ProtocolViolation } from './errors.js';
import { type Frame, FrameDecoder, FrameError } from './frame.js';

export type ListenerOutcome =
  /** More bytes are needed to decide. */
  | { type: 'need-more' }
  /** A plain TCP client: these bytes (everything received so far) are application data. */
  | { type: 'plain'; bytes: Uint8Array }
  /** A new MPTCP connection whose initial subflow is this one. */
  | { type: 'connection'; connection: Connection }
  /** This subflow joined an existing connection. */
  | { type: 'joined'; connection: Connection }
  /** Refused: write `bytes` (MP_TCPRST) then close the socket. */
  | { type: 'refused'; bytes: Uint8Array[]; reason: string };

/** Bound on bytes held for a subflow before it is classified (preamble + one maximal first frame). */
const MAX_PENDING_BYTES = 128 * 1024;

interface Pending {
  decoder: FrameDecoder;
  seen: Uint8Array[];
  seenBytes: number;
}

export class Listener {
  private readonly byToken = new Map<number, Connection>();
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly connectionOptions: () => ConnectionOptions = () => ({})) {}

  /** Bytes from a subflow not yet classified. After a decision other than need-more, it is forgotten. */
  handleBytes(subflowId: number, bytes: Uint8Array, nowMs: number): ListenerOutcome {
    let p = this.pending.get(subflowId);
    if (!p) {
      p = { decoder: new FrameDecoder(true), seen: [], seenBytes: 0 };
      this.pending.set(subflowId, p);
    }
    p.seen.push(bytes);
    p.seenBytes += bytes.length;
    let frames: Frame[];
    try {
      frames = p.decoder.push(bytes);
    } catch (err) {
      this.pending.delete(subflowId);
      if (err instanceof FrameError && (err.code === 'bad-preamble' || err.code === 'bad-version')) {
        return { type: 'plain', bytes: Buffer.concat(p.seen) };
      }
      return refused(`malformed first frame: ${(err as Error).message}`, TcpRstReason.MPTCP_SPECIFIC);
    }
    if (frames.length === 0) {
      if (p.seenBytes > MAX_PENDING_BYTES) {
        this.pending.delete(subflowId);
        return refused('first frame too large', TcpRstReason.MPTCP_SPECIFIC);
      }
      return { type: 'need-more' };
    }
    this.pending.delete(subflowId);
    const [first, ...rest] = frames as [Frame, ...Frame[]];
    const join = first.options.find((o) => o.kind === 'mp_join');
    if (join && join.kind === 'mp_join' && join.form === 'syn') {
      const conn = this.byToken.get(join.token);
      if (!conn || conn.state === 'closed')
        return refused(`unknown token ${hex(join.token)}`, TcpRstReason.MPTCP_SPECIFIC);
      try {
        conn.acceptJoin(subflowId, p.decoder, first, rest, nowMs);
      } catch (err) {
        if (err instanceof JoinRefused) return refused(err.message, err.resetReason);
        if (err instanceof ProtocolViolation) return refused(err.message, TcpRstReason.MPTCP_SPECIFIC);
        throw err;
      }
      return { type: 'joined', connection: conn };
    }
    try {
      const options = this.connectionOptions();
      let key = options.localKey ?? randomKey();
      while (this.byToken.has(tokenOfKey(key))) key = randomKey();
      const conn = Connection.accept(subflowId, p.decoder, first, rest, nowMs, { ...options, localKey: key });
      this.byToken.set(conn.localToken, conn);
      return { type: 'connection', connection: conn };
    } catch (err) {
      if (err instanceof ProtocolViolation) return refused(err.message, TcpRstReason.MPTCP_SPECIFIC);
      throw err;
    }
  }

  /** The subflow closed before it was classified. */
  forgetSubflow(subflowId: number): void {
    this.pending.delete(subflowId);
  }

  /** The connection is over: its token no longer accepts joins. */
  forgetConnection(conn: Connection): void {
    if (this.byToken.get(conn.localToken) === conn) this.byToken.delete(conn.localToken);
  }

  get connectionCount(): number {
    return this.byToken.size;
  }
}

function refused(reason: string, resetReason: number): ListenerOutcome {
  return { type: 'refused', bytes: Connection.refusalBytes(resetReason), reason };
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
