/**
 * `fullmesh` controller (seed 003 §4.1): a subflow for every pair of local and remote addresses.
 *
 * Contract:
 * - Client side (the connection is not server-side): on connection-established, add-addr and
 *   local-addr-added it opens a subflow for each (local address, remote address) pair of the same
 *   family that has neither a subflow nor an attempt in progress. Remote addresses are the
 *   connection's initial one and those the peer announced (with the connection's port unless the
 *   announcement had one); local addresses are the view's (or the initial one when it lists none).
 * - A subflow that fails (subflow-closed with any reason but 'closed', or a refused create) is
 *   re-established after a delay chosen by the reason (`retryDelayMs`, default 200 ms after a reset,
 *   2 s after a timeout or unreachable), doubled at each consecutive failure of the same pair and
 *   capped at `maxRetryDelayMs`. An establishment resets the pair's backoff.
 * - Server side: announces the other local addresses once per connection (`announce`, default true).
 * - Reflex (Controller.establishedReflex): the subflows it opens on a new client-side connection's
 *   connection-established event, from the connection's endpoints and the local addresses.
 */
import { Backoff, DEFAULT_MAX_RETRY_DELAY_MS, DEFAULT_RETRY_DELAY_MS, reasonFromErrno } from '../reasons.js';
import {
  ANY_CONNECTION,
  addressFamily,
  type ConnectionView,
  type Controller,
  type LocalAddress,
  type PmCloseReason,
  type PmCommand,
  type PmEndpoint,
  type PmEvent,
  type PmView,
  type ReflexConnection,
  type ReflexSubflow,
  type RemoteAddress,
} from '../types.js';

export interface FullmeshOptions {
  /** Base re-establishment delay per close reason (ms). */
  retryDelayMs?: Partial<Record<PmCloseReason, number>>;
  /** Cap of the backed-off delay (ms). */
  maxRetryDelayMs?: number;
  /** An attempt with no outcome after this long no longer blocks a new one (ms). */
  pendingTimeoutMs?: number;
  /** Server side: announce the other local addresses. */
  announce?: boolean;
}

export const FULLMESH_PENDING_TIMEOUT_MS = 10_000;
const RETRY_TIMER = 'fullmesh:retry:';

interface Pair {
  local: string;
  remote: string;
  port: number;
}

const pairKey = (p: Pair) => `${p.local}>${p.remote}:${p.port}`;

/**
 * Every (local address, remote address) pair of the connection's family: local addresses are
 * `locals` (the initial one when none), remote ones the initial and the announced ones.
 */
function pairsFor(
  initialLocal: string,
  remote: PmEndpoint,
  announced: readonly RemoteAddress[],
  localAddresses: readonly LocalAddress[],
): Pair[] {
  const fam = addressFamily(remote.address);
  const locals: string[] = [];
  for (const l of localAddresses) if (l.family === fam) locals.push(l.address);
  if (locals.length === 0) locals.push(initialLocal);
  const remotes: Array<{ address: string; port: number }> = [remote];
  for (const r of announced) {
    if (addressFamily(r.address) !== fam) continue;
    const port = r.port ?? remote.port;
    if (!remotes.some((x) => x.address === r.address && x.port === port))
      remotes.push({ address: r.address, port });
  }
  const out: Pair[] = [];
  for (const local of locals) for (const r of remotes) out.push({ local, remote: r.address, port: r.port });
  return out;
}

interface ConnState {
  pending: Map<string, number>;
  retrying: Set<string>;
  announced: boolean;
}

export function fullmesh(options: FullmeshOptions = {}): Controller {
  const delays = { ...DEFAULT_RETRY_DELAY_MS, ...options.retryDelayMs };
  const pendingTimeoutMs = options.pendingTimeoutMs ?? FULLMESH_PENDING_TIMEOUT_MS;
  const announce = options.announce ?? true;
  const backoff = new Backoff(options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS);
  const conns = new Map<string, ConnState>();

  const state = (id: string): ConnState => {
    let s = conns.get(id);
    if (!s) {
      s = { pending: new Map(), retrying: new Set(), announced: false };
      conns.set(id, s);
    }
    return s;
  };

  function wantedPairs(conn: ConnectionView, view: PmView): Pair[] {
    return pairsFor(conn.local.address, conn.remote, conn.remoteAddresses, view.localAddresses());
  }

  function ensure(conn: ConnectionView, view: PmView, now: number): PmCommand[] {
    if (conn.serverSide || !conn.established) return [];
    const s = state(conn.id);
    for (const [k, since] of s.pending) if (now - since >= pendingTimeoutMs) s.pending.delete(k);
    const have = new Set(
      conn.subflows.map((sf) =>
        pairKey({ local: sf.local.address, remote: sf.remote.address, port: sf.remote.port }),
      ),
    );
    const out: PmCommand[] = [];
    for (const p of wantedPairs(conn, view)) {
      const k = pairKey(p);
      if (have.has(k) || s.pending.has(k) || s.retrying.has(k)) continue;
      s.pending.set(k, now);
      out.push({
        type: 'create-subflow',
        connection: conn.id,
        localAddress: p.local,
        remoteAddress: p.remote,
        remotePort: p.port,
      });
    }
    return out;
  }

  function announceLocals(conn: ConnectionView, view: PmView): PmCommand[] {
    const s = state(conn.id);
    if (!announce || !conn.serverSide || s.announced) return [];
    s.announced = true;
    const fam = addressFamily(conn.local.address);
    let id = 0;
    const out: PmCommand[] = [];
    for (const l of view.localAddresses()) {
      if (l.family !== fam || l.address === conn.local.address) continue;
      id += 1;
      out.push({ type: 'announce', connection: conn.id, addressId: id, address: l.address });
    }
    return out;
  }

  function failed(
    connection: string,
    pair: Pair,
    reason: PmCloseReason,
    view: PmView,
    now: number,
  ): PmCommand[] {
    const conn = view.connection(connection);
    const s = conns.get(connection);
    if (!conn || !s) return [];
    const k = pairKey(pair);
    s.pending.delete(k);
    if (reason === 'closed' || s.retrying.has(k)) return [];
    if (!wantedPairs(conn, view).some((p) => pairKey(p) === k)) return [];
    s.retrying.add(k);
    const delay = backoff.next(`${connection}|${k}`, delays[reason]);
    return [{ type: 'set-timer', connection, atMs: now + delay, timer: RETRY_TIMER + k }];
  }

  return {
    name: 'fullmesh',
    // What ensure() returns for a new client-side connection: every pair but the initial one.
    establishedReflex(conn: ReflexConnection, localAddresses: readonly LocalAddress[]): ReflexSubflow[] {
      const out: ReflexSubflow[] = [];
      for (const p of pairsFor(conn.localAddress, conn.remote, [], localAddresses)) {
        if (p.local === conn.localAddress && p.remote === conn.remote.address && p.port === conn.remote.port)
          continue;
        out.push({ localAddress: p.local, remoteAddress: p.remote, remotePort: p.port });
      }
      return out;
    },
    handle(ev: PmEvent, view: PmView): PmCommand[] {
      const now = ev.timeMs;
      switch (ev.type) {
        case 'connection-established':
        case 'add-addr': {
          const conn = view.connection(ev.connection);
          if (!conn) return [];
          return [...announceLocals(conn, view), ...ensure(conn, view, now)];
        }
        case 'local-addr-added':
          return view.connections().flatMap((c) => ensure(c, view, now));
        case 'subflow-established': {
          const k = pairKey({ local: ev.local.address, remote: ev.remote.address, port: ev.remote.port });
          conns.get(ev.connection)?.pending.delete(k);
          backoff.reset(`${ev.connection}|${k}`);
          return [];
        }
        case 'subflow-closed':
          return failed(
            ev.connection,
            { local: ev.local.address, remote: ev.remote.address, port: ev.remote.port },
            ev.reason,
            view,
            now,
          );
        case 'command-failed': {
          const c = ev.command;
          if (c.type !== 'create-subflow' || !c.localAddress) return [];
          const r = reasonFromErrno(ev.errno);
          return failed(
            c.connection,
            { local: c.localAddress, remote: c.remoteAddress, port: c.remotePort },
            r === 'closed' ? 'error' : r,
            view,
            now,
          );
        }
        case 'tick': {
          if (ev.connection === ANY_CONNECTION || !ev.timer?.startsWith(RETRY_TIMER)) return [];
          conns.get(ev.connection)?.retrying.delete(ev.timer.slice(RETRY_TIMER.length));
          const conn = view.connection(ev.connection);
          return conn ? ensure(conn, view, now) : [];
        }
        case 'connection-closed':
          conns.delete(ev.connection);
          backoff.resetPrefix(`${ev.connection}|`);
          return [];
        default:
          return [];
      }
    },
  };
}
