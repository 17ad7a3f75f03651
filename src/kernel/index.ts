/**
 * Linux kernel MPTCP sockets for Node.js: ordinary net.Server / net.Socket objects whose descriptors
 * are IPPROTO_MPTCP sockets, plus introspection (isMultipath, mptcpInfo, subflows).
 */
export { type MptcpAgentOptions, mptcpAgent, subflowsUp } from './agent.js';
export {
  type ConnectState,
  connect,
  connectAsync,
  connectState,
  createConnection,
  type MptcpConnectOptions,
} from './client.js';
export {
  IPPROTO_MPTCP,
  MPTCP_FULL_INFO,
  MPTCP_INFO,
  MPTCP_SUBFLOW_ADDRS,
  MPTCP_TCPINFO,
  SOL_MPTCP,
  TCP_IS_MPTCP,
} from './constants.js';
export {
  ConnectTimeoutError,
  MPTCP_UNAVAILABLE_ERRNOS,
  MptcpUnavailableError,
  NotConnectedError,
  SocketSystemError,
} from './errors.js';
export type { MptcpMode } from './fd.js';
export {
  isMultipath,
  MAX_SUBFLOWS,
  type MptcpInfo,
  mptcpInfo,
  type SubflowInfo,
  socketFd,
  subflows,
} from './info.js';
export {
  createListenFd,
  createServer,
  enableMptcp,
  type ListenState,
  listenState,
  type MptcpServerOptions,
} from './server.js';
export { type ConnectionStatus, connectionStatus, formatSubflow } from './status.js';
