/**
 * The connection report of the seed-004 status application: `{ mptcp, remote_addr, subflows }` for one
 * socket, as served by `mptcp serve-status` at GET /status and printed by `mptcp get`.
 * IPv4-mapped addresses (::ffff:a.b.c.d, seen on dual-stack listeners) are shown as plain IPv4.
 */
import type net from 'node:net';
import { isMultipath, type SubflowInfo, subflows } from './info.js';
import { formatEndpoint } from './sockaddr.js';

export interface ConnectionStatus {
  mptcp: boolean;
  remote_addr: string;
  local_addr: string;
  subflows: SubflowInfo[];
}

export function plainAddress(address: string | undefined): string {
  if (!address) return '?';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function connectionStatus(socket: net.Socket): ConnectionStatus {
  const open = typeof (socket as { _handle?: { fd?: number } | null })._handle?.fd === 'number';
  return {
    mptcp: open ? isMultipath(socket) : false,
    remote_addr: formatEndpoint({
      address: plainAddress(socket.remoteAddress),
      port: socket.remotePort ?? 0,
    }),
    local_addr: formatEndpoint({ address: plainAddress(socket.localAddress), port: socket.localPort ?? 0 }),
    subflows: open ? subflows(socket) : [],
  };
}

/** One line per subflow: "a:p -> b:q rtt 0.031 ms rttvar 0.015 ms rto 200 ms cwnd 10 sent N acked N recv N". */
export function formatSubflow(s: SubflowInfo): string {
  const local = formatEndpoint({ address: s.localAddress ?? '?', port: s.localPort ?? 0 });
  const remote = formatEndpoint({ address: s.remoteAddress ?? '?', port: s.remotePort ?? 0 });
  const ms = (us: number | undefined) => (us === undefined ? '?' : (us / 1000).toFixed(3));
  return (
    `${local} -> ${remote} rtt ${ms(s.rttUs)} ms rttvar ${ms(s.rttVarUs)} ms rto ${ms(s.rtoUs)} ms ` +
    `cwnd ${s.cwnd ?? '?'} sent ${s.bytesSent ?? '?'} acked ${s.bytesAcked ?? '?'} recv ${s.bytesReceived ?? '?'}`
  );
}
