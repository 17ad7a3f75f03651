/**
 * `mptcp connect`: a userspace MPTCP client (like netcat): stdin → the connection → stdout, or a
 * bulk transfer of N bytes with a throughput report. Paths are host:port pairs; `--backup` paths are
 * joined in advance and used only when the others fail.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type PathSpec } from '../../node/index.js';
import { enableKernelTcpInfo } from '../../node/mptcp-socket.js';
import { connectionRow, exposeStatus } from '../../node/status-endpoint.js';
import { numberOption, parseCommandArgs, stringOption } from '../args.js';
import { SUBFLOW_OPTION_SPECS, subflowOptions } from '../subflow-options.js';
import { UsageError } from '../usage-error.js';
import { makeDriver } from './serve.js';

export const summary = 'userspace MPTCP client over one or more paths (stdin/stdout, or a bulk transfer)';
export const usage = `usage: mptcp connect HOST:PORT [HOST:PORT…] [--backup HOST:PORT,…] [--on-failure HOST:PORT,…]
                     [--scheduler S] [--congestion CC] [--controller C] [--bytes N] [--json]
  HOST:PORT     paths, the first one carries the initial subflow
  --backup      paths joined in advance and used only when no other path is usable
  --on-failure  paths opened only when no other path is left (break-before-make)
  --bytes N     send N random bytes, read the reply (an echo server sends them back), report throughput
  --scheduler   minrtt (default), roundrobin, redundant, blest, ecf
  --congestion  TCP congestion control of every subflow (Linux), e.g. cubic; default: the system's
  --controller  a path-manager controller (see mptcp pm run --help)`;

export function parseHostPort(raw: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(raw.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`'${raw}' is not HOST:PORT`);
  }
  return { host: m[1]!, port };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    backup: { type: 'string' },
    'on-failure': { type: 'string' },
    ...SUBFLOW_OPTION_SPECS,
    controller: { type: 'string' },
    bytes: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length === 0) throw new UsageError('give at least one HOST:PORT');
  const list = (raw: string | undefined) => (raw ? raw.split(',').map(parseHostPort) : []);
  const paths: PathSpec[] = [
    ...positionals.map(parseHostPort),
    ...list(stringOption(values, 'backup')).map((p) => ({ ...p, backup: true })),
    ...list(stringOption(values, 'on-failure')).map((p) => ({ ...p, when: 'on-failure' as const })),
  ];
  const { scheduler, congestion } = subflowOptions(values);
  const bytes = values.bytes === undefined ? undefined : numberOption(values, 'bytes', 0, 1, 2 ** 40);
  const controllerSpec = stringOption(values, 'controller');
  await enableKernelTcpInfo(); // mptcp status then shows each subflow's kernel cwnd and RTO (Linux)
  const json = values.json === true;
  const driver = controllerSpec ? await makeDriver(controllerSpec, json) : undefined;
  const socket = connect({
    paths,
    ...(scheduler ? { scheduler } : {}),
    ...(congestion ? { congestionControl: congestion } : {}),
    ...(driver ? { reconnect: false } : {}),
  });
  const failed = new Promise<never>((_, reject) => socket.once('error', reject));
  await Promise.race([once(socket, 'connect'), failed]);
  driver?.attach(socket);
  const status = exposeStatus(() => ({
    pid: process.pid,
    command: 'connect',
    ...(scheduler ? { scheduler } : {}),
    ...(controllerSpec ? { controller: controllerSpec } : {}),
    connections: socket.destroyed ? [] : [connectionRow('client', socket)],
  }));
  try {
    if (bytes === undefined) {
      process.stdin.pipe(socket);
      socket.pipe(process.stdout);
      await Promise.race([once(socket, 'close'), failed]);
      return 0;
    }
    const start = performance.now();
    let received = 0;
    socket.on('data', (c: Buffer) => {
      received += c.length;
    });
    const ended = once(socket, 'end');
    const chunk = randomBytes(64 * 1024);
    for (let sent = 0; sent < bytes; ) {
      const piece = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
      sent += piece.length;
      if (!socket.write(piece)) await Promise.race([once(socket, 'drain'), failed]);
    }
    socket.end();
    await Promise.race([ended, failed]);
    const seconds = (performance.now() - start) / 1000;
    const result = {
      sent: bytes,
      received,
      seconds: Math.round(seconds * 1000) / 1000,
      mbitPerSecond: Math.round(((bytes * 8) / seconds / 1e6) * 10) / 10,
      multipath: socket.multipath,
      subflows: socket.subflows.map((s) => ({
        id: s.id,
        path: s.path,
        state: s.state,
        bytesSent: s.bytesSent,
        srttMs: s.srttMs,
      })),
    };
    if (json) console.log(JSON.stringify(result));
    else {
      console.log(
        `sent ${bytes} B, received ${received} B back in ${result.seconds} s (${result.mbitPerSecond} Mbit/s each way)`,
      );
      for (const s of result.subflows)
        console.log(
          `  subflow ${s.id} ${s.path}: ${s.state}, ${s.bytesSent} B sent, srtt ${s.srttMs?.toFixed(2)} ms`,
        );
    }
    return received === bytes ? 0 : 1;
  } finally {
    status.close();
    driver?.stop();
    socket.destroy();
  }
}
