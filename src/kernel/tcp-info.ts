/**
 * struct tcp_info (include/uapi/linux/tcp.h): what getsockopt(TCP_INFO), MPTCP_FULL_INFO's subflow
 * array and sock_diag's INET_DIAG_INFO all return. One decoder for all three.
 *
 * Contract: pure, never throws; undefined when shorter than the pre-4.0 base (104 bytes); fields the
 * kernel did not fill (structs only grow) are absent. Times in µs (…Us) or ms (…Ms), rates in bytes
 * per second, sndCwnd in segments, sndWnd in bytes; u64 counters become numbers (exact to 2^53).
 */

/** struct tcp_info, as far as the kernel filled it. */
export interface TcpInfo {
  state: number;
  caState: number;
  retransmits: number;
  probes: number;
  backoff: number;
  options: number;
  sndWscale: number;
  rcvWscale: number;
  rtoUs: number;
  atoUs: number;
  sndMss: number;
  rcvMss: number;
  unacked: number;
  sacked: number;
  lost: number;
  retrans: number;
  lastDataSentMs: number;
  lastDataRecvMs: number;
  lastAckRecvMs: number;
  pmtu: number;
  rcvSsthresh: number;
  rttUs: number;
  rttvarUs: number;
  sndSsthresh: number;
  /** Congestion window in segments. */
  sndCwnd: number;
  advmss: number;
  reordering: number;
  rcvRttUs: number;
  rcvSpace: number;
  totalRetrans: number;
  pacingRate?: number;
  maxPacingRate?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  segsOut?: number;
  segsIn?: number;
  notsentBytes?: number;
  minRttUs?: number;
  dataSegsIn?: number;
  dataSegsOut?: number;
  deliveryRate?: number;
  busyTimeUs?: number;
  rwndLimitedUs?: number;
  sndbufLimitedUs?: number;
  delivered?: number;
  deliveredCe?: number;
  bytesSent?: number;
  bytesRetrans?: number;
  dsackDups?: number;
  reordSeen?: number;
  rcvOoopack?: number;
  sndWnd?: number;
}

const TCP_INFO_BASE_BYTES = 104;

/** Decodes struct tcp_info; undefined when shorter than its pre-4.0 base (104 bytes). */
export function parseTcpInfo(p: Uint8Array): TcpInfo | undefined {
  if (p.length < TCP_INFO_BASE_BYTES) return undefined;
  const d = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const u32 = (o: number) => d.getUint32(o, true);
  const info: TcpInfo = {
    state: p[0]!,
    caState: p[1]!,
    retransmits: p[2]!,
    probes: p[3]!,
    backoff: p[4]!,
    options: p[5]!,
    sndWscale: p[6]! & 0x0f,
    rcvWscale: p[6]! >> 4,
    rtoUs: u32(8),
    atoUs: u32(12),
    sndMss: u32(16),
    rcvMss: u32(20),
    unacked: u32(24),
    sacked: u32(28),
    lost: u32(32),
    retrans: u32(36),
    lastDataSentMs: u32(44),
    lastDataRecvMs: u32(52),
    lastAckRecvMs: u32(56),
    pmtu: u32(60),
    rcvSsthresh: u32(64),
    rttUs: u32(68),
    rttvarUs: u32(72),
    sndSsthresh: u32(76),
    sndCwnd: u32(80),
    advmss: u32(84),
    reordering: u32(88),
    rcvRttUs: u32(92),
    rcvSpace: u32(96),
    totalRetrans: u32(100),
  };
  const opt32: Array<[keyof TcpInfo, number]> = [
    ['segsOut', 136],
    ['segsIn', 140],
    ['notsentBytes', 144],
    ['minRttUs', 148],
    ['dataSegsIn', 152],
    ['dataSegsOut', 156],
    ['delivered', 192],
    ['deliveredCe', 196],
    ['dsackDups', 216],
    ['reordSeen', 220],
    ['rcvOoopack', 224],
    ['sndWnd', 228],
  ];
  const opt64: Array<[keyof TcpInfo, number]> = [
    ['pacingRate', 104],
    ['maxPacingRate', 112],
    ['bytesAcked', 120],
    ['bytesReceived', 128],
    ['deliveryRate', 160],
    ['busyTimeUs', 168],
    ['rwndLimitedUs', 176],
    ['sndbufLimitedUs', 184],
    ['bytesSent', 200],
    ['bytesRetrans', 208],
  ];
  const rec = info as unknown as Record<string, number>;
  for (const [k, o] of opt32) if (p.length >= o + 4) rec[k] = u32(o);
  for (const [k, o] of opt64) if (p.length >= o + 8) rec[k] = Number(d.getBigUint64(o, true));
  return info;
}
