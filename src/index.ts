/**
 * mptcp: Multipath TCP (RFC 8684) for Node.js. The package root is the portable userspace MPTCP
 * (`createServer`, `connect`), plus the wire codec and the crypto. Kernel MPTCP sockets are in
 * `mptcp/kernel`, the path-manager netlink client in `mptcp/netlink`, the controllers in `mptcp/pm`,
 * the lab in `mptcp/lab`.
 */
export * from './core/index.js';
export * from './crypto/index.js';
export * from './node/index.js';
export * from './wire/index.js';
