/**
 * inet_diag codec (include/uapi/linux/inet_diag.h, sock_diag.h): the SOCK_DIAG_BY_FAMILY dump
 * request (struct inet_diag_req_v2 + INET_DIAG_REQ_PROTOCOL), the per-socket reply (struct
 * inet_diag_msg + extensions), struct tcp_info (INET_DIAG_INFO of TCP sockets; decoded by
 * ../kernel/tcp-info.ts), struct mptcp_info (INET_DIAG_INFO of MPTCP sockets) and the MPTCP subflow
 * ULP info of TCP subflows.
 *
 * Contract: pure; parsers never throw. `parseInetDiagMsg` returns undefined for a payload shorter
 * than inet_diag_msg; struct fields beyond what the kernel sent are absent (structs only grow).
 * Units follow the kernel: times in microseconds (…Us) or milliseconds (…Ms), rates in bytes per
 * second, windows in segments (sndCwnd) or bytes (sndWnd). u64 counters become numbers (exact up
 * to 2^53).
 */
import { decodeMptcpInfo, type MptcpInfo as KernelMptcpInfo } from '../kernel/info-decode.js';
import { parseTcpInfo, type TcpInfo } from '../kernel/tcp-info.js';

export { parseTcpInfo, type TcpInfo };
import { formatIpv4, formatIpv6 } from '../wire/ip-address.js';
import {
  findAttr,
  parseAttributes,
  readString,
  readU32,
  readU8,
  u32Attr,
  emitAttributes,
} from './attributes.js';

export const SOCK_DIAG_BY_FAMILY = 20;
export const IPPROTO_TCP = 6;
export const IPPROTO_MPTCP = 262;
export const INET_DIAG_REQ_PROTOCOL = 3;
export const INET_DIAG_INFO = 2;
export const INET_DIAG_CONG = 4;
export const INET_DIAG_ULP_INFO = 19;
export const INET_ULP_INFO_NAME = 1;
export const INET_ULP_INFO_MPTCP = 3;
/** All TCP states (bit n = state n). */
export const ALL_TCP_STATES = 0xfff;

const AF_INET = 2;
const AF_INET6 = 10;
const INET_DIAG_REQ_V2_BYTES = 56;
const INET_DIAG_MSG_BYTES = 72;
// struct inet_diag_sockid offsets (inside req at 8, inside msg at 4).
const SOCKID_SPORT = 0;
const SOCKID_DPORT = 2;
const SOCKID_SRC = 4;
const SOCKID_DST = 20;
const SOCKID_IF = 36;
const SOCKID_COOKIE = 40;

export const TCP_STATE_NAMES = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
] as const;

/** The inet_diag_req_v2 payload (+ INET_DIAG_REQ_PROTOCOL for protocols above 255). */
export function emitInetDiagRequest(family: 4 | 6, protocol: number, states = ALL_TCP_STATES): Uint8Array {
  const ext = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_CONG - 1));
  const attrs =
    protocol > 0xff ? emitAttributes([u32Attr(INET_DIAG_REQ_PROTOCOL, protocol)]) : new Uint8Array(0);
  const out = new Uint8Array(INET_DIAG_REQ_V2_BYTES + attrs.length);
  const d = new DataView(out.buffer);
  out[0] = family === 4 ? AF_INET : AF_INET6;
  out[1] = protocol & 0xff;
  out[2] = ext;
  d.setUint32(4, states >>> 0, true);
  // Cookie "no cookie" for a dump.
  d.setUint32(8 + SOCKID_COOKIE, 0xffffffff, true);
  d.setUint32(8 + SOCKID_COOKIE + 4, 0xffffffff, true);
  out.set(attrs, INET_DIAG_REQ_V2_BYTES);
  return out;
}

/** struct mptcp_info (INET_DIAG_INFO of an MPTCP socket): the same struct getsockopt(MPTCP_INFO) returns. */
export type MptcpInfo = KernelMptcpInfo;

/** The 5.10+ layout (up to csum_enabled); shorter ones are not reported by sock_diag here. */
const MPTCP_INFO_BASE_BYTES = 43;

/** Decodes INET_DIAG_INFO of an MPTCP socket with the decoder of src/kernel (one decoder per struct). */
export function parseMptcpInfo(p: Uint8Array): MptcpInfo | undefined {
  if (p.length < MPTCP_INFO_BASE_BYTES) return undefined;
  return decodeMptcpInfo(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
}

/** MPTCP subflow context of a TCP subflow (INET_DIAG_ULP_INFO → INET_ULP_INFO_MPTCP). */
export interface MptcpSubflowUlp {
  tokenRemote?: number;
  tokenLocal?: number;
  flags?: number;
  idRemote?: number;
  idLocal?: number;
}

// enum MPTCP_SUBFLOW_ATTR_*
const SF_TOKEN_REM = 1;
const SF_TOKEN_LOC = 2;
const SF_FLAGS = 8;
const SF_ID_REM = 9;
const SF_ID_LOC = 10;

/** One socket of a sock_diag dump. */
export interface InetDiagSocket {
  family: 4 | 6;
  state: number;
  stateName: string;
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  ifindex: number;
  cookie: bigint;
  uid: number;
  inode: number;
  rqueue: number;
  wqueue: number;
  /** Protocol-specific INET_DIAG_INFO: tcp_info for TCP sockets. */
  tcpInfo?: TcpInfo;
  /** mptcp_info for MPTCP sockets. */
  mptcpInfo?: MptcpInfo;
  /** Congestion control name (INET_DIAG_CONG). */
  congestion?: string;
  /** ULP name ("mptcp" on MPTCP subflows). */
  ulp?: string;
  mptcpSubflow?: MptcpSubflowUlp;
}

function addr(p: Uint8Array, off: number, family: 4 | 6): string {
  return family === 4 ? formatIpv4(p, off) : formatIpv6(p, off);
}

/** Decodes one SOCK_DIAG_BY_FAMILY reply payload; `protocol` selects how INET_DIAG_INFO is read. */
export function parseInetDiagMsg(p: Uint8Array, protocol: number): InetDiagSocket | undefined {
  if (p.length < INET_DIAG_MSG_BYTES) return undefined;
  const d = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const family: 4 | 6 = p[0] === AF_INET6 ? 6 : 4;
  const id = 4;
  const state = p[1]!;
  const sock: InetDiagSocket = {
    family,
    state,
    stateName: TCP_STATE_NAMES[state] ?? `STATE_${state}`,
    saddr: addr(p, id + SOCKID_SRC, family),
    sport: d.getUint16(id + SOCKID_SPORT, false),
    daddr: addr(p, id + SOCKID_DST, family),
    dport: d.getUint16(id + SOCKID_DPORT, false),
    ifindex: d.getUint32(id + SOCKID_IF, true),
    cookie: d.getBigUint64(id + SOCKID_COOKIE, true),
    rqueue: d.getUint32(56, true),
    wqueue: d.getUint32(60, true),
    uid: d.getUint32(64, true),
    inode: d.getUint32(68, true),
  };
  const { attrs } = parseAttributes(p, INET_DIAG_MSG_BYTES);
  const info = findAttr(attrs, INET_DIAG_INFO);
  if (info) {
    if (protocol === IPPROTO_MPTCP) {
      const m = parseMptcpInfo(info.payload);
      if (m) sock.mptcpInfo = m;
    } else {
      const t = parseTcpInfo(info.payload);
      if (t) sock.tcpInfo = t;
    }
  }
  const cong = readString(findAttr(attrs, INET_DIAG_CONG));
  if (cong) sock.congestion = cong;
  const ulp = findAttr(attrs, INET_DIAG_ULP_INFO);
  if (ulp) {
    const inner = parseAttributes(ulp.payload).attrs;
    const name = readString(findAttr(inner, INET_ULP_INFO_NAME));
    if (name) sock.ulp = name;
    const mp = findAttr(inner, INET_ULP_INFO_MPTCP);
    if (mp) {
      const sf = parseAttributes(mp.payload).attrs;
      const out: MptcpSubflowUlp = {};
      const tr = readU32(findAttr(sf, SF_TOKEN_REM));
      if (tr !== undefined) out.tokenRemote = tr;
      const tl = readU32(findAttr(sf, SF_TOKEN_LOC));
      if (tl !== undefined) out.tokenLocal = tl;
      const fl = readU32(findAttr(sf, SF_FLAGS));
      if (fl !== undefined) out.flags = fl;
      const ir = readU8(findAttr(sf, SF_ID_REM));
      if (ir !== undefined) out.idRemote = ir;
      const il = readU8(findAttr(sf, SF_ID_LOC));
      if (il !== undefined) out.idLocal = il;
      sock.mptcpSubflow = out;
    }
  }
  return sock;
}
