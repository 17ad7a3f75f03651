/**
 * `mptcp serve-status [--host H] [--port P] [--mptcp prefer|require|off]`: an HTTP server on a kernel
 * MPTCP listener (the seed-004 status application). GET /status answers
 * `{"mptcp":bool,"remote_addr":"ip:port","subflows":[…]}` describing the requesting connection; any
 * other path is 404. Prints `listening on <addr>:<port> (mptcp listener: yes|no)` once ready, then
 * serves until SIGINT/SIGTERM (exit 0). Exit 1 when it cannot listen.
 */
import http from 'node:http';
import type net from 'node:net';
import type { MptcpMode } from '../../kernel/fd.js';
import { enableMptcp, listenState } from '../../kernel/server.js';
import { formatEndpoint } from '../../kernel/sockaddr.js';
import { connectionStatus } from '../../kernel/status.js';
import { numberOption, parseCommandArgs, stringOption } from '../args.js';
import { UsageError } from '../usage-error.js';
import { untilStopSignal } from '../stop-signal.js';

export const summary = 'HTTP status server on a kernel MPTCP listener (GET /status reports the connection)';

export const usage = `usage: mptcp serve-status [--host H] [--port P] [--mptcp prefer|require|off]

  --host H     address or name to listen on (default: all, IPv6 dual-stack)
  --port P     TCP port (default 8080; 0 picks a free one)
  --mptcp M    prefer (default: fall back to TCP if the kernel lacks MPTCP), require, or off

  GET /status → {"mptcp":bool,"remote_addr":"ip:port","subflows":[...]}`;

/** Upper bound on concurrent connections the status server keeps. */
const MAX_CONNECTIONS = 1024;

export function parseMode(raw: string | undefined): MptcpMode {
  if (raw === undefined || raw === 'prefer') return 'prefer';
  if (raw === 'require') return 'require';
  if (raw === 'off') return false;
  throw new UsageError(`--mptcp must be prefer, require or off, got '${raw}'`);
}

export function statusHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method !== 'GET' || url.pathname !== '/status') {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found: try GET /status"}\n');
    return;
  }
  const status = connectionStatus(req.socket);
  const body = { mptcp: status.mptcp, remote_addr: status.remote_addr, subflows: status.subflows };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    { host: { type: 'string' }, port: { type: 'string' }, mptcp: { type: 'string' } },
    0,
  );
  const host = stringOption(values, 'host');
  const port = numberOption(values, 'port', 8080, 0, 65535);
  const mode = parseMode(stringOption(values, 'mptcp'));
  const server = enableMptcp(http.createServer(statusHandler), mode);
  server.maxConnections = MAX_CONNECTIONS;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    console.error(`mptcp serve-status: cannot listen: ${(err as Error).message}`);
    return 1;
  }
  const addr = server.address() as net.AddressInfo;
  const st = listenState(server);
  const note = st?.mptcp ? 'yes' : `no, plain TCP: ${st?.fallbackReason ?? 'mptcp off'}`;
  console.log(`listening on ${formatEndpoint(addr)} (mptcp listener: ${note})`);
  await untilStopSignal();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return 0;
}
