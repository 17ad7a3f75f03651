/**
 * Path-manager reaction time from a packet capture (seed 003 §4.5): per connection, the delay from
 * its initial SYN (MP_CAPABLE) to its second subflow's SYN (MP_JOIN), and summary statistics.
 *
 * Contract: pure. `joinDelaysFromCapture` reads a pcap of the server side's TCP segments (headers
 * are enough) and matches each join to its connection by token: the join SYN's token is
 * SHA-256(server key)[0..4), the key being in the server's MP_CAPABLE SYN/ACK (RFC 8684 §3.2).
 * Connections without a join are counted, never dropped silently. Times are microseconds.
 */
import { tokenOfKey } from '../crypto/keys.js';
import { readTcpSegments } from '../pcap/segments.js';
import { mptcpOptionsOf } from '../wire/tcp-options.js';

export interface JoinDelays {
  /** Per joined connection: MP_JOIN SYN time − MP_CAPABLE SYN time (µs), the paper's metric. */
  delaysUs: number[];
  /**
   * Per joined connection: MP_JOIN SYN time − time of the server's first segment after its
   * SYN/ACK (µs). That segment makes the client's connection fully established, which is what
   * triggers either PM, so this is the PM's own reaction time without the client's and server's
   * application latency that the SYN-to-SYN delay also contains.
   */
  reactionUs: number[];
  /** MP_CAPABLE SYNs whose connection got no MP_JOIN SYN in the capture. */
  unmatched: number;
}

/** From a capture of the connections' TCP segments: per connection, the join delays (µs). */
export function joinDelaysFromCapture(buf: Uint8Array): JoinDelays {
  const initialSyn = new Map<string, number>(); // client→server 4-tuple → MP_CAPABLE SYN time
  const firstServerSegment = new Map<string, number>(); // same key → server's first non-SYN segment
  const tokenToTuple = new Map<number, string>();
  const joinAt = new Map<number, number>(); // token → time of the first MP_JOIN SYN
  for (const seg of readTcpSegments(buf).segments) {
    const tuple = `${seg.src}:${seg.srcPort}>${seg.dst}:${seg.dstPort}`;
    const reverse = `${seg.dst}:${seg.dstPort}>${seg.src}:${seg.srcPort}`;
    if (!seg.tcp.syn) {
      if (initialSyn.has(reverse) && !firstServerSegment.has(reverse))
        firstServerSegment.set(reverse, seg.tsMicros);
      continue;
    }
    for (const o of mptcpOptionsOf(seg.tcp.options)) {
      if (o.kind === 'mp_capable' && !seg.tcp.ackFlag && !initialSyn.has(tuple)) {
        initialSyn.set(tuple, seg.tsMicros);
      } else if (o.kind === 'mp_capable' && seg.tcp.ackFlag && o.senderKey !== undefined) {
        // Server's SYN/ACK: its key names the connection's token (tuple seen from the client).
        tokenToTuple.set(tokenOfKey(o.senderKey), reverse);
      } else if (o.kind === 'mp_join' && o.form === 'syn' && !seg.tcp.ackFlag && !joinAt.has(o.token)) {
        joinAt.set(o.token, seg.tsMicros);
      }
    }
  }
  const delaysUs: number[] = [];
  const reactionUs: number[] = [];
  const joined = new Set<string>();
  for (const [token, t] of joinAt) {
    const tuple = tokenToTuple.get(token);
    const t0 = tuple === undefined ? undefined : initialSyn.get(tuple);
    if (t0 === undefined || tuple === undefined) continue;
    delaysUs.push(t - t0);
    const trigger = firstServerSegment.get(tuple);
    if (trigger !== undefined && trigger <= t) reactionUs.push(t - trigger);
    joined.add(tuple);
  }
  return { delaysUs, reactionUs, unmatched: initialSyn.size - joined.size };
}

export interface DelaySummary {
  n: number;
  median: number;
  p99: number;
  mean: number;
}

/** Nearest-rank quantile of sorted values; NaN when empty. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Median, p99 (nearest rank) and mean; NaN fields when empty. */
export function summarizeDelays(xs: readonly number[]): DelaySummary {
  const sorted = [...xs].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantileSorted(sorted, 0.5),
    p99: quantileSorted(sorted, 0.99),
    mean: sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}
