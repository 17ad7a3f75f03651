/**
 * Packet-level lab topologies (Linux, root): a client namespace and a server namespace joined by
 * one veth pair per path, each path shaped on its own (rate with tbf, loss with nftables).
 *
 * Contract:
 * - A topology file is JSON: { "name": "two-paths", "paths": [{ "name": "wifi", "rateMbps": 20,
 *   "delayMs": 10, "lossPct": 0 }, …] } (1..MAX_PATHS paths; names unique, [A-Za-z0-9_-]{1,32}).
 *   parseTopology validates it and throws TopologyError with the offending field.
 * - Path i (0-based) is the veth pair cli<i> (client ns) ↔ srv<i> (server ns) with addresses
 *   10.<SUBNET_BASE>.<i>.1/24 (client) and 10.<SUBNET_BASE>.<i>.2/24 (server): private, and only
 *   inside the namespaces. Offloads are off on both ends.
 * - rateMbps: tbf on both ends' egress (both directions). lossPct: random drop on both ends'
 *   ingress (both directions). delayMs/jitterMs are recorded but NOT applied at packet level yet
 *   (no netem; NFQUEUE delay is future work): use the userspace PathEmulator for delay for now.
 * - Routing is MPTCP-ready: in the client namespace each path's address has a policy rule
 *   (from <client addr i> → table ROUTE_TABLE_BASE+i → default dev cli<i>), so a subflow bound to
 *   path i's address leaves through path i whatever server address it targets; the server routes
 *   replies by destination (connected routes), so every subflow is symmetric. Unless
 *   { mptcpEndpoints: false }, the client gets one `subflow` endpoint per extra path and both sides
 *   get limits for all paths (capped at MPTCP_LIMIT_MAX): a kernel MPTCP connection to path 0's
 *   server address then opens a subflow on every path. When the kernel has no MPTCP, this step is
 *   skipped and recorded in `warnings`.
 * - Namespaces are named <prefix>-cli-<pid>-<n> / <prefix>-srv-<pid>-<n> and registered with the
 *   netns cleanup registry: removed by destroy(), on exit, Ctrl-C, and when building fails halfway.
 */
import { readFileSync } from 'node:fs';
import { addAddress, ip, Netns, run, vethPair } from './netns.js';
import { applyLoss, applyRate, type LossCounters, lossCounters, setOffloads } from './shaping.js';

export const MAX_PATHS = 16;
/** Second octet of every lab address (10.X.i.1/24). */
export const SUBNET_BASE = 213;
export const DEFAULT_LAB_PREFIX = 'mptcp-lab';
/** Routing table of path i in the client namespace: ROUTE_TABLE_BASE + i. */
export const ROUTE_TABLE_BASE = 100;
/** The kernel's ceiling for MPTCP path-manager limits (MPTCP_PM_ADDR_MAX). */
export const MPTCP_LIMIT_MAX = 8;

export interface BuildOptions {
  prefix?: string;
  /** Configure kernel MPTCP endpoints and limits (default true). */
  mptcpEndpoints?: boolean;
}

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

export interface PathSpec {
  name: string;
  rateMbps?: number;
  delayMs?: number;
  jitterMs?: number;
  lossPct?: number;
}

export interface TopologySpec {
  name: string;
  paths: PathSpec[];
}

export interface BuiltPath extends PathSpec {
  index: number;
  clientIf: string;
  serverIf: string;
  clientAddr: string;
  serverAddr: string;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,32}$/;

function numberField(where: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new TopologyError(`${where} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Validates a parsed topology document. */
export function parseTopology(doc: unknown): TopologySpec {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new TopologyError('topology must be an object');
  const d = doc as Record<string, unknown>;
  if (typeof d.name !== 'string' || !NAME_RE.test(d.name)) {
    throw new TopologyError(`name must match ${NAME_RE}, got ${JSON.stringify(d.name)}`);
  }
  if (!Array.isArray(d.paths) || d.paths.length === 0 || d.paths.length > MAX_PATHS) {
    throw new TopologyError(`paths must be an array of 1..${MAX_PATHS} paths`);
  }
  const seen = new Set<string>();
  const paths = d.paths.map((p: unknown, i: number): PathSpec => {
    const where = `paths[${i}]`;
    if (typeof p !== 'object' || p === null) throw new TopologyError(`${where} must be an object`);
    const q = p as Record<string, unknown>;
    for (const k of Object.keys(q)) {
      if (!['name', 'rateMbps', 'delayMs', 'jitterMs', 'lossPct'].includes(k)) {
        throw new TopologyError(`${where}.${k} is not a known field`);
      }
    }
    if (typeof q.name !== 'string' || !NAME_RE.test(q.name)) {
      throw new TopologyError(`${where}.name must match ${NAME_RE}, got ${JSON.stringify(q.name)}`);
    }
    if (seen.has(q.name)) throw new TopologyError(`${where}.name '${q.name}' is used twice`);
    seen.add(q.name);
    const spec: PathSpec = { name: q.name };
    const rate = numberField(`${where}.rateMbps`, q.rateMbps, 0, 100_000);
    const delay = numberField(`${where}.delayMs`, q.delayMs, 0, 60_000);
    const jitter = numberField(`${where}.jitterMs`, q.jitterMs, 0, 60_000);
    const loss = numberField(`${where}.lossPct`, q.lossPct, 0, 100);
    if (rate !== undefined) spec.rateMbps = rate;
    if (delay !== undefined) spec.delayMs = delay;
    if (jitter !== undefined) spec.jitterMs = jitter;
    if (loss !== undefined) spec.lossPct = loss;
    return spec;
  });
  return { name: d.name, paths };
}

export function loadTopology(file: string): TopologySpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TopologyError(`${file} is not JSON: ${(err as Error).message}`);
  }
  return parseTopology(doc);
}

/** Addresses and interface names of path i. */
export function pathAddressing(
  i: number,
): Pick<BuiltPath, 'clientIf' | 'serverIf' | 'clientAddr' | 'serverAddr'> {
  return {
    clientIf: `cli${i}`,
    serverIf: `srv${i}`,
    clientAddr: `10.${SUBNET_BASE}.${i}.1`,
    serverAddr: `10.${SUBNET_BASE}.${i}.2`,
  };
}

export class Topology {
  private destroyed = false;

  private constructor(
    readonly spec: TopologySpec,
    readonly prefix: string,
    readonly client: Netns,
    readonly server: Netns,
    readonly paths: BuiltPath[],
    /** Steps skipped because the system lacks something (e.g. kernel MPTCP). */
    readonly warnings: string[],
    /** Whether kernel MPTCP endpoints and limits were configured. */
    readonly mptcpConfigured: boolean,
  ) {}

  /** Builds the namespaces, links, addresses and shaping; on failure removes what it made and rethrows. */
  static build(spec: TopologySpec, options: BuildOptions | string = {}): Topology {
    const opts: BuildOptions = typeof options === 'string' ? { prefix: options } : options;
    const prefix = opts.prefix ?? DEFAULT_LAB_PREFIX;
    const client = Netns.create(`${prefix}-cli`);
    let server: Netns | undefined;
    try {
      server = Netns.create(`${prefix}-srv`);
      const paths: BuiltPath[] = [];
      spec.paths.forEach((p, index) => {
        const a = pathAddressing(index);
        vethPair(client, a.clientIf, server!, a.serverIf);
        addAddress(client, a.clientIf, `${a.clientAddr}/24`);
        addAddress(server!, a.serverIf, `${a.serverAddr}/24`);
        for (const [ns, ifname] of [
          [client, a.clientIf],
          [server!, a.serverIf],
        ] as const) {
          setOffloads(ns, ifname, false);
          if (p.rateMbps !== undefined && p.rateMbps > 0) applyRate(ns, ifname, p.rateMbps);
          if (p.lossPct !== undefined && p.lossPct > 0) applyLoss(ns, ifname, p.lossPct);
        }
        const table = String(ROUTE_TABLE_BASE + index);
        ip(client, ['rule', 'add', 'from', a.clientAddr, 'table', table]);
        ip(client, ['route', 'add', 'default', 'dev', a.clientIf, 'table', table]);
        paths.push({ ...p, index, ...a });
      });
      const warnings: string[] = [];
      const mptcp = opts.mptcpEndpoints !== false && configureMptcp(client, server, paths, warnings);
      return new Topology(spec, prefix, client, server, paths, warnings, mptcp);
    } catch (err) {
      server?.delete();
      client.delete();
      throw err;
    }
  }

  path(name: string): BuiltPath {
    const p = this.paths.find((x) => x.name === name);
    if (!p) throw new TopologyError(`no path named '${name}'`);
    return p;
  }

  /** Loss counters of a path: what the client and the server received and dropped. */
  lossCounters(name: string): { client: LossCounters; server: LossCounters } {
    const p = this.path(name);
    return { client: lossCounters(this.client, p.clientIf), server: lossCounters(this.server, p.serverIf) };
  }

  /** A human-readable account of what was built. */
  describe(): string {
    const lines = [
      `topology ${this.spec.name}: client namespace ${this.client.name}, server namespace ${this.server.name}`,
    ];
    for (const p of this.paths) {
      const shaping: string[] = [];
      if (p.rateMbps) shaping.push(`${p.rateMbps} Mbit/s (tbf)`);
      if (p.lossPct) shaping.push(`${p.lossPct}% loss (nft ingress)`);
      if (p.delayMs || p.jitterMs)
        shaping.push(`delay ${p.delayMs ?? 0}±${p.jitterMs ?? 0} ms NOT applied (use the relay)`);
      lines.push(
        `  path ${p.name}: ${p.clientIf} ${p.clientAddr}/24  <->  ${p.serverIf} ${p.serverAddr}/24` +
          (shaping.length ? `   [${shaping.join(', ')}]` : '   [unshaped]'),
      );
    }
    if (this.mptcpConfigured && this.paths.length > 1) {
      const eps = this.paths.slice(1).map((p) => `${p.clientAddr} dev ${p.clientIf}`);
      lines.push(
        `  kernel MPTCP: client subflow endpoints ${eps.join(', ')}; connect to ${this.paths[0]!.serverAddr}`,
      );
    }
    for (const w of this.warnings) lines.push(`  warning: ${w}`);
    return lines.join('\n');
  }

  /** Removes both namespaces (and with them every link, qdisc and nft table). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.server.delete();
    this.client.delete();
  }
}

/** Endpoints and limits for kernel MPTCP; records a warning instead when the kernel has none. */
function configureMptcp(client: Netns, server: Netns, paths: BuiltPath[], warnings: string[]): boolean {
  const probe = client.exec('sysctl', ['-n', 'net.mptcp.enabled']);
  if (probe.code !== 0 || probe.stdout.trim() !== '1') {
    warnings.push('kernel MPTCP is not available or disabled: no endpoints configured');
    return false;
  }
  const n = String(Math.min(MPTCP_LIMIT_MAX, paths.length));
  for (const ns of [client, server]) ip(ns, ['mptcp', 'limits', 'set', 'subflow', n, 'add_addr_accepted', n]);
  for (const p of paths.slice(1)) {
    ip(client, ['mptcp', 'endpoint', 'add', p.clientAddr, 'dev', p.clientIf, 'subflow']);
  }
  return true;
}

/** Names of existing namespaces that start with `<prefix>-`. */
export function listLabNamespaces(prefix = DEFAULT_LAB_PREFIX): string[] {
  const r = run('ip', ['netns', 'list']);
  if (r.code !== 0) throw new TopologyError(`ip netns list failed: ${r.stderr.trim()}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

/** Deletes every namespace whose name starts with `<prefix>-`; returns the names removed. */
export function removeLabNamespaces(prefix = DEFAULT_LAB_PREFIX): string[] {
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) throw new TopologyError(`bad prefix '${prefix}'`);
  const removed: string[] = [];
  for (const name of listLabNamespaces(prefix)) {
    const r = run('ip', ['netns', 'del', name]);
    if (r.code !== 0) throw new TopologyError(`ip netns del ${name} failed: ${r.stderr.trim()}`);
    removed.push(name);
  }
  return removed;
}
