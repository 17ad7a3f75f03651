/**
 * Redundant: every segment goes on every eligible subflow (RFC 8684 §3.3.8 backup semantics) whose
 * window is open; the receiver keeps the first copy of each data range (reassembly by data sequence
 * number) and counts the rest as duplicates. Trades capacity for latency: the data arrives at the
 * pace of the fastest path, and a silently failing path costs nothing, not even the time to detect
 * it. A subflow whose window is closed is skipped for this segment (the others still carry it).
 * Stateless. Compare Linux out-of-tree `mptcp_redundant.c` and Frömmgen et al., "ReMP TCP: Low
 * Latency Multipath TCP", IEEE ICC 2016.
 */
import { eligibleSubflows, type Scheduler } from '../scheduler.js';

export const redundantScheduler: Scheduler = {
  name: 'redundant',
  select(subflows) {
    const ids: number[] = [];
    for (const s of eligibleSubflows(subflows)) if (s.windowOpen) ids.push(s.id);
    return ids;
  },
};
