/**
 * NETLINK_SOCK_DIAG adapter: dumps TCP sockets (with struct tcp_info: rtt, cwnd, pacing and
 * delivery rates, byte counters — the equivalent of getsockopt(TCP_INFO) for every socket) and
 * MPTCP sockets (protocol 262, with struct mptcp_info) of the current network namespace.
 *
 * Contract: `SockDiag.open()` is synchronous (the socket belongs to the calling thread's network
 * namespace); each dump is one request per address family; errors reject with NetlinkError
 * (ENOENT for MPTCP dumps on kernels without mptcp_diag). Decoding is in ./inet-diag.ts.
 */
import {
  ALL_TCP_STATES,
  emitInetDiagRequest,
  type InetDiagSocket,
  IPPROTO_MPTCP,
  IPPROTO_TCP,
  parseInetDiagMsg,
  SOCK_DIAG_BY_FAMILY,
} from './inet-diag.js';
import { NETLINK_SOCK_DIAG, NetlinkSocket } from './socket.js';

export interface DumpOptions {
  /** Address families to dump (default both). */
  families?: ReadonlyArray<4 | 6>;
  /** Bit mask of TCP states (bit n = state n; default all). */
  states?: number;
}

export class SockDiag {
  private constructor(private readonly sock: NetlinkSocket) {}

  static open(): SockDiag {
    return new SockDiag(NetlinkSocket.open(NETLINK_SOCK_DIAG));
  }

  /** Every TCP socket (MPTCP subflows included), with tcp_info. */
  dumpTcp(options: DumpOptions = {}): Promise<InetDiagSocket[]> {
    return this.dump(IPPROTO_TCP, options);
  }

  /** Every MPTCP socket (the connection-level sockets), with mptcp_info. */
  dumpMptcp(options: DumpOptions = {}): Promise<InetDiagSocket[]> {
    return this.dump(IPPROTO_MPTCP, options);
  }

  private async dump(protocol: number, options: DumpOptions): Promise<InetDiagSocket[]> {
    const out: InetDiagSocket[] = [];
    for (const family of options.families ?? [4, 6]) {
      const replies = await this.sock.request(
        SOCK_DIAG_BY_FAMILY,
        emitInetDiagRequest(family, protocol, options.states ?? ALL_TCP_STATES),
        {
          dump: true,
          operation: `SOCK_DIAG_BY_FAMILY(${protocol === IPPROTO_MPTCP ? 'mptcp' : 'tcp'}, inet${family === 6 ? '6' : ''})`,
        },
      );
      for (const m of replies) {
        if (m.type !== SOCK_DIAG_BY_FAMILY) continue;
        const s = parseInetDiagMsg(m.payload, protocol);
        if (s) out.push(s);
      }
    }
    return out;
  }

  close(): Promise<void> {
    return this.sock.close();
  }
}
