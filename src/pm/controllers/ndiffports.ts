/**
 * `ndiffports(n)` controller: n subflows over the connection's initial address pair, each from a new
 * source port (chosen by the OS), so flow-hashing load balancers (ECMP) may spread them.
 *
 * Contract: client side only. On connection-established it opens n − 1 more subflows. When one of
 * them fails (any close reason but 'closed', or a refused create) it tops the count back up to n
 * after the reason's retry delay with exponential backoff (like fullmesh). Attempts in progress
 * count towards n until they succeed or fail. Reflex: the n − 1 creates of a new connection.
 */
import { Backoff, DEFAULT_MAX_RETRY_DELAY_MS, DEFAULT_RETRY_DELAY_MS, reasonFromErrno } from '../reasons.js';
import type {
  ConnectionView,
  Controller,
  PmCloseReason,
  PmCommand,
  PmEvent,
  PmView,
  ReflexConnection,
  ReflexSubflow,
} from '../types.js';
import { initialPairSubflows } from './common.js';

export interface NdiffportsOptions {
  retryDelayMs?: Partial<Record<PmCloseReason, number>>;
  maxRetryDelayMs?: number;
}

export const NDIFFPORTS_MAX = 64;
const TOP_UP_TIMER = 'ndiffports:top-up';

interface ConnState {
  pending: number;
  established: Set<string>;
  retrying: boolean;
}

export function ndiffports(n: number, options: NdiffportsOptions = {}): Controller {
  if (!Number.isInteger(n) || n < 1 || n > NDIFFPORTS_MAX)
    throw new RangeError(`ndiffports needs an integer count in 1..${NDIFFPORTS_MAX}, got ${n}`);
  const delays = { ...DEFAULT_RETRY_DELAY_MS, ...options.retryDelayMs };
  const backoff = new Backoff(options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS);
  const conns = new Map<string, ConnState>();

  const onInitialPair = (conn: ConnectionView, local: string, remote: string, port: number) =>
    local === conn.local.address && remote === conn.remote.address && port === conn.remote.port;

  function topUp(conn: ConnectionView, s: ConnState): PmCommand[] {
    const have = conn.subflows.filter((sf) =>
      onInitialPair(conn, sf.local.address, sf.remote.address, sf.remote.port),
    ).length;
    const out: PmCommand[] = [];
    for (let i = have + s.pending; i < n; i++) {
      s.pending += 1;
      out.push({
        type: 'create-subflow',
        connection: conn.id,
        localAddress: conn.local.address,
        remoteAddress: conn.remote.address,
        remotePort: conn.remote.port,
      });
    }
    return out;
  }

  function failed(connection: string, reason: PmCloseReason, now: number): PmCommand[] {
    const s = conns.get(connection);
    if (!s || reason === 'closed' || s.retrying) return [];
    s.retrying = true;
    const delay = backoff.next(connection, delays[reason]);
    return [{ type: 'set-timer', connection, atMs: now + delay, timer: TOP_UP_TIMER }];
  }

  return {
    name: `ndiffports:${n}`,
    // What topUp() returns for a new client-side connection: n − 1 subflows on the initial pair.
    establishedReflex(conn: ReflexConnection): ReflexSubflow[] {
      return initialPairSubflows(conn.localAddress, conn.remote, n - 1);
    },
    handle(ev: PmEvent, view: PmView): PmCommand[] {
      switch (ev.type) {
        case 'connection-established': {
          const conn = view.connection(ev.connection);
          if (!conn || conn.serverSide || conns.has(conn.id)) return [];
          const s: ConnState = { pending: 0, established: new Set(), retrying: false };
          conns.set(conn.id, s);
          return topUp(conn, s);
        }
        case 'subflow-established': {
          const s = conns.get(ev.connection);
          const conn = view.connection(ev.connection);
          if (!s) return [];
          const initial =
            conn && ev.local.address === conn.local.address && ev.local.port === conn.local.port;
          if (s.pending > 0 && !initial) s.pending -= 1;
          s.established.add(ev.subflow);
          backoff.reset(ev.connection);
          return [];
        }
        case 'subflow-closed': {
          const s = conns.get(ev.connection);
          if (!s) return [];
          // A subflow that never got established was one of our attempts.
          if (!s.established.delete(ev.subflow) && s.pending > 0) s.pending -= 1;
          return failed(ev.connection, ev.reason, ev.timeMs);
        }
        case 'command-failed': {
          const s = conns.get(ev.command.connection);
          if (!s || ev.command.type !== 'create-subflow') return [];
          if (s.pending > 0) s.pending -= 1;
          const r = reasonFromErrno(ev.errno);
          return failed(ev.command.connection, r === 'closed' ? 'error' : r, ev.timeMs);
        }
        case 'tick': {
          const s = conns.get(ev.connection);
          const conn = view.connection(ev.connection);
          if (!s || !conn || ev.timer !== TOP_UP_TIMER) return [];
          s.retrying = false;
          return topUp(conn, s);
        }
        case 'connection-closed':
          conns.delete(ev.connection);
          backoff.reset(ev.connection);
          return [];
        default:
          return [];
      }
    },
  };
}
