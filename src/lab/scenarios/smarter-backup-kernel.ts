/**
 * Kernel mode of `smarter-backup` (Linux, root, kernel MPTCP): a client and a server namespace
 * (./shared-kernel.ts: tbf rate, NFQUEUE delay), a kernel MPTCP bulk transfer from the client, and
 * `lossPct` loss on the primary's server end (the data direction) from `lossAtMs`. Two variants:
 * - 'default': the in-kernel path manager, the second path a `subflow backup` endpoint (joined at
 *   start, make-before-break): the kernel's own behaviour, the paper's baseline;
 * - 'backup-on-rto': `net.mptcp.path_manager=userspace` in the client namespace and the
 *   `backup-on-rto` controller (src/pm/controllers/) run by KernelPmDriver there: only the primary
 *   at start; when a primary subflow's rto passes `thresholdMs` the controller opens the backup
 *   path and closes the primary (break-before-make).
 * Both namespaces use KERNEL_BACKUP_CONGESTION_CONTROL (Reno). The client's subflows are polled
 * (MPTCP_FULL_INFO) every KERNEL_POLL_MS: bytes acknowledged and rto per path over time.
 */
import { performance } from 'node:perf_hooks';
import { BACKUP_ON_RTO_THRESHOLD_MS, backupOnRto } from '../../pm/controllers/backup-on-rto.js';
import { KernelPmDriver } from '../../pm/kernel-driver.js';
import { lineChart } from '../svg.js';
import { KERNEL_POLL_MS, KernelLab, type KernelSample } from './shared-kernel.js';
import type { ScenarioPath } from './spec.js';
import { bulkSend, waitFor } from './traffic.js';

export const POLL_MS = KERNEL_POLL_MS;
export type { KernelSample } from './shared-kernel.js';
export type KernelBackupVariant = 'default' | 'backup-on-rto';
/**
 * Congestion control of both namespaces: loss-based, like the paper's 2016 kernel (LIA is coupled
 * Reno). With BBR (this host's default) 30% loss hardly ever backs the rto off past 1 s, so the
 * controller's trigger never fires. A namespace may only pick an allowed one (cubic is not, here).
 */
export const KERNEL_BACKUP_CONGESTION_CONTROL = 'reno';
/** Acknowledged bytes on the backup after the onset from which it counts as carrying the transfer. */
export const BACKUP_ACTIVE_BYTES = 64 * 1024;
/** How long to wait for the data still in flight after the last write. */
const DRAIN_MS = 1000;

export interface KernelBackupRun {
  variant: KernelBackupVariant;
  lossAtMs: number;
  durationMs: number;
  bytesWritten: number;
  bytesReceived: number;
  samples: KernelSample[];
  /** When the backup's acknowledged bytes first grew by more than BACKUP_ACTIVE_BYTES after the onset. */
  backupActiveMs: number | undefined;
  primaryAckedAfterLoss: number;
  backupAckedAfterLoss: number;
  maxPrimaryRtoMs: number | undefined;
  /** When the controller removed the primary (ms from start; backup-on-rto only). */
  controllerSwitchMs: number | undefined;
  /** First poll that saw the primary's rto above thresholdMs (ms from start). */
  primaryRtoOverThresholdMs: number | undefined;
  lossCounters: { seen: number; dropped: number };
  events: Array<{ tMs: number; event: string }>;
  delayNote: string;
  warnings: string[];
}

export async function runKernelBackup(
  paths: ScenarioPath[],
  o: {
    lossAtMs: number;
    lossPct: number;
    durationMs: number;
    thresholdMs?: number;
    /** Default KERNEL_BACKUP_CONGESTION_CONTROL. */
    congestionControl?: string;
  },
  onProgress: (f: number) => void,
  variant: KernelBackupVariant = 'default',
): Promise<KernelBackupRun | { unavailable: string }> {
  const [primary, backup] = paths;
  if (!primary || !backup) return { unavailable: 'needs two paths' };
  const opened = await KernelLab.open({
    name: 'smarter-backup',
    prefix: 'mptcp-scnk',
    paths: [primary, backup],
    congestionControl: o.congestionControl ?? KERNEL_BACKUP_CONGESTION_CONTROL,
    ...(variant === 'default'
      ? { endpoints: [{ path: 1, flags: ['subflow', 'backup'] }] }
      : { pathManager: 'userspace' as const }),
  });
  if (!(opened instanceof KernelLab)) return opened;
  const lab = opened;
  const t0 = performance.now();
  const rel = () => performance.now() - t0;
  const events: KernelBackupRun['events'] = [];
  let driver: KernelPmDriver | undefined;
  let poll: NodeJS.Timeout | undefined;
  let lossTimer: NodeJS.Timeout | undefined;
  try {
    if (variant === 'backup-on-rto') {
      driver = await KernelPmDriver.start(
        backupOnRto({
          ...(o.thresholdMs !== undefined ? { thresholdMs: o.thresholdMs } : {}),
          // The server listens on path 0's address; a join from path 1's client address leaves
          // through path 1 (policy routing, src/lab/topology.ts).
          backup: { address: lab.path(0).serverAddr, localAddress: lab.path(1).clientAddr, port: lab.port },
        }),
        {
          netns: lab.topo.client.name,
          tickIntervalMs: 100,
          pollIntervalMs: POLL_MS,
          adoptExisting: false,
          log: (e) => {
            if (e.kind === 'command')
              events.push({
                tMs: rel(),
                event: `controller: ${e.command.type}${'subflow' in e.command ? ` ${e.command.subflow}` : ''}`,
              });
            else if (e.kind === 'error') events.push({ tMs: rel(), event: `driver error: ${e.message}` });
            else if (
              e.kind === 'event' &&
              (e.event.type === 'subflow-established' || e.event.type === 'subflow-closed')
            )
              events.push({
                tMs: rel(),
                event: `${e.event.type} on ${lab.pathOf(e.event.local.address, e.event.remote.address)}`,
              });
          },
        },
      );
    }
    const client = await lab.connect();
    const server = await lab.accepted;
    let received = 0;
    server.on('data', (b: Buffer) => {
      received += b.length;
    });
    const samples: KernelSample[] = [];
    poll = setInterval(() => {
      samples.push(...lab.sample(client, rel()));
      onProgress(Math.min(1, rel() / o.durationMs));
    }, POLL_MS);
    let onset = o.lossAtMs;
    lossTimer = setTimeout(() => {
      lab.setLoss(0, o.lossPct);
      onset = rel();
      events.push({ tMs: onset, event: `${primary.name} loss set to ${o.lossPct}%` });
    }, o.lossAtMs);
    const written = await bulkSend(client, t0 + o.durationMs);
    clearTimeout(lossTimer);
    clearInterval(poll);
    const counters = lab.lossCounters(0);
    client.end();
    await waitFor(() => received >= written, DRAIN_MS);
    const lastBefore = (path: string) =>
      samples.filter((s) => s.path === path && s.tMs <= onset).at(-1)?.bytesAcked ?? 0;
    const last = (path: string) => samples.filter((s) => s.path === path).at(-1)?.bytesAcked ?? 0;
    const backupBase = lastBefore(backup.name);
    const active = samples.find(
      (s) => s.path === backup.name && s.tMs > onset && s.bytesAcked - backupBase > BACKUP_ACTIVE_BYTES,
    );
    const rtos = samples.filter((s) => s.path === primary.name && s.rtoMs !== undefined).map((s) => s.rtoMs!);
    // A subflow that was closed drops out of the samples: its last sample is its total.
    return {
      variant,
      lossAtMs: onset,
      durationMs: o.durationMs,
      bytesWritten: written,
      bytesReceived: received,
      samples,
      backupActiveMs: active?.tMs,
      primaryAckedAfterLoss: last(primary.name) - lastBefore(primary.name),
      backupAckedAfterLoss: last(backup.name) - backupBase,
      maxPrimaryRtoMs: rtos.length ? Math.max(...rtos) : undefined,
      controllerSwitchMs: events.find((e) => e.event.startsWith('controller: remove-subflow'))?.tMs,
      primaryRtoOverThresholdMs: samples.find(
        (s) => s.path === primary.name && (s.rtoMs ?? 0) > (o.thresholdMs ?? BACKUP_ON_RTO_THRESHOLD_MS),
      )?.tMs,
      lossCounters: counters,
      events,
      delayNote: lab.delayText,
      warnings: lab.topo.warnings,
    };
  } finally {
    if (poll) clearInterval(poll);
    if (lossTimer) clearTimeout(lossTimer);
    await driver?.stop();
    await lab.close();
  }
}

export function kernelAckedChart(run: KernelBackupRun): string {
  const by = new Map<string, Array<[number, number]>>();
  for (const s of run.samples) {
    const pts = by.get(s.path) ?? [];
    pts.push([s.tMs / 1000, s.bytesAcked / 1e6]);
    by.set(s.path, pts);
  }
  const what = run.variant === 'default' ? 'default' : 'backup-on-rto';
  return lineChart({
    title: `Kernel MPTCP, ${what}: bytes acked per subflow`,
    xLabel: 'time (s)',
    yLabel: 'acknowledged (MB)',
    series: [...by].map(([name, points]) => ({ name, points })),
    annotations: [{ x: run.lossAtMs / 1000, label: 'primary loss rises' }],
  });
}
