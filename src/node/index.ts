/**
 * Userspace MPTCP for Node.js, in the style of `net`: `createServer`, `connect`, `createConnection`.
 */
export {
  type ConnectOptions,
  connect,
  createConnection,
  MptcpClientSocket,
  type PathSpec,
} from './connect.js';
export {
  enableKernelTcpInfo,
  type KernelTcpInfo,
  MptcpSocket,
  type SubflowSnapshot,
} from './mptcp-socket.js';
export {
  availableCongestionControls,
  CongestionControlError,
  getCongestionControl,
  setCongestionControl,
} from './tcp-congestion.js';
export { createServer, type ListenAddress, MptcpServer, type ServerOptions } from './server.js';
