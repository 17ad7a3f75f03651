/**
 * `mptcp demo`: the project's main job. Runs the seed-000 failover experiment with the userspace
 * MPTCP over two emulated loopback paths (no root, no setup), prints each message with its path and
 * delivery time and a summary, writes SVG charts, and exits non-zero if any byte was lost or duplicated.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dsnChart, pathUsageChart } from '../../demo/charts.js';
import { DEFAULT_DEMO_OPTIONS, type DemoOptions, type DemoResult, runDemo } from '../../demo/run-demo.js';
import { numberOption, parseCommandArgs, stringOption } from '../args.js';
import { UsageError } from '../usage-error.js';

export const summary = 'failover demo: two emulated paths, the primary cut mid-stream, nothing lost';
export const usage = `usage: mptcp demo [options]
  --messages N        messages to send (default 20)
  --bytes N           total bytes for a bulk run (split into the messages, sent back to back)
  --message-bytes N   bytes per message (default 1024; ignored with --bytes)
  --interval MS       pause between messages (default 100; 0 with --bytes)
  --cut-at N          cut the primary path after message N (default 10; 0: never)
  --ports A,B         server ports (default 8000,8001; ephemeral ports if busy)
  --delay A,B         one-way delay of each path in ms (default 10,25)
  --rate A,B          rate of each path in Mbit/s (default 20,10)
  --scheduler NAME    minrtt (default), roundrobin, redundant, blest, ecf
  --out DIR           where to write the SVG charts (default ./mptcp-demo)
  --json              print the result as JSON instead of text`;

function pair(
  raw: string | undefined,
  name: string,
  fallback: [number, number],
  min: number,
  max: number,
): [number, number] {
  if (raw === undefined) return fallback;
  const parts = raw.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n) || n < min || n > max)) {
    throw new UsageError(`--${name} takes two numbers between ${min} and ${max}, like ${fallback.join(',')}`);
  }
  return parts as [number, number];
}

export function parseDemoArgs(argv: string[]): { options: DemoOptions; out: string; json: boolean } {
  const { values } = parseCommandArgs(
    argv,
    {
      messages: { type: 'string' },
      bytes: { type: 'string' },
      'message-bytes': { type: 'string' },
      interval: { type: 'string' },
      'cut-at': { type: 'string' },
      ports: { type: 'string' },
      delay: { type: 'string' },
      rate: { type: 'string' },
      scheduler: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
    0,
  );
  const d = DEFAULT_DEMO_OPTIONS;
  const messages = numberOption(values, 'messages', d.messages, 1, 1_000_000);
  if (!Number.isInteger(messages)) throw new UsageError('--messages must be a whole number');
  const bulkBytes = values.bytes === undefined ? undefined : numberOption(values, 'bytes', 0, 1, 2 ** 40);
  const messageBytes =
    bulkBytes !== undefined
      ? Math.max(1, Math.ceil(bulkBytes / messages))
      : numberOption(values, 'message-bytes', d.messageBytes, 1, 64 * 1024 * 1024);
  const cutAt = numberOption(values, 'cut-at', Math.min(d.cutAt, Math.floor(messages / 2)), 0, messages);
  if (!Number.isInteger(cutAt)) throw new UsageError('--cut-at must be a whole number');
  const [pa, pb] = pair(stringOption(values, 'ports'), 'ports', d.ports, 0, 65535);
  const [da, db] = pair(
    stringOption(values, 'delay'),
    'delay',
    [d.paths[0].delayMs, d.paths[1].delayMs],
    0,
    10_000,
  );
  const [ra, rb] = pair(
    stringOption(values, 'rate'),
    'rate',
    [d.paths[0].rateMbps, d.paths[1].rateMbps],
    0.01,
    100_000,
  );
  const scheduler = stringOption(values, 'scheduler');
  const options: DemoOptions = {
    ports: [pa, pb],
    messages,
    messageBytes,
    intervalMs: numberOption(values, 'interval', bulkBytes !== undefined ? 0 : d.intervalMs, 0, 60_000),
    cutAt,
    paths: [
      { name: 'primary', delayMs: da, rateMbps: ra },
      { name: 'secondary', delayMs: db, rateMbps: rb },
    ],
    ...(scheduler ? { scheduler } : {}),
  };
  return { options, out: stringOption(values, 'out') ?? 'mptcp-demo', json: values.json === true };
}

export function jsonSummary(r: DemoResult) {
  return {
    sent: r.sent,
    delivered: r.delivered,
    lost: r.lost,
    duplicated: r.duplicated,
    sha256Match: r.sha256Match,
    perPath: r.perPath,
    cutAtMessage: r.cutAtMessage,
    recoveryMs: r.recoveryMs === undefined ? null : Math.round(r.recoveryMs * 10) / 10,
    reinjectedBytes: r.reinjectedBytes,
    bytesSent: r.bytesSent,
    bytesReceived: r.bytesReceived,
    duplicateBytesDropped: r.duplicateBytesDropped,
    ports: r.ports,
    elapsedMs: Math.round(r.elapsedMs),
    messages: r.messages.map((m) => ({
      index: m.index,
      path: m.path,
      latencyMs: Math.round(m.latencyMs * 10) / 10,
    })),
    subflowEvents: r.subflowEvents.map((e) => ({ ...e, tMs: Math.round(e.tMs) })),
  };
}

export async function run(argv: string[]): Promise<number> {
  const { options, out, json } = parseDemoArgs(argv);
  if (options.scheduler) {
    const { resolveScheduler } = await import('../../node/scheduler-option.js');
    try {
      resolveScheduler(options.scheduler);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const p = options.paths;
  if (!json) {
    console.log(
      `mptcp demo: ${options.messages} messages of ${options.messageBytes} B over two emulated paths ` +
        `(${p[0].name}: ${p[0].delayMs} ms, ${p[0].rateMbps} Mbit/s; ${p[1].name}: ${p[1].delayMs} ms, ${p[1].rateMbps} Mbit/s)` +
        (options.cutAt > 0 ? `; the ${p[0].name} path is cut after message ${options.cutAt}` : ''),
    );
    if (options.messages <= 200) {
      options.onMessage = (m) =>
        console.log(
          `  message ${String(m.index).padStart(3)}  via ${m.path.padEnd(9)}  delivered at ${(m.deliveredAtMs / 1000).toFixed(3)} s  (${m.latencyMs.toFixed(1)} ms after sending)`,
        );
    }
  }
  const r = await runDemo(options);
  const dir = resolve(out);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'path-usage.svg'), pathUsageChart(r));
  writeFileSync(join(dir, 'dsn.svg'), dsnChart(r));
  writeFileSync(join(dir, 'result.json'), `${JSON.stringify(jsonSummary(r), null, 2)}\n`);
  const ok = r.lost === 0 && r.duplicated === 0 && r.sha256Match && r.delivered === r.sent;
  if (json) {
    console.log(JSON.stringify(jsonSummary(r)));
  } else {
    for (const e of r.subflowEvents)
      console.log(
        `  [${(e.tMs / 1000).toFixed(3)} s] ${e.path}: ${e.event}${e.detail ? ` (${e.detail})` : ''}`,
      );
    console.log('');
    console.log(
      `sent ${r.bytesSent} B in ${r.sent} messages; received ${r.bytesReceived} B in ${r.delivered} messages`,
    );
    console.log(
      `lost ${r.lost} B, duplicated ${r.duplicated} B; SHA-256 ${r.sha256Match ? 'equal' : 'DIFFERENT'}`,
    );
    console.log(
      `messages per path: ${Object.entries(r.perPath)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    if (r.recoveryMs !== undefined)
      console.log(`from the cut to the next delivery: ${r.recoveryMs.toFixed(1)} ms`);
    console.log(
      `bytes reinjected after the failure: ${r.reinjectedBytes} (duplicates dropped by the receiver: ${r.duplicateBytesDropped} B)`,
    );
    console.log(`charts: ${join(dir, 'path-usage.svg')}, ${join(dir, 'dsn.svg')}`);
    console.log(ok ? 'OK: every byte arrived once, in order' : 'FAILED: bytes were lost or duplicated');
  }
  return ok ? 0 : 1;
}
