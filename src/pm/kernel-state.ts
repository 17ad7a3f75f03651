/**
 * What the kernel driver knows about kernel MPTCP connections: built from the events seen
 * (connections, subflows, announced addresses) and refreshed from sock_diag dumps (per-subflow
 * tcp_info: srtt, rto, delivery rate, bytes acked; per-connection mptcp_info: data bytes acked).
 *
 * Contract: pure (no I/O). `apply(event)` follows PmEvents; `applyDiag(tcp, mptcp, nowMs)` merges a
 * dump and returns the subflow-timeout events it infers (a subflow whose tcp_info `backoff` grew:
 * its retransmission timer expired — the kernel multicasts no timeout event). Subflows of a known
 * connection that show up in the dump without an event (opened before the driver started) are
 * added. `view(...)` returns a PmView snapshot. `localId(...)` hands out the per-connection local
 * address ids that SUBFLOW_CREATE needs (the initial address is id 0; one id per address).
 */
import type { InetDiagSocket } from '../netlink/inet-diag.js';
import { connectionIdFromToken, subflowKey } from './kernel-events.js';
import type {
  ConnectionId,
  ConnectionView,
  LocalAddress,
  PmEndpoint,
  PmEvent,
  PmView,
  RemoteAddress,
  SubflowKey,
  SubflowView,
} from './types.js';

const TCP_ESTABLISHED = 1;
/** Local address ids are u8; 0 is the initial subflow's. */
export const MAX_LOCAL_ID = 255;

interface SubflowRecord extends SubflowView {
  backoff: number;
}

interface ConnectionRecord {
  id: ConnectionId;
  token: number;
  local: PmEndpoint;
  remote: PmEndpoint;
  serverSide: boolean;
  established: boolean;
  subflows: Map<SubflowKey, SubflowRecord>;
  remoteAddresses: Map<number, RemoteAddress>;
  bytesAcked?: number;
  localIds: Map<string, number>;
  nextLocalId: number;
}

/**
 * A new subflow record. Every field is present from the start (metrics undefined until a dump
 * brings them), so that all records share one object shape: code optimized for it by V8 stays
 * optimized when metrics arrive.
 */
function subflowRecord(
  key: SubflowKey,
  local: PmEndpoint,
  remote: PmEndpoint,
  backup: boolean,
  established: boolean,
): SubflowRecord {
  return {
    key,
    local,
    remote,
    backup,
    established,
    srttMs: undefined,
    rtoMs: undefined,
    deliveryRateBytesPerSec: undefined,
    bytesAcked: undefined,
    bytesSent: undefined,
    backoff: 0,
  };
}

/** A copy of a subflow record without the driver's bookkeeping (field by field: no object rest, which V8 runs in its runtime). */
function subflowView(r: SubflowRecord): SubflowView {
  const v: SubflowView = {
    key: r.key,
    local: r.local,
    remote: r.remote,
    backup: r.backup,
    established: r.established,
  };
  if (r.srttMs !== undefined) v.srttMs = r.srttMs;
  if (r.rtoMs !== undefined) v.rtoMs = r.rtoMs;
  if (r.deliveryRateBytesPerSec !== undefined) v.deliveryRateBytesPerSec = r.deliveryRateBytesPerSec;
  if (r.bytesAcked !== undefined) v.bytesAcked = r.bytesAcked;
  if (r.bytesSent !== undefined) v.bytesSent = r.bytesSent;
  return v;
}

/** Bound on connections with reserved ids that were never added (their events were lost). */
const MAX_RESERVED_CONNECTIONS = 64;

export class KernelPmState {
  private readonly conns = new Map<ConnectionId, ConnectionRecord>();
  /** Local address ids handed out before the connection was added (reserveLocalId). */
  private readonly reserved = new Map<ConnectionId, Map<string, number>>();

  has(id: ConnectionId): boolean {
    return this.conns.has(id);
  }

  /** Adds a connection found by a sock_diag dump (the driver started after it was created). */
  adopt(token: number, local: PmEndpoint, remote: PmEndpoint, serverSide: boolean): ConnectionId {
    const id = connectionIdFromToken(token);
    if (!this.conns.has(id)) this.add(id, token, local, remote, serverSide, true);
    return id;
  }

  private add(
    id: ConnectionId,
    token: number,
    local: PmEndpoint,
    remote: PmEndpoint,
    serverSide: boolean,
    established: boolean,
  ): ConnectionRecord {
    const rec: ConnectionRecord = {
      id,
      token,
      local,
      remote,
      serverSide,
      established,
      subflows: new Map(),
      remoteAddresses: new Map(),
      bytesAcked: undefined,
      localIds: new Map([[local.address, 0]]),
      nextLocalId: 1,
    };
    const reserved = this.reserved.get(id);
    if (reserved) {
      this.reserved.delete(id);
      for (const [address, n] of reserved) {
        rec.localIds.set(address, n);
        if (n >= rec.nextLocalId) rec.nextLocalId = n + 1;
      }
    }
    const key = subflowKey(local, remote);
    rec.subflows.set(key, subflowRecord(key, local, remote, false, established));
    this.conns.set(id, rec);
    return rec;
  }

  apply(ev: PmEvent): void {
    const c = this.conns.get(ev.connection);
    switch (ev.type) {
      case 'connection-created':
      case 'connection-established': {
        const token = Number.parseInt(ev.connection, 16) >>> 0;
        const rec = c ?? this.add(ev.connection, token, ev.local, ev.remote, ev.serverSide, false);
        if (ev.type === 'connection-established') {
          rec.established = true;
          const initial = rec.subflows.get(subflowKey(ev.local, ev.remote));
          if (initial) initial.established = true;
        }
        return;
      }
      case 'connection-closed':
        this.conns.delete(ev.connection);
        this.reserved.delete(ev.connection);
        return;
      case 'add-addr': {
        if (!c) return;
        const r: RemoteAddress = { addressId: ev.addressId, address: ev.address };
        if (ev.port !== undefined) r.port = ev.port;
        c.remoteAddresses.set(ev.addressId, r);
        return;
      }
      case 'rem-addr':
        c?.remoteAddresses.delete(ev.addressId);
        return;
      case 'subflow-established': {
        if (!c) return;
        const prev = c.subflows.get(ev.subflow);
        if (prev) {
          prev.local = ev.local;
          prev.remote = ev.remote;
          prev.backup = ev.backup;
          prev.established = true;
        } else c.subflows.set(ev.subflow, subflowRecord(ev.subflow, ev.local, ev.remote, ev.backup, true));
        return;
      }
      case 'subflow-closed':
        c?.subflows.delete(ev.subflow);
        return;
      case 'subflow-priority': {
        const sf = c?.subflows.get(ev.subflow);
        if (sf) sf.backup = ev.backup;
        return;
      }
      default:
        return;
    }
  }

  /** Merges sock_diag dumps; returns inferred subflow-timeout events. */
  applyDiag(tcp: readonly InetDiagSocket[], mptcp: readonly InetDiagSocket[], nowMs: number): PmEvent[] {
    const byToken = new Map<number, ConnectionRecord>();
    for (const c of this.conns.values()) byToken.set(c.token, c);
    for (const m of mptcp) {
      const c = m.mptcpInfo ? byToken.get(m.mptcpInfo.token >>> 0) : undefined;
      if (c && m.mptcpInfo?.bytesAcked !== undefined) c.bytesAcked = m.mptcpInfo.bytesAcked;
    }
    const out: PmEvent[] = [];
    for (const s of tcp) {
      const token = s.mptcpSubflow?.tokenLocal;
      const c = token !== undefined ? byToken.get(token >>> 0) : undefined;
      if (!c) continue;
      const local = { address: s.saddr, port: s.sport };
      const remote = { address: s.daddr, port: s.dport };
      const key = subflowKey(local, remote);
      let sf = c.subflows.get(key);
      if (!sf) {
        if (s.state !== TCP_ESTABLISHED) continue;
        sf = subflowRecord(key, local, remote, false, true);
        c.subflows.set(key, sf);
      }
      const t = s.tcpInfo;
      if (!t) continue;
      sf.srttMs = t.rttUs / 1000;
      sf.rtoMs = t.rtoUs / 1000;
      if (t.deliveryRate !== undefined) sf.deliveryRateBytesPerSec = t.deliveryRate;
      if (t.bytesAcked !== undefined) sf.bytesAcked = t.bytesAcked;
      if (t.bytesSent !== undefined) sf.bytesSent = t.bytesSent;
      if (t.backoff > sf.backoff)
        out.push({ type: 'subflow-timeout', connection: c.id, timeMs: nowMs, subflow: key, rtoMs: sf.rtoMs });
      sf.backoff = t.backoff;
    }
    return out;
  }

  /** Local address id for `address` on a connection (allocated on first use); undefined when exhausted. */
  localId(id: ConnectionId, address: string): number | undefined {
    const c = this.conns.get(id);
    if (!c) return undefined;
    let n = c.localIds.get(address);
    if (n === undefined) {
      if (c.nextLocalId > MAX_LOCAL_ID) return undefined;
      n = c.nextLocalId++;
      c.localIds.set(address, n);
    }
    return n;
  }

  /**
   * The local address id of `address` on a connection that may not be known yet (a reflex acts on
   * `established` before the burst's `created` is applied): ids reserved for an unknown connection
   * (the initial address `initialLocal` is 0, others count from 1) are taken over when it is added.
   */
  reserveLocalId(id: ConnectionId, initialLocal: string, address: string): number | undefined {
    if (this.conns.has(id)) return this.localId(id, address);
    if (address === initialLocal) return 0;
    let r = this.reserved.get(id);
    if (!r) {
      if (this.reserved.size >= MAX_RESERVED_CONNECTIONS) this.reserved.clear();
      r = new Map();
      this.reserved.set(id, r);
    }
    let n = r.get(address);
    if (n === undefined) {
      n = r.size + 1;
      if (n > MAX_LOCAL_ID) return undefined;
      r.set(address, n);
    }
    return n;
  }

  /** Records that `address` has id `localId` on a connection (ANNOUNCE chose it). */
  bindLocalId(id: ConnectionId, address: string, localId: number): void {
    const c = this.conns.get(id);
    if (!c) return;
    c.localIds.set(address, localId);
    if (localId >= c.nextLocalId) c.nextLocalId = localId + 1;
  }

  token(id: ConnectionId): number | undefined {
    return this.conns.get(id)?.token;
  }

  connectionView(id: ConnectionId): ConnectionView | undefined {
    const c = this.conns.get(id);
    if (!c) return undefined;
    const v: ConnectionView = {
      id: c.id,
      local: c.local,
      remote: c.remote,
      serverSide: c.serverSide,
      established: c.established,
      subflows: Array.from(c.subflows.values(), subflowView),
      remoteAddresses: Array.from(c.remoteAddresses.values()),
    };
    if (c.bytesAcked !== undefined) v.bytesAcked = c.bytesAcked;
    return v;
  }

  /** True when at least one connection is known. */
  hasConnections(): boolean {
    return this.conns.size > 0;
  }

  /**
   * A view for one controller call. Nothing is copied up front: a connection's view is built on
   * its first access (from the state at that moment, which does not change while a controller
   * handles an event) and kept for the view's lifetime.
   */
  view(nowMs: number, locals: readonly LocalAddress[]): PmView {
    const cache = new Map<ConnectionId, ConnectionView>();
    const one = (id: ConnectionId): ConnectionView | undefined => {
      let v = cache.get(id);
      if (v === undefined) {
        v = this.connectionView(id);
        if (v !== undefined) cache.set(id, v);
      }
      return v;
    };
    let all: ConnectionView[] | undefined;
    return {
      nowMs,
      connections: () => {
        all ??= [...this.conns.keys()].map(one).filter((c): c is ConnectionView => c !== undefined);
        return all;
      },
      connection: one,
      localAddresses: () => locals,
    };
  }
}
