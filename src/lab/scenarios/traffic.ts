/**
 * Shared plumbing of the userspace scenario runners: a traced userspace MPTCP server (in a
 * HostPaths server namespace, or on loopback), a bulk or block sender, and per-path naming of
 * subflows on both sides.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { DataTraceEvent } from '../../core/connection.js';
import {
  createServer,
  type MptcpClientSocket,
  type MptcpServer,
  type MptcpSocket,
} from '../../node/index.js';
import type { HostPaths } from './host-paths.js';

/** How long close() waits for the server's sockets to go before giving up waiting (they are destroyed anyway). */
export const SERVER_CLOSE_WAIT_MS = 300;

export interface TracePoint {
  tMs: number;
  offset: number;
  length: number;
  path: string;
  reinjection: boolean;
}

export interface TracedServer {
  server: MptcpServer;
  port: number;
  /** Resolves with the first accepted connection. */
  accepted: Promise<MptcpSocket>;
  /** Receive trace of the first connection, path named by the server address it arrived on. */
  trace: TracePoint[];
  close(): Promise<void>;
}

/** Starts a userspace MPTCP server on an ephemeral port, in `lab`'s server namespace or on 127.0.0.1. */
export async function startTracedServer(
  t0: number,
  pathOfLocalAddress: (addr: string | undefined) => string,
  lab?: HostPaths,
): Promise<TracedServer> {
  const trace: TracePoint[] = [];
  const names = new Map<number, string>();
  let first: MptcpSocket | undefined;
  const learn = () => {
    for (const s of first?.subflows ?? [])
      if (!names.has(s.id) && s.localAddress)
        names.set(s.id, pathOfLocalAddress(s.localAddress.replace(/^::ffff:/, '')));
  };
  const server = createServer({
    trace: (e: DataTraceEvent) => {
      if (e.type !== 'receive') return;
      if (!names.has(e.subflowId)) learn();
      trace.push({
        tMs: e.nowMs - t0,
        offset: e.offset,
        length: e.length,
        path: names.get(e.subflowId) ?? `subflow-${e.subflowId}`,
        reinjection: e.reinjection,
      });
    },
  });
  const accepted = new Promise<MptcpSocket>((resolve) => {
    server.once('connection', (s: MptcpSocket) => {
      first = s;
      s.on('subflow', learn);
      learn();
      resolve(s);
    });
  });
  if (lab) lab.inServer(() => server.listen([{ port: 0 }]));
  else server.listen([{ port: 0, host: '127.0.0.1' }]);
  await once(server, 'listening');
  const port = server.addresses()[0]!.port;
  return {
    server,
    port,
    accepted,
    trace,
    // server.close waits for every accepted subflow socket; do not let a lingering one hold the run.
    close: () =>
      Promise.race([new Promise<void>((r) => server.close(() => r())), sleep(SERVER_CLOSE_WAIT_MS)]),
  };
}

/** Maps client subflow ids to path names (by remote address, else remote port) as they come up. */
export function clientPathNames(
  client: MptcpClientSocket,
  nameOf: (remoteAddress: string | undefined, remotePort: number | undefined) => string,
): (subflowId: number) => string {
  const names = new Map<number, string>();
  const learn = () => {
    for (const s of client.subflows)
      if (!names.has(s.id) && (s.remoteAddress || s.remotePort))
        names.set(s.id, nameOf(s.remoteAddress?.replace(/^::ffff:/, ''), s.remotePort));
  };
  client.on('subflow', learn);
  return (id) => {
    if (!names.has(id)) learn();
    return names.get(id) ?? `subflow-${id}`;
  };
}

/** Writes `chunkBytes` chunks as fast as the socket takes them until `untilMs` (performance.now()); returns bytes written. */
export async function bulkSend(socket: Duplex, untilMs: number, chunkBytes = 64 * 1024): Promise<number> {
  const chunk = Buffer.alloc(chunkBytes, 0x5a);
  let written = 0;
  while (performance.now() < untilMs && !socket.destroyed) {
    written += chunk.length;
    if (!socket.write(chunk)) {
      await Promise.race([
        once(socket, 'drain'),
        new Promise((r) => setTimeout(r, Math.max(1, untilMs - performance.now()))),
      ]);
    }
  }
  return written;
}

/** Resolves after ms. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `cond()` or `timeoutMs`; returns cond(). */
export async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 5): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!cond() && performance.now() < end) await sleep(stepMs);
  return cond();
}

export class ScenarioTimeoutError extends Error {
  override readonly name = 'ScenarioTimeoutError';
}

/** Rejects with ScenarioTimeoutError when `p` has not settled within `ms` (the timer never outlives it). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ScenarioTimeoutError(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** How long a scenario waits for a connection to be set up. */
export const SETUP_TIMEOUT_MS = 10_000;

export interface BlockStreamOptions {
  blocks: number;
  blockBytes: number;
  periodMs: number;
  deadlineMs: number;
}

/**
 * The §4.3 sender and its measurement: writes `blocks` blocks of `blockBytes` every `periodMs` on
 * `writer` (calling `onBlockSent(i)` after each), and measures at `reader` when each block is fully
 * received. Resolves, once every block arrived or 3 deadlines after the last was sent, with each
 * block's delay (ms; undefined: never complete).
 */
export async function streamBlocks(
  o: BlockStreamOptions,
  writer: { write(chunk: Buffer): unknown },
  reader: { on(event: 'data', listener: (chunk: Buffer) => void): unknown },
  onBlockSent: (index: number) => void,
): Promise<Array<number | undefined>> {
  const sentAt: number[] = [];
  const delays: Array<number | undefined> = new Array(o.blocks).fill(undefined);
  let received = 0;
  let nextBlock = 0;
  reader.on('data', (c: Buffer) => {
    received += c.length;
    const now = performance.now();
    while (
      nextBlock < o.blocks &&
      received >= (nextBlock + 1) * o.blockBytes &&
      sentAt[nextBlock] !== undefined
    ) {
      delays[nextBlock] = now - sentAt[nextBlock]!;
      nextBlock++;
    }
  });
  const start = performance.now();
  for (let i = 0; i < o.blocks; i++) {
    const due = start + i * o.periodMs;
    if (due > performance.now()) await sleep(due - performance.now());
    sentAt[i] = performance.now();
    writer.write(Buffer.alloc(o.blockBytes, i & 0xff));
    onBlockSent(i);
  }
  await waitFor(() => nextBlock >= o.blocks, 3 * o.deadlineMs);
  return delays;
}
