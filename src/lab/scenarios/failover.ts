/**
 * Scenario runner `failover` (seed 000, Fig. 1): wraps runDemo (src/demo/run-demo.ts): N messages
 * over two emulated loopback paths, the primary cut after message `cutAt` (relays, no root). Kernel
 * mode (root, kernel MPTCP): ./failover-kernel.ts, once with the second path a `subflow` endpoint
 * and once a `subflow backup` endpoint. Figures: path usage over time and DSN over time by subflow
 * (src/demo/charts.ts); in kernel mode, bytes acknowledged per subflow over time.
 * Checks: every message delivered once and in order (SHA-256), nothing lost, and every message
 * written after the cut delivered over the other path.
 */
import { dsnChart, pathUsageChart } from '../../demo/charts.js';
import { type DemoOptions, runDemo } from '../../demo/run-demo.js';
import {
  type KernelFailoverOptions,
  type KernelFailoverRun,
  type KernelFailoverVariant,
  kernelFailoverAckedChart,
  kernelFailoverChecks,
  kernelFailoverNumbers,
  kernelPathUsageChart,
  runKernelFailover,
} from './failover-kernel.js';
import { paramNumber, type ScenarioPath, ScenarioError } from './spec.js';
import { type Check, type ScenarioRunner, seconds, skippedResult } from './types.js';

export const failoverRunner: ScenarioRunner = async (ctx) => {
  const { spec, params } = ctx;
  const [a, b] = spec.paths;
  if (!a || !b) throw new ScenarioError(`${spec.name}: failover needs two paths`);
  const cut = spec.events.find((e) => e.action === 'cut' && e.path === a.name);
  const messages = paramNumber(params, 'messages', 20);
  const cutAt = paramNumber(params, 'cutAtMessage', cut?.value ?? 10);
  if (ctx.mode === 'kernel')
    return kernelFailover(
      [a, b],
      {
        messages,
        messageBytes: paramNumber(params, 'messageBytes', 1024),
        intervalMs: paramNumber(params, 'intervalMs', 100),
        cutAt,
      },
      ctx.progress,
    );
  const options: DemoOptions = {
    ports: [0, 0],
    messages,
    messageBytes: paramNumber(params, 'messageBytes', 1024),
    intervalMs: paramNumber(params, 'intervalMs', 100),
    cutAt,
    paths: [
      { name: a.name, delayMs: a.delayMs ?? 10, rateMbps: a.rateMbps ?? 20 },
      { name: b.name, delayMs: b.delayMs ?? 25, rateMbps: b.rateMbps ?? 10 },
    ],
    onMessage: (m) => ctx.progress(m.index / messages, `message ${m.index}/${messages} via ${m.path}`),
  };
  const r = await runDemo(options);
  const after = r.messages.filter((m) => m.index > cutAt);
  const afterOnBackup = after.filter((m) => m.path === b.name).length;
  const inOrder = r.messages.every((m, i) => m.index === i + 1);
  const checks: Check[] = [
    {
      name: 'all messages delivered, once, in order',
      ok: r.delivered === r.sent && r.lost === 0 && r.duplicated === 0 && r.sha256Match && inOrder,
      detail: `${r.delivered}/${r.sent} messages, ${r.lost} B lost, ${r.duplicated} B duplicated, SHA-256 ${r.sha256Match ? 'equal' : 'different'}`,
    },
    {
      name: `after the cut every message goes over ${b.name}`,
      ok: cutAt === 0 || (after.length === messages - cutAt && afterOnBackup === after.length),
      detail: `${afterOnBackup}/${messages - cutAt} messages after message ${cutAt} via ${b.name}`,
    },
  ];
  return {
    numbers: [
      { label: 'messages delivered', ours: `${r.delivered}/${r.sent}`, paper: '20/20' },
      {
        label: `messages via ${a.name} / ${b.name}`,
        ours: `${r.perPath[a.name] ?? 0} / ${r.perPath[b.name] ?? 0}`,
        paper: '10 / 10',
      },
      {
        label: 'bytes lost',
        ours: `${r.lost} B`,
        paper: '0 (in-flight bytes on the cut path are lost in the emulation)',
      },
      { label: 'from the cut to the next delivery', ours: seconds(r.recoveryMs), paper: '"instantaneous"' },
      { label: 'bytes reinjected after the cut', ours: `${r.reinjectedBytes} B` },
    ],
    figures: [
      { file: 'path-usage.svg', title: 'Path usage over time', svg: pathUsageChart(r), data: r.messages },
      {
        file: 'dsn.svg',
        title: 'Data sequence number over time, by subflow',
        svg: dsnChart(r),
        data: r.sendTrace,
      },
    ],
    checks,
    notes: [
      'Userspace MPTCP over two loopback relays (PathEmulator); the cut is a silent blackhole, not an exception raised by the sender as in the seed.',
      "Bytes in flight on the cut path are reinjected on the other subflow (data sequence numbers), which the seed's emulation cannot do.",
    ],
    data: {
      sent: r.sent,
      delivered: r.delivered,
      lost: r.lost,
      duplicated: r.duplicated,
      perPath: r.perPath,
      recoveryMs: r.recoveryMs,
      reinjectedBytes: r.reinjectedBytes,
      subflowEvents: r.subflowEvents,
    },
  };
};

async function kernelFailover(
  paths: [ScenarioPath, ScenarioPath],
  o: KernelFailoverOptions,
  progress: (f: number, label: string) => void,
): ReturnType<ScenarioRunner> {
  const [a, b] = paths;
  const variants: KernelFailoverVariant[] = ['subflow', 'backup'];
  const runs: KernelFailoverRun[] = [];
  for (const [i, v] of variants.entries()) {
    const r = await runKernelFailover(paths, v, o, (f) =>
      progress((i + f) / variants.length, `kernel MPTCP, ${v} endpoint`),
    );
    if ('unavailable' in r) return skippedResult(`kernel MPTCP is not usable here: ${r.unavailable}`);
    runs.push(r);
  }
  return {
    numbers: runs.flatMap((r) => kernelFailoverNumbers(r, a.name, b.name)),
    figures: runs.flatMap((r) => [
      {
        file: `path-usage-kernel-${r.variant}.svg`,
        title: `Path usage over time (kernel MPTCP, ${r.variant} endpoint)`,
        svg: kernelPathUsageChart(r),
        data: r.messages,
      },
      {
        file: `acked-kernel-${r.variant}.svg`,
        title: `Bytes acknowledged per subflow over time (kernel MPTCP, ${r.variant} endpoint)`,
        svg: kernelFailoverAckedChart(r),
        data: r.samples.map((s) => [Math.round(s.tMs), s.path, s.bytesAcked]),
      },
    ]),
    checks: runs.flatMap((r) => kernelFailoverChecks(r, o.cutAt, b.name)),
    notes: [
      `Kernel MPTCP between a client and a server namespace, one veth pair per path (tbf ${a.rateMbps ?? '—'} / ${b.rateMbps ?? '—'} Mbit/s). The ${b.name} path is a "subflow" endpoint in one run and a "subflow backup" endpoint in the other; both subflows are up before the first message.`,
      runs[0]!.delayNote,
      `Right after message ${o.cutAt} is written, the ${a.name} path is blackholed: nftables drops everything both ends receive on it (silent, both directions; no link goes down, no reset). The kernel finds out only through retransmission timeouts.`,
      "A message's path is the server subflow whose received bytes grew most while it arrived (MPTCP_FULL_INFO, tcpi_bytes_received); bytes acknowledged per subflow are polled on the client every 50 ms.",
      ...runs.map(
        (r) =>
          `${r.variant} endpoint: ${r.subflowsAtStart} subflows before the first message; ${r.bytesReceived}/${r.bytesWritten} B received.`,
      ),
    ],
    data: runs.map(({ samples: _s, ...rest }) => rest),
  };
}
