/**
 * mptcp: Multipath TCP (RFC 8684) for Node.js. The package root re-exports the stable API:
 * the wire codec, the crypto helpers, and (as they land) the userspace MPTCP and kernel sockets.
 */
export * from './wire/types.js';
