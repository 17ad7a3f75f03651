/**
 * How `mptcp status` sees running endpoints: each `mptcp serve` / `mptcp connect` process answers on
 * a Unix socket `<tmpdir>/mptcp-status/<pid>.sock` with one JSON snapshot of its connections and
 * subflows, then closes. `readStatuses()` asks every live one (stale sockets are removed).
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MptcpSocket, SubflowSnapshot } from './mptcp-socket.js';

export const STATUS_DIR = join(tmpdir(), 'mptcp-status');
const STATUS_TIMEOUT_MS = 1000;

export interface ConnectionStatusRow {
  role: 'client' | 'server';
  multipath: boolean | undefined;
  localToken?: string;
  remoteToken?: string;
  remote?: string;
  subflows: SubflowSnapshot[];
  stats?: unknown;
}

export interface EndpointStatus {
  pid: number;
  command: string;
  scheduler?: string;
  controller?: string;
  connections: ConnectionStatusRow[];
}

const hex = (n: number | undefined) => (n === undefined ? undefined : n.toString(16).padStart(8, '0'));

export function connectionRow(role: 'client' | 'server', s: MptcpSocket): ConnectionStatusRow {
  const tokens = s.tokens;
  return {
    role,
    multipath: s.multipath,
    ...(tokens
      ? {
          localToken: hex(tokens.local)!,
          ...(tokens.remote !== undefined ? { remoteToken: hex(tokens.remote)! } : {}),
        }
      : {}),
    ...(s.remoteAddress ? { remote: `${s.remoteAddress}:${s.remotePort}` } : {}),
    subflows: s.subflows,
    ...(s.stats ? { stats: s.stats } : {}),
  };
}

/** Serves this process's status until close(). */
export function exposeStatus(snapshot: () => EndpointStatus): { path: string; close(): void } {
  mkdirSync(STATUS_DIR, { recursive: true });
  const path = join(STATUS_DIR, `${process.pid}.sock`);
  rmSync(path, { force: true });
  const server = net.createServer((c) => {
    c.on('error', () => {});
    c.end(`${JSON.stringify(snapshot())}\n`);
  });
  server.on('error', () => {});
  server.listen(path);
  server.unref();
  return {
    path,
    close() {
      server.close();
      rmSync(path, { force: true });
    },
  };
}

function ask(path: string): Promise<EndpointStatus | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const c = net.connect(path);
    const timer = setTimeout(() => {
      c.destroy();
      resolve(undefined);
    }, STATUS_TIMEOUT_MS);
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', () => {
      clearTimeout(timer);
      rmSync(path, { force: true }); // nobody listens: a stale socket
      resolve(undefined);
    });
    c.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as EndpointStatus);
      } catch {
        resolve(undefined);
      }
    });
  });
}

/** The status of every running endpoint (or of one pid). */
export async function readStatuses(pid?: number): Promise<EndpointStatus[]> {
  let names: string[];
  try {
    names = readdirSync(STATUS_DIR).filter((n) => n.endsWith('.sock'));
  } catch {
    return [];
  }
  if (pid !== undefined) names = names.filter((n) => n === `${pid}.sock`);
  const all = await Promise.all(names.map((n) => ask(join(STATUS_DIR, n))));
  return all.filter((s): s is EndpointStatus => s !== undefined);
}
