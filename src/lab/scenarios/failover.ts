/**
 * Scenario runner `failover` (seed 000, Fig. 1): wraps runDemo (src/demo/run-demo.ts): N messages
 * over two emulated loopback paths, the primary cut after message `cutAt`. Userspace only (relays,
 * no root). Figures: path usage over time and DSN over time by subflow (src/demo/charts.ts).
 * Checks: every message delivered once and in order (SHA-256), nothing lost, and every message
 * written after the cut delivered over the other path.
 */
import { dsnChart, pathUsageChart } from '../../demo/charts.js';
import { type DemoOptions, runDemo } from '../../demo/run-demo.js';
import { paramNumber, ScenarioError } from './spec.js';
import { type Check, type ScenarioRunner, seconds } from './types.js';

export const failoverRunner: ScenarioRunner = async (ctx) => {
  const { spec, params } = ctx;
  const [a, b] = spec.paths;
  if (!a || !b) throw new ScenarioError(`${spec.name}: failover needs two paths`);
  const cut = spec.events.find((e) => e.action === 'cut' && e.path === a.name);
  const messages = paramNumber(params, 'messages', 20);
  const cutAt = paramNumber(params, 'cutAtMessage', cut?.value ?? 10);
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
