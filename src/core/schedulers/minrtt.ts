/**
 * minRTT (Linux's default scheduler, `net/mptcp/protocol.c` mptcp_subflow_get_send): each segment
 * goes on the eligible subflow (RFC 8684 §3.3.8 backup semantics) with an open window and the lowest
 * smoothed RTT. Stateless. Lives in `../scheduler.ts` (the core's default); re-exported here so every
 * scheduler is reachable from this folder.
 */
export { minRttScheduler } from '../scheduler.js';
