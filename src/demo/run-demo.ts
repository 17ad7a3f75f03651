/**
 * The seed-000 experiment done for real: a server listening on two ports, a client with two subflows
 * through two emulated loopback paths (PathEmulator: delay, rate, and a silent "cut"), N messages,
 * the primary path cut after message `cutAt`. Unlike the seed's try/except emulation, bytes in flight
 * on the dead path are reinjected, every byte arrives once and in order, and both paths can carry data.
 *
 * Returns what happened: per message its path and delivery time, totals, digests, recovery time, and
 * the traces the charts are drawn from. No printing here (see src/cli/commands/demo.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import type { DataTraceEvent } from '../core/connection.js';
import { PathEmulator } from '../lab/relay.js';
import { connect, createServer, type MptcpSocket } from '../node/index.js';

export interface DemoPathOptions {
  name: string;
  delayMs: number;
  rateMbps: number;
}

export interface DemoOptions {
  ports: [number, number];
  messages: number;
  /** Bytes per message. */
  messageBytes: number;
  /** Pause between messages (0: back to back, a bulk run). */
  intervalMs: number;
  /** Cut the primary path after this message (1-based); 0: never. */
  cutAt: number;
  paths: [DemoPathOptions, DemoPathOptions];
  scheduler?: string;
  onMessage?: (m: DeliveredMessage) => void;
}

export interface DeliveredMessage {
  index: number;
  bytes: number;
  /** Name of the path whose subflow delivered most of the message's bytes. */
  path: string;
  sentAtMs: number;
  deliveredAtMs: number;
  latencyMs: number;
}

export interface DemoResult {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  bytesSent: number;
  bytesReceived: number;
  sha256Match: boolean;
  perPath: Record<string, number>;
  cutAtMessage: number;
  cutAtMs: number | undefined;
  recoveryMs: number | undefined;
  reinjectedBytes: number;
  /** Bytes the receiver got twice (a reinjected copy) and dropped before the application saw them. */
  duplicateBytesDropped: number;
  ports: [number, number];
  messages: DeliveredMessage[];
  /** Sender-side data trace: time (ms from start), data offset, path name, reinjection. */
  sendTrace: Array<{ tMs: number; offset: number; length: number; path: string; reinjection: boolean }>;
  subflowEvents: Array<{ tMs: number; event: string; path: string; detail?: string }>;
  elapsedMs: number;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = {
  ports: [8000, 8001],
  messages: 20,
  messageBytes: 1024,
  intervalMs: 100,
  cutAt: 10,
  paths: [
    { name: 'primary', delayMs: 10, rateMbps: 20 },
    { name: 'secondary', delayMs: 25, rateMbps: 10 },
  ],
};

/** Listens on `port`, or on an ephemeral port if it is busy. */
async function portOrEphemeral(port: number): Promise<number> {
  const probe = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((r) => probe.close(() => r()));
  return ok ? port : 0;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const rel = () => performance.now() - t0;
  const message = (i: number) => {
    const m = randomBytes(options.messageBytes);
    if (m.length >= 4) m.writeUInt32BE(i, 0);
    return m;
  };
  const payloads = Array.from({ length: options.messages }, (_, i) => message(i + 1));
  const total = payloads.reduce((n, m) => n + m.length, 0);

  // Which path each server-side subflow is on, by the server port it arrived on.
  const server = createServer({ trace: (e) => serverTrace.push(e) });
  const serverTrace: DataTraceEvent[] = [];
  const listenPorts = [await portOrEphemeral(options.ports[0]), await portOrEphemeral(options.ports[1])];
  server.listen(listenPorts.map((port) => ({ port, host: '127.0.0.1' })));
  await once(server, 'listening');
  const ports = server.addresses().map((a) => a.port) as [number, number];

  const emulators = await Promise.all(
    options.paths.map((p, i) =>
      PathEmulator.start({
        name: p.name,
        targetHost: '127.0.0.1',
        targetPort: ports[i]!,
        delayMs: p.delayMs,
        rateMbps: p.rateMbps,
      }),
    ),
  );
  const serverSubflowPath = (serverSide: MptcpSocket, subflowId: number): string => {
    const port = serverSide.subflowSocket(subflowId)?.localPort;
    const i = ports.indexOf(port ?? -1);
    return i >= 0 ? options.paths[i]!.name : `subflow-${subflowId}`;
  };

  const sendTrace: DemoResult['sendTrace'] = [];
  const subflowEvents: DemoResult['subflowEvents'] = [];
  const clientPathOf = new Map<number, string>();
  const received: Buffer[] = [];
  let receivedBytes = 0;
  const delivered: DeliveredMessage[] = [];
  const sentAt: number[] = [];
  let serverSocket: MptcpSocket | undefined;

  const serverDone = new Promise<void>((resolve, reject) => {
    server.once('connection', (s: MptcpSocket) => {
      serverSocket = s;
      s.on('error', reject);
      // Message boundaries are known (fixed sizes): a message is delivered when its last byte is read.
      let nextMessage = 0;
      let boundary = payloads[0]?.length ?? 0;
      s.on('data', (chunk: Buffer) => {
        received.push(chunk);
        receivedBytes += chunk.length;
        while (nextMessage < payloads.length && receivedBytes >= boundary) {
          const start = boundary - payloads[nextMessage]!.length;
          const at = rel();
          const m: DeliveredMessage = {
            index: nextMessage + 1,
            bytes: payloads[nextMessage]!.length,
            path: pathCarrying(s, start, boundary),
            sentAtMs: sentAt[nextMessage] ?? at,
            deliveredAtMs: at,
            latencyMs: at - (sentAt[nextMessage] ?? at),
          };
          delivered.push(m);
          options.onMessage?.(m);
          nextMessage++;
          boundary += payloads[nextMessage]?.length ?? 0;
        }
      });
      s.on('end', () => {
        s.end();
        resolve();
      });
    });
  });

  /** The path whose subflow received most bytes of [start, end) (first arrival of each byte). */
  const pathCarrying = (s: MptcpSocket, start: number, end: number): string => {
    const bytesBy = new Map<string, number>();
    for (const e of serverTrace) {
      const lo = Math.max(start, e.offset);
      const hi = Math.min(end, e.offset + e.length);
      if (hi <= lo) continue;
      const name = serverSubflowPath(s, e.subflowId);
      bytesBy.set(name, (bytesBy.get(name) ?? 0) + (hi - lo));
    }
    let best = 'unknown';
    let most = -1;
    for (const [name, n] of bytesBy) if (n > most) [best, most] = [name, n];
    return best;
  };

  const client = connect({
    paths: emulators.map((e, i) => ({ host: '127.0.0.1', port: e.port, name: options.paths[i]!.name })),
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    trace: (e) => {
      sendTrace.push({
        tMs: e.nowMs - t0,
        offset: e.offset,
        length: e.length,
        path: clientPathOf.get(e.subflowId) ?? `subflow-${e.subflowId}`,
        reinjection: e.reinjection,
      });
    },
  });
  client.on('subflow', (s: { id: number; path?: string }) => {
    clientPathOf.set(s.id, s.path ?? `subflow-${s.id}`);
    subflowEvents.push({ tMs: rel(), event: 'established', path: s.path ?? `subflow-${s.id}` });
  });
  client.on('subflowClosed', (e: { subflowId: number; reason: string; detail?: string }) => {
    subflowEvents.push({
      tMs: rel(),
      event: `closed (${e.reason})`,
      path: clientPathOf.get(e.subflowId) ?? `subflow-${e.subflowId}`,
      ...(e.detail ? { detail: e.detail } : {}),
    });
  });
  const clientError = new Promise<never>((_, reject) => client.once('error', reject));
  await Promise.race([once(client, 'connect'), clientError]);
  // Both subflows up before the first message, as in the seed (two sockets).
  const deadline = performance.now() + 5000;
  while (
    client.subflows.filter((s) => s.state === 'established').length < 2 &&
    performance.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 5));
  }

  let cutAtMs: number | undefined;
  for (let i = 0; i < payloads.length; i++) {
    sentAt[i] = rel();
    if (!client.write(payloads[i]!)) await Promise.race([once(client, 'drain'), clientError]);
    if (options.cutAt > 0 && i + 1 === options.cutAt) {
      emulators[0]!.cut();
      cutAtMs = rel();
      subflowEvents.push({ tMs: cutAtMs, event: 'path cut', path: options.paths[0]!.name });
    }
    if (options.intervalMs > 0 && i + 1 < payloads.length)
      await new Promise((r) => setTimeout(r, options.intervalMs));
  }
  client.end();
  client.resume();
  await Promise.race([serverDone, clientError]);
  const elapsedMs = rel();
  const reinjectedBytes = client.stats?.reinjectedBytes ?? 0;
  const duplicated = serverSocket?.stats?.duplicateBytesReceived ?? 0;
  await Promise.race([once(client, 'close'), new Promise((r) => setTimeout(r, 2000))]);
  client.destroy();
  await Promise.all(emulators.map((e) => e.close()));
  await new Promise<void>((r) => server.close(() => r()));

  const sentDigest = createHash('sha256');
  for (const p of payloads) sentDigest.update(p);
  const receivedDigest = createHash('sha256');
  for (const c of received) receivedDigest.update(c);
  const perPath: Record<string, number> = {};
  for (const p of options.paths) perPath[p.name] = 0;
  for (const m of delivered) perPath[m.path] = (perPath[m.path] ?? 0) + 1;
  const firstAfterCut =
    cutAtMs === undefined
      ? undefined
      : delivered.find((m) => m.deliveredAtMs > cutAtMs! && m.index > options.cutAt);
  return {
    sent: payloads.length,
    delivered: delivered.length,
    lost: Math.max(0, total - receivedBytes),
    duplicated: Math.max(0, receivedBytes - total),
    bytesSent: total,
    bytesReceived: receivedBytes,
    sha256Match: sentDigest.digest('hex') === receivedDigest.digest('hex'),
    perPath,
    cutAtMessage: options.cutAt,
    cutAtMs,
    recoveryMs: firstAfterCut && cutAtMs !== undefined ? firstAfterCut.deliveredAtMs - cutAtMs : undefined,
    reinjectedBytes,
    ports,
    messages: delivered,
    sendTrace,
    subflowEvents,
    elapsedMs,
    duplicateBytesDropped: duplicated,
  };
}
