/**
 * Kernel mode of `smarter-backup` (Linux, root, kernel MPTCP): a client and a server namespace
 * (src/lab/topology.ts), the second path a `subflow backup` endpoint, a kernel MPTCP bulk transfer
 * from the client, and `lossPct` loss on the primary's server end from `lossAtMs`. No controller:
 * this is the kernel's default behaviour, the paper's baseline. The client's subflows are polled
 * (MPTCP_FULL_INFO / TCP_INFO) every POLL_MS: bytes acknowledged and rto per path over time.
 */
import { once } from 'node:events';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectAsync, createServer, subflows } from '../../kernel/index.js';
import { ip, withNetns } from '../netns.js';
import { applyLoss, lossCounters } from '../shaping.js';
import { lineChart } from '../svg.js';
import { Topology } from '../topology.js';
import type { ScenarioPath } from './spec.js';
import { bulkSend, sleep, waitFor } from './traffic.js';

export const POLL_MS = 50;

export interface KernelSample {
  tMs: number;
  path: string;
  bytesAcked: number;
  rtoMs: number | undefined;
}

export interface KernelBackupRun {
  lossAtMs: number;
  durationMs: number;
  bytesWritten: number;
  bytesReceived: number;
  samples: KernelSample[];
  /** When the backup's acknowledged bytes first grew by more than 64 KB after the onset. */
  backupActiveMs: number | undefined;
  primaryAckedAfterLoss: number;
  backupAckedAfterLoss: number;
  maxPrimaryRtoMs: number | undefined;
  lossCounters: { seen: number; dropped: number };
  warnings: string[];
}

export async function runKernelBackup(
  paths: ScenarioPath[],
  o: { lossAtMs: number; lossPct: number; durationMs: number },
  onProgress: (f: number) => void,
): Promise<KernelBackupRun | { unavailable: string }> {
  const [primary, backup] = paths;
  if (!primary || !backup) return { unavailable: 'needs two paths' };
  const topo = Topology.build(
    {
      name: 'smarter-backup',
      paths: [
        { name: primary.name, ...(primary.rateMbps ? { rateMbps: primary.rateMbps } : {}) },
        { name: backup.name, ...(backup.rateMbps ? { rateMbps: backup.rateMbps } : {}) },
      ],
    },
    { prefix: 'mptcp-scnk' },
  );
  let server: net.Server | undefined;
  let client: net.Socket | undefined;
  let serverSide: net.Socket | undefined;
  try {
    if (!topo.mptcpConfigured)
      return { unavailable: topo.warnings.join('; ') || 'kernel MPTCP not configured' };
    const [p0, p1] = topo.paths as [(typeof topo.paths)[0], (typeof topo.paths)[0]];
    ip(topo.client, ['mptcp', 'endpoint', 'flush']);
    ip(topo.client, ['mptcp', 'endpoint', 'add', p1.clientAddr, 'dev', p1.clientIf, 'subflow', 'backup']);
    let received = 0;
    server = createServer((c: net.Socket) => {
      serverSide = c;
      c.on('data', (b: Buffer) => {
        received += b.length;
      });
      c.on('error', () => {});
    });
    const srv = server;
    withNetns(topo.server, () => srv.listen(0, p0.serverAddr));
    await once(srv, 'listening');
    const port = (srv.address() as net.AddressInfo).port;
    const t0 = performance.now();
    const rel = () => performance.now() - t0;
    client = await withNetns(topo.client, () =>
      connectAsync({ port, host: p0.serverAddr, localAddress: p0.clientAddr, timeout: 5000 }),
    );
    client.on('error', () => {});
    const c = client;
    const samples: KernelSample[] = [];
    const pathOf = (addr: string | undefined) =>
      addr === p0.clientAddr ? primary.name : addr === p1.clientAddr ? backup.name : `other(${addr})`;
    const poll = setInterval(() => {
      try {
        for (const f of subflows(c))
          samples.push({
            tMs: rel(),
            path: pathOf(f.localAddress),
            bytesAcked: f.bytesAcked ?? 0,
            rtoMs: f.rtoUs === undefined ? undefined : f.rtoUs / 1000,
          });
      } catch {
        // the socket may be closing
      }
      onProgress(Math.min(1, rel() / o.durationMs));
    }, POLL_MS);
    let onset = o.lossAtMs;
    const lossTimer = setTimeout(() => {
      applyLoss(topo.server, p0.serverIf, o.lossPct);
      onset = rel();
    }, o.lossAtMs);
    const written = await bulkSend(c, t0 + o.durationMs);
    clearTimeout(lossTimer);
    clearInterval(poll);
    const counters = lossCounters(topo.server, p0.serverIf);
    c.end();
    await waitFor(() => received >= written, 1000);
    const lastBefore = (path: string) =>
      samples.filter((s) => s.path === path && s.tMs <= onset).at(-1)?.bytesAcked ?? 0;
    const last = (path: string) => samples.filter((s) => s.path === path).at(-1)?.bytesAcked ?? 0;
    const backupBase = lastBefore(backup.name);
    const active = samples.find(
      (s) => s.path === backup.name && s.tMs > onset && s.bytesAcked - backupBase > 64 * 1024,
    );
    const rtos = samples.filter((s) => s.path === primary.name && s.rtoMs !== undefined).map((s) => s.rtoMs!);
    return {
      lossAtMs: onset,
      durationMs: o.durationMs,
      bytesWritten: written,
      bytesReceived: received,
      samples,
      backupActiveMs: active?.tMs,
      primaryAckedAfterLoss: last(primary.name) - lastBefore(primary.name),
      backupAckedAfterLoss: last(backup.name) - backupBase,
      maxPrimaryRtoMs: rtos.length ? Math.max(...rtos) : undefined,
      lossCounters: counters,
      warnings: topo.warnings,
    };
  } finally {
    client?.destroy();
    serverSide?.destroy();
    if (server) await Promise.race([new Promise<void>((r) => server!.close(() => r())), sleep(300)]);
    topo.destroy();
  }
}

export function kernelAckedChart(run: KernelBackupRun): string {
  const by = new Map<string, Array<[number, number]>>();
  for (const s of run.samples) {
    const pts = by.get(s.path) ?? [];
    pts.push([s.tMs / 1000, s.bytesAcked / 1e6]);
    by.set(s.path, pts);
  }
  return lineChart({
    title: 'Kernel MPTCP (default, no controller): bytes acknowledged per subflow over time',
    xLabel: 'time (s)',
    yLabel: 'acknowledged (MB)',
    series: [...by].map(([name, points]) => ({ name, points })),
    annotations: [{ x: run.lossAtMs / 1000, label: 'primary loss rises' }],
  });
}
