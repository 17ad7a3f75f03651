/**
 * Linux numbers for kernel MPTCP sockets (include/uapi/linux/mptcp.h, in.h, socket.h, tcp.h).
 * Kept in one place so every module agrees; values are the x86-64/arm64 Linux ABI.
 */
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const O_CLOEXEC = 0o2000000;
export const IPPROTO_TCP = 6;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_MPTCP = 262;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const IPV6_V6ONLY = 26;
export const SOL_TCP = 6;
export const TCP_INFO = 11;
export const TCP_IS_MPTCP = 43;
export const SOL_MPTCP = 284;
export const MPTCP_INFO = 1;
export const MPTCP_TCPINFO = 2;
export const MPTCP_SUBFLOW_ADDRS = 3;
export const MPTCP_FULL_INFO = 4;
export const MPTCP_INFO_FLAG_FALLBACK = 1;
export const MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED = 2;
/** Default listen(2) backlog, as Node's. */
export const DEFAULT_BACKLOG = 511;
/** sizeof(struct sockaddr_in), sizeof(struct sockaddr_in6), sizeof(struct sockaddr_storage). */
export const SOCKADDR_IN_BYTES = 16;
export const SOCKADDR_IN6_BYTES = 28;
export const SOCKADDR_STORAGE_BYTES = 128;
