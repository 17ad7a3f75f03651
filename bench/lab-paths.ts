/**
 * `lab-paths`: userspace MPTCP (src/node) against kernel MPTCP (src/kernel) on emulated paths (Linux, root).
 * Both stacks see the same path parameters in the same run, each on its own lab:
 * - userspace: src/lab/scenarios/host-paths.ts (client in this namespace, bound per path address;
 *   server in a namespace; tbf rate on both veth ends);
 * - kernel: src/lab/topology.ts (client and server namespaces, one `subflow` endpoint per extra path,
 *   kernel defaults otherwise; same tbf rate on both ends).
 * Rows:
 * - aggregation: 20 + 10 Mbit/s, no added delay, TRANSFER_BYTES × scale, best of AGGREGATION_RUNS;
 *   goodput ÷ 30 Mbit/s;
 * - failover: same paths, the primary's server end is set down (`ip link set … down`, both
 *   directions blackholed) when the receiver has CUT_AT_FRACTION of the transfer; the longest
 *   receiver-side gap between application reads after the cut (ms), and bytes lost (written −
 *   received, 0 expected);
 * - heterogeneous: same rates, RTT 20 ms vs 100 ms (NFQUEUE delay on the server ends' ingress,
 *   src/lab/nfqueue.ts); goodput of both paths ÷ goodput of the 20 ms path alone, per stack.
 * Congestion control: each stack runs with the default, and for aggregation also with cubic
 * (TCP_CONGESTION: on every userspace subflow through `connect({ congestionControl })`, on the
 * kernel client's MPTCP socket, which applies it to its subflows), the issue's reference; a netns
 * may not pick cubic by sysctl.
 * Goodput is measured from the first application read to the last (connection setup excluded).
 * When the machine cannot build the labs, one row with the reason.
 */
import { once } from 'node:events';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectAsync, createServer as kernelServer } from '../src/kernel/index.js';
import { socketFd } from '../src/kernel/info.js';
import { ip, withNetns } from '../src/lab/netns.js';
import { type DelayQueue, delayIngress } from '../src/lab/nfqueue.js';
import { congestionControl, HostPaths, hostPathsUnavailable } from '../src/lab/scenarios/host-paths.js';
import { sleep, startTracedServer, waitFor, withTimeout } from '../src/lab/scenarios/traffic.js';
import { Topology } from '../src/lab/topology.js';
import { connect, setCongestionControl } from '../src/node/index.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

const BENCH = 'lab-paths';
const TRANSFER_BYTES = 30_000_000;
const FAILOVER_BYTES = 12_000_000;
/** The primary goes down when the receiver has this fraction of the transfer. */
const CUT_AT_FRACTION = 0.3;
const RUN_TIMEOUT_MS = 60_000;
const DRAIN_GRACE_MS = 5000;
const CHUNK_BYTES = 64 * 1024;
/** Aggregation runs per case (the best is reported: single runs vary by ±10% here). */
const AGGREGATION_RUNS = 2;
const HETERO_BYTES = 15_000_000;
const HETERO_RTT_MS = [20, 100] as const;
const RATES_MBPS = [20, 10] as const;
const SUM_MBPS = RATES_MBPS[0] + RATES_MBPS[1];

export type Stack = 'userspace' | 'kernel';

export interface RunResult {
  written: number;
  received: number;
  /** Goodput from the first read to the last. */
  goodputMbps: number;
  /** Longest gap between application reads after the cut (ms), when there was a cut. */
  gapAfterCutMs: number | undefined;
  note: string;
}

/** Writes `bytes` as fast as the socket takes them, calling `onWritten` with the running total. */
async function sendAll(sock: NodeJS.WritableStream & { destroyed: boolean }, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x5a);
  let written = 0;
  while (written < bytes && !sock.destroyed) {
    const n = Math.min(CHUNK_BYTES, bytes - written);
    written += n;
    if (!sock.write(n === CHUNK_BYTES ? chunk : chunk.subarray(0, n)))
      await Promise.race([once(sock as unknown as NodeJS.EventEmitter, 'drain'), sleep(RUN_TIMEOUT_MS)]);
  }
  return written;
}

/** Receiver-side record: cumulative bytes and read times. */
class Receiver {
  received = 0;
  firstChunk = 0;
  readonly times: number[] = [];
  /** Called once when `received` first reaches `cutAtBytes`. */
  constructor(
    private readonly cutAtBytes = Number.POSITIVE_INFINITY,
    private readonly onCut: () => void = () => {},
  ) {}
  onData = (b: Buffer) => {
    if (this.received === 0) this.firstChunk = b.length;
    const before = this.received;
    this.received += b.length;
    this.times.push(performance.now());
    if (before < this.cutAtBytes && this.received >= this.cutAtBytes) this.onCut();
  };
  /** Goodput from the first read to the last (Mbit/s): excludes connection setup. */
  goodputMbps(): number {
    const first = this.times[0];
    const last = this.times.at(-1);
    if (first === undefined || last === undefined || last <= first) return Number.NaN;
    return ((this.received - this.firstChunk) * 8) / 1e6 / ((last - first) / 1000);
  }
  gapAfter(t: number): number | undefined {
    let best = 0;
    let prev = t;
    for (const x of this.times) {
      if (x < t) continue;
      best = Math.max(best, x - prev);
      prev = x;
    }
    return this.times.length ? best : undefined;
  }
}

export interface Setup {
  bytes: number;
  cut: boolean;
  /** TCP_CONGESTION of the client's subflows. */
  cc?: string;
  /** RTT added per path (ms). */
  rttMs?: readonly number[];
  /** Use only the first path. */
  single?: boolean;
}

async function runUserspace({ bytes, cut, cc, rttMs, single }: Setup): Promise<RunResult> {
  const lab = await HostPaths.build(
    RATES_MBPS.map((r, i) => ({
      name: `p${i}`,
      rateMbps: r,
      ...(rttMs?.[i] ? { delayMs: rttMs[i]! / 2 } : {}),
    })),
    'mptcp-blp',
  );
  if (lab.delayNote) {
    await lab.destroy();
    throw new Error(lab.delayNote);
  }
  const t0 = performance.now();
  const srv = await startTracedServer(t0, () => 'p', lab);
  let cutAt: number | undefined;
  const rx = new Receiver(cut ? Math.round(bytes * CUT_AT_FRACTION) : undefined, () => {
    ip(lab.server, ['link', 'set', lab.paths[0]!.serverIf, 'down']);
    cutAt = performance.now();
  });
  const client = connect({
    ...(cc ? { congestionControl: cc } : {}),
    paths: (single ? lab.paths.slice(0, 1) : lab.paths).map((p) => ({
      host: p.serverAddr,
      port: srv.port,
      localAddress: p.hostAddr,
      name: p.name,
    })),
  });
  client.on('error', () => {});
  try {
    const conn = await withTimeout(srv.accepted, 10_000, 'userspace accept');
    conn.on('data', rx.onData);
    conn.on('error', () => {});
    const written = await withTimeout(sendAll(client, bytes), RUN_TIMEOUT_MS, 'userspace send');
    client.end();
    await waitFor(() => rx.received >= written, cut ? RUN_TIMEOUT_MS : DRAIN_GRACE_MS + RUN_TIMEOUT_MS);
    await sleep(200);
    return {
      written,
      received: rx.received,
      goodputMbps: rx.goodputMbps(),
      gapAfterCutMs: cutAt === undefined ? undefined : rx.gapAfter(cutAt),
      note: `${client.subflows.length} subflows at end`,
    };
  } finally {
    client.destroy();
    await srv.close();
    await lab.destroy();
  }
}

async function runKernel({ bytes, cut, cc, rttMs, single }: Setup): Promise<RunResult> {
  const topo = Topology.build(
    { name: 'lab-paths', paths: RATES_MBPS.map((r, i) => ({ name: `p${i}`, rateMbps: r })) },
    { prefix: 'mptcp-blk' },
  );
  let server: net.Server | undefined;
  let client: net.Socket | undefined;
  let serverSide: net.Socket | undefined;
  const queues: DelayQueue[] = [];
  try {
    if (!topo.mptcpConfigured) throw new Error(topo.warnings.join('; ') || 'kernel MPTCP not configured');
    const p0 = topo.paths[0]!;
    if (single) ip(topo.client, ['mptcp', 'endpoint', 'flush']);
    for (const p of topo.paths) {
      const rtt = rttMs?.[p.index];
      if (rtt)
        queues.push(await delayIngress(topo.server.name, p.serverIf, { delayMs: rtt, family: 'ipv4' }));
    }
    let cutAt: number | undefined;
    const rx = new Receiver(cut ? Math.round(bytes * CUT_AT_FRACTION) : undefined, () => {
      ip(topo.server, ['link', 'set', p0.serverIf, 'down']);
      cutAt = performance.now();
    });
    let ended = false;
    server = kernelServer((c: net.Socket) => {
      serverSide = c;
      c.on('data', rx.onData);
      c.on('end', () => {
        ended = true;
      });
      c.on('error', () => {});
    });
    const srv = server;
    withNetns(topo.server, () => srv.listen(0, p0.serverAddr));
    await once(srv, 'listening');
    const port = (srv.address() as net.AddressInfo).port;
    client = await withNetns(topo.client, () =>
      connectAsync({ port, host: p0.serverAddr, localAddress: p0.clientAddr, timeout: 5000 }),
    );
    client.on('error', () => {});
    if (cc) setCongestionControl(socketFd(client), cc);
    const written = await withTimeout(sendAll(client, bytes), RUN_TIMEOUT_MS, 'kernel send');
    client.end();
    await waitFor(() => ended || rx.received >= written, RUN_TIMEOUT_MS);
    return {
      written,
      received: rx.received,
      goodputMbps: rx.goodputMbps(),
      gapAfterCutMs: cutAt === undefined ? undefined : rx.gapAfter(cutAt),
      note: [cc ? `TCP_CONGESTION ${cc} on the client socket` : '', ...topo.warnings]
        .filter(Boolean)
        .join('; '),
    };
  } finally {
    client?.destroy();
    serverSide?.destroy();
    if (server) await Promise.race([new Promise<void>((r) => server!.close(() => r())), sleep(300)]);
    await Promise.all(queues.map((q) => q.stop().catch(() => undefined)));
    topo.destroy();
  }
}

/** One run of one stack (exported for ad-hoc runs of a single case). */
export async function measure(stack: Stack, setup: Setup): Promise<RunResult | Error> {
  try {
    return await (stack === 'userspace' ? runUserspace(setup) : runKernel(setup));
  } catch (err) {
    return err as Error;
  }
}

interface Case {
  stack: Stack;
  /** Congestion control set in the kernel lab's namespaces (the userspace client uses the host's). */
  cc?: string;
}

function label(c: Case, hostCc: string): string {
  return `${c.stack} MPTCP (${c.cc ?? hostCc})`;
}

const bench: Benchmark = {
  name: BENCH,
  description: 'userspace vs kernel MPTCP on emulated paths (20+10 Mbit/s): aggregation and failover',
  async run(options: BenchOptions): Promise<BenchRow[]> {
    const why = process.getuid?.() !== 0 ? 'needs root' : hostPathsUnavailable();
    if (why) return [{ bench: BENCH, case: 'unavailable', value: Number.NaN, unit: '', note: why }];
    const hostCc = congestionControl();
    const rows: BenchRow[] = [];
    const bytes = Math.max(1_000_000, Math.round(TRANSFER_BYTES * options.scale));
    const cases: Case[] = [{ stack: 'userspace' }, { stack: 'kernel' }];
    if (hostCc !== 'cubic') cases.push({ stack: 'userspace', cc: 'cubic' }, { stack: 'kernel', cc: 'cubic' });
    for (const c of cases) {
      let r = await measure(c.stack, { bytes, cut: false, ...(c.cc ? { cc: c.cc } : {}) });
      for (let i = 1; i < AGGREGATION_RUNS && !(r instanceof Error); i++) {
        const again = await measure(c.stack, { bytes, cut: false, ...(c.cc ? { cc: c.cc } : {}) });
        if (!(again instanceof Error) && again.goodputMbps > r.goodputMbps) r = again;
      }
      const name = `aggregation 20+10 Mbit/s, ${label(c, hostCc)}`;
      if (r instanceof Error) {
        rows.push({ bench: BENCH, case: name, value: Number.NaN, unit: 'Mbit/s', note: r.message });
        continue;
      }
      rows.push({
        bench: BENCH,
        case: name,
        value: r.goodputMbps,
        unit: 'Mbit/s',
        ratio: r.goodputMbps / SUM_MBPS,
        note: [
          `${(bytes / 1e6).toFixed(0)} MB, best of ${AGGREGATION_RUNS}, ratio = goodput / ${SUM_MBPS} Mbit/s`,
          r.received !== r.written ? `INCOMPLETE ${r.received}/${r.written}` : '',
          r.note,
        ]
          .filter(Boolean)
          .join('; '),
      });
    }
    const fbytes = Math.max(1_000_000, Math.round(FAILOVER_BYTES * options.scale));
    let userspaceGap: number | undefined;
    for (const c of cases.slice(0, 2)) {
      const r = await measure(c.stack, { bytes: fbytes, cut: true });
      const name = `failover (primary down at ${CUT_AT_FRACTION * 100}% of ${(fbytes / 1e6).toFixed(0)} MB), ${label(c, hostCc)}`;
      if (r instanceof Error) {
        rows.push({ bench: BENCH, case: name, value: Number.NaN, unit: 'ms', note: r.message });
        continue;
      }
      if (c.stack === 'userspace') userspaceGap = r.gapAfterCutMs;
      rows.push({
        bench: BENCH,
        case: `${name}: delivery gap`,
        value: r.gapAfterCutMs ?? Number.NaN,
        unit: 'ms',
        ...(c.stack === 'kernel' && userspaceGap !== undefined && r.gapAfterCutMs
          ? { ratio: userspaceGap / r.gapAfterCutMs }
          : {}),
        note: [
          'longest gap between reads after the cut',
          c.stack === 'kernel' ? 'ratio = userspace gap / kernel gap' : '',
          r.note,
        ]
          .filter(Boolean)
          .join('; '),
      });
      rows.push({
        bench: BENCH,
        case: `${name}: bytes lost`,
        value: r.written - r.received,
        unit: 'B',
        note: `${r.received} of ${r.written} received`,
      });
    }
    const hbytes = Math.max(1_000_000, Math.round(HETERO_BYTES * options.scale));
    for (const c of cases.slice(0, 2)) {
      const name = `heterogeneous RTT ${HETERO_RTT_MS.join(' vs ')} ms, ${label(c, hostCc)}`;
      const both = await measure(c.stack, { bytes: hbytes, cut: false, rttMs: HETERO_RTT_MS });
      const one = await measure(c.stack, { bytes: hbytes, cut: false, rttMs: HETERO_RTT_MS, single: true });
      if (both instanceof Error || one instanceof Error) {
        const e = both instanceof Error ? both : (one as Error);
        rows.push({ bench: BENCH, case: name, value: Number.NaN, unit: 'Mbit/s', note: e.message });
        continue;
      }
      rows.push({
        bench: BENCH,
        case: name,
        value: both.goodputMbps,
        unit: 'Mbit/s',
        ratio: both.goodputMbps / one.goodputMbps,
        note: `${(hbytes / 1e6).toFixed(0)} MB; ratio = both paths / the ${HETERO_RTT_MS[0]} ms path alone (${one.goodputMbps.toFixed(2)} Mbit/s)`,
      });
    }
    return rows;
  },
};

export default bench;
