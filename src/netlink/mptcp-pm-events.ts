/**
 * Decoding of `mptcp_pm_events` multicast messages (enum mptcp_event_type, attributes of enum
 * mptcp_event_attr) into the discriminated union `KernelPmEvent`.
 *
 * Contract: pure; `decodePmEvent` never throws. It returns undefined only when the payload is not
 * a generic netlink message; an event command it does not know becomes `{type: 'unknown', cmd}`,
 * and missing attributes become absent fields (the kernel omits optional ones). Ports are decoded
 * from be16; addresses are formatted like Node's `socket.remoteAddress`.
 */
import { formatIpv4, formatIpv6 } from '../wire/ip-address.js';
import {
  findAttr,
  type NlAttr,
  readBe16,
  readS32,
  readU16,
  readU32,
  readU8,
  readUint,
} from './attributes.js';
import { parseGenl } from './genl.js';
import { AF_INET, AF_INET6 } from './mptcp-pm.js';

export const MPTCP_EVENT = {
  CREATED: 1,
  ESTABLISHED: 2,
  CLOSED: 3,
  ANNOUNCED: 6,
  REMOVED: 7,
  SUB_ESTABLISHED: 10,
  SUB_CLOSED: 11,
  SUB_PRIORITY: 13,
  LISTENER_CREATED: 15,
  LISTENER_CLOSED: 16,
} as const;

export const MPTCP_ATTR = {
  TOKEN: 1,
  FAMILY: 2,
  LOC_ID: 3,
  REM_ID: 4,
  SADDR4: 5,
  SADDR6: 6,
  DADDR4: 7,
  DADDR6: 8,
  SPORT: 9,
  DPORT: 10,
  BACKUP: 11,
  ERROR: 12,
  FLAGS: 13,
  TIMEOUT: 14,
  IF_IDX: 15,
  RESET_REASON: 16,
  RESET_FLAGS: 17,
  SERVER_SIDE: 18,
} as const;

/** Connection-level fields of created / established. */
export interface PmConnectionInfo {
  token: number;
  family: 4 | 6;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  /** True when this host accepted the connection (MPTCP_ATTR_SERVER_SIDE). */
  serverSide: boolean;
  /** MPTCP_ATTR_FLAGS (u16) when present, else 0. */
  flags: number;
  /** Address ids of the initial subflow, when the kernel includes them. */
  localId?: number;
  remoteId?: number;
}

/** Subflow fields of sub_established / sub_closed / sub_priority. */
export interface PmSubflowInfo {
  token: number;
  family: 4 | 6;
  localId: number;
  remoteId: number;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  backup: boolean;
  /** Interface the subflow is bound to (MPTCP_ATTR_IF_IDX), 0 when unbound. */
  ifindex: number;
  /** A copy of sk_err when the kernel detected an error on the subflow. */
  error?: number;
}

export type KernelPmEvent =
  /** Emitted when a new MPTCP connection is created (first SYN sent or MP_CAPABLE SYN accepted). */
  | ({ type: 'created' } & PmConnectionInfo)
  /** Emitted when the MPTCP connection is fully established: new subflows may be opened now. */
  | ({ type: 'established' } & PmConnectionInfo)
  /** Emitted when an MPTCP connection has stopped. */
  | { type: 'closed'; token: number }
  /** Emitted when the peer announced an address (ADD_ADDR received). */
  | { type: 'announced'; token: number; remoteId: number; family: 4 | 6; daddr: string; dport?: number }
  /** Emitted when the peer removed an address (REMOVE_ADDR received). */
  | { type: 'removed'; token: number; remoteId: number }
  /** Emitted when a new subflow (MP_JOIN) has been established. */
  | ({ type: 'sub_established' } & PmSubflowInfo)
  /** Emitted when a subflow has been closed; `resetReason` is the MP_TCPRST reason when one was received. */
  | ({ type: 'sub_closed'; resetReason?: number; resetFlags?: number } & PmSubflowInfo)
  /** Emitted when a subflow's backup priority changed (MP_PRIO). */
  | ({ type: 'sub_priority' } & PmSubflowInfo)
  /** Emitted when the path manager created a listener for a signalled endpoint with a port. */
  | { type: 'listener_created'; family: 4 | 6; saddr: string; sport: number }
  /** Emitted when such a PM listener is closed. */
  | { type: 'listener_closed'; family: 4 | 6; saddr: string; sport: number }
  /** Emitted for an event command this module does not know (newer kernels); attributes kept raw. */
  | { type: 'unknown'; cmd: number; attrs: NlAttr[] };

export type KernelPmEventType = KernelPmEvent['type'];

function family(attrs: readonly NlAttr[]): 4 | 6 {
  const af = readU16(findAttr(attrs, MPTCP_ATTR.FAMILY));
  if (af === AF_INET6) return 6;
  if (af === AF_INET) return 4;
  // Infer from the address attributes when FAMILY is missing.
  return findAttr(attrs, MPTCP_ATTR.SADDR6) || findAttr(attrs, MPTCP_ATTR.DADDR6) ? 6 : 4;
}

function address(attrs: readonly NlAttr[], type4: number, type6: number): string {
  const a6 = findAttr(attrs, type6);
  if (a6 && a6.payload.length >= 16) return formatIpv6(a6.payload, 0);
  const a4 = findAttr(attrs, type4);
  if (a4 && a4.payload.length >= 4) return formatIpv4(a4.payload, 0);
  return '';
}

function connection(attrs: readonly NlAttr[]): PmConnectionInfo {
  const out = connectionBase(attrs);
  const loc = readU8(findAttr(attrs, MPTCP_ATTR.LOC_ID));
  if (loc !== undefined) out.localId = loc;
  const rem = readU8(findAttr(attrs, MPTCP_ATTR.REM_ID));
  if (rem !== undefined) out.remoteId = rem;
  return out;
}

function connectionBase(attrs: readonly NlAttr[]): PmConnectionInfo {
  return {
    token: readU32(findAttr(attrs, MPTCP_ATTR.TOKEN)) ?? 0,
    family: family(attrs),
    saddr: address(attrs, MPTCP_ATTR.SADDR4, MPTCP_ATTR.SADDR6),
    daddr: address(attrs, MPTCP_ATTR.DADDR4, MPTCP_ATTR.DADDR6),
    sport: readBe16(findAttr(attrs, MPTCP_ATTR.SPORT)) ?? 0,
    dport: readBe16(findAttr(attrs, MPTCP_ATTR.DPORT)) ?? 0,
    serverSide: (readU8(findAttr(attrs, MPTCP_ATTR.SERVER_SIDE)) ?? 0) !== 0,
    flags: readUint(findAttr(attrs, MPTCP_ATTR.FLAGS)) ?? 0,
  };
}

function subflow(attrs: readonly NlAttr[]): PmSubflowInfo {
  const c = connectionBase(attrs);
  const out: PmSubflowInfo = {
    token: c.token,
    family: c.family,
    localId: readU8(findAttr(attrs, MPTCP_ATTR.LOC_ID)) ?? 0,
    remoteId: readU8(findAttr(attrs, MPTCP_ATTR.REM_ID)) ?? 0,
    saddr: c.saddr,
    daddr: c.daddr,
    sport: c.sport,
    dport: c.dport,
    backup: (readU8(findAttr(attrs, MPTCP_ATTR.BACKUP)) ?? 0) !== 0,
    ifindex: readS32(findAttr(attrs, MPTCP_ATTR.IF_IDX)) ?? 0,
  };
  const error = readU8(findAttr(attrs, MPTCP_ATTR.ERROR));
  if (error !== undefined) out.error = error;
  return out;
}

/** Decodes the genl payload of one mptcp_pm_events message. */
export function decodePmEvent(payload: Uint8Array): KernelPmEvent | undefined {
  const msg = parseGenl(payload);
  if (!msg) return undefined;
  const { attrs } = msg;
  const token = () => readU32(findAttr(attrs, MPTCP_ATTR.TOKEN)) ?? 0;
  switch (msg.cmd) {
    case MPTCP_EVENT.CREATED:
      return { type: 'created', ...connection(attrs) };
    case MPTCP_EVENT.ESTABLISHED:
      return { type: 'established', ...connection(attrs) };
    case MPTCP_EVENT.CLOSED:
      return { type: 'closed', token: token() };
    case MPTCP_EVENT.ANNOUNCED: {
      const ev: KernelPmEvent = {
        type: 'announced',
        token: token(),
        remoteId: readU8(findAttr(attrs, MPTCP_ATTR.REM_ID)) ?? 0,
        family: family(attrs),
        daddr: address(attrs, MPTCP_ATTR.DADDR4, MPTCP_ATTR.DADDR6),
      };
      const dport = readBe16(findAttr(attrs, MPTCP_ATTR.DPORT));
      if (dport !== undefined && dport !== 0) ev.dport = dport;
      return ev;
    }
    case MPTCP_EVENT.REMOVED:
      return { type: 'removed', token: token(), remoteId: readU8(findAttr(attrs, MPTCP_ATTR.REM_ID)) ?? 0 };
    case MPTCP_EVENT.SUB_ESTABLISHED:
      return { type: 'sub_established', ...subflow(attrs) };
    case MPTCP_EVENT.SUB_CLOSED: {
      const ev: KernelPmEvent = { type: 'sub_closed', ...subflow(attrs) };
      const reason = readU32(findAttr(attrs, MPTCP_ATTR.RESET_REASON));
      if (reason !== undefined) ev.resetReason = reason;
      const rflags = readU32(findAttr(attrs, MPTCP_ATTR.RESET_FLAGS));
      if (rflags !== undefined) ev.resetFlags = rflags;
      return ev;
    }
    case MPTCP_EVENT.SUB_PRIORITY:
      return { type: 'sub_priority', ...subflow(attrs) };
    case MPTCP_EVENT.LISTENER_CREATED:
    case MPTCP_EVENT.LISTENER_CLOSED:
      return {
        type: msg.cmd === MPTCP_EVENT.LISTENER_CREATED ? 'listener_created' : 'listener_closed',
        family: family(attrs),
        saddr: address(attrs, MPTCP_ATTR.SADDR4, MPTCP_ATTR.SADDR6),
        sport: readBe16(findAttr(attrs, MPTCP_ATTR.SPORT)) ?? 0,
      };
    default:
      return { type: 'unknown', cmd: msg.cmd, attrs };
  }
}

const MONITOR_NAMES: Record<Exclude<KernelPmEventType, 'unknown'>, string> = {
  created: 'CREATED',
  established: 'ESTABLISHED',
  closed: 'CLOSED',
  announced: 'ANNOUNCED',
  removed: 'REMOVED',
  sub_established: 'SF_ESTABLISHED',
  sub_closed: 'SF_CLOSED',
  sub_priority: 'SF_PRIO',
  listener_created: 'LISTENER_CREATED',
  listener_closed: 'LISTENER_CLOSED',
};

/** One line in the format of `ip mptcp monitor` (iproute2 ip/ipmptcp.c). */
export function formatPmEvent(ev: KernelPmEvent): string {
  if (ev.type === 'unknown') return `[${`UNKNOWN(${ev.cmd})`.padStart(16)}] ${ev.attrs.length} attributes`;
  const parts = [`[${MONITOR_NAMES[ev.type].padStart(16)}]`];
  const a = (key: string, fam: 4 | 6, v: string) => parts.push(`${key}${fam === 6 ? '6' : '4'}=${v}`);
  if ('token' in ev) parts.push(`token=${ev.token.toString(16).padStart(8, '0')}`);
  switch (ev.type) {
    case 'created':
    case 'established':
      if (ev.remoteId !== undefined) parts.push(`remid=${ev.remoteId}`);
      if (ev.localId !== undefined) parts.push(`locid=${ev.localId}`);
      a('saddr', ev.family, ev.saddr);
      a('daddr', ev.family, ev.daddr);
      parts.push(`sport=${ev.sport}`, `dport=${ev.dport}`);
      if (ev.flags) parts.push(`flags=${ev.flags.toString(16)}`);
      if (ev.serverSide) parts.push('server_side');
      break;
    case 'closed':
      break;
    case 'announced':
      parts.push(`remid=${ev.remoteId}`);
      a('daddr', ev.family, ev.daddr);
      if (ev.dport !== undefined) parts.push(`dport=${ev.dport}`);
      break;
    case 'removed':
      parts.push(`remid=${ev.remoteId}`);
      break;
    case 'sub_established':
    case 'sub_closed':
    case 'sub_priority':
      parts.push(`remid=${ev.remoteId}`, `locid=${ev.localId}`);
      a('saddr', ev.family, ev.saddr);
      a('daddr', ev.family, ev.daddr);
      parts.push(`sport=${ev.sport}`, `dport=${ev.dport}`, `backup=${ev.backup ? 1 : 0}`);
      if (ev.error !== undefined) parts.push(`error=${ev.error}`);
      if (ev.ifindex) parts.push(`ifindex=${ev.ifindex}`);
      if (ev.type === 'sub_closed' && ev.resetReason !== undefined)
        parts.push(`reset_reason=${ev.resetReason}`);
      if (ev.type === 'sub_closed' && ev.resetFlags !== undefined)
        parts.push(`reset_flags=0x${ev.resetFlags.toString(16)}`);
      break;
    case 'listener_created':
    case 'listener_closed':
      a('saddr', ev.family, ev.saddr);
      parts.push(`sport=${ev.sport}`);
      break;
  }
  return parts.join(' ');
}
