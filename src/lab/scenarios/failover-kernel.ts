/**
 * Kernel mode of `failover` (seed 000, Fig. 1; Linux, root, kernel MPTCP): N messages over a
 * kernel MPTCP connection between two namespaces (./shared-kernel.ts), the second path a `subflow`
 * endpoint (variant 'subflow') or a `subflow backup` endpoint (variant 'backup'); right after
 * message `cutAt` is written, the primary is blackholed (nftables drop on both ends' ingress:
 * silent, both directions; the kernel is not told).
 *
 * Messages are `messageBytes` long: a 4-byte big-endian index (1-based) then the index's low byte
 * repeated; the receiver checks each one's index and filling, so "delivered in order" is checked
 * per message, and a SHA-256 over the stream compares what was written with what was read.
 * Which path carried a message: the server's subflows are read (MPTCP_FULL_INFO, tcpi_bytes_received)
 * whenever a read completes messages; the path whose received bytes grew most since the last such
 * read is the message's path. The client's subflows (bytes acknowledged) are polled every
 * KERNEL_POLL_MS for the usage-over-time figure.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { lineChart, scatterChart } from '../svg.js';
import { KERNEL_POLL_MS, KernelLab, type KernelSample } from './shared-kernel.js';
import type { ScenarioPath } from './spec.js';
import { sleep, waitFor } from './traffic.js';
import { type Check, type ResultNumber, seconds } from './types.js';

export type KernelFailoverVariant = 'subflow' | 'backup';
/** Bytes of the index at the start of every message. */
export const MESSAGE_HEADER_BYTES = 4;
/** How long to wait for both subflows before the first message. */
export const JOIN_WAIT_MS = 3000;
/** How long to wait after the last write for every message. */
export const KERNEL_DRAIN_MS = 15_000;

export interface KernelFailoverOptions {
  messages: number;
  messageBytes: number;
  intervalMs: number;
  /** Blackhole the primary right after writing this message (1-based; 0: never). */
  cutAt: number;
}

export interface KernelMessage {
  index: number;
  path: string;
  sentAtMs: number;
  deliveredAtMs: number;
  latencyMs: number;
}

export interface KernelFailoverRun {
  variant: KernelFailoverVariant;
  sent: number;
  delivered: number;
  /** Every message arrived whole, once, with the expected index, in order. */
  inOrder: boolean;
  sha256Match: boolean;
  bytesWritten: number;
  bytesReceived: number;
  lostBytes: number;
  subflowsAtStart: number;
  cutAtMs: number | undefined;
  /** From the cut to the first delivery of a message written after it. */
  recoveryMs: number | undefined;
  messages: KernelMessage[];
  perPath: Record<string, number>;
  /** Client side, every KERNEL_POLL_MS. */
  samples: KernelSample[];
  delayNote: string;
}

export function messagePayload(index: number, bytes: number): Buffer {
  const b = Buffer.alloc(Math.max(bytes, MESSAGE_HEADER_BYTES), index & 0xff);
  b.writeUInt32BE(index >>> 0, 0);
  return b;
}

export async function runKernelFailover(
  paths: ScenarioPath[],
  variant: KernelFailoverVariant,
  o: KernelFailoverOptions,
  onProgress: (f: number) => void,
): Promise<KernelFailoverRun | { unavailable: string }> {
  const [primary, second] = paths;
  if (!primary || !second) return { unavailable: 'needs two paths' };
  const opened = await KernelLab.open({
    name: 'failover',
    prefix: 'mptcp-scfk',
    paths: [primary, second],
    endpoints: [{ path: 1, flags: variant === 'backup' ? ['subflow', 'backup'] : ['subflow'] }],
  });
  if (!(opened instanceof KernelLab)) return opened;
  const lab = opened;
  const size = Math.max(o.messageBytes, MESSAGE_HEADER_BYTES);
  let poll: NodeJS.Timeout | undefined;
  try {
    const t0 = performance.now();
    const rel = () => performance.now() - t0;
    const client = await lab.connect();
    const server = await lab.accepted;
    const sentAt: number[] = [];
    const messages: KernelMessage[] = [];
    const rxDigest = createHash('sha256');
    const txDigest = createHash('sha256');
    let inOrder = true;
    let received = 0;
    let pending: Buffer = Buffer.alloc(0);
    let lastRx = new Map<string, number>();
    server.on('data', (chunk: Buffer) => {
      received += chunk.length;
      rxDigest.update(chunk);
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const done: number[] = [];
      while (pending.length >= size) {
        const m = pending.subarray(0, size);
        pending = pending.subarray(size);
        const index = m.readUInt32BE(0);
        const expected = messages.length + done.length + 1;
        if (index !== expected || !m.subarray(MESSAGE_HEADER_BYTES).every((x) => x === (index & 0xff)))
          inOrder = false;
        done.push(index);
      }
      if (done.length === 0) return;
      const now = rel();
      const rx = new Map<string, number>();
      for (const s of lab.sample(server, now)) rx.set(s.path, (rx.get(s.path) ?? 0) + s.bytesReceived);
      let path = messages.at(-1)?.path ?? primary.name;
      let best = 0;
      for (const [name, n] of rx) {
        const grew = n - (lastRx.get(name) ?? 0);
        if (grew > best) [best, path] = [grew, name];
      }
      lastRx = rx;
      for (const index of done) {
        const sent = sentAt[index - 1] ?? now;
        messages.push({ index, path, sentAtMs: sent, deliveredAtMs: now, latencyMs: now - sent });
      }
      onProgress(messages.length / o.messages);
    });
    const samples: KernelSample[] = [];
    poll = setInterval(() => samples.push(...lab.sample(client, rel())), KERNEL_POLL_MS);
    await waitFor(() => lab.subflowCount(client) >= 2, JOIN_WAIT_MS);
    const subflowsAtStart = lab.subflowCount(client);
    let cutAtMs: number | undefined;
    let written = 0;
    for (let i = 1; i <= o.messages; i++) {
      const payload = messagePayload(i, size);
      txDigest.update(payload);
      sentAt[i - 1] = rel();
      written += payload.length;
      if (!client.write(payload)) await Promise.race([once(client, 'drain'), sleep(KERNEL_DRAIN_MS)]);
      if (i === o.cutAt) {
        await lab.blackhole(0);
        cutAtMs = rel();
      }
      if (o.intervalMs > 0 && i < o.messages) await sleep(o.intervalMs);
    }
    await waitFor(() => received >= written, KERNEL_DRAIN_MS);
    await sleep(2 * KERNEL_POLL_MS);
    clearInterval(poll);
    const perPath: Record<string, number> = { [primary.name]: 0, [second.name]: 0 };
    for (const m of messages) perPath[m.path] = (perPath[m.path] ?? 0) + 1;
    const firstAfter =
      cutAtMs === undefined
        ? undefined
        : messages.find((m) => m.index > o.cutAt && m.deliveredAtMs > cutAtMs!);
    return {
      variant,
      sent: o.messages,
      delivered: messages.length,
      inOrder: inOrder && messages.every((m, i) => m.index === i + 1),
      sha256Match: received === written && rxDigest.digest('hex') === txDigest.digest('hex'),
      bytesWritten: written,
      bytesReceived: received,
      lostBytes: Math.max(0, written - received),
      subflowsAtStart,
      cutAtMs,
      recoveryMs: firstAfter && cutAtMs !== undefined ? firstAfter.deliveredAtMs - cutAtMs : undefined,
      messages,
      perPath,
      samples,
      delayNote: lab.delayText,
    };
  } finally {
    if (poll) clearInterval(poll);
    await lab.close();
  }
}

export function kernelPathUsageChart(r: KernelFailoverRun): string {
  const by = new Map<string, Array<[number, number]>>();
  for (const m of r.messages) {
    const pts = by.get(m.path) ?? [];
    pts.push([m.deliveredAtMs / 1000, m.index]);
    by.set(m.path, pts);
  }
  return scatterChart({
    title: `Kernel MPTCP, ${r.variant} endpoint: each message by its path`,
    xLabel: 'time (s)',
    yLabel: 'message',
    series: [...by].map(([name, points]) => ({ name, points })),
    yMin: 0,
    annotations: r.cutAtMs === undefined ? [] : [{ x: r.cutAtMs / 1000, label: 'primary blackholed' }],
  });
}

export function kernelFailoverAckedChart(r: KernelFailoverRun): string {
  const by = new Map<string, Array<[number, number]>>();
  for (const s of r.samples) {
    const pts = by.get(s.path) ?? [];
    pts.push([s.tMs / 1000, s.bytesAcked / 1024]);
    by.set(s.path, pts);
  }
  return lineChart({
    title: `Kernel MPTCP, ${r.variant} endpoint: bytes acked per subflow`,
    xLabel: 'time (s)',
    yLabel: 'acknowledged (KB)',
    series: [...by].map(([name, points]) => ({ name, points })),
    annotations: r.cutAtMs === undefined ? [] : [{ x: r.cutAtMs / 1000, label: 'primary blackholed' }],
  });
}

/** Checks of one kernel run: all delivered in order, nothing lost, after the cut only the second path. */
export function kernelFailoverChecks(r: KernelFailoverRun, cutAt: number, second: string): Check[] {
  const after = r.messages.filter((m) => m.index > cutAt);
  const onSecond = after.filter((m) => m.path === second).length;
  return [
    {
      name: `kernel (${r.variant} endpoint): all messages delivered, once, in order, nothing lost`,
      ok: r.delivered === r.sent && r.inOrder && r.sha256Match && r.lostBytes === 0,
      detail: `${r.delivered}/${r.sent} messages, ${r.inOrder ? 'in order' : 'NOT in order'}, ${r.lostBytes} B lost, SHA-256 ${r.sha256Match ? 'equal' : 'different'}`,
    },
    {
      name: `kernel (${r.variant} endpoint): after the cut every message goes over ${second}`,
      ok: cutAt === 0 || (after.length === r.sent - cutAt && onSecond === after.length),
      detail: `${onSecond}/${r.sent - cutAt} messages after message ${cutAt} via ${second}`,
    },
  ];
}

export function kernelFailoverNumbers(r: KernelFailoverRun, first: string, second: string): ResultNumber[] {
  const v = `kernel, ${r.variant} endpoint`;
  const after = r.messages.filter((m) => r.cutAtMs !== undefined && m.deliveredAtMs > r.cutAtMs);
  return [
    { label: `messages delivered (${v})`, ours: `${r.delivered}/${r.sent}`, paper: '20/20' },
    {
      label: `messages via ${first} / ${second} (${v})`,
      ours: `${r.perPath[first] ?? 0} / ${r.perPath[second] ?? 0}`,
      paper: '10 / 10',
    },
    { label: `bytes lost (${v})`, ours: `${r.lostBytes} B`, paper: '0' },
    {
      label: `from the cut to the next delivered message (${v})`,
      ours: seconds(r.recoveryMs),
      paper: '"instantaneous"',
    },
    {
      label: `largest message latency after the cut (${v})`,
      ours: seconds(after.length ? Math.max(...after.map((m) => m.latencyMs)) : undefined),
    },
  ];
}
