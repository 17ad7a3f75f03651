/**
 * Introspection of kernel MPTCP connections from Node sockets: isMultipath, mptcpInfo, subflows.
 *
 * Contract: every call is one or two synchronous, non-blocking getsockopt(2) calls on the socket's
 * descriptor (`socket._handle.fd`); buffers are bounded (at most MAX_SUBFLOWS subflows reported).
 * A plain TCP socket, or an MPTCP socket whose connection fell back to TCP, is "not multipath":
 * isMultipath → false, mptcpInfo → undefined, subflows → [].
 */
import type net from 'node:net';
import { errnoName } from '../native/libc.js';
import {
  MPTCP_FULL_INFO,
  MPTCP_INFO,
  MPTCP_SUBFLOW_ADDRS,
  MPTCP_TCPINFO,
  SOL_MPTCP,
  SOL_TCP,
  TCP_INFO,
  TCP_IS_MPTCP,
} from './constants.js';
import { NativeCallError } from '../native/libc.js';
import { NotConnectedError } from './errors.js';
import {
  decodeFullInfoHeader,
  decodeMptcpInfo,
  decodeSubflowAddrs,
  decodeSubflowDataHeader,
  decodeTcpInfo,
  FULL_INFO_HEADER_BYTES,
  MPTCP_INFO_BYTES,
  type MptcpInfo,
  SUBFLOW_ADDRS_BYTES,
  SUBFLOW_DATA_HEADER_BYTES,
  SUBFLOW_INFO_BYTES,
  TCP_INFO_BYTES,
  type TcpInfo,
} from './info-decode.js';
import { bufferAddress, getsockoptRaw } from './native.js';

export type { MptcpInfo } from './info-decode.js';

/** Upper bound on the subflows one call reports (the kernel's own limit is 8 per connection). */
export const MAX_SUBFLOWS = 32;

export interface SubflowInfo {
  /** Kernel subflow id (MPTCP_FULL_INFO only). */
  id?: number;
  family?: 4 | 6;
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  /** TCP state (1 = ESTABLISHED). */
  state?: number;
  rttUs?: number;
  rttVarUs?: number;
  rtoUs?: number;
  /** Congestion window, in segments. */
  cwnd?: number;
  mss?: number;
  bytesSent?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  bytesRetrans?: number;
  totalRetrans?: number;
  segsIn?: number;
  segsOut?: number;
}

type SocketLike = net.Socket | { _handle?: { fd?: number } | null } | number;

/** The descriptor behind a Node socket (or the number itself). */
export function socketFd(socket: SocketLike): number {
  const fd =
    typeof socket === 'number' ? socket : (socket as { _handle?: { fd?: number } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new NotConnectedError('the socket has no open descriptor');
  return fd;
}

function readMptcpInfo(fd: number): MptcpInfo | undefined {
  const buf = Buffer.alloc(MPTCP_INFO_BYTES);
  const n = getsockoptRaw(fd, SOL_MPTCP, MPTCP_INFO, buf);
  if (n < 0) return undefined;
  const info = decodeMptcpInfo(buf, n);
  return info.fallback ? undefined : info;
}

/**
 * Whether the connection runs MPTCP (false for plain TCP and for MPTCP sockets that fell back).
 * MPTCP_INFO fails with EOPNOTSUPP on a fallen-back connection (kernel ≥ 5.16); TCP_IS_MPTCP is
 * consulted when MPTCP_INFO is not understood at all.
 */
export function isMultipath(socket: SocketLike): boolean {
  const fd = socketFd(socket);
  const buf = Buffer.alloc(MPTCP_INFO_BYTES);
  const n = getsockoptRaw(fd, SOL_MPTCP, MPTCP_INFO, buf);
  if (n >= 0) return !decodeMptcpInfo(buf, n).fallback;
  if (errnoName(-n) === 'EOPNOTSUPP') return false;
  const flag = Buffer.alloc(4);
  return getsockoptRaw(fd, SOL_TCP, TCP_IS_MPTCP, flag) >= 4 && flag.readInt32LE(0) === 1;
}

/** The decoded struct mptcp_info, or undefined when the connection is not MPTCP. */
export function mptcpInfo(socket: SocketLike): MptcpInfo | undefined {
  return readMptcpInfo(socketFd(socket));
}

function merge(
  addrs: ReturnType<typeof decodeSubflowAddrs>,
  tcp: ReturnType<typeof decodeTcpInfo>,
  id?: number,
): SubflowInfo {
  const s: SubflowInfo = {};
  if (id !== undefined) s.id = id;
  if (addrs.local) {
    s.family = addrs.local.family;
    s.localAddress = addrs.local.address;
    s.localPort = addrs.local.port;
  }
  if (addrs.remote) {
    s.remoteAddress = addrs.remote.address;
    s.remotePort = addrs.remote.port;
  }
  if (tcp) {
    s.state = tcp.state;
    s.rttUs = tcp.rttUs;
    s.rttVarUs = tcp.rttVarUs;
    s.rtoUs = tcp.rtoUs;
    s.cwnd = tcp.sndCwnd;
    s.mss = tcp.sndMss;
    s.totalRetrans = tcp.totalRetrans;
    if (tcp.bytesSent !== undefined) s.bytesSent = tcp.bytesSent;
    if (tcp.bytesAcked !== undefined) s.bytesAcked = tcp.bytesAcked;
    if (tcp.bytesReceived !== undefined) s.bytesReceived = tcp.bytesReceived;
    if (tcp.bytesRetrans !== undefined) s.bytesRetrans = tcp.bytesRetrans;
    if (tcp.segsIn !== undefined) s.segsIn = tcp.segsIn;
    if (tcp.segsOut !== undefined) s.segsOut = tcp.segsOut;
  }
  return s;
}

/** MPTCP_FULL_INFO (Linux ≥ 6.5): one consistent snapshot; undefined when the kernel lacks it. */
function subflowsFullInfo(fd: number): SubflowInfo[] | undefined {
  const sf = Buffer.alloc(MAX_SUBFLOWS * SUBFLOW_INFO_BYTES);
  const tcp = Buffer.alloc(MAX_SUBFLOWS * TCP_INFO_BYTES);
  const head = Buffer.alloc(FULL_INFO_HEADER_BYTES + MPTCP_INFO_BYTES);
  head.writeUInt32LE(TCP_INFO_BYTES, 4);
  head.writeUInt32LE(SUBFLOW_INFO_BYTES, 12);
  head.writeUInt32LE(MAX_SUBFLOWS, 20);
  head.writeBigUInt64LE(bufferAddress(sf), 24);
  head.writeBigUInt64LE(bufferAddress(tcp), 32);
  const n = getsockoptRaw(fd, SOL_MPTCP, MPTCP_FULL_INFO, head);
  if (n < 0) {
    if (errnoName(-n) === 'EOPNOTSUPP' || errnoName(-n) === 'ENOPROTOOPT') return undefined;
    throw new NativeCallError('getsockopt(MPTCP_FULL_INFO)', -n);
  }
  const h = decodeFullInfoHeader(head);
  const count = Math.min(h.numSubflows, MAX_SUBFLOWS);
  const out: SubflowInfo[] = [];
  for (let i = 0; i < count; i++) {
    const sfOff = i * h.sizeSfinfoUser;
    const id = h.sizeSfinfoUser >= 4 ? sf.readUInt32LE(sfOff) : undefined;
    const addrs = h.sizeSfinfoUser > 8 ? decodeSubflowAddrs(sf, sfOff + 8, h.sizeSfinfoUser - 8) : {};
    out.push(merge(addrs, decodeTcpInfo(tcp, i * h.sizeTcpinfoUser, h.sizeTcpinfoUser), id));
  }
  return out;
}

/** mptcp_subflow_data-framed getsockopt: returns [element stride, count, buffer]. */
function subflowArray(
  fd: number,
  optname: number,
  elemBytes: number,
): { buf: Buffer; stride: number; count: number } {
  const buf = Buffer.alloc(SUBFLOW_DATA_HEADER_BYTES + MAX_SUBFLOWS * elemBytes);
  buf.writeUInt32LE(SUBFLOW_DATA_HEADER_BYTES, 0);
  buf.writeUInt32LE(elemBytes, 12);
  const n = getsockoptRaw(fd, SOL_MPTCP, optname, buf);
  if (n < 0) throw new NativeCallError(`getsockopt(SOL_MPTCP, ${optname})`, -n);
  const h = decodeSubflowDataHeader(buf);
  const count =
    h.sizeUser === 0 ? 0 : Math.min(h.numSubflows, MAX_SUBFLOWS, Math.floor((n - 16) / h.sizeUser));
  return { buf: buf.subarray(h.sizeSubflowData), stride: h.sizeUser, count };
}

/**
 * Every subflow of an MPTCP connection: addresses, ports, RTT, RTT variance, RTO, cwnd, byte counters.
 * Uses MPTCP_FULL_INFO (one snapshot, Linux ≥ 6.5), else MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO
 * (Linux ≥ 5.16; two calls, so a subflow may come or go between them). [] when not MPTCP.
 * `method` forces one of the two (for tests and comparisons).
 */
export function subflows(
  socket: SocketLike,
  options: { method?: 'auto' | 'full-info' | 'addrs+tcpinfo' } = {},
): SubflowInfo[] {
  const fd = socketFd(socket);
  if (!readMptcpInfo(fd)) return [];
  const method = options.method ?? 'auto';
  if (method !== 'addrs+tcpinfo') {
    const full = subflowsFullInfo(fd);
    if (full) return full;
    if (method === 'full-info') throw new NativeCallError('getsockopt(MPTCP_FULL_INFO)', 95, 'kernel < 6.5');
  }
  const addrs = subflowArray(fd, MPTCP_SUBFLOW_ADDRS, SUBFLOW_ADDRS_BYTES);
  const tcp = subflowArray(fd, MPTCP_TCPINFO, TCP_INFO_BYTES);
  const out: SubflowInfo[] = [];
  for (let i = 0; i < addrs.count; i++) {
    const t = i < tcp.count ? decodeTcpInfo(tcp.buf, i * tcp.stride, tcp.stride) : undefined;
    out.push(merge(decodeSubflowAddrs(addrs.buf, i * addrs.stride, addrs.stride), t));
  }
  return out;
}

/**
 * struct tcp_info of any TCP socket (a plain one, or a userspace MPTCP subflow): srtt, rto, cwnd,
 * pacing and delivery rate. One synchronous getsockopt(SOL_TCP, TCP_INFO); undefined when it fails.
 */
export function tcpInfo(socket: SocketLike): TcpInfo | undefined {
  const buf = Buffer.alloc(TCP_INFO_BYTES);
  const n = getsockoptRaw(socketFd(socket), SOL_TCP, TCP_INFO, buf);
  return n < 0 ? undefined : decodeTcpInfo(buf, 0, n);
}
