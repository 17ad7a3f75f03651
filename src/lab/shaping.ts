/**
 * Packet-level shaping of one veth end inside a network namespace (Linux, root).
 *
 * Contract:
 * - setOffloads(off): TSO/GSO/GRO off, so qdiscs and loss act on MTU-sized packets rather than on
 *   64 KB super-packets (required for loss to mean "per packet").
 * - applyRate: a tbf qdisc at the root of the interface's egress; applying it on both veth ends
 *   limits both directions. Burst is sized for the rate (at least 16 KB), latency bounds the queue.
 * - applyLoss: an nftables `netdev` table with an ingress chain on the RECEIVING interface that
 *   drops `lossPct` % of packets at random (numgen), with counters for what passed and what dropped.
 *   Fractions are honoured to 0.01 % (numgen mod 10000).
 * - Everything lives inside the namespace and disappears with it; nothing touches the host.
 * - Delay is not here: there is no netem on this kernel. Packet-level delay and jitter are the
 *   NFQUEUE delay line (./nfqueue.ts, started per path by Topology.startDelays in ./topology.ts);
 *   the userspace PathEmulator (./relay.ts) delays without root.
 */
import { type Netns, NetnsError } from './netns.js';

/** nftables table that holds every loss chain of a namespace. */
export const NFT_TABLE = 'mptcp_lab';
/** tbf latency: the longest a packet may wait in the shaper's queue before being dropped. */
export const TBF_LATENCY_MS = 50;
/** Smallest tbf bucket; a bucket must hold at least one rate/HZ worth of bytes and a full packet. */
export const TBF_MIN_BURST_BYTES = 16 * 1024;

export class ShapingError extends Error {
  override readonly name = 'ShapingError';
}

function must(ns: Netns, cmd: string, args: readonly string[]): string {
  const r = ns.exec(cmd, args);
  if (r.code !== 0) {
    throw new ShapingError(`${cmd} ${args.join(' ')} in ${ns.name} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

function checkIfName(ifname: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) throw new ShapingError(`bad interface name '${ifname}'`);
}

/** Turns segmentation/receive offloads on or off on one interface. */
export function setOffloads(ns: Netns, ifname: string, on: boolean): void {
  checkIfName(ifname);
  const v = on ? 'on' : 'off';
  must(ns, 'ethtool', ['-K', ifname, 'tso', v, 'gso', v, 'gro', v]);
}

/** tbf parameters for a rate: burst ≥ rate/250 (HZ=250 worst case) and ≥ TBF_MIN_BURST_BYTES. */
export function tbfArgs(ifname: string, rateMbps: number): string[] {
  if (!(Number.isFinite(rateMbps) && rateMbps > 0))
    throw new ShapingError(`rate must be > 0 Mbit/s, got ${rateMbps}`);
  const bytesPerSec = (rateMbps * 1e6) / 8;
  const burst = Math.max(TBF_MIN_BURST_BYTES, Math.ceil(bytesPerSec / 250));
  const kbit = Math.max(1, Math.round(rateMbps * 1000));
  return [
    'qdisc',
    'replace',
    'dev',
    ifname,
    'root',
    'tbf',
    'rate',
    `${kbit}kbit`,
    'burst',
    String(burst),
    'latency',
    `${TBF_LATENCY_MS}ms`,
  ];
}

/** Limits the egress rate of `ifname` (replacing any root qdisc). */
export function applyRate(ns: Netns, ifname: string, rateMbps: number): void {
  checkIfName(ifname);
  must(ns, 'tc', tbfArgs(ifname, rateMbps));
}

export function chainName(ifname: string): string {
  return `in_${ifname.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The nft commands (one argv each) that make `ifname` drop lossPct % of what it receives. */
export function lossCommands(ifname: string, lossPct: number): string[][] {
  if (!(Number.isFinite(lossPct) && lossPct > 0 && lossPct <= 100)) {
    throw new ShapingError(`loss must be in (0, 100] %, got ${lossPct}`);
  }
  const chain = chainName(ifname);
  const threshold = Math.round(lossPct * 100); // out of 10000
  return [
    ['add', 'table', 'netdev', NFT_TABLE],
    [
      'add',
      'chain',
      'netdev',
      NFT_TABLE,
      chain,
      `{ type filter hook ingress device "${ifname}" priority -500 ; policy accept ; }`,
    ],
    ['add', 'rule', 'netdev', NFT_TABLE, chain, 'counter', 'comment', '"seen"'],
    [
      'add',
      'rule',
      'netdev',
      NFT_TABLE,
      chain,
      // numgen's range is 0…9999, so "< 10000" is out of its range and nft rejects it: 100 % is a plain drop.
      ...(threshold >= 10000 ? [] : ['numgen', 'random', 'mod', '10000', '<', String(threshold)]),
      'counter',
      'drop',
      'comment',
      '"loss"',
    ],
  ];
}

/** Drops lossPct % of the packets `ifname` receives. */
export function applyLoss(ns: Netns, ifname: string, lossPct: number): void {
  checkIfName(ifname);
  for (const args of lossCommands(ifname, lossPct)) must(ns, 'nft', args);
}

export interface LossCounters {
  /** packets that reached the ingress chain */
  seen: number;
  /** packets the loss rule dropped */
  dropped: number;
}

/** Reads the counters of the loss chain on `ifname`; zeros when there is no loss chain. */
export function lossCounters(ns: Netns, ifname: string): LossCounters {
  checkIfName(ifname);
  const r = ns.exec('nft', ['-j', 'list', 'chain', 'netdev', NFT_TABLE, chainName(ifname)]);
  if (r.code !== 0) return { seen: 0, dropped: 0 };
  return parseLossCounters(r.stdout);
}

/** Parses `nft -j list chain` output: the counters of the rules commented "seen" and "loss". */
export function parseLossCounters(json: string): LossCounters {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new NetnsError(`nft -j printed something that is not JSON: ${(err as Error).message}`);
  }
  const out: LossCounters = { seen: 0, dropped: 0 };
  const items = (doc as { nftables?: unknown[] }).nftables ?? [];
  for (const item of items) {
    const rule = (item as { rule?: { comment?: string; expr?: unknown[] } }).rule;
    if (!rule) continue;
    for (const e of rule.expr ?? []) {
      const counter = (e as { counter?: { packets?: number } }).counter;
      if (counter === undefined) continue;
      const packets = counter.packets ?? 0;
      if (rule.comment === 'seen') out.seen = packets;
      else if (rule.comment === 'loss') out.dropped = packets;
    }
  }
  return out;
}
