/**
 * Generic netlink for kernel MPTCP: the `mptcp_pm` path-manager client and event stream, the
 * sock_diag dump of TCP/MPTCP sockets with tcp_info / mptcp_info, and the underlying codecs.
 */
export * from './attributes.js';
export * from './genl.js';
export * from './inet-diag.js';
export * from './message.js';
export * from './mptcp-pm.js';
export * from './mptcp-pm-client.js';
export * from './mptcp-pm-events.js';
export * from './sock-diag.js';
export { ifIndexToName, ifNameToIndex } from './ifname.js';
export {
  NETLINK_GENERIC,
  NETLINK_SOCK_DIAG,
  NetlinkClosedError,
  NetlinkError,
  NetlinkSocket,
  type NotificationListener,
} from './socket.js';
