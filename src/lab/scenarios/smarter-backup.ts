/**
 * Scenario runner `smarter-backup` (seed 003 §4.2, Fig. 2a). A primary and a backup path; after
 * `lossAtMs` the primary's loss rises to `lossPct`. Two variants, each a bulk transfer of
 * `durationMs`:
 * - default: both paths joined at start, the backup one flagged backup (make-before-break), the
 *   client's own path keeping (no controller): the primary is left to whatever TCP and the
 *   userspace MPTCP's failure detection make of the loss;
 * - backup-on-rto: only the primary is opened; the `backup-on-rto` controller (threshold 1 s)
 *   opens the backup path and closes the primary (break-before-make).
 * Needs root (packet loss is nftables in a namespace, ./host-paths.ts); skipped otherwise. Kernel
 * mode (./smarter-backup-kernel.ts): the same two variants with kernel MPTCP, the controller run by
 * KernelPmDriver against the kernel's userspace path manager.
 * Numbers: time from the loss onset to the first byte sent on the backup path, goodput before and
 * after the onset, bytes left on the primary after the onset. Figure: DSN over time by path.
 */
import { performance } from 'node:perf_hooks';
import { connect, enableKernelTcpInfo, type MptcpClientSocket } from '../../node/index.js';
import { backupOnRto } from '../../pm/controllers/backup-on-rto.js';
import { UserspacePmDriver } from '../../pm/userspace-driver.js';
import { scatterChart, type XYSeries } from '../svg.js';
import { congestionControl, HostPaths, hostPathsUnavailable } from './host-paths.js';
import {
  type KernelBackupRun,
  type KernelBackupVariant,
  KERNEL_BACKUP_CONGESTION_CONTROL,
  kernelAckedChart,
  POLL_MS,
  runKernelBackup,
} from './smarter-backup-kernel.js';
import { paramNumber, type ScenarioPath, ScenarioError } from './spec.js';
import {
  bulkSend,
  clientPathNames,
  sleep,
  startTracedServer,
  type TracePoint,
  waitFor,
  SETUP_TIMEOUT_MS,
  withTimeout,
} from './traffic.js';
import { type Check, mbps, type ScenarioRunner, seconds, skippedResult } from './types.js';

/** A small send buffer, so that "written" is close to "sent" and the end of the run is not a backlog. */
export const SEND_BUFFER_BYTES = 256 * 1024;
/** Kernel mode: run time the backup needs after a switch before the check judges it. */
export const JUDGE_AFTER_SWITCH_MS = 1000;
/** How long to wait after the last write for the data still in flight. */
export const DRAIN_GRACE_MS = 5000;

export type BackupVariant = 'default' | 'backup-on-rto';

export interface BackupRun {
  variant: BackupVariant;
  lossAtMs: number;
  durationMs: number;
  bytesWritten: number;
  bytesReceived: number;
  /** First data sent on the backup path after the loss onset (ms from start). */
  firstBackupSendMs: number | undefined;
  /** Last data sent on the primary path (ms from start). */
  lastPrimarySendMs: number | undefined;
  bytesReceivedBeforeLoss: number;
  bytesReceivedAfterLoss: number;
  /** Bytes first sent on the primary after the onset. */
  primaryBytesAfterLoss: number;
  sendTrace: TracePoint[];
  events: Array<{ tMs: number; event: string }>;
  lossCounters: { seen: number; dropped: number };
}

export async function runBackupVariant(
  lab: HostPaths,
  variant: BackupVariant,
  o: { lossAtMs: number; lossPct: number; durationMs: number; thresholdMs: number },
  onProgress: (f: number) => void,
): Promise<BackupRun> {
  const [primary, backup] = lab.paths;
  if (!primary || !backup) throw new ScenarioError('smarter-backup needs two paths');
  lab.setLoss(primary.name, 0);
  // The controller reads each subflow's TCP RTO (tcp_info), as the paper's did.
  await enableKernelTcpInfo();
  const t0 = performance.now();
  const byAddr = (addr: string | undefined) =>
    addr === primary.serverAddr ? primary.name : addr === backup.serverAddr ? backup.name : `other(${addr})`;
  const srv = await startTracedServer(t0, byAddr, lab);
  const sendTrace: TracePoint[] = [];
  const events: BackupRun['events'] = [];
  const rel = () => performance.now() - t0;
  let nameOf: (id: number) => string = (id) => `subflow-${id}`;
  const paths =
    variant === 'default'
      ? [
          { host: primary.serverAddr, port: srv.port, localAddress: primary.hostAddr, name: primary.name },
          {
            host: backup.serverAddr,
            port: srv.port,
            localAddress: backup.hostAddr,
            name: backup.name,
            backup: true,
          },
        ]
      : [{ host: primary.serverAddr, port: srv.port, localAddress: primary.hostAddr, name: primary.name }];
  const client: MptcpClientSocket = connect({
    paths,
    // Loss-based, as the paper's 2016 kernel: with bbr, 30% loss hardly ever backs the rto off past 1 s.
    congestionControl: KERNEL_BACKUP_CONGESTION_CONTROL,
    ...(variant === 'default' ? {} : { reconnect: false }),
    sendBufferBytes: SEND_BUFFER_BYTES,
    trace: (e) => {
      if (e.type === 'send')
        sendTrace.push({
          tMs: e.nowMs - t0,
          offset: e.offset,
          length: e.length,
          path: nameOf(e.subflowId),
          reinjection: e.reinjection,
        });
    },
  });
  nameOf = clientPathNames(client, byAddr);
  let driver: UserspacePmDriver | undefined;
  if (variant === 'backup-on-rto') {
    driver = new UserspacePmDriver(
      backupOnRto({
        thresholdMs: o.thresholdMs,
        backup: { address: backup.serverAddr, localAddress: backup.hostAddr, port: srv.port },
      }),
      {
        tickIntervalMs: 100,
        log: (e) => {
          if (e.kind === 'command')
            events.push({
              tMs: rel(),
              event: `controller: ${e.command.type}${'subflow' in e.command ? ` ${e.command.subflow}` : ''}`,
            });
        },
      },
    );
    driver.attach(client);
  }
  client.on('subflow', (s: { id: number }) =>
    events.push({ tMs: rel(), event: `subflow ${s.id} established on ${nameOf(s.id)}` }),
  );
  client.on('subflowClosed', (e: { subflowId: number; reason: string; detail?: string }) =>
    events.push({
      tMs: rel(),
      event: `subflow ${e.subflowId} on ${nameOf(e.subflowId)} closed (${e.reason}${e.detail ? `: ${e.detail}` : ''})`,
    }),
  );
  client.on('error', (err) => events.push({ tMs: rel(), event: `client error: ${err.message}` }));
  let received = 0;
  let conn: Awaited<typeof srv.accepted>;
  try {
    conn = await withTimeout(srv.accepted, SETUP_TIMEOUT_MS, 'smarter-backup: server accept');
  } catch (err) {
    driver?.stop();
    client.destroy();
    await srv.close();
    throw err;
  }
  conn.on('data', (c: Buffer) => {
    received += c.length;
  });
  conn.on('error', () => {});
  let onset = o.lossAtMs;
  const lossTimer = setTimeout(() => {
    lab.setLoss(primary.name, o.lossPct);
    onset = rel();
    events.push({ tMs: onset, event: `${primary.name} loss set to ${o.lossPct}%` });
  }, o.lossAtMs - rel());
  const progress = setInterval(() => onProgress(Math.min(1, rel() / o.durationMs)), 100);
  const written = await bulkSend(client, t0 + o.durationMs);
  client.end();
  await waitFor(() => received >= written, DRAIN_GRACE_MS);
  clearInterval(progress);
  clearTimeout(lossTimer);
  const counters = lab.lossCounters(primary.name);
  driver?.stop();
  client.destroy();
  conn.destroy();
  await srv.close();
  await sleep(50);
  const firstBackup = sendTrace.find((p) => p.path === backup.name && p.tMs >= onset);
  const primarySends = sendTrace.filter((p) => p.path === primary.name);
  const inWindow = (p: TracePoint) => p.tMs <= o.durationMs;
  const recvBefore = srv.trace
    .filter((p) => p.tMs < onset && !p.reinjection)
    .reduce((n, p) => n + p.length, 0);
  const recvAfter = srv.trace.filter((p) => p.tMs >= onset && inWindow(p)).reduce((n, p) => n + p.length, 0);
  return {
    variant,
    lossAtMs: onset,
    durationMs: o.durationMs,
    bytesWritten: written,
    bytesReceived: received,
    firstBackupSendMs: firstBackup?.tMs,
    lastPrimarySendMs: primarySends.at(-1)?.tMs,
    bytesReceivedBeforeLoss: recvBefore,
    bytesReceivedAfterLoss: recvAfter,
    primaryBytesAfterLoss: primarySends
      .filter((p) => p.tMs >= onset && !p.reinjection)
      .reduce((n, p) => n + p.length, 0),
    sendTrace,
    events,
    lossCounters: counters,
  };
}

export function backupDsnChart(run: BackupRun): string {
  const by = new Map<string, Array<[number, number]>>();
  for (const p of run.sendTrace) {
    const name = p.reinjection ? `${p.path} (reinjected)` : p.path;
    const pts = by.get(name) ?? [];
    pts.push([p.tMs / 1000, (p.offset + p.length) / 1e6]);
    by.set(name, pts);
  }
  const series: XYSeries[] = [...by].map(([name, points]) => ({ name, points }));
  return scatterChart({
    title: `Data sequence number over time by path (${run.variant})`,
    xLabel: 'time (s)',
    yLabel: 'data sequence (MB)',
    series,
    annotations: [{ x: run.lossAtMs / 1000, label: 'primary loss rises' }],
  });
}

export const smarterBackupRunner: ScenarioRunner = async (ctx) => {
  const { spec, params } = ctx;
  const why = hostPathsUnavailable();
  if (why)
    return skippedResult(`needs packet loss in a network namespace (nftables), which needs root: ${why}`);
  const lossEvent = spec.events.find((e) => e.action === 'loss');
  const o = {
    lossAtMs: paramNumber(params, 'lossAtMs', lossEvent?.atMs ?? 1000),
    lossPct: paramNumber(params, 'lossPct', lossEvent?.value ?? 30),
    durationMs: paramNumber(params, 'durationMs', 5000),
    thresholdMs: paramNumber(params, 'thresholdMs', 1000),
  };
  if (ctx.mode === 'kernel') return kernelResult(spec.paths, o, ctx.progress);
  const lab = await HostPaths.build(spec.paths.slice(0, 2));
  const runs: BackupRun[] = [];
  try {
    const variants: BackupVariant[] = ['default', 'backup-on-rto'];
    for (const [i, v] of variants.entries()) {
      runs.push(await runBackupVariant(lab, v, o, (f) => ctx.progress((i + f) / variants.length, `${v}`)));
    }
  } finally {
    await lab.destroy();
  }
  const [def, ctl] = runs as [BackupRun, BackupRun];
  const [primary, backup] = [spec.paths[0]!.name, spec.paths[1]!.name];
  const afterMs = (r: BackupRun) => r.durationMs - r.lossAtMs;
  const switchMs = (r: BackupRun) =>
    r.firstBackupSendMs === undefined ? undefined : r.firstBackupSendMs - r.lossAtMs;
  const switchText = (r: BackupRun) =>
    r.firstBackupSendMs === undefined
      ? `not within the run (${seconds(afterMs(r))} after the onset)`
      : seconds(switchMs(r));
  const checks: Check[] = [
    {
      name: 'with backup-on-rto the transfer moves to the backup path after the loss rises',
      ok: ctl.firstBackupSendMs !== undefined && ctl.bytesReceivedAfterLoss > 0,
      detail: `first byte on ${backup} ${seconds(switchMs(ctl))} after the onset; ${ctl.bytesReceivedAfterLoss} B received after it`,
    },
    {
      name: 'with backup-on-rto every byte written arrives',
      ok: ctl.bytesReceived === ctl.bytesWritten,
      detail: `${ctl.bytesReceived}/${ctl.bytesWritten} B`,
    },
  ];
  return {
    numbers: [
      {
        label: 'time from loss onset to the backup path (default)',
        ours: switchText(def),
        paper: '≈ 12 min (subflow killed after 15 RTO doublings)',
      },
      {
        label: 'time from loss onset to the backup path (backup-on-rto)',
        ours: switchText(ctl),
        paper: 'when the RTO passes 1 s',
      },
      {
        label: 'goodput before the onset (default / controller)',
        ours: `${mbps(def.bytesReceivedBeforeLoss, def.lossAtMs)} / ${mbps(ctl.bytesReceivedBeforeLoss, ctl.lossAtMs)}`,
      },
      {
        label: 'goodput after the onset (default / controller)',
        ours: `${mbps(def.bytesReceivedAfterLoss, afterMs(def))} / ${mbps(ctl.bytesReceivedAfterLoss, afterMs(ctl))}`,
      },
      {
        label: `bytes first sent on ${primary} after the onset (default / controller)`,
        ours: `${def.primaryBytesAfterLoss} / ${ctl.primaryBytesAfterLoss}`,
      },
      {
        label: `packets dropped on ${primary} (default / controller)`,
        ours: `${def.lossCounters.dropped}/${def.lossCounters.seen} / ${ctl.lossCounters.dropped}/${ctl.lossCounters.seen}`,
      },
    ],
    figures: runs.map((r) => ({
      file: `dsn-${r.variant}.svg`,
      title: `DSN over time by path, ${r.variant}`,
      svg: backupDsnChart(r),
      data: r.sendTrace.map((p) => [Math.round(p.tMs * 10) / 10, p.offset + p.length, p.path, p.reinjection]),
    })),
    checks,
    notes: [
      `Packet level: a server network namespace and one veth per path; ${o.lossPct}% loss by nftables on the primary's server end (data direction only) from ${o.lossAtMs} ms; rates by tbf.`,
      lab.delayNote ?? 'Delay: NFQUEUE on the server end, a whole RTT on the data direction.',
      `The sender's subflows run ${KERNEL_BACKUP_CONGESTION_CONTROL} (TCP_CONGESTION; loss-based, as the paper's 2016 kernel; this host's default is ${congestionControl()}). The controller reads each subflow's TCP RTO from tcp_info.`,
      "Userspace MPTCP runs its subflows over kernel TCP, so TCP retransmits under the loss; the controller sees as rto the larger of the userspace estimate (srtt + 4·rttvar of frame round trips) and the subflow socket's TCP rto (tcp_info, with its backoff). The userspace MPTCP also declares a subflow failed on its own after max(200 ms, 3 × path RTT) of silence with data outstanding, and often does so first: its default does not linger for 12 minutes like the 2016 kernel.",
      `The "default" variant joins the backup at start (make-before-break); the controller variant opens it only on the switch (break-before-make), as in the paper. Run length ${o.durationMs} ms (the paper's figure spans about 10 s).`,
    ],
    data: runs.map(({ sendTrace: _t, ...rest }) => rest),
  };
};

async function kernelResult(
  paths: ScenarioPath[],
  o: { lossAtMs: number; lossPct: number; durationMs: number; thresholdMs: number },
  progress: (f: number, label: string) => void,
): ReturnType<ScenarioRunner> {
  const variants: KernelBackupVariant[] = ['default', 'backup-on-rto'];
  const runs: KernelBackupRun[] = [];
  for (const [i, v] of variants.entries()) {
    const r = await runKernelBackup(
      paths,
      o,
      (f) => progress((i + f) / variants.length, `kernel MPTCP, ${v}`),
      v,
    );
    if ('unavailable' in r) return skippedResult(`kernel MPTCP is not usable here: ${r.unavailable}`);
    runs.push(r);
  }
  const [def, ctl] = runs as [KernelBackupRun, KernelBackupRun];
  const [primary, backup] = [paths[0]!.name, paths[1]!.name];
  const afterMs = (r: KernelBackupRun) => r.durationMs - r.lossAtMs;
  const switchText = (r: KernelBackupRun) =>
    r.backupActiveMs === undefined
      ? `not within the run (${seconds(afterMs(r))})`
      : seconds(r.backupActiveMs - r.lossAtMs);
  const both = (f: (r: KernelBackupRun) => string | number) => `${f(def)} / ${f(ctl)}`;
  const removedPrimary = ctl.controllerSwitchMs !== undefined;
  // The backup is judged only when the switch left it time to carry data before sampling stopped.
  const judged = removedPrimary && ctl.controllerSwitchMs! <= ctl.durationMs - JUDGE_AFTER_SWITCH_MS;
  return {
    numbers: [
      {
        label: `time from loss onset until ${backup} carries data (kernel default)`,
        ours: switchText(def),
        paper: '≈ 12 min (subflow killed after 15 RTO doublings)',
      },
      {
        label: `time from loss onset until ${backup} carries data (kernel + backup-on-rto)`,
        ours: switchText(ctl),
        paper: 'when the RTO passes 1 s',
      },
      {
        label: `bytes acknowledged after the onset on ${primary} (default / controller)`,
        ours: both((r) => r.primaryAckedAfterLoss),
      },
      {
        label: `bytes acknowledged after the onset on ${backup} (default / controller)`,
        ours: both((r) => r.backupAckedAfterLoss),
      },
      {
        label: 'goodput after the onset (default / controller)',
        ours: both((r) => mbps(r.primaryAckedAfterLoss + r.backupAckedAfterLoss, afterMs(r))),
      },
      {
        label: `largest rto seen on ${primary} (default / controller)`,
        ours: both((r) => seconds(r.maxPrimaryRtoMs)),
      },
      {
        label: `from loss onset until ${primary}'s rto passes ${seconds(o.thresholdMs)} (default / controller)`,
        ours: both((r) =>
          r.primaryRtoOverThresholdMs === undefined
            ? 'not seen'
            : seconds(r.primaryRtoOverThresholdMs - r.lossAtMs),
        ),
      },
      {
        label: `from loss onset until the controller removes ${primary}`,
        ours:
          ctl.controllerSwitchMs === undefined
            ? 'not within the run'
            : seconds(ctl.controllerSwitchMs - ctl.lossAtMs),
        paper: 'when the RTO passes 1 s',
      },
      {
        label: `packets dropped on ${primary} (default / controller)`,
        ours: both((r) => `${r.lossCounters.dropped}/${r.lossCounters.seen}`),
      },
    ],
    figures: runs.map((r) => ({
      file: `acked-kernel-${r.variant}.svg`,
      title: `Kernel MPTCP (${r.variant}): bytes acknowledged per subflow over time`,
      svg: kernelAckedChart(r),
      data: r.samples.map((s) => [Math.round(s.tMs), s.path, s.bytesAcked, s.rtoMs]),
    })),
    checks: [
      {
        name: 'kernel default: the transfer survives the loss',
        ok: def.primaryAckedAfterLoss + def.backupAckedAfterLoss > 0,
        detail: `${def.primaryAckedAfterLoss + def.backupAckedAfterLoss} B acknowledged after the onset`,
      },
      {
        name: 'kernel + backup-on-rto: the transfer survives the loss',
        ok: ctl.primaryAckedAfterLoss + ctl.backupAckedAfterLoss > 0,
        detail: `${ctl.primaryAckedAfterLoss + ctl.backupAckedAfterLoss} B acknowledged after the onset`,
      },
      {
        name: `kernel + backup-on-rto: once the controller closes ${primary}, ${backup} carries the transfer`,
        ok: !judged || ctl.backupAckedAfterLoss > 0,
        detail: !removedPrimary
          ? `${primary}'s rto did not pass ${seconds(o.thresholdMs)} in time for a switch in this run (largest ${seconds(ctl.maxPrimaryRtoMs)}): nothing to check`
          : `${primary} removed ${seconds(ctl.controllerSwitchMs! - ctl.lossAtMs)} after the onset; ${ctl.backupAckedAfterLoss} B acknowledged on ${backup}${judged ? '' : ` (less than ${seconds(JUDGE_AFTER_SWITCH_MS)} of the run left: not judged)`}`,
      },
    ],
    notes: [
      `Kernel MPTCP between a client and a server namespace, both with ${KERNEL_BACKUP_CONGESTION_CONTROL} congestion control (loss-based, as the paper's 2016 kernel; with this host's ${congestionControl()} 30% loss hardly ever backs the rto off past 1 s); ${o.lossPct}% loss by nftables on the ${primary} path's server end (the data direction) from ${Math.round(def.lossAtMs)} ms; tbf rate on both ends.`,
      def.delayNote,
      `"default": the in-kernel path manager, the ${backup} path a "subflow backup" endpoint joined at start (make-before-break). Linux 5.19+ kernels mark a subflow "stale" after repeated RTOs (net.mptcp.stale_loss_cnt) and then send on the backup, long before the 2016 kernel's 12 minutes.`,
      `"backup-on-rto": net.mptcp.path_manager=userspace in the client namespace and the backup-on-rto controller (threshold ${o.thresholdMs} ms) run by KernelPmDriver: only the primary at start; the driver reads each subflow's rto from sock_diag every ${POLL_MS} ms (plus ticks every 100 ms) and the controller opens ${backup} and removes ${primary} (break-before-make), as in the paper.`,
      'Per-subflow data is polled every 50 ms from MPTCP_FULL_INFO (bytes acknowledged), not traced per segment. Controller events per run are in result.json.',
      ...def.warnings,
    ],
    data: runs.map((r) => ({ ...r, samples: undefined })),
  };
}
