/**
 * Mapping of the kernel's `mptcp_pm_events` (KernelPmEvent, src/netlink/) to controller PmEvents,
 * and the identifiers used for kernel connections and subflows.
 *
 * Contract: pure. A connection id is the local token as 8 lowercase hex digits (as `ip mptcp
 * monitor` prints it); a subflow key is `saddr:sport>daddr:dport` (IPv6 addresses in brackets).
 * Listener and unknown events map to undefined. sub_closed's reason comes from its errno
 * (MPTCP_ATTR_ERROR, a copy of sk_err); a peer's MP_TCPRST reason alone makes it 'reset'.
 */
import type { KernelPmEvent } from '../netlink/mptcp-pm-events.js';
import { reasonFromErrno } from './reasons.js';
import type { ConnectionId, PmEndpoint, PmEvent, SubflowKey } from './types.js';

export function connectionIdFromToken(token: number): ConnectionId {
  return (token >>> 0).toString(16).padStart(8, '0');
}

export function tokenFromConnectionId(id: ConnectionId): number | undefined {
  if (!/^[0-9a-f]{1,8}$/i.test(id)) return undefined;
  return Number.parseInt(id, 16) >>> 0;
}

const hostPort = (e: PmEndpoint) =>
  e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;

export function subflowKey(local: PmEndpoint, remote: PmEndpoint): SubflowKey {
  return `${hostPort(local)}>${hostPort(remote)}`;
}

function parseHostPort(s: string): PmEndpoint | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { address: m[1] ?? m[2]!, port };
}

/** The 4-tuple of a kernel subflow key, or undefined when it is not one. */
export function parseSubflowKey(key: SubflowKey): { local: PmEndpoint; remote: PmEndpoint } | undefined {
  const i = key.indexOf('>');
  if (i < 0) return undefined;
  const local = parseHostPort(key.slice(0, i));
  const remote = parseHostPort(key.slice(i + 1));
  return local && remote ? { local, remote } : undefined;
}

/** Maps one kernel event; `timeMs` is the driver's clock when it arrived. */
export function mapKernelEvent(ev: KernelPmEvent, timeMs: number): PmEvent | undefined {
  switch (ev.type) {
    case 'created':
    case 'established':
      return {
        type: ev.type === 'created' ? 'connection-created' : 'connection-established',
        connection: connectionIdFromToken(ev.token),
        timeMs,
        local: { address: ev.saddr, port: ev.sport },
        remote: { address: ev.daddr, port: ev.dport },
        serverSide: ev.serverSide,
      };
    case 'closed':
      return { type: 'connection-closed', connection: connectionIdFromToken(ev.token), timeMs };
    case 'announced': {
      const out: PmEvent = {
        type: 'add-addr',
        connection: connectionIdFromToken(ev.token),
        timeMs,
        addressId: ev.remoteId,
        address: ev.daddr,
      };
      if (ev.dport !== undefined) out.port = ev.dport;
      return out;
    }
    case 'removed':
      return {
        type: 'rem-addr',
        connection: connectionIdFromToken(ev.token),
        timeMs,
        addressId: ev.remoteId,
      };
    case 'sub_established':
    case 'sub_closed':
    case 'sub_priority': {
      const local = { address: ev.saddr, port: ev.sport };
      const remote = { address: ev.daddr, port: ev.dport };
      const base = {
        connection: connectionIdFromToken(ev.token),
        timeMs,
        subflow: subflowKey(local, remote),
      };
      if (ev.type === 'sub_established')
        return { type: 'subflow-established', ...base, local, remote, backup: ev.backup };
      if (ev.type === 'sub_priority') return { type: 'subflow-priority', ...base, backup: ev.backup };
      let reason = reasonFromErrno(ev.error);
      if (reason === 'closed' && ev.resetReason !== undefined && ev.resetReason !== 0) reason = 'reset';
      const out: PmEvent = { type: 'subflow-closed', ...base, local, remote, reason };
      if (ev.error !== undefined && ev.error !== 0) out.errno = ev.error;
      if (ev.resetReason !== undefined) out.resetReason = ev.resetReason;
      return out;
    }
    default:
      return undefined;
  }
}
