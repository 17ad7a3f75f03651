/**
 * Pure decoders for the structs the kernel returns through getsockopt(SOL_MPTCP, …):
 * struct mptcp_info, struct tcp_info (the fields a subflow report needs), struct mptcp_subflow_info
 * and the mptcp_full_info / mptcp_subflow_data headers (include/uapi/linux/mptcp.h, tcp.h).
 *
 * Structs only grow across kernel versions, so each decoder takes the length the kernel actually
 * wrote and leaves out (undefined) every field that lies beyond it. Never reads past `len`.
 */
import { decodeSockAddr, type SockAddr } from './sockaddr.js';
import { parseTcpInfo } from './tcp-info.js';

/** sizeof(struct mptcp_info) on Linux 6.x (the newest layout we know). */
export const MPTCP_INFO_BYTES = 96;
/** sizeof(struct tcp_info) we ask for (the kernel clamps to its own size). */
export const TCP_INFO_BYTES = 256;
/** sizeof(struct mptcp_subflow_addrs): two sockaddr_storage. */
export const SUBFLOW_ADDRS_BYTES = 256;
/** sizeof(struct mptcp_subflow_info): u32 id, 4 bytes padding, mptcp_subflow_addrs. */
export const SUBFLOW_INFO_BYTES = 264;
/** offsetof(struct mptcp_full_info, mptcp_info). */
export const FULL_INFO_HEADER_BYTES = 40;
/** sizeof(struct mptcp_subflow_data). */
export const SUBFLOW_DATA_HEADER_BYTES = 16;

export interface MptcpInfo {
  /** Bytes of struct mptcp_info the kernel returned. */
  size: number;
  subflows: number;
  addAddrSignal: number;
  addAddrAccepted: number;
  subflowsMax: number;
  addAddrSignalMax: number;
  addAddrAcceptedMax: number;
  flags: number;
  fallback: boolean;
  remoteKeyReceived: boolean;
  token: number;
  writeSeq: bigint;
  sndUna: bigint;
  rcvNxt: bigint;
  localAddrUsed?: number;
  localAddrMax?: number;
  csumEnabled?: boolean;
  retransmits?: number;
  bytesRetrans?: number;
  bytesSent?: number;
  bytesReceived?: number;
  bytesAcked?: number;
  subflowsTotal?: number;
  lastDataSentMs?: number;
  lastDataRecvMs?: number;
  lastAckRecvMs?: number;
}

export class StructTooShortError extends Error {
  override readonly name = 'StructTooShortError';
}

function u64(buf: Buffer, off: number): number {
  return Number(buf.readBigUInt64LE(off));
}

/** Decodes struct mptcp_info from the first `len` bytes of `buf` (at least the 40-byte 5.6 layout). */
export function decodeMptcpInfo(buf: Buffer, len = buf.length, offset = 0): MptcpInfo {
  const n = Math.min(len, buf.length - offset);
  if (n < 40) throw new StructTooShortError(`struct mptcp_info needs at least 40 bytes, got ${n}`);
  const b = buf.subarray(offset, offset + n);
  const flags = b.readUInt32LE(8);
  const info: MptcpInfo = {
    size: n,
    subflows: b[0]!,
    addAddrSignal: b[1]!,
    addAddrAccepted: b[2]!,
    subflowsMax: b[3]!,
    addAddrSignalMax: b[4]!,
    addAddrAcceptedMax: b[5]!,
    flags,
    fallback: (flags & 1) !== 0,
    remoteKeyReceived: (flags & 2) !== 0,
    token: b.readUInt32LE(12),
    writeSeq: b.readBigUInt64LE(16),
    sndUna: b.readBigUInt64LE(24),
    rcvNxt: b.readBigUInt64LE(32),
  };
  if (n >= 41) info.localAddrUsed = b[40]!;
  if (n >= 42) info.localAddrMax = b[41]!;
  if (n >= 43) info.csumEnabled = b[42] !== 0;
  if (n >= 48) info.retransmits = b.readUInt32LE(44);
  if (n >= 56) info.bytesRetrans = u64(b, 48);
  if (n >= 64) info.bytesSent = u64(b, 56);
  if (n >= 72) info.bytesReceived = u64(b, 64);
  if (n >= 80) info.bytesAcked = u64(b, 72);
  if (n >= 81) info.subflowsTotal = b[80]!;
  if (n >= 88) info.lastDataSentMs = b.readUInt32LE(84);
  if (n >= 92) info.lastDataRecvMs = b.readUInt32LE(88);
  if (n >= 96) info.lastAckRecvMs = b.readUInt32LE(92);
  return info;
}

/** The struct tcp_info fields of one subflow; times in µs, cwnd in segments, counters in bytes. */
export interface TcpInfo {
  state: number;
  rtoUs: number;
  sndMss: number;
  rttUs: number;
  rttVarUs: number;
  sndCwnd: number;
  totalRetrans: number;
  /** tcpi_pacing_rate, bytes per second. */
  pacingRateBps?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  segsOut?: number;
  segsIn?: number;
  bytesSent?: number;
  bytesRetrans?: number;
  deliveryRateBps?: number;
  minRttUs?: number;
}

/** The struct tcp_info fields of one subflow (./tcp-info.ts decodes the whole struct). */
export function decodeTcpInfo(buf: Buffer, offset: number, len: number): TcpInfo | undefined {
  const n = Math.min(len, buf.length - offset);
  const f = n < 0 ? undefined : parseTcpInfo(buf.subarray(offset, offset + n));
  if (!f) return undefined;
  const t: TcpInfo = {
    state: f.state,
    rtoUs: f.rtoUs,
    sndMss: f.sndMss,
    rttUs: f.rttUs,
    rttVarUs: f.rttvarUs,
    sndCwnd: f.sndCwnd,
    totalRetrans: f.totalRetrans,
  };
  if (f.pacingRate !== undefined) t.pacingRateBps = f.pacingRate;
  if (f.bytesAcked !== undefined) t.bytesAcked = f.bytesAcked;
  if (f.bytesReceived !== undefined) t.bytesReceived = f.bytesReceived;
  if (f.segsOut !== undefined) t.segsOut = f.segsOut;
  if (f.segsIn !== undefined) t.segsIn = f.segsIn;
  if (f.minRttUs !== undefined) t.minRttUs = f.minRttUs;
  if (f.deliveryRate !== undefined) t.deliveryRateBps = f.deliveryRate;
  if (f.bytesSent !== undefined) t.bytesSent = f.bytesSent;
  if (f.bytesRetrans !== undefined) t.bytesRetrans = f.bytesRetrans;
  return t;
}

/** Local and remote address of one subflow from struct mptcp_subflow_addrs at `offset`. */
export function decodeSubflowAddrs(
  buf: Buffer,
  offset: number,
  len: number,
): { local?: SockAddr; remote?: SockAddr } {
  const n = Math.min(len, buf.length - offset);
  const b = buf.subarray(offset, offset + n);
  return { local: decodeSockAddr(b, 0), remote: decodeSockAddr(b, 128) };
}

export interface FullInfoHeader {
  sizeTcpinfoKernel: number;
  sizeTcpinfoUser: number;
  sizeSfinfoKernel: number;
  sizeSfinfoUser: number;
  numSubflows: number;
  sizeArraysUser: number;
}

export function decodeFullInfoHeader(buf: Buffer): FullInfoHeader {
  if (buf.length < FULL_INFO_HEADER_BYTES) throw new StructTooShortError('struct mptcp_full_info too short');
  return {
    sizeTcpinfoKernel: buf.readUInt32LE(0),
    sizeTcpinfoUser: buf.readUInt32LE(4),
    sizeSfinfoKernel: buf.readUInt32LE(8),
    sizeSfinfoUser: buf.readUInt32LE(12),
    numSubflows: buf.readUInt32LE(16),
    sizeArraysUser: buf.readUInt32LE(20),
  };
}

export interface SubflowDataHeader {
  sizeSubflowData: number;
  numSubflows: number;
  sizeKernel: number;
  sizeUser: number;
}

export function decodeSubflowDataHeader(buf: Buffer): SubflowDataHeader {
  if (buf.length < SUBFLOW_DATA_HEADER_BYTES)
    throw new StructTooShortError('struct mptcp_subflow_data too short');
  return {
    sizeSubflowData: buf.readUInt32LE(0),
    numSubflows: buf.readUInt32LE(4),
    sizeKernel: buf.readUInt32LE(8),
    sizeUser: buf.readUInt32LE(12),
  };
}
