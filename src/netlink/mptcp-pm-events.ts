/**
 * Decoding of `mptcp_pm_events` multicast messages (enum mptcp_event_type, attributes of enum
 * mptcp_event_attr) into the discriminated union `KernelPmEvent`.
 *
 * `emitPmEvent` encodes an event the way the kernel does (for tests and for warming up the
 * decoding path).
 *
 * Contract: pure; `decodePmEvent` never throws. It returns undefined only when the payload is not
 * a generic netlink message; an event command it does not know becomes `{type: 'unknown', cmd}`,
 * and missing attributes become absent fields (the kernel omits optional ones). Ports are decoded
 * from be16; addresses are formatted like Node's `socket.remoteAddress`.
 */
import { formatIpv4, formatIpv6, writeIpv4, writeIpv6 } from '../wire/ip-address.js';
import {
  type AttrInput,
  be16Attr,
  binaryAttr,
  MAX_ATTRIBUTES,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  type NlAttr,
  nlaAlign,
  s32Attr,
  u8Attr,
  u16Attr,
  u32Attr,
} from './attributes.js';
import { emitGenlPayload, GENL_HDRLEN, parseGenl } from './genl.js';
import { AF_INET, AF_INET6, MPTCP_PM_VER, PmAddressError } from './mptcp-pm.js';

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

/*
 * Decoding is one pass over the attribute stream (the hot path of a userspace PM: every event is
 * decoded before anyone can react to it). It records, per known attribute type, where the first
 * attribute of that type starts and how long its payload is, into two small arrays allocated once,
 * then reads values in place: no NlAttr objects, no DataViews. The rules are those of
 * parseAttributes + findAttr (first attribute of a type wins; the scan stops at a malformed one).
 */
const MAX_KNOWN_ATTR = MPTCP_ATTR.SERVER_SIDE;
const KNOWN_EVENTS: ReadonlySet<number> = new Set(Object.values(MPTCP_EVENT));
/** Payload offset of the first attribute of each type in the payload being decoded; -1: absent. */
const at = new Int32Array(MAX_KNOWN_ATTR + 1);
/** Payload length of that attribute. */
const len = new Int32Array(MAX_KNOWN_ATTR + 1);

/** Indexes the attributes of `p` (a genl payload), stopping at a malformed one. */
function scan(p: Uint8Array): void {
  at.fill(-1);
  const limit = p.length;
  let pos = GENL_HDRLEN;
  let count = 0;
  while (pos + NLA_HDRLEN <= limit && count < MAX_ATTRIBUTES) {
    const alen = p[pos]! | (p[pos + 1]! << 8);
    const type = (p[pos + 2]! | (p[pos + 3]! << 8)) & NLA_TYPE_MASK;
    if (alen < NLA_HDRLEN || pos + alen > limit) return;
    if (type <= MAX_KNOWN_ATTR && at[type] === -1) {
      at[type] = pos + NLA_HDRLEN;
      len[type] = alen - NLA_HDRLEN;
    }
    count++;
    pos += nlaAlign(alen);
  }
}

function u8(p: Uint8Array, type: number): number | undefined {
  return at[type]! >= 0 && len[type]! >= 1 ? p[at[type]!] : undefined;
}
function u16(p: Uint8Array, type: number): number | undefined {
  const o = at[type]!;
  return o >= 0 && len[type]! >= 2 ? p[o]! | (p[o + 1]! << 8) : undefined;
}
function be16(p: Uint8Array, type: number): number | undefined {
  const o = at[type]!;
  return o >= 0 && len[type]! >= 2 ? (p[o]! << 8) | p[o + 1]! : undefined;
}
function u32(p: Uint8Array, type: number): number | undefined {
  const o = at[type]!;
  return o >= 0 && len[type]! >= 4
    ? (p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0
    : undefined;
}
function s32(p: Uint8Array, type: number): number | undefined {
  const o = at[type]!;
  return o >= 0 && len[type]! >= 4
    ? p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)
    : undefined;
}
/** An unsigned host-order integer of whatever width (1, 2 or 4 bytes) the sender used. */
function uint(p: Uint8Array, type: number): number | undefined {
  const l = len[type]!;
  if (at[type]! < 0) return undefined;
  return l >= 4 ? u32(p, type) : l >= 2 ? u16(p, type) : u8(p, type);
}

function family(p: Uint8Array): 4 | 6 {
  const af = u16(p, MPTCP_ATTR.FAMILY);
  if (af === AF_INET6) return 6;
  if (af === AF_INET) return 4;
  // Infer from the address attributes when FAMILY is missing.
  return at[MPTCP_ATTR.SADDR6]! >= 0 || at[MPTCP_ATTR.DADDR6]! >= 0 ? 6 : 4;
}

function address(p: Uint8Array, type4: number, type6: number): string {
  if (at[type6]! >= 0 && len[type6]! >= 16) return formatIpv6(p, at[type6]!);
  if (at[type4]! >= 0 && len[type4]! >= 4) return formatIpv4(p, at[type4]!);
  return '';
}

function connection(p: Uint8Array): PmConnectionInfo {
  const out = connectionBase(p);
  const loc = u8(p, MPTCP_ATTR.LOC_ID);
  if (loc !== undefined) out.localId = loc;
  const rem = u8(p, MPTCP_ATTR.REM_ID);
  if (rem !== undefined) out.remoteId = rem;
  return out;
}

function connectionBase(p: Uint8Array): PmConnectionInfo {
  return {
    token: u32(p, MPTCP_ATTR.TOKEN) ?? 0,
    family: family(p),
    saddr: address(p, MPTCP_ATTR.SADDR4, MPTCP_ATTR.SADDR6),
    daddr: address(p, MPTCP_ATTR.DADDR4, MPTCP_ATTR.DADDR6),
    sport: be16(p, MPTCP_ATTR.SPORT) ?? 0,
    dport: be16(p, MPTCP_ATTR.DPORT) ?? 0,
    serverSide: (u8(p, MPTCP_ATTR.SERVER_SIDE) ?? 0) !== 0,
    flags: uint(p, MPTCP_ATTR.FLAGS) ?? 0,
  };
}

function subflow(p: Uint8Array): PmSubflowInfo {
  const c = connectionBase(p);
  const out: PmSubflowInfo = {
    token: c.token,
    family: c.family,
    localId: u8(p, MPTCP_ATTR.LOC_ID) ?? 0,
    remoteId: u8(p, MPTCP_ATTR.REM_ID) ?? 0,
    saddr: c.saddr,
    daddr: c.daddr,
    sport: c.sport,
    dport: c.dport,
    backup: (u8(p, MPTCP_ATTR.BACKUP) ?? 0) !== 0,
    ifindex: s32(p, MPTCP_ATTR.IF_IDX) ?? 0,
  };
  const error = u8(p, MPTCP_ATTR.ERROR);
  if (error !== undefined) out.error = error;
  return out;
}

/** What `peekEstablished` reads of an IPv4 `established` event (addresses as u32, network order). */
export interface EstablishedPeek {
  token: number;
  serverSide: boolean;
  saddr4: number;
  daddr4: number;
  dport: number;
}

const peeked: EstablishedPeek = { token: 0, serverSide: false, saddr4: 0, daddr4: 0, dport: 0 };

/**
 * The fields a path manager reacts on, read in place from an `established` event of an IPv4
 * connection: no strings, no new objects (the result is one object reused by every call: read it
 * before the next call). Undefined for other events, IPv6, or a missing field (decode those).
 */
export function peekEstablished(payload: Uint8Array): Readonly<EstablishedPeek> | undefined {
  if (payload.length < GENL_HDRLEN || payload[0] !== MPTCP_EVENT.ESTABLISHED) return undefined;
  scan(payload);
  const s4 = at[MPTCP_ATTR.SADDR4]!;
  const d4 = at[MPTCP_ATTR.DADDR4]!;
  const token = u32(payload, MPTCP_ATTR.TOKEN);
  const dport = be16(payload, MPTCP_ATTR.DPORT);
  if (s4 < 0 || d4 < 0 || len[MPTCP_ATTR.SADDR4]! < 4 || len[MPTCP_ATTR.DADDR4]! < 4) return undefined;
  if (token === undefined || dport === undefined || at[MPTCP_ATTR.SADDR6]! >= 0) return undefined;
  peeked.token = token;
  peeked.serverSide = (u8(payload, MPTCP_ATTR.SERVER_SIDE) ?? 0) !== 0;
  peeked.saddr4 = readBe32(payload, s4);
  peeked.daddr4 = readBe32(payload, d4);
  peeked.dport = dport;
  return peeked;
}

function readBe32(p: Uint8Array, o: number): number {
  return ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
}

/** An address `peekEstablished` read, as text (dotted quad). */
export function ipv4Text(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** A dotted-quad IPv4 address as the number peekEstablished reads; undefined for anything else. */
export function ipv4Number(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** Decodes the genl payload of one mptcp_pm_events message. */
export function decodePmEvent(payload: Uint8Array): KernelPmEvent | undefined {
  if (payload.length < GENL_HDRLEN) return undefined;
  const p = payload;
  const cmd = p[0]!;
  const token = () => u32(p, MPTCP_ATTR.TOKEN) ?? 0;
  if (!KNOWN_EVENTS.has(cmd)) {
    // Unknown event: the raw attributes, as parseAttributes gives them.
    const msg = parseGenl(payload);
    return msg ? { type: 'unknown', cmd, attrs: msg.attrs } : undefined;
  }
  scan(p);
  switch (cmd) {
    case MPTCP_EVENT.CREATED:
      return { type: 'created', ...connection(p) };
    case MPTCP_EVENT.ESTABLISHED:
      return { type: 'established', ...connection(p) };
    case MPTCP_EVENT.CLOSED:
      return { type: 'closed', token: token() };
    case MPTCP_EVENT.ANNOUNCED: {
      const ev: KernelPmEvent = {
        type: 'announced',
        token: token(),
        remoteId: u8(p, MPTCP_ATTR.REM_ID) ?? 0,
        family: family(p),
        daddr: address(p, MPTCP_ATTR.DADDR4, MPTCP_ATTR.DADDR6),
      };
      const dport = be16(p, MPTCP_ATTR.DPORT);
      if (dport !== undefined && dport !== 0) ev.dport = dport;
      return ev;
    }
    case MPTCP_EVENT.REMOVED:
      return { type: 'removed', token: token(), remoteId: u8(p, MPTCP_ATTR.REM_ID) ?? 0 };
    case MPTCP_EVENT.SUB_ESTABLISHED:
      return { type: 'sub_established', ...subflow(p) };
    case MPTCP_EVENT.SUB_CLOSED: {
      const ev: KernelPmEvent = { type: 'sub_closed', ...subflow(p) };
      const reason = u32(p, MPTCP_ATTR.RESET_REASON);
      if (reason !== undefined) ev.resetReason = reason;
      const rflags = u32(p, MPTCP_ATTR.RESET_FLAGS);
      if (rflags !== undefined) ev.resetFlags = rflags;
      return ev;
    }
    case MPTCP_EVENT.SUB_PRIORITY:
      return { type: 'sub_priority', ...subflow(p) };
    default:
      return {
        type: cmd === MPTCP_EVENT.LISTENER_CREATED ? 'listener_created' : 'listener_closed',
        family: family(p),
        saddr: address(p, MPTCP_ATTR.SADDR4, MPTCP_ATTR.SADDR6),
        sport: be16(p, MPTCP_ATTR.SPORT) ?? 0,
      };
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

const EVENT_CMD: Record<Exclude<KernelPmEventType, 'unknown'>, number> = {
  created: MPTCP_EVENT.CREATED,
  established: MPTCP_EVENT.ESTABLISHED,
  closed: MPTCP_EVENT.CLOSED,
  announced: MPTCP_EVENT.ANNOUNCED,
  removed: MPTCP_EVENT.REMOVED,
  sub_established: MPTCP_EVENT.SUB_ESTABLISHED,
  sub_closed: MPTCP_EVENT.SUB_CLOSED,
  sub_priority: MPTCP_EVENT.SUB_PRIORITY,
  listener_created: MPTCP_EVENT.LISTENER_CREATED,
  listener_closed: MPTCP_EVENT.LISTENER_CLOSED,
};

/**
 * The genl payload the kernel sends for `ev` (net/mptcp/pm_netlink.c, Linux 6.18): TOKEN first;
 * created / established then SERVER_SIDE (only when set) and FLAGS (only when non-zero);
 * connection and subflow events then mptcp_event_add_subflow's LOC_ID / REM_ID, FAMILY,
 * addresses, ports, BACKUP, IF_IDX (when non-zero), ERROR; sub_closed RESET_REASON /
 * RESET_FLAGS. `unknown` events keep their raw attributes. decodePmEvent(emitPmEvent(ev))
 * gives `ev` back. Throws PmAddressError for an address that is not of the event's family.
 */
export function emitPmEvent(ev: KernelPmEvent): Uint8Array {
  if (ev.type === 'unknown')
    return emitGenlPayload(
      ev.cmd,
      MPTCP_PM_VER,
      ev.attrs.map((a) => binaryAttr(a.type, a.payload)),
    );
  const attrs: AttrInput[] = [];
  const fam = 'family' in ev ? ev.family : 4;
  const addr = (type4: number, type6: number, text: string) => {
    const out = new Uint8Array(fam === 6 ? 16 : 4);
    if (!(fam === 6 ? writeIpv6(text, out, 0) : writeIpv4(text, out, 0)))
      throw new PmAddressError(`not an IPv${fam} address: '${text}'`);
    attrs.push(binaryAttr(fam === 6 ? type6 : type4, out));
  };
  const family = () => attrs.push(u16Attr(MPTCP_ATTR.FAMILY, fam === 6 ? AF_INET6 : AF_INET));
  if ('token' in ev) attrs.push(u32Attr(MPTCP_ATTR.TOKEN, ev.token));
  switch (ev.type) {
    case 'created':
    case 'established':
      if (ev.serverSide) attrs.push(u8Attr(MPTCP_ATTR.SERVER_SIDE, 1));
      if (ev.flags !== 0) attrs.push(u16Attr(MPTCP_ATTR.FLAGS, ev.flags));
      if (ev.localId !== undefined) attrs.push(u8Attr(MPTCP_ATTR.LOC_ID, ev.localId));
      if (ev.remoteId !== undefined) attrs.push(u8Attr(MPTCP_ATTR.REM_ID, ev.remoteId));
      family();
      addr(MPTCP_ATTR.SADDR4, MPTCP_ATTR.SADDR6, ev.saddr);
      addr(MPTCP_ATTR.DADDR4, MPTCP_ATTR.DADDR6, ev.daddr);
      attrs.push(be16Attr(MPTCP_ATTR.SPORT, ev.sport), be16Attr(MPTCP_ATTR.DPORT, ev.dport));
      break;
    case 'closed':
      break;
    case 'announced':
      attrs.push(u8Attr(MPTCP_ATTR.REM_ID, ev.remoteId));
      family();
      addr(MPTCP_ATTR.DADDR4, MPTCP_ATTR.DADDR6, ev.daddr);
      if (ev.dport !== undefined) attrs.push(be16Attr(MPTCP_ATTR.DPORT, ev.dport));
      break;
    case 'removed':
      attrs.push(u8Attr(MPTCP_ATTR.REM_ID, ev.remoteId));
      break;
    case 'sub_established':
    case 'sub_closed':
    case 'sub_priority':
      attrs.push(u8Attr(MPTCP_ATTR.LOC_ID, ev.localId), u8Attr(MPTCP_ATTR.REM_ID, ev.remoteId));
      family();
      addr(MPTCP_ATTR.SADDR4, MPTCP_ATTR.SADDR6, ev.saddr);
      addr(MPTCP_ATTR.DADDR4, MPTCP_ATTR.DADDR6, ev.daddr);
      attrs.push(be16Attr(MPTCP_ATTR.SPORT, ev.sport), be16Attr(MPTCP_ATTR.DPORT, ev.dport));
      attrs.push(u8Attr(MPTCP_ATTR.BACKUP, ev.backup ? 1 : 0));
      if (ev.ifindex !== 0) attrs.push(s32Attr(MPTCP_ATTR.IF_IDX, ev.ifindex));
      if (ev.error !== undefined) attrs.push(u8Attr(MPTCP_ATTR.ERROR, ev.error));
      if (ev.type === 'sub_closed' && ev.resetReason !== undefined)
        attrs.push(u32Attr(MPTCP_ATTR.RESET_REASON, ev.resetReason));
      if (ev.type === 'sub_closed' && ev.resetFlags !== undefined)
        attrs.push(u32Attr(MPTCP_ATTR.RESET_FLAGS, ev.resetFlags));
      break;
    case 'listener_created':
    case 'listener_closed':
      family();
      addr(MPTCP_ATTR.SADDR4, MPTCP_ATTR.SADDR6, ev.saddr);
      attrs.push(be16Attr(MPTCP_ATTR.SPORT, ev.sport));
      break;
  }
  return emitGenlPayload(EVENT_CMD[ev.type], MPTCP_PM_VER, attrs);
}

/**
 * Synthetic kernel events covering what real ones vary in, so that code warmed up with them keeps
 * its optimizations on real events: for each of 16 connections (tokens below and above 2^31,
 * client and server side, with and without the initial subflow's address ids) the sequence
 * created, established, sub_established, sub_closed, closed. For this module's warm-up and the
 * kernel driver's.
 */
export function warmUpEvents(): KernelPmEvent[] {
  const out: KernelPmEvent[] = [];
  for (let i = 0; i < 16; i++) {
    const info: PmConnectionInfo = {
      token: i & 1 ? (0x9e37_79b9 * (i + 1)) >>> 0 : 0x10 + i * 0x01010101,
      family: 4,
      saddr: `192.0.2.${i + 1}`,
      daddr: '198.51.100.2',
      sport: 40000 + i * 97,
      dport: 80 + i,
      serverSide: (i & 4) !== 0,
      flags: 0,
    };
    if (i & 2) {
      info.localId = 0;
      info.remoteId = 0;
    }
    const sub = {
      token: info.token,
      family: 4 as const,
      localId: 2,
      remoteId: 0,
      saddr: '192.0.2.200',
      daddr: info.daddr,
      sport: 50000 + i,
      dport: info.dport,
      backup: false,
      ifindex: i & 8 ? 3 : 0,
    };
    out.push(
      { type: 'created', ...info },
      { type: 'established', ...info },
      { type: 'sub_established', ...sub },
      { type: 'sub_closed', ...sub },
      { type: 'closed', token: info.token },
    );
  }
  return out;
}
