/**
 * `deadline-streaming` controller (seed 003 §4.3, "smarter streaming"): the application sends blocks
 * that must arrive within a deadline (64 KB every second in the paper).
 *
 * How it learns about blocks: a `block-sent` event {bytes, deadlineMs?} that the application or the
 * lab injects right after writing a block; or, with `periodMs`, it assumes a block of `blockBytes`
 * starts every periodMs from connection-established.
 * How it learns progress: the connection's acknowledged data bytes in the view (`bytesAcked`, else
 * the sum over subflows). Block i covers the stream bytes [start, start + bytes) where start is the
 * acknowledged count when it was sent, or the end of block i − 1 if that is later.
 *
 * Contract:
 * - At half of a block's deadline (a set-timer), if less than half of the block has been
 *   acknowledged, it opens a subflow on the first of `otherPaths` that has no subflow yet.
 * - Any subflow whose rto exceeds the deadline is closed (on subflow-timeout, and on every event
 *   whose view shows it); if it was the last one, a subflow on another path is opened first.
 * - Client side only.
 */
import {
  ANY_CONNECTION,
  type ConnectionView,
  type Controller,
  connectionBytesAcked,
  type PmCommand,
  type PmEvent,
  type PmView,
} from '../types.js';

export const DEADLINE_STREAMING_DEADLINE_MS = 1000;
export const DEADLINE_STREAMING_BLOCK_BYTES = 64 * 1024;

export interface StreamingPath {
  /** Remote address (default: the connection's remote address). */
  address?: string;
  port?: number;
  localAddress?: string;
}

export interface DeadlineStreamingOptions {
  deadlineMs?: number;
  blockBytes?: number;
  /** Paths to open when a block is late, in order of preference. */
  otherPaths: readonly StreamingPath[];
  /** If set, a block of blockBytes is assumed to start every periodMs (no block-sent needed). */
  periodMs?: number;
}

const CHECK_TIMER = 'deadline:check:';
const PERIOD_TIMER = 'deadline:period';

interface Block {
  start: number;
  bytes: number;
}

interface ConnState {
  blocks: Map<number, Block>;
  nextBlock: number;
  lastEnd: number;
  closing: Set<string>;
  /** Indices of otherPaths asked for and not failed since (the view may not show them yet). */
  opened: Set<number>;
  /** The periodic block clock runs (periodMs). */
  started: boolean;
}

export function deadlineStreaming(options: DeadlineStreamingOptions): Controller {
  const deadlineMs = options.deadlineMs ?? DEADLINE_STREAMING_DEADLINE_MS;
  const blockBytes = options.blockBytes ?? DEADLINE_STREAMING_BLOCK_BYTES;
  const paths = options.otherPaths ?? [];
  if (!(deadlineMs > 0)) throw new RangeError(`deadline must be > 0 ms, got ${deadlineMs}`);
  if (!(blockBytes > 0)) throw new RangeError(`block size must be > 0 bytes, got ${blockBytes}`);
  if (paths.length === 0) throw new RangeError('deadline-streaming needs at least one other path');
  const conns = new Map<string, ConnState>();

  const state = (id: string): ConnState => {
    let s = conns.get(id);
    if (!s) {
      s = {
        blocks: new Map(),
        nextBlock: 0,
        lastEnd: 0,
        closing: new Set(),
        opened: new Set(),
        started: false,
      };
      conns.set(id, s);
    }
    return s;
  };

  const onPath = (conn: ConnectionView, p: StreamingPath, local: string, remote: string) =>
    remote === (p.address ?? conn.remote.address) &&
    (p.localAddress === undefined || p.localAddress === local);

  const pathUsed = (conn: ConnectionView, p: StreamingPath) =>
    conn.subflows.some((sf) => onPath(conn, p, sf.local.address, sf.remote.address));

  function forgetPath(conn: ConnectionView, local: string | undefined, remote: string): void {
    const s = state(conn.id);
    paths.forEach((p, i) => {
      if (onPath(conn, p, local ?? p.localAddress ?? '', remote)) s.opened.delete(i);
    });
  }

  function openOther(conn: ConnectionView): PmCommand[] {
    const s = state(conn.id);
    const i = paths.findIndex((q, j) => !s.opened.has(j) && !pathUsed(conn, q));
    const p = paths[i];
    if (!p) return [];
    s.opened.add(i);
    const cmd: PmCommand = {
      type: 'create-subflow',
      connection: conn.id,
      remoteAddress: p.address ?? conn.remote.address,
      remotePort: p.port ?? conn.remote.port,
    };
    if (p.localAddress !== undefined) cmd.localAddress = p.localAddress;
    return [cmd];
  }

  function blockSent(conn: ConnectionView, bytes: number, blockDeadlineMs: number, now: number): PmCommand[] {
    const s = state(conn.id);
    const start = Math.max(connectionBytesAcked(conn), s.lastEnd);
    const id = s.nextBlock++;
    s.blocks.set(id, { start, bytes });
    s.lastEnd = start + bytes;
    return [
      { type: 'set-timer', connection: conn.id, atMs: now + blockDeadlineMs / 2, timer: CHECK_TIMER + id },
    ];
  }

  function closeSlow(conn: ConnectionView): PmCommand[] {
    const s = state(conn.id);
    const out: PmCommand[] = [];
    for (const sf of conn.subflows) {
      if (!sf.established || (sf.rtoMs ?? 0) <= deadlineMs || s.closing.has(sf.key)) continue;
      const others = conn.subflows.filter((o) => o.established && o.key !== sf.key && !s.closing.has(o.key));
      if (others.length === 0) out.push(...openOther(conn));
      s.closing.add(sf.key);
      out.push({ type: 'remove-subflow', connection: conn.id, subflow: sf.key });
    }
    return out;
  }

  return {
    name: 'deadline-streaming',
    handle(ev: PmEvent, view: PmView): PmCommand[] {
      if (ev.type === 'connection-closed') {
        conns.delete(ev.connection);
        return [];
      }
      if (ev.type === 'tick' && ev.connection === ANY_CONNECTION) {
        return view.connections().flatMap((c) => (c.serverSide ? [] : closeSlow(c)));
      }
      const conn = view.connection(ev.connection);
      if (!conn || conn.serverSide) return [];
      const out: PmCommand[] = [];
      switch (ev.type) {
        case 'connection-established':
          if (options.periodMs !== undefined && !state(conn.id).started) {
            state(conn.id).started = true;
            out.push(...blockSent(conn, blockBytes, deadlineMs, ev.timeMs));
            out.push({
              type: 'set-timer',
              connection: conn.id,
              atMs: ev.timeMs + options.periodMs,
              timer: PERIOD_TIMER,
            });
          }
          break;
        case 'block-sent':
          out.push(
            ...blockSent(conn, ev.bytes > 0 ? ev.bytes : blockBytes, ev.deadlineMs ?? deadlineMs, ev.timeMs),
          );
          break;
        case 'subflow-closed':
          conns.get(conn.id)?.closing.delete(ev.subflow);
          forgetPath(conn, ev.local.address, ev.remote.address);
          break;
        case 'command-failed':
          if (ev.command.type === 'create-subflow')
            forgetPath(conn, ev.command.localAddress, ev.command.remoteAddress);
          break;
        case 'tick': {
          const s = state(conn.id);
          if (ev.timer === PERIOD_TIMER && options.periodMs !== undefined) {
            out.push(...blockSent(conn, blockBytes, deadlineMs, ev.timeMs));
            out.push({
              type: 'set-timer',
              connection: conn.id,
              atMs: ev.timeMs + options.periodMs,
              timer: PERIOD_TIMER,
            });
          } else if (ev.timer?.startsWith(CHECK_TIMER)) {
            const id = Number(ev.timer.slice(CHECK_TIMER.length));
            const block = s.blocks.get(id);
            s.blocks.delete(id);
            if (block) {
              const acked = Math.min(block.bytes, Math.max(0, connectionBytesAcked(conn) - block.start));
              if (acked * 2 < block.bytes) out.push(...openOther(conn));
            }
          }
          break;
        }
        default:
          break;
      }
      out.push(...closeSlow(conn));
      return out;
    },
  };
}
