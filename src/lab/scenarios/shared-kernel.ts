/**
 * Shared plumbing of the kernel-mode scenario runners (Linux, root, kernel MPTCP): a client and a
 * server namespace (src/lab/topology.ts), optional NFQUEUE delay, a kernel MPTCP server in the
 * server namespace and a kernel MPTCP client in the client namespace, per-subflow polling.
 *
 * Contract:
 * - `KernelLab.open(o)` returns `{ unavailable }` (never throws for that) when the machine cannot
 *   run it: not root, no network namespaces, a missing tool, no kernel MPTCP. Otherwise it builds
 *   the topology (rate by tbf on both ends), replaces the client's endpoints by `o.endpoints`
 *   (path index → `ip mptcp endpoint` flags), selects `o.pathManager` in the client namespace, adds
 *   `o.congestionControl` in both namespaces, adds `2 · delayMs` (a whole RTT) of NFQUEUE delay on each path's server end (the data direction;
 *   `delayNote` says why when it could not) and starts the server on path 0's server address.
 * - `connect()` opens the kernel MPTCP client from path 0's client address; `accepted` resolves
 *   with the server side of the first connection.
 * - `blackhole(i)` drops everything path i carries, both directions, silently (nftables on both
 *   ends' ingress); `setLoss(i, pct)` drops pct % of what path i's server end receives.
 * - `close()` destroys sockets, stops the delay queues and removes both namespaces (with every
 *   qdisc and nft table in them); idempotent. Namespaces are also removed on exit by the netns
 *   cleanup registry (src/lab/netns.ts) when a run dies halfway.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type net from 'node:net';
import { connectAsync, createServer, subflows } from '../../kernel/index.js';
import { type DelayQueue, delayIngress } from '../nfqueue.js';
import { ip, sysctl, withNetns } from '../netns.js';
import { applyLoss, type LossCounters, lossCommands, lossCounters, ShapingError } from '../shaping.js';
import { type BuiltPath, Topology } from '../topology.js';
import { hostPathsUnavailable } from './host-paths.js';
import type { ScenarioPath } from './spec.js';
import { sleep } from './traffic.js';

/** tcp_info state of an established subflow (include/net/tcp_states.h). */
const TCP_ESTABLISHED = 1;
/** How often the runners poll MPTCP_FULL_INFO. */
export const KERNEL_POLL_MS = 50;
/** Connect deadline of the kernel client. */
export const KERNEL_CONNECT_TIMEOUT_MS = 5000;
/** What the server writes first (the client reads and drops it in connect()). */
export const HELLO = Buffer.from('h');
/** How long close() waits for the server to close. */
const SERVER_CLOSE_WAIT_MS = 300;

export type EndpointFlag = 'subflow' | 'backup' | 'fullmesh' | 'signal';

export interface KernelLabOptions {
  name: string;
  /** Namespace name prefix (the pid and a counter are appended). */
  prefix: string;
  paths: ScenarioPath[];
  /** Client endpoints: path index → flags. Default: none (only the initial subflow, unless a PM adds some). */
  endpoints?: Array<{ path: number; flags: EndpointFlag[] }>;
  /** Path manager of the client namespace (default: the kernel's in-kernel PM). */
  pathManager?: 'kernel' | 'userspace';
  /** Apply each path's delayMs (default true). */
  delay?: boolean;
  /** TCP congestion control of both namespaces (net.ipv4.tcp_congestion_control; default: theirs). */
  congestionControl?: string;
}

export interface KernelSample {
  tMs: number;
  path: string;
  bytesAcked: number;
  bytesReceived: number;
  rtoMs: number | undefined;
}

/** Why kernel-mode lab runs are impossible here, or undefined. */
export function kernelLabUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables, tc)';
  const why = hostPathsUnavailable();
  if (why) return why;
  return undefined;
}

export class KernelLab {
  readonly queues: DelayQueue[] = [];
  delayNote: string | undefined;
  server: net.Server | undefined;
  port = 0;
  client: net.Socket | undefined;
  serverSide: net.Socket | undefined;
  readonly accepted: Promise<net.Socket>;
  private resolveAccepted: (s: net.Socket) => void = () => {};
  private closed = false;

  private constructor(
    readonly topo: Topology,
    readonly names: string[],
  ) {
    this.accepted = new Promise((r) => {
      this.resolveAccepted = r;
    });
  }

  static async open(o: KernelLabOptions): Promise<KernelLab | { unavailable: string }> {
    const why = kernelLabUnavailable();
    if (why) return { unavailable: why };
    const topo = Topology.build(
      {
        name: o.name,
        paths: o.paths.map((p) => ({ name: p.name, ...(p.rateMbps ? { rateMbps: p.rateMbps } : {}) })),
      },
      { prefix: o.prefix },
    );
    const lab = new KernelLab(
      topo,
      o.paths.map((p) => p.name),
    );
    try {
      if (!topo.mptcpConfigured) {
        await lab.close();
        return { unavailable: topo.warnings.join('; ') || 'kernel MPTCP not configured' };
      }
      if (o.pathManager === 'userspace') {
        try {
          sysctl(topo.client, 'net.mptcp.path_manager', 'userspace');
        } catch {
          sysctl(topo.client, 'net.mptcp.pm_type', 1);
        }
      }
      if (o.congestionControl)
        for (const ns of [topo.client, topo.server])
          sysctl(ns, 'net.ipv4.tcp_congestion_control', o.congestionControl);
      ip(topo.client, ['mptcp', 'endpoint', 'flush']);
      for (const e of o.endpoints ?? []) {
        const p = topo.paths[e.path];
        if (!p) throw new Error(`${o.name}: no path ${e.path}`);
        ip(topo.client, ['mptcp', 'endpoint', 'add', p.clientAddr, 'dev', p.clientIf, ...e.flags]);
      }
      if (o.delay !== false) {
        for (const [i, p] of o.paths.entries()) {
          if (!p.delayMs) continue;
          try {
            lab.queues.push(
              await delayIngress(topo.server.name, topo.paths[i]!.serverIf, {
                delayMs: 2 * p.delayMs,
                family: 'ipv4',
              }),
            );
          } catch (err) {
            lab.delayNote = `packet-level delay not applied (NFQUEUE: ${(err as Error).message})`;
            break;
          }
        }
      }
      const server = createServer((c: net.Socket) => {
        c.on('error', () => {});
        // One byte to the client: a kernel MPTCP client is "fully established" (and its in-kernel
        // path manager opens the other subflows) once it has data or a DATA_ACK from the server.
        c.write(HELLO);
        if (!lab.serverSide) {
          lab.serverSide = c;
          lab.resolveAccepted(c);
        } else c.destroy();
      });
      lab.server = server;
      withNetns(topo.server, () => server.listen(0, topo.paths[0]!.serverAddr));
      await once(server, 'listening');
      lab.port = (server.address() as net.AddressInfo).port;
      return lab;
    } catch (err) {
      await lab.close();
      throw err;
    }
  }

  path(i: number): BuiltPath {
    const p = this.topo.paths[i];
    if (!p) throw new Error(`no path ${i}`);
    return p;
  }

  /** Opens the kernel MPTCP client from path 0. */
  async connect(): Promise<net.Socket> {
    const p0 = this.path(0);
    const c = await withNetns(this.topo.client, () =>
      connectAsync({
        port: this.port,
        host: p0.serverAddr,
        localAddress: p0.clientAddr,
        timeout: KERNEL_CONNECT_TIMEOUT_MS,
      }),
    );
    c.on('error', () => {});
    this.client = c;
    // The server's hello (and anything else it sends) is read and dropped: uploads only.
    c.on('data', () => {});
    return c;
  }

  /**
   * Path name of a subflow by its client address: a subflow leaves the client by its local
   * address's path whatever server address it targets (the kernel joins to path 0's server
   * address), so the client address names the path on both sides.
   */
  pathOf(local: string | undefined, remote?: string): string {
    const p = this.topo.paths.find((x) => x.clientAddr === local || x.clientAddr === remote);
    return p ? this.names[p.index]! : `other(${local}>${remote})`;
  }

  /**
   * One sample per established subflow of `socket` (empty when it is closing). A closed initial
   * subflow stays in MPTCP_FULL_INFO's list (the kernel keeps msk->first): it is left out.
   */
  sample(socket: net.Socket, tMs: number): KernelSample[] {
    try {
      return subflows(socket)
        .filter((f) => f.state === undefined || f.state === TCP_ESTABLISHED)
        .map((f) => ({
          tMs,
          path: this.pathOf(f.localAddress, f.remoteAddress),
          bytesAcked: f.bytesAcked ?? 0,
          bytesReceived: f.bytesReceived ?? 0,
          rtoMs: f.rtoUs === undefined ? undefined : f.rtoUs / 1000,
        }));
    } catch {
      return [];
    }
  }

  /** Established subflows of `socket` (0 when not multipath or closing). */
  subflowCount(socket: net.Socket): number {
    try {
      return subflows(socket).filter((f) => f.state === undefined || f.state === TCP_ESTABLISHED).length;
    } catch {
      return 0;
    }
  }

  /**
   * Drops everything on path i, both directions, without telling anyone. One `nft -f -` per
   * namespace, both at once and without blocking the event loop (the server runs in this process);
   * resolves once both are in force.
   */
  async blackhole(i: number): Promise<void> {
    const p = this.path(i);
    await Promise.all([
      nftScript(this.topo.server.name, lossCommands(p.serverIf, 100)),
      nftScript(this.topo.client.name, lossCommands(p.clientIf, 100)),
    ]);
  }

  /** Drops pct % of what path i's server end receives (the data direction of a client upload). */
  setLoss(i: number, pct: number): void {
    applyLoss(this.topo.server, this.path(i).serverIf, pct);
  }

  lossCounters(i: number): LossCounters {
    return lossCounters(this.topo.server, this.path(i).serverIf);
  }

  get delayText(): string {
    return this.delayNote ?? "Delay: NFQUEUE on each path's server end, a whole RTT on the data direction.";
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client?.destroy();
    this.serverSide?.destroy();
    const srv = this.server;
    if (srv)
      await Promise.race([new Promise<void>((r) => srv.close(() => r())), sleep(SERVER_CLOSE_WAIT_MS)]);
    await Promise.all(this.queues.map((q) => q.stop().catch(() => undefined)));
    this.topo.destroy();
  }
}

/** Runs nft commands (one argv each) as one `nft -f -` script inside namespace `ns`, asynchronously. */
export function nftScript(ns: string, commands: string[][]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new ShapingError(`nft -f - in ${ns} failed (${code}): ${err.trim()}`)),
    );
    child.stdin.end(`${commands.map((c) => c.join(' ')).join('\n')}\n`);
  });
}

/** The TCP congestion control a namespace uses (net.ipv4.tcp_congestion_control), or 'unknown'. */
export function namespaceCongestionControl(lab: KernelLab): string {
  const r = lab.topo.client.exec('sysctl', ['-n', 'net.ipv4.tcp_congestion_control']);
  return r.code === 0 ? r.stdout.trim() : 'unknown';
}
