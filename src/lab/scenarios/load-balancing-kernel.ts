/**
 * Kernel mode of `load-balancing` (seed 003 §4.4, Fig. 2c; Linux, root, kernel MPTCP): the
 * paper's flow-hashing routers as a router namespace doing ECMP with an L4 (4-tuple) hash.
 *
 * Topology: a router topology of ../topology.ts (`{ "router": { "hash": "l4" } }`, namespaces
 * `mptcp-sclk-{cli,rtr,srv}-<pid>-<n>`): client cli0 ── router ── one link per path ── server,
 * whose address SERVER_ADDR sits on its loopback; the router reaches it by one multipath route
 * with a next hop per path and `net.ipv4.fib_multipath_hash_policy=1` (source and destination
 * address and port, protocol), so each subflow (a new source port) lands on a path chosen by hash,
 * as behind the paper's ECMP routers. Each path: tbf `rateMbps` on both ends, `2 · delayMs` of
 * NFQUEUE delay on the server end (the data direction). The server answers over path 0
 * (rp_filter off), which only carries ACKs back.
 * The client namespace runs `net.mptcp.path_manager=userspace` and the controller (`ndiffports` or
 * `refresh-slowest`) through KernelPmDriver; the server uses the in-kernel PM with the largest
 * subflow limit. Which path a subflow took is read from the router's per-interface byte counters.
 */
import { once } from 'node:events';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectAsync, createServer } from '../../kernel/index.js';
import { ndiffports } from '../../pm/controllers/ndiffports.js';
import { refreshSlowest } from '../../pm/controllers/refresh-slowest.js';
import { KernelPmDriver } from '../../pm/kernel-driver.js';
import type { Controller } from '../../pm/types.js';
import { type Netns, run, sysctl, withNetns } from '../netns.js';
import { ROUTER_SERVER_ADDR, Topology } from '../topology.js';
import type { LbOptions, LbRun, LbVariant } from './load-balancing.js';
import { kernelLabUnavailable } from './shared-kernel.js';
import { ScenarioError } from './spec.js';
import { sleep } from './traffic.js';
import { LB_VARIANTS, lbReport } from './load-balancing-report.js';
import { type ScenarioRunner, skippedResult } from './types.js';

/** The server's address (on its loopback), reached over every path through the router. */
export const SERVER_ADDR = ROUTER_SERVER_ADDR;
const CHUNK_BYTES = 64 * 1024;

export interface LbKernelPath {
  name: string;
  rateMbps?: number;
  delayMs?: number;
}

/** The router topology plus this scenario's settings (userspace PM on the client, delay lines). */
class LbLab {
  delayNote: string | undefined;
  private constructor(readonly topo: Topology) {}

  get client(): Netns {
    return this.topo.client;
  }

  get server(): Netns {
    return this.topo.server;
  }

  static async build(paths: readonly LbKernelPath[]): Promise<LbLab> {
    const topo = Topology.build(
      {
        name: 'load-balancing',
        router: { hash: 'l4' },
        paths: paths.map((p, i) => ({
          name: `path${i}`,
          ...(p.rateMbps ? { rateMbps: p.rateMbps } : {}),
          ...(p.delayMs ? { delayMs: p.delayMs } : {}),
        })),
      },
      { prefix: 'mptcp-sclk' },
    );
    const lab = new LbLab(topo);
    try {
      try {
        sysctl(topo.client, 'net.mptcp.path_manager', 'userspace');
      } catch {
        sysctl(topo.client, 'net.mptcp.pm_type', 1);
      }
      try {
        await topo.startDelays();
      } catch (err) {
        lab.delayNote = `packet-level delay not applied (NFQUEUE: ${(err as Error).message})`;
      }
      return lab;
    } catch (err) {
      await topo.close();
      throw err;
    }
  }

  /** Bytes the router has forwarded towards each path. */
  forwarded(): number[] {
    return this.topo.sentBytes();
  }

  async destroy(): Promise<void> {
    await this.topo.close();
  }
}

/** Why the kernel mode cannot run here, or undefined. */
export function lbKernelUnavailable(): string | undefined {
  const why = kernelLabUnavailable();
  if (why) return why;
  if (run('sh', ['-c', 'test "$(cat /proc/sys/net/mptcp/enabled 2>/dev/null)" = 1']).code !== 0)
    return 'kernel MPTCP is not available or disabled';
  return undefined;
}

export interface LbKernelRun extends LbRun {
  /** Bytes the router forwarded towards the server, all paths (retransmissions and reinjections included). */
  forwardedBytes: number;
  delayNote?: string;
  driverErrors: string[];
}

/** One transfer of `o.bytes` from a kernel MPTCP client through the hashing router, under a controller. */
export async function runLbKernelOnce(
  paths: readonly LbKernelPath[],
  variant: LbVariant,
  repetition: number,
  o: LbOptions,
  onProgress: (f: number) => void,
): Promise<LbKernelRun> {
  const lab = await LbLab.build(paths);
  const controller: Controller =
    variant === 'refresh-slowest'
      ? refreshSlowest({ periodMs: o.periodMs, subflows: o.subflows })
      : ndiffports(o.subflows);
  let opened = 0;
  const driverErrors: string[] = [];
  let driver: KernelPmDriver | undefined;
  let server: net.Server | undefined;
  let serverSide: net.Socket | undefined;
  let client: net.Socket | undefined;
  let progress: NodeJS.Timeout | undefined;
  let transferMs: number | undefined;
  let base: number[] = [];
  let fwd: number[] = [];
  try {
    driver = await KernelPmDriver.start(controller, {
      netns: lab.client.name,
      tickIntervalMs: 0,
      pollIntervalMs: 100,
      adoptExisting: false,
      log: (e) => {
        if (e.kind === 'command' && e.command.type === 'create-subflow') opened++;
        else if (e.kind === 'error' && driverErrors.length < 20) driverErrors.push(e.message);
      },
    });
    let received = 0;
    let resolveDone: () => void = () => {};
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    const srv = createServer((c: net.Socket) => {
      c.on('error', () => {});
      if (serverSide) return void c.destroy();
      serverSide = c;
      c.write('h'); // the client is fully established (and its PM told) once it hears from the server
      c.on('data', (b: Buffer) => {
        received += b.length;
        if (received >= o.bytes) resolveDone();
      });
    });
    server = srv;
    withNetns(lab.server, () => srv.listen(0, SERVER_ADDR));
    await once(srv, 'listening');
    const port = (srv.address() as net.AddressInfo).port;
    base = lab.forwarded();
    const c = await withNetns(lab.client, () => connectAsync({ port, host: SERVER_ADDR, timeout: 5000 }));
    client = c;
    c.on('error', () => {});
    c.on('data', () => {});
    const start = performance.now();
    progress = setInterval(() => onProgress(Math.min(1, received / o.bytes)), 100);
    const chunk = Buffer.alloc(CHUNK_BYTES, 0xa5);
    const deadline = start + o.timeoutMs;
    let written = 0;
    while (written < o.bytes && performance.now() < deadline) {
      const n = Math.min(CHUNK_BYTES, o.bytes - written);
      written += n;
      if (!c.write(n === CHUNK_BYTES ? chunk : chunk.subarray(0, n)))
        await Promise.race([once(c, 'drain'), sleep(Math.max(1, deadline - performance.now()))]);
    }
    await Promise.race([done, sleep(Math.max(1, deadline - performance.now()))]);
    if (received >= o.bytes) transferMs = performance.now() - start;
  } finally {
    if (progress) clearInterval(progress);
    await driver?.stop();
    client?.destroy();
    serverSide?.destroy();
    const srv = server;
    if (srv) await Promise.race([new Promise<void>((r) => srv.close(() => r())), sleep(300)]);
    fwd = lab.forwarded().map((b, i) => b - (base[i] ?? 0));
    await lab.destroy();
  }
  const bytesPerPath: Record<string, number> = {};
  paths.forEach((p, i) => {
    bytesPerPath[p.name] = fwd[i] ?? 0;
  });
  const total = fwd.reduce((a, b) => a + b, 0);
  return {
    variant,
    repetition,
    bytes: o.bytes,
    transferMs,
    bytesPerPath,
    pathsUsed: fwd.filter((b) => b >= 0.05 * total).length,
    subflowsOpened: opened + 1,
    forwardedBytes: total,
    ...(lab.delayNote ? { delayNote: lab.delayNote } : {}),
    driverErrors,
  };
}

/**
 * The kernel-mode ScenarioResult of `load-balancing` (the runner in ./load-balancing.ts calls this
 * when ctx.mode is 'kernel'): `repetitions` runs of each controller, numbers beside the paper's.
 */
export async function loadBalancingKernelResult(
  paths: readonly LbKernelPath[],
  o: LbOptions,
  reps: number,
  progress: (f: number, label: string) => void,
): ReturnType<ScenarioRunner> {
  const why = lbKernelUnavailable();
  if (why) return skippedResult(`kernel mode of load-balancing cannot run here: ${why}`);
  if (paths.length < 2) throw new ScenarioError('load-balancing needs at least two paths');
  const variants = LB_VARIANTS;
  const runs: LbKernelRun[] = [];
  const total = reps * variants.length;
  for (let r = 0; r < reps; r++)
    for (const v of variants) {
      const k = runs.length;
      runs.push(
        await runLbKernelOnce(paths, v, r, o, (f) =>
          progress((k + f) / total, `kernel, ${v} run ${r + 1}/${reps}`),
        ),
      );
    }
  const of = (v: LbVariant) => runs.filter((r) => r.variant === v);
  const overhead = (v: LbVariant) =>
    of(v)
      .map((r) => (r.forwardedBytes / r.bytes).toFixed(2))
      .join(', ');
  const report = lbReport(
    runs,
    paths.map((p) => p.rateMbps ?? 0),
    o,
    'kernel',
  );
  return {
    numbers: [
      ...report.numbers,
      ...variants.map((v) => ({
        label: `kernel, bytes forwarded by the router ÷ bytes transferred, per run (${v})`,
        ours: overhead(v),
      })),
      { label: 'repetitions per controller', ours: String(reps) },
    ],
    figures: [
      {
        file: 'transfer-times-cdf-kernel.svg',
        title: 'CDF of transfer times (kernel MPTCP)',
        svg: report.cdfSvg(
          `Kernel MPTCP: CDF of transfer times (${(o.bytes / 1e6).toFixed(1)} MB, ${o.subflows} subflows, ${reps} runs each)`,
        ),
        data: runs,
      },
    ],
    checks: report.checks,
    notes: [
      "Kernel MPTCP through a router namespace that spreads flows over the paths by ECMP with an L4 hash (net.ipv4.fib_multipath_hash_policy=1: addresses, ports, protocol), as the paper's two routers do; each new subflow (a new source port) is hashed afresh. The server answers over the first path (ACKs only).",
      runs[0]?.delayNote ??
        "Delay: NFQUEUE on each path's server end, a whole RTT on the data direction; rate: tbf on both ends.",
      `The client namespace uses net.mptcp.path_manager=userspace; the controllers run in KernelPmDriver (sock_diag every 100 ms; refresh-slowest reads each subflow's delivery rate from tcp_info). Refresh period ${o.periodMs} ms (the paper: 2500 ms for 100 MB).`,
      "Bytes per path are the router's per-link transmit counters: they include retransmissions and reinjections. Closing a subflow that has data outstanding makes the kernel re-inject the whole MPTCP-level retransmission queue on the other subflows (net/mptcp/protocol.c, __mptcp_retransmit_pending_data: “keep it simple and re-inject the whole mptcp level rtx queue”), so every refresh re-sends up to a send buffer of data: the router forwards far more than the transfer size under refresh-slowest.",
    ],
    data: runs,
  };
}
