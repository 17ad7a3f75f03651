/**
 * `mptcp get <url> [--json] [--timeout MS] [--mptcp prefer|require|off]`: fetches an http:// URL over a
 * kernel MPTCP connection (http.Agent whose createConnection is ours) and prints the response plus
 * the client's own view of the connection (isMultipath, subflows), taken while the response arrives.
 * Against `mptcp serve-status` it prints the server's view too. Exit 0 on HTTP 2xx, 1 otherwise.
 */
import http from 'node:http';
import type net from 'node:net';
import { mptcpAgent, subflowsUp } from '../../kernel/agent.js';
import { type ConnectionStatus, connectionStatus, formatSubflow } from '../../kernel/status.js';
import { numberOption, parseCommandArgs, stringOption } from '../args.js';
import { UsageError } from '../usage-error.js';
import { parseMode } from './serve-status.js';

export const summary = 'fetch an http:// URL over kernel MPTCP and show both ends of the connection';

export const usage = `usage: mptcp get <url> [--json] [--timeout MS] [--mptcp prefer|require|off] [--min-subflows N]

  <url>        http://host:port/path (e.g. http://127.0.0.1:8080/status)
  --json       print {"status", "server", "client"} as JSON
  --timeout    connect and response deadline in ms (default 10000)
  --mptcp M    prefer (default), require, or off
  --min-subflows N  warm the connection up with a first request, wait (at most --timeout / 2 ms)
                    until N subflows are up, then send the reported request on the same connection`;

/** Upper bound on the response body kept. */
const MAX_BODY_BYTES = 1024 * 1024;

interface GetResult {
  statusCode: number;
  body: string;
  client: ConnectionStatus;
}

/** How often --min-subflows polls the subflow count (ms). */
const SUBFLOW_POLL_MS = 20;

function fetchOnce(
  url: URL,
  agent: http.Agent,
  timeoutMs: number,
): Promise<GetResult & { socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      const socket = res.socket;
      const client = connectionStatus(socket);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_BODY_BYTES) req.destroy(new Error(`response larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(d);
      });
      res.on('end', () =>
        resolve({
          statusCode: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          client,
          socket,
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * One request, or with minSubflows > 1: a first request that brings the connection fully up (the
 * kernel path manager opens extra subflows only once data has flowed), a wait until minSubflows
 * subflows are up (at most waitMs), then the reported request on the same keep-alive connection.
 */
async function fetchStatus(
  url: URL,
  timeoutMs: number,
  mode: ReturnType<typeof parseMode>,
  minSubflows: number,
): Promise<GetResult> {
  const agent = mptcpAgent({ keepAlive: minSubflows > 1, maxSockets: 1, mptcp: mode });
  try {
    if (minSubflows <= 1) return await fetchOnce(url, agent, timeoutMs);
    const warm = await fetchOnce(url, agent, timeoutMs);
    const deadline = Date.now() + timeoutMs / 2;
    while (!warm.socket.destroyed && subflowsUp(warm.socket) < minSubflows && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, SUBFLOW_POLL_MS));
    }
    return await fetchOnce(url, agent, timeoutMs);
  } finally {
    agent.destroy();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      json: { type: 'boolean' },
      timeout: { type: 'string' },
      mptcp: { type: 'string' },
      'min-subflows': { type: 'string' },
    },
    1,
  );
  const raw = positionals[0];
  if (raw === undefined) throw new UsageError('missing <url>');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`not a URL: '${raw}'`);
  }
  if (url.protocol !== 'http:')
    throw new UsageError(`only http:// URLs are supported, got '${url.protocol}'`);
  const timeoutMs = numberOption(values, 'timeout', 10_000, 1, 3_600_000);
  const mode = parseMode(stringOption(values, 'mptcp'));
  const minSubflows = numberOption(values, 'min-subflows', 1, 1, 8);
  const r = await fetchStatus(url, timeoutMs, mode, minSubflows);
  let server: unknown;
  try {
    server = JSON.parse(r.body);
  } catch {
    server = undefined;
  }
  if (values.json) {
    console.log(
      JSON.stringify({ status: r.statusCode, server: server ?? r.body, client: r.client }, null, 2),
    );
  } else {
    console.log(`HTTP ${r.statusCode} from ${url.host}`);
    const s = server as { mptcp?: unknown; remote_addr?: unknown; subflows?: unknown } | undefined;
    if (s && typeof s === 'object' && 'mptcp' in s) {
      const n = Array.isArray(s.subflows) ? s.subflows.length : '?';
      console.log(`server view: mptcp=${String(s.mptcp)} remote_addr=${String(s.remote_addr)} subflows=${n}`);
    } else {
      console.log(r.body.trimEnd());
    }
    console.log(
      `client view: mptcp=${r.client.mptcp} local_addr=${r.client.local_addr} remote_addr=${r.client.remote_addr} subflows=${r.client.subflows.length}`,
    );
    for (const sf of r.client.subflows) console.log(`  subflow ${formatSubflow(sf)}`);
  }
  return r.statusCode >= 200 && r.statusCode < 300 ? 0 : 1;
}
