/**
 * Packet-level lab topologies (Linux, root): a client namespace and a server namespace joined by
 * one veth pair per path, each path shaped on its own (rate with tbf, loss with nftables, delay
 * and jitter with NFQUEUE delay lines run by this process); optionally a router namespace between
 * them that spreads flows over the paths by hash.
 *
 * Contract:
 * - A topology file is JSON: { "name": "two-paths", "router": false, "paths": [{ "name": "wifi",
 *   "rateMbps": 20, "delayMs": 10, "jitterMs": 0, "lossPct": 0 }, …] } (1..MAX_PATHS paths; names
 *   unique, [A-Za-z0-9_-]{1,32}). `router` is absent/false, true (= { "hash": "l4" }) or
 *   { "hash": "l3" | "l4" }. parseTopology validates it and throws TopologyError with the
 *   offending field.
 * - Direct (no router): path i (0-based) is the veth pair cli<i> (client ns) ↔ srv<i> (server ns)
 *   with addresses 10.<SUBNET_BASE>.<i>.1/24 (client) and 10.<SUBNET_BASE>.<i>.2/24 (server):
 *   private, and only inside the namespaces. Offloads are off on both ends.
 * - rateMbps: tbf on both ends' egress (both directions). lossPct: random drop on both ends'
 *   ingress (both directions).
 * - delayMs/jitterMs are applied only while `startDelays()` runs (async, NFQUEUE delay lines held
 *   by this process; `mptcp lab up` does it; build() stays synchronous and applies none). Direct:
 *   delayMs is the one-way delay of each direction, delayMs ± jitterMs on the ingress of both ends,
 *   so a path's RTT is 2·delayMs. Router: replies return over path 0 only (see below), so the whole
 *   RTT, 2·delayMs ± jitterMs, is one delay line on the server end of each path (the data
 *   direction); the RTT of a flow hashed onto path i is again 2·delayMs(i). `stopDelays()` /
 *   `close()` stop them (held packets are released, not dropped).
 * - Routing, direct: MPTCP-ready. In the client namespace each path's address has a policy rule
 *   (from <client addr i> → table ROUTE_TABLE_BASE+i → default dev cli<i>), so a subflow bound to
 *   path i's address leaves through path i whatever server address it targets; the server routes
 *   replies by destination (connected routes), so every subflow is symmetric. Unless
 *   { mptcpEndpoints: false }, the client gets one `subflow` endpoint per extra path and both sides
 *   get limits for all paths (capped at MPTCP_LIMIT_MAX): a kernel MPTCP connection to path 0's
 *   server address (`target`) then opens a subflow on every path. When the kernel has no MPTCP,
 *   this step is skipped and recorded in `warnings`.
 * - Router (for flow-hashing ECMP, seed 003 §4.4): client `cli0` ROUTER_CLIENT_ADDR/24 ↔ router
 *   `rcli` (…200.2/24); path i is router `rtr<i>` 10.<SUBNET_BASE>.<i>.1/24 ↔ server `srv<i>`
 *   10.<SUBNET_BASE>.<i>.2/24 (BuiltPath.clientIf/clientAddr name the router end; `near` is the
 *   router namespace). The server's address ROUTER_SERVER_ADDR (`target`) is on its loopback; the
 *   router reaches it by one multipath route with a next hop per path and
 *   net.ipv4.fib_multipath_hash_policy 1 (l4: addresses, ports, protocol) or 0 (l3: addresses), so
 *   each new TCP connection / subflow lands on a path chosen by hash. The server answers over path
 *   0 (rp_filter off). Kernel MPTCP: limits on both sides only (the client has one address: add
 *   subflows with a path manager, e.g. ndiffports).
 * - Namespaces are named <prefix>-cli-<pid>-<n> / <prefix>-rtr-… / <prefix>-srv-… and registered
 *   with the netns cleanup registry: removed by destroy(), on exit, Ctrl-C, and when building fails
 *   halfway.
 */
import { readFileSync } from 'node:fs';
import { type DelayQueue, delayIngress } from './nfqueue.js';
import { addAddress, ip, Netns, run, sysctl, vethPair } from './netns.js';
import { applyLoss, applyRate, type LossCounters, lossCounters, setOffloads } from './shaping.js';

export const MAX_PATHS = 16;
/** Second octet of every lab address (10.X.i.1/24). */
export const SUBNET_BASE = 213;
export const DEFAULT_LAB_PREFIX = 'mptcp-lab';
/** Routing table of path i in the client namespace: ROUTE_TABLE_BASE + i. */
export const ROUTE_TABLE_BASE = 100;
/** Router topologies: the client's address (10.SUBNET_BASE.200.1/24; the router is .2). */
export const ROUTER_CLIENT_ADDR = `10.${SUBNET_BASE}.200.1`;
export const ROUTER_CLIENT_NET = `10.${SUBNET_BASE}.200.0/24`;
export const ROUTER_GATEWAY_ADDR = `10.${SUBNET_BASE}.200.2`;
/** Router topologies: the server's address, on its loopback, reached over every path. */
export const ROUTER_SERVER_ADDR = `10.${SUBNET_BASE}.201.1`;
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

/** Flow hash of the router: l4 = addresses, ports and protocol; l3 = addresses only. */
export type RouterHash = 'l3' | 'l4';

export interface RouterSpec {
  hash: RouterHash;
}

export interface TopologySpec {
  name: string;
  paths: PathSpec[];
  /** A router namespace between client and server that hashes flows over the paths. */
  router?: RouterSpec;
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
  for (const k of Object.keys(d)) {
    if (!['name', 'paths', 'router'].includes(k)) throw new TopologyError(`${k} is not a known field`);
  }
  const router = parseRouter(d.router);
  return router ? { name: d.name, paths, router } : { name: d.name, paths };
}

function parseRouter(v: unknown): RouterSpec | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return { hash: 'l4' };
  const bad = (): never => {
    throw new TopologyError(
      `router must be true, false or { "hash": "l3" | "l4" }, got ${JSON.stringify(v)}`,
    );
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad();
  const r = v as Record<string, unknown>;
  if (Object.keys(r).some((k) => k !== 'hash')) return bad();
  if (r.hash === undefined) return { hash: 'l4' };
  if (r.hash !== 'l3' && r.hash !== 'l4') return bad();
  return { hash: r.hash };
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
  private queues: DelayQueue[] = [];

  private constructor(
    readonly spec: TopologySpec,
    readonly prefix: string,
    readonly client: Netns,
    readonly server: Netns,
    readonly paths: BuiltPath[],
    /** Steps skipped because the system lacks something (e.g. kernel MPTCP). */
    readonly warnings: string[],
    /** Whether kernel MPTCP was configured (endpoints and limits; limits only with a router). */
    readonly mptcpConfigured: boolean,
    /** The router namespace, when the spec asks for one. */
    readonly router?: Netns,
  ) {}

  /** The namespace holding each path's client-side end (clientIf): the router, or the client. */
  get near(): Netns {
    return this.router ?? this.client;
  }

  /** The server address a client connects to (path 0's server address, or the router topology's). */
  get target(): string {
    return this.router ? ROUTER_SERVER_ADDR : this.paths[0]!.serverAddr;
  }

  /** Builds the namespaces, links, addresses and shaping; on failure removes what it made and rethrows. */
  static build(spec: TopologySpec, options: BuildOptions | string = {}): Topology {
    const opts: BuildOptions = typeof options === 'string' ? { prefix: options } : options;
    const prefix = opts.prefix ?? DEFAULT_LAB_PREFIX;
    const made: Netns[] = [];
    try {
      const client = Netns.create(`${prefix}-cli`);
      made.push(client);
      const router = spec.router ? Netns.create(`${prefix}-rtr`) : undefined;
      if (router) made.push(router);
      const server = Netns.create(`${prefix}-srv`);
      made.push(server);
      const near = router ?? client;
      if (router) buildRouterFront(client, router, server, spec.router!);
      const paths: BuiltPath[] = [];
      const hops: string[] = [];
      spec.paths.forEach((p, index) => {
        const a = pathAddressing(index);
        if (router) a.clientIf = `rtr${index}`;
        vethPair(near, a.clientIf, server, a.serverIf);
        addAddress(near, a.clientIf, `${a.clientAddr}/24`);
        addAddress(server, a.serverIf, `${a.serverAddr}/24`);
        for (const [ns, ifname] of [
          [near, a.clientIf],
          [server, a.serverIf],
        ] as const) {
          setOffloads(ns, ifname, false);
          if (p.rateMbps !== undefined && p.rateMbps > 0) applyRate(ns, ifname, p.rateMbps);
          if (p.lossPct !== undefined && p.lossPct > 0) applyLoss(ns, ifname, p.lossPct);
        }
        if (router) {
          sysctl(server, `net.ipv4.conf.${a.serverIf}.rp_filter`, 0);
          hops.push('nexthop', 'via', a.serverAddr, 'dev', a.clientIf);
        } else {
          const table = String(ROUTE_TABLE_BASE + index);
          ip(client, ['rule', 'add', 'from', a.clientAddr, 'table', table]);
          ip(client, ['route', 'add', 'default', 'dev', a.clientIf, 'table', table]);
        }
        paths.push({ ...p, index, ...a });
      });
      if (router) {
        ip(router, ['route', 'add', `${ROUTER_SERVER_ADDR}/32`, ...hops]);
        const p0 = paths[0]!;
        ip(server, ['route', 'add', `${ROUTER_CLIENT_NET}`, 'via', p0.clientAddr, 'dev', p0.serverIf]);
      }
      const warnings: string[] = [];
      const mptcp =
        opts.mptcpEndpoints !== false &&
        configureMptcp(client, server, paths, router !== undefined, warnings);
      return new Topology(spec, prefix, client, server, paths, warnings, mptcp, router);
    } catch (err) {
      for (const ns of made.reverse()) ns.delete();
      throw err;
    }
  }

  path(name: string): BuiltPath {
    const p = this.paths.find((x) => x.name === name);
    if (!p) throw new TopologyError(`no path named '${name}'`);
    return p;
  }

  /** Loss counters of a path: what its client (or router) end and its server end received and dropped. */
  lossCounters(name: string): { client: LossCounters; server: LossCounters } {
    const p = this.path(name);
    return { client: lossCounters(this.near, p.clientIf), server: lossCounters(this.server, p.serverIf) };
  }

  /** Bytes each path's client-side end has sent towards the server (for a router: what it forwarded). */
  sentBytes(): number[] {
    return this.paths.map((p) => {
      const r = this.near.exec('cat', [`/sys/class/net/${p.clientIf}/statistics/tx_bytes`]);
      return r.code === 0 ? Number(r.stdout.trim()) || 0 : 0;
    });
  }

  /** Delay lines this topology needs (see the module contract): namespace, interface, delay. */
  delayPlan(): Array<{ netns: Netns; iface: string; delayMs: number; jitterMs: number }> {
    const plan: Array<{ netns: Netns; iface: string; delayMs: number; jitterMs: number }> = [];
    for (const p of this.paths) {
      const delayMs = p.delayMs ?? 0;
      const jitterMs = p.jitterMs ?? 0;
      if (delayMs <= 0 && jitterMs <= 0) continue;
      if (this.router) plan.push({ netns: this.server, iface: p.serverIf, delayMs: 2 * delayMs, jitterMs });
      else
        for (const [netns, iface] of [
          [this.client, p.clientIf],
          [this.server, p.serverIf],
        ] as const)
          plan.push({ netns, iface, delayMs, jitterMs });
    }
    return plan;
  }

  /**
   * Starts the NFQUEUE delay lines of every delayed path (they live in this process: keep it
   * running). All or nothing: on failure stops those it started and rethrows. Idempotent.
   */
  async startDelays(): Promise<readonly DelayQueue[]> {
    if (this.queues.length > 0) return this.queues;
    if (this.destroyed) throw new TopologyError('topology already destroyed');
    const started: DelayQueue[] = [];
    try {
      for (const d of this.delayPlan()) {
        started.push(
          await delayIngress(d.netns.name, d.iface, {
            delayMs: d.delayMs,
            ...(d.jitterMs > 0 ? { jitterMs: d.jitterMs } : {}),
            family: 'ipv4',
          }),
        );
      }
    } catch (err) {
      await Promise.all(started.map((q) => q.stop().catch(() => undefined)));
      throw err;
    }
    this.queues = started;
    return started;
  }

  /** Whether delay lines are running. */
  get delaysRunning(): boolean {
    return this.queues.length > 0;
  }

  /** Stops the delay lines (held packets are accepted). Idempotent. */
  async stopDelays(): Promise<void> {
    const qs = this.queues;
    this.queues = [];
    await Promise.all(qs.map((q) => q.stop().catch(() => undefined)));
  }

  /** stopDelays() then destroy(). */
  async close(): Promise<void> {
    try {
      await this.stopDelays();
    } finally {
      this.destroy();
    }
  }

  /** A human-readable account of what was built. */
  describe(): string {
    const names = [this.client, this.router, this.server].filter((n): n is Netns => n !== undefined);
    const lines = [`topology ${this.spec.name}: namespaces ${names.map((n) => n.name).join(', ')}`];
    if (this.router) {
      lines.push(
        `  client cli0 ${ROUTER_CLIENT_ADDR}/24  <->  router rcli ${ROUTER_GATEWAY_ADDR}/24; ` +
          `router hashes flows (${this.spec.router!.hash}) over the paths to server ${ROUTER_SERVER_ADDR} (loopback); ` +
          `replies return over path ${this.paths[0]!.name}`,
      );
    }
    for (const p of this.paths) {
      const shaping: string[] = [];
      if (p.rateMbps) shaping.push(`${p.rateMbps} Mbit/s (tbf)`);
      if (p.lossPct) shaping.push(`${p.lossPct}% loss (nft ingress)`);
      if (p.delayMs || p.jitterMs) {
        const d = p.delayMs ?? 0;
        const j = p.jitterMs ?? 0;
        const how = this.router
          ? `RTT ${2 * d}±${j} ms on the server end`
          : `${d}±${j} ms each way, RTT ${2 * d} ms`;
        shaping.push(
          `delay ${how} (NFQUEUE${this.delaysRunning ? '' : ', NOT running: startDelays() / lab up'})`,
        );
      }
      const ends = this.router ? 'router ' : '';
      lines.push(
        `  path ${p.name}: ${ends}${p.clientIf} ${p.clientAddr}/24  <->  ${p.serverIf} ${p.serverAddr}/24` +
          (shaping.length ? `   [${shaping.join(', ')}]` : '   [unshaped]'),
      );
    }
    if (this.mptcpConfigured && !this.router && this.paths.length > 1) {
      const eps = this.paths.slice(1).map((p) => `${p.clientAddr} dev ${p.clientIf}`);
      lines.push(`  kernel MPTCP: client subflow endpoints ${eps.join(', ')}; connect to ${this.target}`);
    } else if (this.mptcpConfigured && this.router) {
      lines.push(`  kernel MPTCP: limits set; connect to ${this.target}, add subflows with a path manager`);
    }
    for (const w of this.warnings) lines.push(`  warning: ${w}`);
    return lines.join('\n');
  }

  /**
   * Removes the namespaces (and with them every link, qdisc and nft table). Idempotent. Delay lines
   * still running are stopped in the background: prefer `await close()`.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.queues.length > 0) void this.stopDelays();
    this.server.delete();
    this.router?.delete();
    this.client.delete();
  }
}

/** Client ↔ router link, forwarding and the router's flow hash. */
function buildRouterFront(client: Netns, router: Netns, server: Netns, spec: RouterSpec): void {
  vethPair(client, 'cli0', router, 'rcli');
  addAddress(client, 'cli0', `${ROUTER_CLIENT_ADDR}/24`);
  addAddress(router, 'rcli', `${ROUTER_GATEWAY_ADDR}/24`);
  ip(client, ['route', 'add', 'default', 'via', ROUTER_GATEWAY_ADDR]);
  setOffloads(client, 'cli0', false);
  setOffloads(router, 'rcli', false);
  sysctl(router, 'net.ipv4.ip_forward', 1);
  sysctl(router, 'net.ipv4.fib_multipath_hash_policy', spec.hash === 'l4' ? 1 : 0);
  for (const ns of [router, server]) {
    sysctl(ns, 'net.ipv4.conf.all.rp_filter', 0);
    sysctl(ns, 'net.ipv4.conf.default.rp_filter', 0);
  }
  addAddress(server, 'lo', `${ROUTER_SERVER_ADDR}/32`);
}

/** Endpoints and limits for kernel MPTCP; records a warning instead when the kernel has none. */
/** Endpoints (direct) and limits; a router topology gets MPTCP_LIMIT_MAX and no endpoints. */
function configureMptcp(
  client: Netns,
  server: Netns,
  paths: BuiltPath[],
  routed: boolean,
  warnings: string[],
): boolean {
  const probe = client.exec('sysctl', ['-n', 'net.mptcp.enabled']);
  if (probe.code !== 0 || probe.stdout.trim() !== '1') {
    warnings.push('kernel MPTCP is not available or disabled: no endpoints configured');
    return false;
  }
  const n = String(routed ? MPTCP_LIMIT_MAX : Math.min(MPTCP_LIMIT_MAX, paths.length));
  for (const ns of [client, server]) ip(ns, ['mptcp', 'limits', 'set', 'subflow', n, 'add_addr_accepted', n]);
  for (const p of routed ? [] : paths.slice(1)) {
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
